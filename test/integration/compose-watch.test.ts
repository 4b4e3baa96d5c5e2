/**
 * `watch` (Compose's develop mode) through the CLI against a real daemon: sync of new, changed
 * and removed files (ignore and include patterns honoured, initial_sync), restart, sync+exec,
 * and rebuild with the build context's .dockerignore; Ctrl-C ends it with the containers left
 * running.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CLI, type TestDaemon } from '../helpers/daemon';
import { ComposeProject, startBusyboxDaemon } from '../helpers/compose';
import { retry } from '../helpers/http';

let d: TestDaemon;
let p: ComposeProject;
let watcher: ChildProcess | undefined;
let output = '';

const COMPOSE = `
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    develop:
      watch:
        - path: ./src
          target: /app
          action: sync
          ignore: ["*.tmp"]
        - path: ./conf
          target: /conf
          action: sync+restart
        - path: ./seed
          target: /seed
          action: sync
          initial_sync: true
          include: ["*.txt"]
        - path: ./hook
          target: /hook
          action: sync+exec
          exec:
            command: ["sh", "-c", "cat /hook/h > /tmp/exec-saw"]
  built:
    build: ./ctx
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    develop:
      watch:
        - path: ./ctx
          action: rebuild
`;

const file = (rel: string, content: string) => fsp.mkdir(path.dirname(path.join(p.dir, rel)), { recursive: true }).then(() => fsp.writeFile(path.join(p.dir, rel), content));

before(async () => {
  d = await startBusyboxDaemon();
  p = await ComposeProject.create(d, 'dev', COMPOSE);
  await file('src/a.txt', 'v1\n');
  await file('conf/c', 'c1\n');
  await file('hook/h', 'h1\n');
  await file('seed/one.txt', '1\n');
  await file('seed/skip.md', 'no\n');
  await file('ctx/Dockerfile', 'FROM busybox:latest\nCOPY v.txt /v.txt\n');
  await file('ctx/v.txt', 'one\n');
  await file('ctx/.dockerignore', 'notes.md\n');
});
after(async () => {
  watcher?.kill('SIGKILL');
  if (d) {
    await p?.run(['down', '-t', '0', '--rmi', 'local']);
    await d.destroy();
  }
});

describe('watch', () => {
  test('brings the services up and says so', async () => {
    watcher = spawn(process.execPath, [CLI, 'watch'], { cwd: p.dir, env: { ...process.env, ...d.env } });
    watcher.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    watcher.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    await retry(async () => assert.match(output, /^Watch enabled$/m), 400);
    assert.equal(await p.exec('built', 'cat', '/v.txt'), 'one');
  });

  test('sync: new, changed and removed files reach the containers; ignored ones do not', async () => {
    await file('src/a.txt', 'v2\n');
    await file('src/sub/b.txt', 'deep\n');
    await file('src/skip.tmp', 'no\n');
    await retry(async () => assert.equal(await p.sh('web', 'cat /app/a.txt /app/sub/b.txt'), 'v2\ndeep'));
    assert.equal(await p.sh('web', 'ls /app'), 'a.txt\nsub');
    await fsp.rm(path.join(p.dir, 'src/a.txt'));
    await retry(async () => assert.equal(await p.sh('web', 'ls /app'), 'sub'));
    assert.match(output, /Syncing service "web" after \d+ changes were detected/);
  });

  test('initial_sync copies what matches include at once; later changes follow the same rule', async () => {
    assert.equal(await p.sh('web', 'ls /seed'), 'one.txt');
    await file('seed/two.txt', '2\n');
    await file('seed/three.md', 'no\n');
    await retry(async () => assert.equal(await p.sh('web', 'ls /seed'), 'one.txt\ntwo.txt'));
  });

  test('sync+restart and sync+exec', async () => {
    const startedAt = async () => (await d.ok(['container', 'inspect', '-f', '{{.State.StartedAt}}', 'dev-web-1'])).trim();
    const before = await startedAt();
    await file('conf/c', 'c2\n');
    await retry(async () => assert.notEqual(await startedAt(), before));
    assert.equal(await p.exec('web', 'cat', '/conf/c'), 'c2');
    await file('hook/h', 'h2\n');
    await retry(async () => assert.equal(await p.exec('web', 'cat', '/tmp/exec-saw'), 'h2'));
  });

  test('rebuild: a change in the context rebuilds and recreates; one the .dockerignore names does not', async () => {
    await file('ctx/v.txt', 'two\n');
    await retry(async () => assert.equal(await p.exec('built', 'cat', '/v.txt'), 'two'), 400);
    const rebuilds = () => output.match(/Rebuilding service\(s\) \["built"\]/g)?.length ?? 0;
    const count = rebuilds();
    await file('ctx/notes.md', 'ignored\n');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(rebuilds(), count);
  });

  test('Ctrl-C ends watch; the containers keep running', async () => {
    const exited = new Promise<number | null>((resolve) => watcher!.once('exit', (code) => resolve(code)));
    watcher!.kill('SIGINT');
    assert.equal(await exited, 0);
    watcher = undefined;
    assert.match(await p.ok(['ps', '--format', '{{.Service}} {{.State}}']), /^web running$/m);
  });

  test('--quiet hides the rebuild lines and the build output', async () => {
    let quiet = '';
    const w = spawn(process.execPath, [CLI, 'watch', '--no-up', '--quiet'], { cwd: p.dir, env: { ...process.env, ...d.env } });
    const exited = new Promise<number | null>((resolve) => w.once('exit', (code) => resolve(code)));
    w.stdout!.on('data', (b: Buffer) => (quiet += b.toString()));
    w.stderr!.on('data', (b: Buffer) => (quiet += b.toString()));
    try {
      await retry(async () => assert.match(quiet, /^Watch enabled$/m), 400);
      await file('ctx/v.txt', 'three\n');
      await retry(async () => assert.equal(await p.exec('built', 'cat', '/v.txt'), 'three'), 400);
    } finally {
      w.kill('SIGINT');
      await exited;
    }
    assert.doesNotMatch(quiet, /Rebuilding|COPY v\.txt|^#\d+ /m);
  });

  test('a project without develop.watch is refused with Compose’s words', async () => {
    const q = await ComposeProject.create(d, 'plain', 'services:\n  s:\n    image: busybox:latest\n    command: ["true"]\n');
    const r = await q.run(['watch', '--no-up']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "none of the selected services is configured for watch, consider setting a 'develop' section");
  });
});
