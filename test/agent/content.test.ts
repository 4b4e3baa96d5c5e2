/** The content store's writers: batched writes, and one writer per ingest at a time. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import { LocalContentStore, sha256Of } from '../../agent/image/content';

/** The chunks a stream emits, as it emits them (`for await` would join buffered ones). */
function chunksOf(stream: Readable): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.once('end', () => resolve(parts));
    stream.once('error', reject);
  });
}

describe('content store writers', () => {
  let dir: string;
  let store: LocalContentStore;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tsc-content-'));
    store = new LocalContentStore(dir);
    await store.init();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const settledWithin = async (p: Promise<unknown>, ms: number) =>
    Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  it('large blobs from writers at once, written out and synced in the background, commit whole', async () => {
    // Past the background-sync stride, in chunks the size of a network read.
    const blobs = [randomBytes(20 << 20), randomBytes(12 << 20), randomBytes(9 << 20)];
    const infos = await Promise.all(
      blobs.map(async (blob, i) => {
        const w = await store.writer(`pull-big-${i}`);
        for (let at = 0; at < blob.length; at += 65536) await w.write(blob.subarray(at, at + 65536));
        return w.commit({ digest: sha256Of(blob), size: blob.length });
      }),
    );
    for (const [i, info] of infos.entries()) assert.deepEqual(await store.readAll(info.digest), blobs[i]);
    // An ingest closed halfway resumes from everything it was given, synced or not.
    const w = await store.writer('pull-big-resumed');
    await w.write(blobs[0]!.subarray(0, 10 << 20));
    await w.close();
    const again = await store.writer('pull-big-resumed');
    assert.equal(again.offset, 10 << 20);
    await again.write(blobs[0]!.subarray(10 << 20));
    await again.commit({ digest: sha256Of(blobs[0]!), size: blobs[0]!.length });
  });

  it('a second writer of an ingest waits for the first to close, then resumes from all it wrote', async () => {
    // As a cancelled download whose last batch is not written out yet, retried at once.
    const first = await store.writer('pull-race');
    const head = randomBytes(300_000);
    await first.write(head);
    const second = store.writer('pull-race');
    assert.equal(await settledWithin(second, 100), false, 'the retry waits while the first writer is open');
    await first.close();
    const w = await second;
    assert.equal(w.offset, head.length);
    const tail = randomBytes(2_500_000);
    await w.write(tail.subarray(0, 1_000_000));
    await w.write(tail.subarray(1_000_000));
    const blob = Buffer.concat([head, tail]);
    const info = await w.commit({ digest: sha256Of(blob), size: blob.length });
    assert.deepEqual(await store.readAll(info.digest), blob);
  });

  it('writers waiting on one ingest take turns, each after the previous committed or aborted', async () => {
    const data = randomBytes(100_000);
    const first = await store.writer('pull-turns');
    await first.write(data);
    const waiting = [store.writer('pull-turns'), store.writer('pull-turns')];
    assert.equal(await settledWithin(Promise.race(waiting), 100), false);
    await first.abort();
    // One of them gets the (now empty) ingest; the other waits for it in turn.
    const [a, b] = waiting;
    const next = await Promise.race([a!.then((w) => ({ w, other: b! })), b!.then((w) => ({ w, other: a! }))]);
    assert.equal(next.w.offset, 0);
    assert.equal(await settledWithin(next.other, 100), false);
    await next.w.write(data);
    await next.w.commit({ digest: sha256Of(data) });
    const last = await next.other;
    assert.equal(last.offset, 0, 'a committed ingest leaves nothing to resume');
    await last.abort();
  });

  it('a failed verification releases the ingest too', async () => {
    const w = await store.writer('pull-bad');
    await w.write(Buffer.from('not what was expected'));
    await assert.rejects(w.commit({ digest: sha256Of('something else') }), { name: 'FailedPrecondition' });
    const again = await store.writer('pull-bad');
    assert.equal(again.offset, 0);
    await again.abort();
  });

  it('reads a blob back in chunks of the asked size, from any offset, whole', async () => {
    // Of a size no chunk divides.
    const blob = randomBytes((3 << 20) + 12_345);
    const w = await store.writer('read-back');
    await w.write(blob);
    const { digest } = await w.commit({ digest: sha256Of(blob), size: blob.length });
    for (const [start, chunk] of [[0, 120 << 10], [1, 65_536], [(1 << 20) + 7, 1 << 20], [blob.length - 3, 4096], [blob.length, 4096]] as const) {
      const parts = await chunksOf(store.readStream(digest, start, chunk));
      assert.ok(parts.every((p) => p.length <= chunk), `chunks of at most ${chunk} bytes`);
      assert.ok(Buffer.concat(parts).equals(blob.subarray(start)), `bytes from ${start}`);
    }
    const held = await chunksOf(store.readStream(digest));
    assert.ok(Buffer.concat(held).equals(blob));
    await assert.rejects(chunksOf(store.readStream(sha256Of(Buffer.from('absent')))), /ENOENT/);
  });
});
