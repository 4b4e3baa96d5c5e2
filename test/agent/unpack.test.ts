import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { TsError } from '../../common/errors';
import { unpackLayer } from '../../agent/image/unpack';
import type { UnpackResult } from '../../agent/image/unpack';
import { cleanup, craftTar, describeTree, fingerprint, sha256, tempDir, withOverlay } from '../fixtures/layers/helpers';
import type { CraftedEntry } from '../fixtures/layers/helpers';

const unpackBuffer = (tar: Buffer, dest: string, chunk = 4096): Promise<UnpackResult> => {
  // Small chunks, so headers and bodies straddle chunk boundaries.
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) chunks.push(tar.subarray(i, i + chunk));
  return unpackLayer(Readable.from(chunks), dest);
};

async function inTemp(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir(prefix);
  try {
    await fn(dir);
  } finally {
    await cleanup(dir);
  }
}

test('unpacks files, dirs, links, devices with modes, owners and mtimes; diffID is the tar sha256', async () => {
  await inTemp('unpack', async (tmp) => {
    const longDir = `deep/${'d'.repeat(120)}`;
    const longName = `${longDir}/${'f'.repeat(150)}.txt`;
    const tar = await craftTar([
      // a file before its parent directory's own entry
      { name: 'etc/app/conf', body: 'key=value\n', mode: 0o640, uid: 1000, gid: 1001, mtime: 1_500_000_000 },
      { name: 'etc/', type: 'directory', mode: 0o751, mtime: 1_400_000_000 },
      { name: 'bin/su', body: 'elf', mode: 0o4755 },
      { name: 'shared/', type: 'directory', mode: 0o3777 },
      { name: 'ro/', type: 'directory', mode: 0o555, uid: 7, gid: 8, mtime: 1_300_000_000 },
      { name: 'ro/inside', body: 'written into a read-only dir', mode: 0o444 },
      { name: 'link-abs', type: 'symlink', linkname: '/etc/app/conf', uid: 5, gid: 6 },
      { name: 'link-rel', type: 'symlink', linkname: '../outside/is/fine/for/symlinks' },
      { name: 'etc/app/hard', type: 'link', linkname: 'etc/app/conf' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'run/fifo', type: 'fifo', mode: 0o620 },
      { name: longName, body: 'long', mode: 0o600 },
      { name: 'emptyfile', body: '' },
      { name: 'big', body: Buffer.alloc(3 * 1024 * 1024 + 17, 0x61) },
      { name: 'unicode/été-日本', body: 'u' },
      { name: 'xattr', body: 'x', pax: { 'SCHILY.xattr.user.note': 'hello' } },
    ]);
    const dest = `${tmp}/layer`;
    const seen: string[] = [];
    const chunks: Buffer[] = [];
    for (let i = 0; i < tar.length; i += 1000) chunks.push(tar.subarray(i, i + 1000));
    const r = await unpackLayer(Readable.from(chunks), dest, { onEntry: (e) => seen.push(e.name) });
    assert.equal(r.diffId, sha256(tar));
    assert.equal(r.size, tar.length);
    assert.equal(r.compression, 'none');
    assert.equal(r.compressedDigest, undefined);
    assert.equal(r.entries, 17);
    assert.ok(seen.includes(longName));

    const t = await describeTree(dest);
    assert.match(t['etc/app/conf']!, /^file .* mode=640 owner=1000:1001 mtime=1500000000$/);
    assert.equal(t['etc/app/hard'], `${t['etc/app/conf']} link=etc/app/conf`);
    assert.match(t['etc']!, /^dir mode=751 owner=0:0 mtime=1400000000$/);
    assert.match(t['bin/su']!, /mode=4755 /);
    assert.match(t['shared']!, /mode=3777 /);
    assert.match(t['ro']!, /^dir mode=555 owner=7:8 mtime=1300000000$/);
    assert.match(t['ro/inside']!, /mode=444/);
    assert.equal(await fsp.readFile(`${dest}/ro/inside`, 'utf8'), 'written into a read-only dir');
    assert.match(t['link-abs']!, /^symlink->\/etc\/app\/conf mode=777 owner=5:6$/);
    assert.match(t['link-rel']!, /^symlink->\.\.\/outside\/is\/fine\/for\/symlinks /);
    assert.match(t['dev/null']!, /^char 259 mode=666 /);
    assert.match(t['dev/loop0']!, /^block 1792 mode=660 owner=0:6 /);
    assert.match(t['run/fifo']!, /^fifo mode=620 /);
    assert.match(t['deep']!, /^dir mode=755 /, 'a missing parent is created 0755');
    assert.equal(await fsp.readFile(`${dest}/${longName}`, 'utf8'), 'long');
    assert.equal((await fsp.stat(`${dest}/big`)).size, 3 * 1024 * 1024 + 17);
    assert.equal((await fsp.stat(`${dest}/emptyfile`)).size, 0);
    assert.equal(await fsp.readFile(`${dest}/unicode/été-日本`, 'utf8'), 'u');
    assert.equal(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.note', `${dest}/xattr`], { encoding: 'utf8' }), 'hello');
  });
});

test('gzip input: same diffID as the plain tar, and the digest of the compressed bytes', async () => {
  await inTemp('unpack-gz', async (tmp) => {
    const tar = await craftTar([
      { name: 'a/b', body: 'hello' },
      { name: 'c', body: Buffer.alloc(500_000, 7) },
    ]);
    const gz = gzipSync(tar);
    const r = await unpackBuffer(gz, `${tmp}/l`, 333);
    assert.equal(r.compression, 'gzip');
    assert.equal(r.diffId, sha256(tar));
    assert.equal(r.size, tar.length);
    assert.equal(r.compressedDigest, sha256(gz));
    assert.equal(r.compressedSize, gz.length);
    assert.equal(await fsp.readFile(`${tmp}/l/a/b`, 'utf8'), 'hello');
  });
});

test('reads archives written by GNU tar: gnu long names, posix with binary xattrs, trailing padding', async () => {
  await inTemp('unpack-gnu', async (tmp) => {
    const src = `${tmp}/src`;
    const long = `${src}/${'x'.repeat(90)}/${'y'.repeat(90)}/${'z'.repeat(120)}`;
    await fsp.mkdir(long, { recursive: true });
    await fsp.writeFile(`${long}/file-with-a-rather-long-name-${'n'.repeat(100)}`, 'deep');
    await fsp.symlink(`target-${'t'.repeat(150)}`, `${src}/long-symlink`);
    await fsp.writeFile(`${src}/ping`, 'binary');
    await fsp.link(`${src}/ping`, `${src}/ping-hardlink-${'h'.repeat(110)}`);
    // cap_setuid+ep: VFS caps v2, with the byte 0x80 that is not valid UTF-8 on its own
    execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x0100000280000000000000000000000000000000', `${src}/ping`]);
    execFileSync('setfattr', ['-n', 'user.bin', '-v', '0xff00fe', `${src}/ping`]);
    await fsp.utimes(src, 1_234_567_890, 1_234_567_890);
    const expected = await describeTree(src);
    assert.match(expected['ping']!, /security.capability=0100000280/);

    for (const format of ['gnu', 'posix']) {
      const tarFile = `${tmp}/${format}.tar`;
      execFileSync('tar', ['-C', src, `--format=${format}`, '--xattrs', '--xattrs-include=*', '-b', '40', '-cf', tarFile, '.']);
      const tar = await fsp.readFile(tarFile);
      const dest = `${tmp}/out-${format}`;
      const r = await unpackBuffer(tar, dest, 65536);
      assert.equal(r.diffId, sha256(tar), 'the diffID covers the blocking-factor padding too');
      assert.deepEqual(await describeTree(dest), expected);
    }
  });
});

test('a later entry replaces an earlier one of the same path, as tar does', async () => {
  await inTemp('unpack-replace', async (tmp) => {
    const tar = await craftTar([
      { name: 'x/', type: 'directory' },
      { name: 'x/child', body: 'gone' },
      { name: 'x', body: 'now a file' },
      { name: 'y', body: 'file first' },
      { name: 'y/', type: 'directory', mode: 0o700 },
      { name: 'y/z', body: 'inside' },
      { name: 's', type: 'symlink', linkname: '/nowhere' },
      { name: 's', body: 'replaced the symlink, not its target' },
      { name: 'h', body: 'original' },
      { name: 'h2', body: 'second' },
      { name: 'h', type: 'link', linkname: 'h2' },
      { name: 'd/', type: 'directory', mode: 0o700 },
      { name: 'd/keep', body: 'kept' },
      { name: 'd/', type: 'directory', mode: 0o750, mtime: 1_000_000_000 },
    ]);
    const dest = `${tmp}/l`;
    await unpackBuffer(tar, dest);
    const t = await describeTree(dest, { mtimes: false });
    assert.equal(await fsp.readFile(`${dest}/x`, 'utf8'), 'now a file');
    assert.match(t['y']!, /^dir mode=700/);
    assert.equal(await fsp.readFile(`${dest}/y/z`, 'utf8'), 'inside');
    assert.match(t['s']!, /^file /);
    assert.equal(await fsp.readFile(`${dest}/h`, 'utf8'), 'second');
    assert.match(t['h2']!, /link=h$/);
    assert.match(t['d']!, /^dir mode=750/);
    assert.equal((await fsp.stat(`${dest}/d`)).mtimeMs, 1_000_000_000_000);
    assert.equal(await fsp.readFile(`${dest}/d/keep`, 'utf8'), 'kept');
    assert.equal(t['x/child'], undefined);
  });
});

test('whiteouts and opaque dirs become overlayfs ones that hide lower content in a real mount', async () => {
  await inTemp('unpack-wh', async (tmp) => {
    const base = await craftTar([
      { name: 'a', body: 'deleted above' },
      { name: 'keep', body: 'kept' },
      { name: 'd/x', body: 'deleted above' },
      { name: 'd/y', body: 'kept' },
      { name: 'gone/sub/file', body: 'whole dir deleted above' },
      { name: 'o/p', body: 'hidden by opaque' },
      { name: 'o/q/r', body: 'hidden by opaque' },
    ]);
    const top = await craftTar([
      { name: '.wh.a' },
      { name: 'd/.wh.x' },
      { name: '.wh.gone' },
      { name: 'o/', type: 'directory', mode: 0o755 },
      { name: 'o/.wh..wh..opq' },
      { name: 'o/new', body: 'only this' },
      { name: 'n/.wh.nothing-below' },
      { name: 'same/.wh.f' },
      { name: 'same/f', body: 'same-layer content wins over its whiteout' },
      { name: '.wh..wh.plnk/123', body: 'aufs bookkeeping is ignored' },
    ]);
    const l1 = `${tmp}/l1`;
    const l2 = `${tmp}/l2`;
    await unpackBuffer(base, l1);
    await unpackBuffer(top, l2);
    const st = await fsp.lstat(`${l2}/a`);
    assert.ok(st.isCharacterDevice() && st.rdev === 0, 'a whiteout is a 0/0 char device');
    assert.ok((await fsp.lstat(`${l2}/gone`)).isCharacterDevice());
    assert.equal(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', `${l2}/o`], { encoding: 'utf8' }), 'y');
    await assert.rejects(fsp.lstat(`${l2}/.wh..wh.plnk`));

    await withOverlay([l2, l1], undefined, `${tmp}/merged`, async (m) => {
      assert.deepEqual((await fsp.readdir(m)).sort(), ['d', 'keep', 'n', 'o', 'same']);
      assert.deepEqual(await fsp.readdir(`${m}/d`), ['y']);
      assert.deepEqual(await fsp.readdir(`${m}/o`), ['new']);
      // A whiteout for a path no lower layer has hides nothing and opens nothing.
      await assert.rejects(fsp.lstat(`${m}/n/nothing-below`), { code: 'ENOENT' });
      assert.equal(await fsp.readFile(`${m}/same/f`, 'utf8'), 'same-layer content wins over its whiteout');
      assert.equal(await fsp.readFile(`${m}/keep`, 'utf8'), 'kept');
    });
  });
});

test('truncated or corrupt input is refused, naming the problem', async () => {
  await inTemp('unpack-trunc', async (tmp) => {
    const tar = await craftTar([
      { name: 'one', body: Buffer.alloc(10_000, 1) },
      { name: 'two', body: 'x' },
    ]);
    const isTruncated = (entry?: string) => (err: unknown) => {
      assert.ok(err instanceof TsError);
      assert.equal(err.kind, 'InvalidArgument');
      assert.match(err.message, /^image store: layer .*: layer truncated/);
      if (entry) assert.ok(err.message.includes(`entry "${entry}"`), err.message);
      return true;
    };
    await assert.rejects(unpackBuffer(tar.subarray(0, 5000), `${tmp}/a`), isTruncated('one'));
    // cut exactly between two entries: no end-of-archive marker
    await assert.rejects(unpackBuffer(tar.subarray(0, 512 + 10_240), `${tmp}/b`), isTruncated());
    await assert.rejects(unpackBuffer(tar.subarray(0, 700), `${tmp}/c`), isTruncated());
    const gz = gzipSync(tar);
    await assert.rejects(unpackBuffer(gz.subarray(0, gz.length - 20), `${tmp}/d`), isTruncated());

    await assert.rejects(unpackBuffer(Buffer.alloc(2048, 0x41), `${tmp}/e`), (err: unknown) => {
      assert.ok(err instanceof TsError && err.kind === 'InvalidArgument');
      assert.match(err.message, /invalid header checksum at offset 0/);
      return true;
    });
    const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    if (!('createZstdDecompress' in (await import('node:zlib')))) {
      await assert.rejects(unpackBuffer(zstdMagic, `${tmp}/f`), /zstd-compressed layers need Node.js/);
    }
    const sparse = Buffer.from(tar);
    sparse[156] = 'S'.charCodeAt(0);
    let sum = 0;
    sparse.fill(0x20, 148, 156);
    for (let i = 0; i < 512; i++) sum += sparse[i]!;
    sparse.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await assert.rejects(unpackBuffer(sparse, `${tmp}/g`), /entry "one": unsupported tar entry type "S"/);
  });
});

test('the target directory must be empty', async () => {
  await inTemp('unpack-nonempty', async (tmp) => {
    await fsp.mkdir(`${tmp}/l`);
    await fsp.writeFile(`${tmp}/l/stale`, '');
    await assert.rejects(unpackBuffer(await craftTar([{ name: 'a', body: 'x' }]), `${tmp}/l`), (err: unknown) => {
      assert.ok(err instanceof TsError && err.kind === 'FailedPrecondition');
      assert.match(err.message, /is not empty/);
      return true;
    });
  });
});

test('ownership comes from the layer even when the target directory is setgid', async () => {
  await inTemp('unpack-setgid', async (tmp) => {
    await fsp.mkdir(`${tmp}/l`);
    await fsp.chown(`${tmp}/l`, 0, 50);
    await fsp.chmod(`${tmp}/l`, 0o2775);
    await unpackBuffer(await craftTar([{ name: 'd/f', body: 'x' }, { name: 'g', type: 'directory' }]), `${tmp}/l`);
    for (const p of ['d', 'd/f', 'g']) assert.equal((await fsp.stat(`${tmp}/l/${p}`)).gid, 0, p);
  });
});

test('cancellation stops the unpack', async () => {
  await inTemp('unpack-abort', async (tmp) => {
    const ac = new AbortController();
    ac.abort();
    const tar = await craftTar([{ name: 'a', body: 'x' }]);
    await assert.rejects(unpackLayer(Readable.from([tar]), `${tmp}/l`, { signal: ac.signal }), (err: unknown) => {
      assert.ok(err instanceof TsError && err.kind === 'Cancelled');
      return true;
    });
  });
});

// ---------------------------------------------------------------- hostile layers

interface Hostile {
  title: string;
  /** Builds the entries; `outside` is the absolute path of a directory next to the layer. */
  entries: (outside: string) => CraftedEntry[];
  /** The entry the refusal must name. */
  culprit: (outside: string) => string;
  reason: RegExp;
}

const hostile: Hostile[] = [
  {
    title: 'relative ../ escape',
    entries: () => [{ name: 'ok', body: 'fine' }, { name: '../outside/passwd', body: 'pwned' }],
    culprit: () => '../outside/passwd',
    reason: /escapes the layer directory/,
  },
  {
    title: 'dot-dot chain climbing through a real directory',
    entries: () => [{ name: 'a/b/', type: 'directory' }, { name: 'a/b/../../../outside/new', body: 'pwned' }],
    culprit: () => 'a/b/../../../outside/new',
    reason: /escapes the layer directory/,
  },
  {
    title: 'absolute path that climbs out (/../../x)',
    entries: (outside) => [{ name: `/../../..${outside}/passwd`, body: 'pwned' }],
    culprit: (outside) => `/../../..${outside}/passwd`,
    reason: /escapes the layer directory/,
  },
  {
    title: 'symlink to an outside dir, then a file written through it',
    entries: (outside) => [
      { name: 'etc', type: 'symlink', linkname: outside },
      { name: 'etc/passwd', body: 'pwned' },
    ],
    culprit: () => 'etc/passwd',
    reason: /written through the symlink "etc"/,
  },
  {
    title: 'relative symlink chain in a parent dir',
    entries: () => [
      { name: 'usr/lib/', type: 'directory' },
      { name: 'usr/lib/up', type: 'symlink', linkname: '../../..' },
      { name: 'usr/lib/up/outside/passwd', body: 'pwned' },
    ],
    culprit: () => 'usr/lib/up/outside/passwd',
    reason: /written through the symlink "usr\/lib\/up"/,
  },
  {
    title: 'directory replaced by a symlink, then written into',
    entries: (outside) => [
      { name: 'd/', type: 'directory' },
      { name: 'd/f', body: 'first' },
      { name: 'd', type: 'symlink', linkname: outside },
      { name: 'd/passwd', body: 'pwned' },
    ],
    culprit: () => 'd/passwd',
    reason: /written through the symlink "d"/,
  },
  {
    title: 'hardlink to the host /etc/passwd',
    entries: () => [{ name: 'stolen', type: 'link', linkname: '/etc/passwd' }],
    culprit: () => 'stolen',
    reason: /hardlink to "\/etc\/passwd", which does not exist in this layer/,
  },
  {
    title: 'hardlink climbing out with ../',
    entries: () => [{ name: 'stolen', type: 'link', linkname: '../outside/passwd' }],
    culprit: () => 'stolen',
    reason: /which escapes the layer directory/,
  },
  {
    title: 'hardlink to a file reached through a planted symlink',
    entries: (outside) => [
      { name: 'a', type: 'symlink', linkname: outside },
      { name: 'stolen', type: 'link', linkname: 'a/passwd' },
    ],
    culprit: () => 'stolen',
    reason: /does not exist in this layer/,
  },
  {
    title: 'hardlink to a symlink that points outside (absolute)',
    entries: (outside) => [
      { name: 's', type: 'symlink', linkname: `${outside}/passwd` },
      { name: 'h', type: 'link', linkname: 's' },
    ],
    culprit: () => 'h',
    reason: /a symlink pointing outside the layer/,
  },
  {
    title: 'hardlink to a symlink that climbs out through another symlink',
    entries: () => [
      { name: 'x/', type: 'directory' },
      { name: 'x/up', type: 'symlink', linkname: '..' },
      { name: 'x/s', type: 'symlink', linkname: 'up/../outside/passwd' },
      { name: 'h', type: 'link', linkname: 'x/s' },
    ],
    culprit: () => 'h',
    reason: /a symlink pointing outside the layer/,
  },
  {
    title: 'whiteout through a planted symlink',
    entries: (outside) => [
      { name: 'a', type: 'symlink', linkname: outside },
      { name: 'a/.wh.passwd' },
    ],
    culprit: () => 'a/.wh.passwd',
    reason: /written through the symlink "a"/,
  },
  {
    title: 'opaque marker through a planted symlink',
    entries: (outside) => [
      { name: 'a', type: 'symlink', linkname: outside },
      { name: 'a/.wh..wh..opq' },
    ],
    culprit: () => 'a/.wh..wh..opq',
    reason: /written through the symlink "a"/,
  },
];

for (const h of hostile) {
  test(`hostile layer refused: ${h.title}`, async () => {
    await inTemp('hostile', async (tmp) => {
      const outside = `${tmp}/outside`;
      await fsp.mkdir(outside);
      await fsp.writeFile(`${outside}/passwd`, 'root:x:0:0::/root:/bin/sh\n');
      const before = await fingerprint(tmp);
      const etcPasswd = await fsp.stat('/etc/passwd');
      await assert.rejects(unpackBuffer(await craftTar(h.entries(outside)), `${tmp}/layer`), (err: unknown) => {
        assert.ok(err instanceof TsError, String(err));
        assert.equal(err.kind, 'InvalidArgument');
        assert.ok(err.message.startsWith('image store: layer '), err.message);
        assert.ok(err.message.includes(`entry ${JSON.stringify(h.culprit(outside))}`), err.message);
        assert.match(err.message, h.reason);
        return true;
      });
      // Everything outside the layer directory is as it was.
      const after = JSON.parse(await fingerprint(tmp)) as Record<string, string>;
      for (const k of Object.keys(after)) if (k === 'layer' || k.startsWith('layer/')) delete after[k];
      assert.deepEqual(after, JSON.parse(before));
      const etcPasswdAfter = await fsp.stat('/etc/passwd');
      assert.equal(etcPasswdAfter.nlink, etcPasswd.nlink);
      assert.equal(etcPasswdAfter.mtimeMs, etcPasswd.mtimeMs);
    });
  });
}

test('leading slashes are dropped and names resolved inside the layer, as Docker does', async () => {
  await inTemp('unpack-abs', async (tmp) => {
    const tar = await craftTar([
      { name: '/etc/hostname', body: 'inside' },
      { name: './usr/../usr/./bin//tool', body: 'tool' },
      { name: 'usr/bin/linked', type: 'link', linkname: '/usr/bin/tool' },
      { name: 'sym', type: 'symlink', linkname: 'usr/bin' },
      { name: 'hard-to-inner-symlink', type: 'link', linkname: 'sym' },
    ]);
    await unpackBuffer(tar, `${tmp}/l`);
    assert.equal(await fsp.readFile(`${tmp}/l/etc/hostname`, 'utf8'), 'inside');
    assert.equal(await fsp.readFile(`${tmp}/l/usr/bin/linked`, 'utf8'), 'tool');
    assert.equal(await fsp.readlink(`${tmp}/l/hard-to-inner-symlink`), 'usr/bin');
  });
});

test('a recycling source gets a compressed chunk back only once the decoder is done with it', async () => {
  await inTemp('unpack-recycle', async (tmp) => {
    // Incompressible, so that the compressed stream spans many chunks.
    const body = randomBytes(3 * 1024 * 1024);
    const tar = await craftTar([{ name: 'data.bin', body }, { name: 'small', body: 'tail' }]);
    const gz = gzipSync(tar, { level: 1 });
    const size = 64 * 1024;
    const spare: Buffer[] = [];
    let fresh = 0;
    // Scribbles over every chunk given back before filling it again: a decoder still reading one
    // would inflate garbage, and the diffID would not match.
    const source = {
      recycle(chunk: Buffer) {
        chunk.fill(0xaa);
        spare.push(chunk);
      },
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < gz.length; i += size) {
          const part = gz.subarray(i, i + size);
          let chunk = spare.pop();
          if (!chunk || chunk.length !== part.length) {
            fresh++;
            chunk = Buffer.alloc(part.length);
          }
          part.copy(chunk);
          yield chunk;
        }
      },
    };
    const r = await unpackLayer(source, `${tmp}/layer`);
    assert.equal(r.diffId, sha256(tar));
    assert.equal(r.compression, 'gzip');
    assert.deepEqual(await fsp.readFile(`${tmp}/layer/data.bin`), body);
    assert.ok(fresh < Math.ceil(gz.length / size), 'no chunk was given back');
  });
});
