import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { TsError } from '../../common/errors';
import { diffDirectory, tarDirectory, writeLayer } from '../../agent/image/diff';
import { unpackLayer } from '../../agent/image/unpack';
import { cleanup, craftTar, describeTree, sha256, tempDir, withOverlay } from '../fixtures/layers/helpers';

async function inTemp(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir(prefix);
  try {
    await fn(dir);
  } finally {
    await cleanup(dir);
  }
}

const collect = async (r: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

/** A tree with every kind of thing a layer can hold. */
async function buildTree(root: string): Promise<void> {
  await fsp.mkdir(`${root}/etc/app`, { recursive: true });
  await fsp.writeFile(`${root}/etc/app/conf`, 'key=value\n');
  await fsp.chown(`${root}/etc/app/conf`, 1000, 1001);
  await fsp.chmod(`${root}/etc/app/conf`, 0o640);
  await fsp.link(`${root}/etc/app/conf`, `${root}/etc/app/conf.hardlink`);
  await fsp.link(`${root}/etc/app/conf`, `${root}/aaa-first-in-order`);
  await fsp.writeFile(`${root}/su`, 'elf');
  await fsp.chmod(`${root}/su`, 0o4755);
  await fsp.mkdir(`${root}/tmp`);
  await fsp.chmod(`${root}/tmp`, 0o1777);
  await fsp.mkdir(`${root}/ro`);
  await fsp.writeFile(`${root}/ro/file`, 'in a read-only dir');
  await fsp.chmod(`${root}/ro`, 0o555);
  await fsp.symlink('/etc/app/conf', `${root}/abs-link`);
  await fsp.symlink('../../../climbing/is/fine', `${root}/etc/rel-link`);
  await fsp.lchown(`${root}/abs-link`, 3, 4);
  execFileSync('mknod', [`${root}/null`, 'c', '1', '3']);
  execFileSync('mknod', [`${root}/loop`, 'b', '7', '1']);
  execFileSync('mknod', [`${root}/fifo`, 'p']);
  const long = `${root}/${'l'.repeat(100)}/${'m'.repeat(120)}`;
  await fsp.mkdir(long, { recursive: true });
  await fsp.writeFile(`${long}/${'n'.repeat(200)}`, 'long');
  await fsp.writeFile(`${root}/été 日本`, 'unicode');
  await fsp.writeFile(`${root}/empty`, '');
  await fsp.writeFile(`${root}/big`, Buffer.alloc(2 * 1024 * 1024 + 5, 0x5a));
  await fsp.writeFile(`${root}/caps`, 'x');
  execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x0100000280000000000000000000000000000000', `${root}/caps`]);
  execFileSync('setfattr', ['-n', 'user.binary', '-v', '0x00ff80', `${root}/caps`]);
  execFileSync('setfattr', ['-n', 'user.dir', '-v', 'on-a-dir', `${root}/etc`]);
  for (const p of ['etc/app/conf', 'su', 'big', 'etc/app', 'etc', 'tmp', 'ro']) {
    await fsp.utimes(`${root}/${p}`, 1_500_000_000, 1_500_000_000 + p.length);
  }
}

test('tarDirectory → unpackLayer round-trips a tree exactly, deterministically', async () => {
  await inTemp('diff-rt', async (tmp) => {
    const src = `${tmp}/src`;
    await fsp.mkdir(src);
    await buildTree(src);
    const tar = await collect(tarDirectory(src));
    assert.equal(sha256(await collect(tarDirectory(src))), sha256(tar), 'same tree, same bytes');
    const r = await unpackLayer(Readable.from([tar]), `${tmp}/out`);
    assert.equal(r.diffId, sha256(tar));
    assert.deepEqual(await describeTree(`${tmp}/out`), await describeTree(src));

    // GNU tar reads it too, hardlinks and long names included.
    await fsp.writeFile(`${tmp}/t.tar`, tar);
    await fsp.mkdir(`${tmp}/gnu`);
    execFileSync('tar', ['-C', `${tmp}/gnu`, '--xattrs', '--xattrs-include=*', '-xf', `${tmp}/t.tar`]);
    assert.deepEqual(await describeTree(`${tmp}/gnu`), await describeTree(src));
  });
});

test('writeLayer: gzip blob with both digests; the blob unpacks to the same diffID', async () => {
  await inTemp('diff-gz', async (tmp) => {
    const src = `${tmp}/src`;
    await fsp.mkdir(src);
    await buildTree(src);
    const plain = await writeLayer(tarDirectory(src), createWriteStream(`${tmp}/layer.tar`));
    const tarBytes = await fsp.readFile(`${tmp}/layer.tar`);
    assert.equal(plain.diffId, sha256(tarBytes));
    assert.equal(plain.digest, plain.diffId);
    assert.equal(plain.size, tarBytes.length);

    const gz = await writeLayer(tarDirectory(src), createWriteStream(`${tmp}/layer.tar.gz`), { compression: 'gzip' });
    const gzBytes = await fsp.readFile(`${tmp}/layer.tar.gz`);
    assert.equal(gz.compression, 'gzip');
    assert.equal(gz.digest, sha256(gzBytes));
    assert.equal(gz.blobSize, gzBytes.length);
    assert.equal(gz.diffId, plain.diffId);
    assert.equal(sha256(gunzipSync(gzBytes)), plain.diffId);

    const r = await unpackLayer(createReadStream(`${tmp}/layer.tar.gz`), `${tmp}/out`);
    assert.equal(r.diffId, plain.diffId);
    assert.equal(r.compressedDigest, gz.digest);
  });
});

test('diffDirectory of an overlay upper dir: whiteouts, opaque dirs, hardlinks; stacking the result reproduces the container view', async () => {
  await inTemp('diff-ovl', async (tmp) => {
    const base = await craftTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/passwd', body: 'root:x:0:0\n' },
      { name: 'etc/shadow', body: 'secret', mode: 0o600 },
      { name: 'var/cache/a', body: 'cache a' },
      { name: 'var/cache/b/c', body: 'cache c' },
      { name: 'opt/tool/bin', body: 'old tool', mode: 0o755 },
      { name: 'opt/tool/lib/x.so', body: 'old lib' },
      { name: 'home/u/file', body: 'data', uid: 1000, gid: 1000 },
    ]);
    const l1 = `${tmp}/l1`;
    await unpackLayer(Readable.from([base]), l1);
    const upper = `${tmp}/upper`;
    const work = `${tmp}/work`;
    await fsp.mkdir(upper);
    await fsp.mkdir(work);

    let expected: Record<string, string> = {};
    await withOverlay([l1], { upper, work }, `${tmp}/merged`, async (m) => {
      await fsp.rm(`${m}/etc/shadow`); // whiteout
      await fsp.rm(`${m}/var/cache`, { recursive: true }); // whiteout of a dir
      await fsp.rm(`${m}/opt/tool`, { recursive: true }); // ... recreated: opaque
      await fsp.mkdir(`${m}/opt/tool`);
      await fsp.writeFile(`${m}/opt/tool/bin`, 'new tool');
      await fsp.appendFile(`${m}/etc/passwd`, 'u:x:1000:1000\n'); // copy-up
      await fsp.chmod(`${m}/home/u/file`, 0o600); // metadata-only change
      await fsp.writeFile(`${m}/new`, 'new file');
      await fsp.link(`${m}/new`, `${m}/etc/new-hardlink`);
      await fsp.symlink('/new', `${m}/new-link`);
      await fsp.mkdir(`${m}/srv/data`, { recursive: true });
      await fsp.chown(`${m}/srv/data`, 33, 33);
      execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x0100000280000000000000000000000000000000', `${m}/new`]);
      expected = await describeTree(m);
    });

    const tar = await collect(diffDirectory(upper));
    assert.equal(sha256(await collect(diffDirectory(upper))), sha256(tar), 'deterministic');
    await fsp.writeFile(`${tmp}/diff.tar`, tar);
    const listing = execFileSync('tar', ['-tf', `${tmp}/diff.tar`], { encoding: 'utf8' }).trim().split('\n');
    assert.ok(listing.includes('etc/.wh.shadow'), listing.join(' '));
    assert.ok(listing.includes('var/.wh.cache'), listing.join(' '));
    assert.ok(listing.includes('opt/tool/.wh..wh..opq'), listing.join(' '));
    assert.ok(!listing.some((n) => n.startsWith('work')));
    const verbose = execFileSync('tar', ['-tvf', `${tmp}/diff.tar`], { encoding: 'utf8' });
    assert.match(verbose, /etc\/new-hardlink link to new|new link to etc\/new-hardlink/);

    const l2 = `${tmp}/l2`;
    const r = await unpackLayer(Readable.from([tar]), l2);
    assert.equal(r.diffId, sha256(tar));
    await withOverlay([l2, l1], undefined, `${tmp}/stacked`, async (m) => {
      assert.deepEqual(await describeTree(m), expected);
    });
  });
});

test('an upper dir that depends on its lowers (redirect/metacopy) is refused', async () => {
  await inTemp('diff-redirect', async (tmp) => {
    await fsp.mkdir(`${tmp}/upper/moved`, { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.redirect', '-v', '/orig', `${tmp}/upper/moved`]);
    await assert.rejects(collect(diffDirectory(`${tmp}/upper`)), (err: unknown) => {
      assert.ok(err instanceof TsError && err.kind === 'FailedPrecondition', String(err));
      assert.match(err.message, /"moved" has trusted\.overlay\.redirect; mount overlays with redirect_dir=off,metacopy=off/);
      return true;
    });
  });
});
