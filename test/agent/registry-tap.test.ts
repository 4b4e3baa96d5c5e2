import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlobTap } from '../../agent/registry';

async function readAll(tap: BlobTap): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of tap) parts.push(Buffer.from(piece));
  return Buffer.concat(parts);
}

describe('registry: BlobTap', () => {
  it('hands the bytes over in pieces, in order, holding the writer back while the reader lags', async () => {
    const tap = new BlobTap(64, 16);
    const data = Buffer.from([...Array(1000).keys()].map((i) => i % 251));
    const reading = readAll(tap);
    tap.start(0);
    let waited = 0;
    for (let i = 0; i < data.length; i += 10) {
      const wait = tap.write(data.subarray(i, i + 10));
      if (wait) {
        waited++;
        await wait;
      }
    }
    tap.end();
    assert.deepEqual(await reading, data);
    assert.ok(waited > 0, 'the writer was never held back');
  });

  it('follows a download that resumes where it stopped, and gives up on one that does not', async () => {
    const resumed = new BlobTap();
    const reading = readAll(resumed);
    resumed.start(0);
    await resumed.write(Buffer.from('abc'));
    resumed.start(3);
    await resumed.write(Buffer.from('def'));
    resumed.end();
    assert.equal((await reading).toString(), 'abcdef');

    const restarted = new BlobTap();
    const failing = readAll(restarted);
    restarted.start(0);
    await restarted.write(Buffer.from('abc'));
    restarted.start(0);
    await assert.rejects(failing, /blob not streamed: a download resumed at byte 0, not 3/);
    assert.equal(restarted.abandoned, true);
    // The download goes on into the store: writes are dropped, never waited for.
    assert.equal(restarted.write(Buffer.alloc(1 << 22)), undefined);
  });

  it('a resumed ingest or a failed pull is not streamed', async () => {
    const late = new BlobTap();
    const reading = readAll(late);
    late.start(1000);
    await assert.rejects(reading, /blob not streamed/);

    const failed = new BlobTap();
    const r2 = readAll(failed);
    failed.start(0);
    failed.fail(new Error('context canceled'));
    await assert.rejects(r2, /context canceled/);
    assert.equal(failed.abandoned, false);
  });

  it('a reader that stops early releases a waiting writer', async () => {
    const tap = new BlobTap(8, 4);
    tap.start(0);
    const wait = tap.write(Buffer.alloc(16));
    assert.ok(wait);
    for await (const _ of tap) break;
    await wait;
    assert.equal(tap.write(Buffer.alloc(16)), undefined);
  });

  it('fills the pieces a reader gives back instead of new ones, without mixing their bytes', async () => {
    const tap = new BlobTap(32, 16);
    const data = Buffer.from([...Array(200).keys()].map((i) => (i * 7) % 251));
    const seen = new Set<Buffer>();
    const parts: Buffer[] = [];
    const reading = (async () => {
      for await (const piece of tap) {
        parts.push(Buffer.from(piece));
        seen.add(piece);
        tap.recycle(piece);
      }
    })();
    tap.start(0);
    for (let i = 0; i < data.length; i += 10) await tap.write(data.subarray(i, i + 10));
    tap.end();
    await reading;
    assert.deepEqual(Buffer.concat(parts), data);
    assert.deepEqual(parts.slice(0, -1).map((p) => p.length), Array(12).fill(16));
    assert.ok(seen.size < parts.length, 'no piece was filled twice');
    // A buffer the tap did not lend is not taken.
    tap.recycle(Buffer.alloc(16));
  });
});
