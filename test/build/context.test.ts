import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, symlink, chmod, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  ContextIndex,
  PatternMatcher,
  checksumPaths,
  detectStdinContext,
  hardlinkSources,
  selectSources,
  sourceTrees,
  contextSizeWarning,
  walkContext,
  CONTEXT_SIZE_WARNING_BYTES,
  type ContextEntry,
} from '../../agent/build/index';

let dir = '';
let outside = '';

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ctx-'));
  outside = await mkdtemp(path.join(tmpdir(), 'outside-'));
  await writeFile(path.join(outside, 'secret'), 'do not read');
  const files: Record<string, string> = {
    'Dockerfile': 'FROM scratch\n',
    'a.txt': 'a',
    'b.txt': 'b',
    'README.md': 'readme',
    'src/main.ts': 'main',
    'src/util/x.ts': 'x',
    'src/util/y.txt': 'y',
    'node_modules/dep/index.js': 'dep',
    'x/y/a.txt': 'xa',
    'x/y/b.txt': 'xb',
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  await chmod(path.join(dir, 'a.txt'), 0o600);
  await symlink('a.txt', path.join(dir, 'link-in'));
  await symlink(path.join(outside, 'secret'), path.join(dir, 'link-out'));
  await symlink('../../..', path.join(dir, 'src', 'up'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function collect(ignore?: string[]): Promise<ContextEntry[]> {
  const out: ContextEntry[] = [];
  for await (const entry of walkContext(dir, ignore)) out.push(entry);
  return out;
}

test('walk is lexical, reports metadata, never follows symlinks', async () => {
  const entries = await collect();
  const paths = entries.map((e) => e.path);
  assert.deepEqual(paths, [...paths].sort());
  const a = entries.find((e) => e.path === 'a.txt')!;
  assert.equal(a.type, 'file');
  assert.equal(a.mode, 0o600);
  assert.equal(a.size, 1);
  assert.equal(typeof a.uid, 'number');
  const out = entries.find((e) => e.path === 'link-out')!;
  assert.equal(out.type, 'symlink');
  assert.equal(out.linkTarget, path.join(outside, 'secret'));
  assert.ok(!paths.some((p) => p.startsWith('src/up/')));
});

test('walk applies .dockerignore, with re-inclusion inside excluded dirs', async () => {
  const paths = (await collect(['node_modules', '*.md', 'src', '!src/util/*.txt'])).map((e) => e.path);
  assert.ok(!paths.some((p) => p.startsWith('node_modules')));
  assert.ok(!paths.includes('README.md'));
  assert.ok(!paths.includes('src/main.ts'));
  assert.ok(paths.includes('src') && paths.includes('src/util') && paths.includes('src/util/y.txt'));
  assert.ok(!paths.includes('src/util/x.ts'));
  assert.ok(paths.indexOf('src') < paths.indexOf('src/util/y.txt'));
});

test('COPY source globs follow filepath.Match: * does not cross /', async () => {
  const index = await ContextIndex.build(dir);
  const copyPaths = (sources: string[], opts = {}) => selectSources(index, sources, opts).map((s) => s.copyPath);
  assert.deepEqual(copyPaths(['*.txt']), ['a.txt', 'b.txt']);
  assert.deepEqual(copyPaths(['src/*/x.ts']), ['x.ts']);
  // A directory comes first as itself (''), its contents after.
  assert.deepEqual(copyPaths(['src/']), ['', 'main.ts', 'up', 'util', 'util/x.ts', 'util/y.txt']);
  const matches = (sources: string[]) => selectSources(index, sources).filter((s) => s.match).map((s) => s.entry.path);
  assert.deepEqual(matches(['src']), ['src']);
  assert.deepEqual(matches(['*.txt']), ['a.txt', 'b.txt']);
  assert.deepEqual(matches(['sr*']), ['src']);
  assert.deepEqual(copyPaths(['/src/../a.txt']), ['a.txt']);
  assert.deepEqual(copyPaths(['nothing*']), []);
  assert.deepEqual(copyPaths(['x/y/?.txt']), ['a.txt', 'b.txt']);
});

test('COPY --parents keeps directories, honours ./ pivots and **', async () => {
  const index = await ContextIndex.build(dir);
  const copyPaths = (sources: string[]) => selectSources(index, sources, { parents: true }).map((s) => s.copyPath);
  assert.deepEqual(copyPaths(['./x/y/a.txt', 'src/main.ts']), ['x/y/a.txt', 'src/main.ts']);
  assert.deepEqual(copyPaths(['./x/./y/*.txt']), ['y/a.txt', 'y/b.txt']);
  assert.deepEqual(copyPaths(['./src/**/*.txt']), ['src/util/y.txt']);
});

test('COPY --exclude drops matching entries', async () => {
  const index = await ContextIndex.build(dir);
  const selected = selectSources(index, ['src'], { excludes: ['**/*.txt', 'up'] }).map((s) => s.copyPath);
  assert.deepEqual(selected, ['', 'main.ts', 'util', 'util/x.ts']);
});

test('symlinks: a top-level source is followed inside the context only', async () => {
  const index = await ContextIndex.build(dir);
  const viaLink = selectSources(index, ['link-in']);
  assert.equal(viaLink[0]!.entry.path, 'a.txt');
  assert.equal(viaLink[0]!.copyPath, 'link-in');
  assert.throws(() => selectSources(index, ['link-out'], { line: 4 }), /Dockerfile:4: COPY failed: file not found in build context or excluded by \.dockerignore: stat link-out: file does not exist/);
  // `src/up` points above the root: resolution stops at the context root.
  assert.equal(index.resolve('src/up/a.txt', true)?.path, 'a.txt');
});

test('missing or ignored sources fail with the Dockerfile line', async () => {
  const index = await ContextIndex.build(dir, new PatternMatcher(['*.md']));
  assert.throws(
    () => selectSources(index, ['README.md'], { dockerfile: 'app.Dockerfile', line: 7 }),
    {
      name: 'NotFound',
      message: /^app\.Dockerfile:7: COPY failed: file not found in build context or excluded by \.dockerignore: stat README\.md: file does not exist$/,
    },
  );
  assert.throws(() => selectSources(index, ['foo'], { instruction: 'ADD' }), /ADD failed: .* stat foo: file does not exist/);
});

test('checksum is stable, content- and mode-sensitive, and ignores unselected files', async () => {
  const first = await checksumPaths(dir, ['src', 'a.txt']);
  const again = await checksumPaths(dir, ['src', 'a.txt']);
  assert.equal(first.digest, again.digest);
  assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
  await writeFile(path.join(dir, 'b.txt'), 'changed, but not selected');
  assert.equal((await checksumPaths(dir, ['src', 'a.txt'])).digest, first.digest);
  await writeFile(path.join(dir, 'src/main.ts'), 'main2');
  const changed = await checksumPaths(dir, ['src', 'a.txt']);
  assert.notEqual(changed.digest, first.digest);
  await chmod(path.join(dir, 'src/main.ts'), 0o755);
  assert.notEqual((await checksumPaths(dir, ['src', 'a.txt'])).digest, changed.digest);
  const ignored = await checksumPaths(dir, ['src'], { ignore: ['src/util'] });
  assert.ok(!ignored.entries.some((e) => e.entry.path.startsWith('src/util')));
});

test('context size warning and stdin detection', () => {
  assert.equal(contextSizeWarning('"."', CONTEXT_SIZE_WARNING_BYTES), undefined);
  assert.match(contextSizeWarning('"."', CONTEXT_SIZE_WARNING_BYTES + 1) ?? '', /^WARNING: build context "\." is over 500 MB; consider a \.dockerignore/);
  const tarHeader = new Uint8Array(512);
  tarHeader.set(Buffer.from('ustar'), 257);
  assert.equal(detectStdinContext(tarHeader), 'tar');
  assert.equal(detectStdinContext(new Uint8Array([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(detectStdinContext(Buffer.from('FROM alpine\n')), 'dockerfile');
});

test('an index limited to the source trees holds them and the directories leading to them', async () => {
  assert.deepEqual(sourceTrees(['/src/util/', 'x/y/*.txt', 'a.txt', '/']), ['src/util', 'x/y', 'a.txt', '']);
  const limited = await ContextIndex.build(dir, undefined, ['src/util', 'a.txt']);
  assert.deepEqual([...limited.entries.keys()].sort(), ['a.txt', 'src', 'src/util', 'src/util/x.ts', 'src/util/y.txt']);
  assert.deepEqual(selectSources(limited, ['src/util/*.ts']).map((s) => s.copyPath), ['x.ts']);
  assert.equal((await ContextIndex.build(dir, undefined, [''])).entries.size, (await ContextIndex.build(dir)).entries.size);
});

test('hard links are kept within one source tree, not across trees, and count in the checksum', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'ctx-links-'));
  try {
    await mkdir(path.join(root, 'd'));
    for (const name of ['a', 'b', 'c']) await writeFile(path.join(root, name), 'same');
    const apart = await checksumPaths(root, ['.']);
    await rm(path.join(root, 'b'));
    await link(path.join(root, 'a'), path.join(root, 'b'));
    await link(path.join(root, 'a'), path.join(root, 'd/x'));
    const index = await ContextIndex.build(root);
    const linksOf = (sources: string[]) => {
      const selected = selectSources(index, sources);
      const linked = hardlinkSources(selected);
      return selected.flatMap((s, i) => (linked[i] === undefined ? [] : [`${s.copyPath}->${linked[i]}`]));
    };
    assert.deepEqual(linksOf(['.']), ['b->a', 'd/x->a']);
    // As Docker copies them: each source argument and each wildcard match on its own.
    assert.deepEqual(linksOf(['a', 'b']), []);
    assert.deepEqual(linksOf(['*']), []);
    assert.deepEqual(linksOf(['d', 'b', 'a']), []);
    const linked = await checksumPaths(index, ['.']);
    assert.notEqual(linked.digest, apart.digest, 'linking files that were apart is a change');
    assert.equal((await checksumPaths(index, ['c'])).digest, (await checksumPaths(root, ['c'])).digest);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
