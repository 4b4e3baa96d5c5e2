/** The gzip a push sends for plain layers: valid for any reader, and cheap on incompressible data. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { MediaType } from '../../agent/image/oci';
import { gzipFile, gzipStream } from '../../agent/registry/compress';
import { MemoryCompressedLayers, gzipLayerTypeFor, isUncompressedLayer } from '../../agent/registry';

async function gzipOf(data: Buffer, chunk = 1 << 20): Promise<Buffer> {
  const src = Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
    })(),
  );
  const out: Buffer[] = [];
  for await (const c of gzipStream(src)) out.push(c as Buffer);
  return Buffer.concat(out);
}

function text(bytes: number): Buffer {
  const line = Buffer.from('usr/lib/x86_64-linux-gnu/libc.so.6 0755 root root 1700000000\n');
  const out = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += line.length) line.copy(out, at);
  return out;
}

describe('registry: push compression', () => {
  it('produces one gzip member that gunzip and gzip(1) read back exactly', async () => {
    const cases: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['tiny', Buffer.from('a')],
      ['text', text(5 << 20)],
      ['random', randomBytes(40 << 20)],
      // Compressible, then incompressible long enough to switch to stored blocks, then compressible again.
      ['mixed', Buffer.concat([text(3 << 20), randomBytes(24 << 20), text(6 << 20)])],
      ['odd chunks', Buffer.concat([randomBytes(70_001), text(300_000)])],
      ['odd chunks, past a piece', Buffer.concat([randomBytes(1_500_001), text(1_300_000), randomBytes(9)])],
    ];
    for (const [name, data] of cases) {
      const gz = await gzipOf(data, name.startsWith('odd chunks') ? 65_537 : 1 << 20);
      assert.ok(gunzipSync(gz).equals(data), `${name}: gunzip gives the input back`);
      const viaGzip = execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 1 << 30 });
      assert.ok(viaGzip.equals(data), `${name}: gzip -d gives the input back`);
    }
  });

  it('compresses what compresses, and adds almost nothing to what does not', async () => {
    const plain = text(8 << 20);
    assert.ok((await gzipOf(plain)).length < plain.length / 20);
    const random = randomBytes(32 << 20);
    const gz = await gzipOf(random);
    assert.ok(gz.length <= random.length * 1.001 + 64, `${gz.length} for ${random.length}`);
    // Back to deflate once the data compresses again, after a stored span no longer than the
    // incompressible stretch before it.
    const mixed = Buffer.concat([random.subarray(0, 8 << 20), text(24 << 20)]);
    assert.ok((await gzipOf(mixed)).length < (8 << 20) + (12 << 20));
  });

  it('makes the same pieces of 64 KB reads as of 1 MB reads', async () => {
    // A push reads in chunks smaller than a piece; the pieces it deflates or stores are still 1 MB.
    const data = Buffer.concat([text(3 << 20), randomBytes(6 << 20), text(2 << 20), randomBytes(100_000)]);
    const big = await gzipOf(data, 1 << 20);
    const small = await gzipOf(data, 64 << 10);
    assert.ok(small.equals(big), `${small.length} bytes from 64 KB reads, ${big.length} from 1 MB reads`);
    assert.ok(gunzipSync(small).equals(data));
  });

  it('gzips a file as it gzips the same bytes streamed, whether or not its reads are given back', async () => {
    // Nothing here sends the stored blocks, so no read Buffer comes back: each read takes a new one.
    const dir = mkdtempSync(path.join(tmpdir(), 'tsc-gzip-'));
    try {
      const data = Buffer.concat([randomBytes(9 << 20), text(3 << 20), randomBytes(77_777)]);
      const file = path.join(dir, 'layer.tar');
      writeFileSync(file, data);
      const reads: number[] = [];
      const out: Buffer[] = [];
      for await (const c of gzipFile(file, (n) => reads.push(n))) out.push(Buffer.from(c as Buffer));
      const gz = Buffer.concat(out);
      assert.ok(gz.equals(await gzipOf(data)), 'the same gzip as of 1 MB reads');
      assert.ok(gunzipSync(gz).equals(data));
      assert.equal(reads.at(-1), data.length, 'progress reaches the file size');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with the error of its source', async () => {
    const src = Readable.from(
      (function* () {
        yield randomBytes(3 << 20);
        throw new Error('layer file truncated');
      })(),
    );
    await assert.rejects(async () => {
      for await (const c of gzipStream(src)) void c;
    }, /layer file truncated/);
  });

  it('names the gzip type of the manifest’s family, and knows the plain layer types', () => {
    assert.equal(gzipLayerTypeFor(MediaType.DockerManifest), MediaType.DockerLayerGzip);
    assert.equal(gzipLayerTypeFor(MediaType.OciManifest), MediaType.OciLayerGzip);
    assert.ok(isUncompressedLayer(MediaType.OciLayer));
    assert.ok(isUncompressedLayer('application/vnd.docker.image.rootfs.diff.tar'));
    assert.ok(!isUncompressedLayer(MediaType.OciLayerGzip));
    assert.ok(!isUncompressedLayer(MediaType.DockerLayerGzip));
  });

  it('remembers the latest compressed forms of a layer first, each once', () => {
    const forms = new MemoryCompressedLayers();
    const d = (n: number) => ({ mediaType: MediaType.OciLayerGzip, digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size: n });
    for (const n of [1, 2, 1, 3, 4, 5]) forms.rememberCompressed('sha256:layer', d(n));
    assert.deepEqual(
      forms.compressedForms('sha256:layer').map((f) => f.size),
      [5, 4, 3, 1],
    );
    assert.deepEqual(forms.compressedForms('sha256:other'), []);
  });
});
