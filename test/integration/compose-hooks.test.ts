/**
 * Compose's lifecycle hooks through the CLI against a real daemon: `post_start` after every
 * start (up, start, restart), with its own user, environment and working directory, and
 * `pre_stop` before every stop (stop, down, a recreate); a failing hook is Compose's error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDaemon } from '../helpers/daemon';
import { ComposeProject, startBusyboxDaemon } from '../helpers/compose';

let d: TestDaemon;
let p: ComposeProject;

// The app runs as nobody; its post_start hook, as root, hands it the volume. The pre_stop hook
// leaves a mark in the volume, which a later container reads.
const COMPOSE = `
services:
  app:
    image: busybox:latest
    user: "65534"
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    volumes: ["data:/data"]
    post_start:
      - command: ["sh", "-c", "chown 65534 /data && echo \\"$$HOOK_WORD $$(pwd) $$(id -u)\\" >> /data/started"]
        user: root
        working_dir: /tmp
        environment: { HOOK_WORD: started }
    pre_stop:
      - command: sh -c 'echo stopping >> /data/stopped'
        user: root
volumes:
  data: {}
`;

// Read through the engine, not `run`: a one-off of app would run its post_start hook too.
const read = (file: string) => d.ok(['container', 'run', '--rm', '-v', 'hooks_data:/data', 'busybox:latest', 'cat', `/data/${file}`]);

before(async () => {
  d = await startBusyboxDaemon();
  p = await ComposeProject.create(d, 'hooks', COMPOSE);
});
after(async () => {
  if (d) {
    await p?.run(['down', '-v', '-t', '0']);
    await d.destroy();
  }
});

describe('lifecycle hooks', () => {
  test('post_start runs after up, start and restart, as its own user, environment and directory', async () => {
    const up = await p.run(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    // The app (uid 65534) may write to the volume because the hook gave it away.
    assert.equal(await p.sh('app', 'touch /data/mine && echo ok'), 'ok');
    assert.equal(await read('started'), 'started /tmp 0\n');
    await p.ok(['stop', 'app']);
    await p.ok(['start', 'app']);
    await p.ok(['restart', 'app']);
    assert.equal(await read('started'), 'started /tmp 0\n'.repeat(3));
  });

  test('run: a one-off container runs its post_start hooks too, attached or detached', async () => {
    await p.ok(['run', '--rm', '--no-deps', 'app', 'sh', '-c', 'sleep 1']);
    const id = (await p.ok(['run', '-d', '--no-deps', 'app', 'sleep', '30'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(await read('started'), 'started /tmp 0\n'.repeat(5));
    await d.ok(['container', 'rm', '-f', id]);
    // A command done before its hook's turn is not failed for it.
    assert.equal(await p.ok(['run', '--rm', '--no-deps', 'app', 'true']), '');
  });

  test('pre_stop runs before stop and down; a hook that fails is Compose’s error', async () => {
    assert.equal(await read('stopped'), 'stopping\n', 'the stop of the first test');
    await p.ok(['down']);
    assert.equal(await read('stopped'), 'stopping\n'.repeat(2));

    await p.write(COMPOSE.replace(`command: sh -c 'echo stopping >> /data/stopped'`, `command: sh -c 'echo cannot; exit 3'`));
    assert.equal((await p.run(['up', '-d'])).code, 0);
    const stop = await p.run(['stop', 'app']);
    assert.equal(stop.code, 1);
    assert.match(stop.stderr, /app hook exited with status 3/);
    // The failed hook stopped nothing, as in Compose.
    assert.match(await p.ok(['ps', '--format', '{{.State}}']), /^running$/m);
    // Where the files are loaded, the hooks as written now apply: the fixed file's pre_stop runs
    // when up recreates the container, and a failing post_start fails up, naming the service.
    await p.write(COMPOSE.replace(`- command: ["sh", "-c", "chown`, `- command: ["sh", "-c", "exit 4; chown`));
    const up = await p.run(['up', '-d', '-t', '0']);
    assert.equal(up.code, 1);
    assert.match(up.stderr, /app hook exited with status 4/);
    assert.equal(await read('stopped'), 'stopping\n'.repeat(3));
    // As in Compose, the container whose hook failed was started and stays so; ps says so.
    assert.match(await p.ok(['ps', '--format', '{{.State}}']), /^running$/m);
    await p.write(COMPOSE);
    await p.ok(['down']);
    assert.equal(await read('stopped'), 'stopping\n'.repeat(4));
  });
});
