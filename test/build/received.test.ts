/**
 * A context received as a tar is indexed from the stream: the index, the checksums and the
 * ignore rules must be exactly what unpacking it and walking the directory gives, and archives
 * whose unpacking is not plain must be recognised (they are unpacked and walked instead).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, rm, symlink, chmod, readFile, link } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ContextIndex, checksumPaths, parseDockerignore } from '../../agent/build/index';
import { ReceivedContext } from '../../agent/build/context/received';
import type { ContextEntry } from '../../agent/build/context/walk';

let work = '';

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'received-'));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Feeds a tar to a ReceivedContext in small pieces, as messages would bring it. */
async function receive(tar: Buffer, name: string, wanted: string[] = ['.dockerignore']): Promise<ReceivedContext> {
  const received = new ReceivedContext(path.join(work, name, 'context'), 'the build context', new Set(wanted));
  for (let off = 0; off < tar.length; off += 1000) await received.write(tar.subarray(off, off + 1000));
  await received.end();
  return received;
}

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(work, name, 'src');
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  return dir;
}

const strip = (index: ContextIndex) => [...index.entries.values()].map(({ dev: _d, ino: _i, mtimeMs, ...rest }) => ({ ...rest, mtime: Math.floor(mtimeMs / 1000) }));

test('a plain archive is indexed as the unpacked directory would be, checksums and ignore rules included', async () => {
  const dir = await tree('plain', {
    Dockerfile: 'FROM scratch\n',
    '.dockerignore': 'logs/\n*.tmp\n!keep.tmp\n',
    'app.txt': 'app',
    'keep.tmp': 'k',
    'drop.tmp': 'd',
    'logs/a.log': 'log',
    'src/main.ts': 'main',
    'src/deep/x.bin': 'x'.repeat(70_000),
  });
  await chmod(path.join(dir, 'app.txt'), 0o4755);
  await symlink('src/main.ts', path.join(dir, 'link'));
  await symlink('/etc/passwd', path.join(dir, 'abs-link'));
  await mkdir(path.join(dir, 'empty'), { mode: 0o711 });
  const tar = execFileSync('tar', ['-C', dir, '--numeric-owner', '--owner=1000', '--group=1000', '-cf', '-', '.']);
  for (const [name, bytes] of [['plain', tar], ['plain-gz', gzipSync(tar)]] as const) {
    const received = await receive(bytes, name);
    assert.equal(received.plain, true, name);
    const patterns = parseDockerignore((received.read('.dockerignore') as Buffer).toString('utf8'));
    const fromStream = await ContextIndex.fromReceived(received, patterns);
    await received.materialize();
    assert.equal(await readFile(path.join(received.dir, 'src/main.ts'), 'utf8'), 'main');
    const fromDisk = await ContextIndex.build(received.dir, patterns);
    assert.deepEqual(strip(fromStream), strip(fromDisk), name);
    for (const sources of [['.'], ['src/'], ['*.tmp', 'link'], ['src/deep/x.bin']]) {
      const a = await checksumPaths(fromStream, sources, { ownership: false });
      const b = await checksumPaths(fromDisk, sources, { ownership: false });
      assert.equal(a.digest, b.digest, `${name} ${sources.join(' ')}`);
    }
  }
});

test('a context past the memory budget is kept in the scratch directory, then unpacked from there', async () => {
  const dir = await tree('big', { 'a.bin': 'a'.repeat(20 << 20), 'b.bin': 'b'.repeat(20 << 20) });
  const tar = execFileSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 64 << 20 });
  const received = new ReceivedContext(path.join(work, 'big', 'context'), 'the build context', new Set());
  for (let off = 0; off < tar.length; off += 1 << 20) await received.write(tar.subarray(off, off + (1 << 20)));
  await received.end();
  assert.equal(received.plain, true);
  const index = await ContextIndex.fromReceived(received);
  await received.materialize();
  const fromDisk = await ContextIndex.build(received.dir);
  assert.equal((await checksumPaths(index, ['.'])).digest, (await checksumPaths(fromDisk, ['.'])).digest);
});

test('hard links to an earlier file are indexed as unpacking leaves them: one file, shared identity', async () => {
  const dir = await tree('hard', { 'a.txt': 'a', 'sub/c.txt': 'c', Dockerfile: 'FROM scratch\n' });
  await chmod(path.join(dir, 'a.txt'), 0o640);
  await link(path.join(dir, 'a.txt'), path.join(dir, 'b.txt'));
  await link(path.join(dir, 'a.txt'), path.join(dir, 'sub/z.txt'));
  const received = await receive(execFileSync('tar', ['--sort=name', '-C', dir, '-cf', '-', '.']), 'hard', ['Dockerfile']);
  assert.equal(received.plain, true);
  const fromStream = await ContextIndex.fromReceived(received);
  const [a, b, z, c] = ['a.txt', 'b.txt', 'sub/z.txt', 'sub/c.txt'].map((p) => fromStream.entries.get(p) as ContextEntry);
  assert.equal(b?.ino, a?.ino);
  assert.equal(z?.ino, a?.ino);
  assert.notEqual(c?.ino, a?.ino);
  await received.materialize();
  const fromDisk = await ContextIndex.build(received.dir);
  assert.deepEqual(strip(fromStream), strip(fromDisk));
  for (const sources of [['.'], ['a.txt', 'b.txt'], ['sub']]) {
    assert.equal((await checksumPaths(fromStream, sources)).digest, (await checksumPaths(fromDisk, sources)).digest, sources.join(' '));
  }
  const wanted = await receive(execFileSync('tar', ['--sort=name', '-C', dir, '-cf', '-', '.']), 'hard-wanted', ['b.txt']);
  assert.equal(wanted.plain, false, 'a wanted file that is a hard link');
});

test('archives whose unpacking is not plain are recognised', async () => {
  const dir = await tree('single', { 'a.txt': 'a' });
  const implicit = await receive(execFileSync('tar', ['-C', dir, '-cf', '-', 'a.txt']), 'implicit-ok');
  assert.equal(implicit.plain, true, 'a top-level file needs no parent entry');
  const nested = await tree('nested', { 'sub/x.txt': 'x' });
  const noParent = await receive(execFileSync('tar', ['-C', nested, '-cf', '-', 'sub/x.txt']), 'no-parent');
  assert.equal(noParent.plain, false, 'a file whose directory has no entry');
  const wh = await tree('wh', { '.wh.gone': '' });
  assert.equal((await receive(execFileSync('tar', ['-C', wh, '-cf', '-', '.']), 'wh')).plain, false, 'a whiteout name');
  const linked = await tree('linked-ignore', { 'rules.txt': 'x\n' });
  await symlink('rules.txt', path.join(linked, '.dockerignore'));
  assert.equal((await receive(execFileSync('tar', ['-C', linked, '-cf', '-', '.']), 'linked-ignore')).plain, false, 'an ignore file that is a symlink');
});

test('a corrupt archive fails as unpacking would', async () => {
  const bad = Buffer.alloc(1024, 7);
  await assert.rejects(receive(bad, 'bad'), /^InvalidArgument: image store: layer the build context: invalid header checksum/);
});
