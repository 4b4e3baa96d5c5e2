import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PatternMatcher, parseDockerignore, readDockerignore } from '../../agent/build/index';

const excluded = (patterns: string[], file: string) => new PatternMatcher(patterns).matches(file);

test('reading: comments, blanks, cleaning, leading slash, negation', () => {
  assert.deepEqual(parseDockerignore('# comment\n\n  /foo/bar/  \n!./keep//me\n*/temp*\n../x\n'), ['foo/bar', '!keep/me', '*/temp*', '../x']);
});

test('Docker reference examples', () => {
  assert.ok(excluded(['*/temp*'], 'somedir/temporary.txt'));
  assert.ok(excluded(['*/temp*'], 'somedir/temp'));
  assert.ok(!excluded(['*/temp*'], 'temp'));
  assert.ok(excluded(['*/*/temp*'], 'somedir/subdir/temporary.txt'));
  assert.ok(excluded(['temp?'], 'tempa'));
  assert.ok(!excluded(['temp?'], 'temp'));
  assert.ok(excluded(['**/*.go'], 'a/b/c.go'));
  assert.ok(excluded(['**/*.go'], 'c.go'));
  assert.ok(excluded(['*.md', '!README*.md', 'README-secret.md'], 'README-secret.md'));
  assert.ok(!excluded(['*.md', '!README*.md', 'README-secret.md'], 'README.md'));
  assert.ok(excluded(['*.md', 'README-secret.md', '!README*.md'], 'CHANGES.md'));
  assert.ok(!excluded(['*.md', 'README-secret.md', '!README*.md'], 'README-secret.md'));
});

test('a matched directory excludes everything below it', () => {
  assert.ok(excluded(['node_modules'], 'node_modules/x/y.js'));
  assert.ok(excluded(['a/**'], 'a/b/c'));
  assert.ok(excluded(['**'], 'anything/at/all'));
  assert.ok(excluded(['a/**/z'], 'a/z'));
  assert.ok(excluded(['a/**/z'], 'a/b/c/z'));
  assert.ok(!excluded(['a/**/z'], 'b/z'));
});

test('character classes and escapes', () => {
  assert.ok(excluded(['file[0-9].txt'], 'file3.txt'));
  assert.ok(!excluded(['file[^0-9].txt'], 'file3.txt'));
  assert.ok(excluded(['file[^0-9].txt'], 'filex.txt'));
  assert.ok(excluded(['\\*star'], '*star'));
  assert.ok(!excluded(['\\*star'], 'xstar'));
  assert.ok(excluded(['a.b'], 'a.b'));
  assert.ok(!excluded(['a.b*'], 'axb'));
  assert.throws(() => new PatternMatcher(['[abc']), /syntax error in pattern/);
  assert.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern/);
});

test('exclusions re-include inside an excluded directory', () => {
  const m = new PatternMatcher(['*', '!src', 'src/*.tmp']);
  assert.ok(m.matches('other'));
  assert.ok(!m.matches('src/main.ts'));
  assert.ok(m.matches('src/x.tmp'));
});

test('<Dockerfile>.dockerignore takes precedence over .dockerignore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ignore-'));
  try {
    await writeFile(path.join(dir, '.dockerignore'), 'general\n');
    assert.deepEqual((await readDockerignore(dir, 'app.Dockerfile')).patterns, ['general']);
    await mkdir(path.join(dir, 'docker'));
    await writeFile(path.join(dir, 'docker', 'app.Dockerfile.dockerignore'), 'specific\n');
    const found = await readDockerignore(dir, 'docker/app.Dockerfile');
    assert.deepEqual(found.patterns, ['specific']);
    assert.equal(found.source, path.join(dir, 'docker', 'app.Dockerfile.dockerignore'));
    await rm(path.join(dir, '.dockerignore'));
    assert.deepEqual(await readDockerignore(dir), { patterns: [] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
