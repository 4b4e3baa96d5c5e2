/** Which build contexts are remote, and how a Git address's `#ref:subdir` fragment is read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseGitSource, remoteContextKind } from '../../cmd/commands/remote-context';
import { ExitError } from '../../cmd/cli';

test('remote context kinds follow Docker: a local directory first, then Git, then http(s)', () => {
  assert.equal(remoteContextKind('git://host/repo'), 'git');
  assert.equal(remoteContextKind('git@github.com:user/repo.git'), 'git');
  assert.equal(remoteContextKind('github.com/user/repo'), 'git');
  assert.equal(remoteContextKind('https://host/repo.git'), 'git');
  assert.equal(remoteContextKind('https://host/repo.git#main:dir'), 'git');
  assert.equal(remoteContextKind('ssh://git@host/repo.git'), 'git');
  assert.equal(remoteContextKind('https://host/context.tar.gz'), 'url');
  assert.equal(remoteContextKind('http://host/Dockerfile'), 'url');
  assert.equal(remoteContextKind('./app'), undefined);
  assert.equal(remoteContextKind('/abs/app'), undefined);

  const base = mkdtempSync(path.join(tmpdir(), 'remote-kind-'));
  try {
    mkdirSync(path.join(base, 'github.com', 'user', 'repo'), { recursive: true });
    assert.equal(remoteContextKind('github.com/user/repo', base), undefined, 'a directory of that name is local');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('Git fragments: ref and subdir, either may be empty', () => {
  assert.deepEqual(parseGitSource('https://h/r.git'), { remote: 'https://h/r.git', ref: '', subdir: '' });
  assert.deepEqual(parseGitSource('https://h/r.git#v1'), { remote: 'https://h/r.git', ref: 'v1', subdir: '' });
  assert.deepEqual(parseGitSource('https://h/r.git#v1:docker/app'), { remote: 'https://h/r.git', ref: 'v1', subdir: 'docker/app' });
  assert.deepEqual(parseGitSource('https://h/r.git#:sub'), { remote: 'https://h/r.git', ref: '', subdir: 'sub' });
  assert.deepEqual(parseGitSource('git@h:u/r.git#dev'), { remote: 'git@h:u/r.git', ref: 'dev', subdir: '' });
  assert.deepEqual(parseGitSource('github.com/u/r#dev'), { remote: 'https://github.com/u/r', ref: 'dev', subdir: '' });
  assert.throws(() => parseGitSource('https://h/r.git#--upload-pack=x'), (e: unknown) => e instanceof ExitError && /invalid refspec/.test(e.message));
});
