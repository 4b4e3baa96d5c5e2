/** The gzip a push sends for plain layers: valid for any reader, and cheap on incompressible data. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { MediaType } from '../../agent/image/oci';
import { gzipFile } from '../../agent/registry/compress';
import { MemoryCompressedLayers, gzipLayerTypeFor, isUncompressedLayer } from '../../agent/registry';

const dir = mkdtempSync(path.join(tmpdir(), 'tsc-gzip-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** The gzip of `data`, written to a file first. */
async function gzipOf(data: Buffer): Promise<Buffer> {
  const file = path.join(dir, `layer-${files++}.tar`);
  writeFileSync(file, data);
  const out: Buffer[] = [];
  for await (const c of gzipFile(file)) out.push(c as Buffer);
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
      ['odd size', Buffer.concat([randomBytes(70_001), text(300_000)])],
      ['odd size, past a piece', Buffer.concat([randomBytes(1_500_001), text(1_300_000), randomBytes(9)])],
    ];
    for (const [name, data] of cases) {
      const gz = await gzipOf(data);
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

  it('reports its reads up to the file size, and reads Buffers that are never given back afresh', async () => {
    // Nothing here sends the stored blocks, so no read Buffer comes back: each read takes a new one,
    // and the bytes of earlier pieces stay as they were.
    const data = Buffer.concat([randomBytes(9 << 20), text(3 << 20), randomBytes(77_777)]);
    const file = path.join(dir, 'progress.tar');
    writeFileSync(file, data);
    const reads: number[] = [];
    const out: Buffer[] = [];
    for await (const c of gzipFile(file, (n) => reads.push(n))) out.push(c as Buffer);
    assert.ok(gunzipSync(Buffer.concat(out)).equals(data));
    assert.deepEqual(reads.slice(0, 2), [1 << 20, 2 << 20]);
    assert.equal(reads.at(-1), data.length, 'progress reaches the file size');
  });

  it('fails when the file cannot be read', async () => {
    await assert.rejects(async () => {
      for await (const c of gzipFile(path.join(dir, 'absent.tar'))) void c;
    }, /ENOENT/);
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
