/**
 * Ordering and health through the CLI against a real daemon: topological start-up with
 * independent services in parallel and shutdown in reverse; `depends_on` conditions
 * (service_started, service_healthy, service_completed_successfully), `required: false` and
 * `restart: true`; a dependency that fails or turns unhealthy aborts `up` naming it; healthchecks
 * (CMD, CMD-SHELL, NONE, disable, interval/timeout/retries/start_period/start_interval) shown by `ps`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDaemon } from '../helpers/daemon';
import { ComposeProject, inspectContainer, startBusyboxDaemon, type PsEntry } from '../helpers/compose';

let d: TestDaemon;
let p: ComposeProject;
let upOutput = '';

// db turns healthy about a second after it starts. Its checks run every 100ms during the long
// start period (start_interval), and the 30s interval after it; failures during the start period
// don't count, so retries: 1 does not make it unhealthy while it boots.
const COMPOSE = `
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 3600"]
    init: true
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 30s
      timeout: 2s
      retries: 1
      start_period: 60s
      start_interval: 100ms
  cache:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    healthcheck:
      test: ["CMD-SHELL", "[ -d /proc/1 ] && exit 0"]
      interval: 200ms
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5; echo migrated"]
    depends_on:
      db:
        condition: service_healthy
  flaky:
    image: busybox:latest
    command: ["sh", "-c", "exit 4"]
  api:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    depends_on:
      db:
        condition: service_healthy
        restart: true
      migrate:
        condition: service_completed_successfully
      cache:
        condition: service_started
      flaky:
        condition: service_completed_successfully
        required: false
      debugger:
        condition: service_started
        required: false
  debugger:
    image: busybox:latest
    command: ["sleep", "3600"]
    profiles: [debug]
  front:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    depends_on: [api]
  nocheck:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    healthcheck:
      test: ["NONE"]
  disabled:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    healthcheck:
      test: ["CMD", "false"]
      disable: true
  slowcheck:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    healthcheck:
      test: ["CMD-SHELL", "sleep 5"]
      interval: 200ms
      timeout: 300ms
      retries: 2
`;

const lineOf = (out: string, text: string) => out.split('\n').findIndex((l) => l.includes(text));

async function waitForPs(service: string, pred: (e: PsEntry) => boolean, ms = 15_000): Promise<PsEntry> {
  const deadline = Date.now() + ms;
  for (;;) {
    const [e] = await p.ps(['-a', service]);
    if (e && pred(e)) return e;
    if (Date.now() > deadline) throw new Error(`${service}: ${JSON.stringify(e)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  d = await startBusyboxDaemon();
  p = await ComposeProject.create(d, 'deps', COMPOSE);
});
after(async () => {
  if (d) {
    await p?.down();
    await d.destroy();
  }
});

describe('compose depends_on and healthchecks', () => {
  test('up starts services in dependency order', async () => {
    const r = await p.run(['up', '-d']);
    assert.equal(r.code, 0, r.stderr);
    upOutput = r.stderr;
    const at = (t: string) => {
      const i = lineOf(upOutput, t);
      assert.ok(i >= 0, `${t} in\n${upOutput}`);
      return i;
    };
    assert.ok(at('deps-db-1  Healthy') < at('deps-migrate-1  Started'));
    assert.ok(at('deps-migrate-1  Exited') < at('deps-api-1  Started'));
    assert.ok(at('deps-db-1  Healthy') < at('deps-api-1  Started'));
    assert.ok(at('deps-api-1  Started') < at('deps-front-1  Started'));
  });

  test('independent services start in parallel, not after slower ones', async () => {
    // cache depends on nothing: it is started with db, before db turns healthy.
    assert.ok(lineOf(upOutput, 'deps-cache-1  Started') < lineOf(upOutput, 'deps-db-1  Healthy'), upOutput);
    assert.ok(lineOf(upOutput, 'deps-db-1  Starting') < lineOf(upOutput, 'deps-cache-1  Started'), upOutput);
    assert.ok(lineOf(upOutput, 'deps-nocheck-1  Started') < lineOf(upOutput, 'deps-db-1  Healthy'), upOutput);
  });

  test('required: false tolerates a failed dependency and one left out by profiles', async () => {
    assert.match(upOutput, /optional dependency "flaky" of service "api" failed to start: service "flaky" didn't complete successfully: exit 4/);
    assert.equal((await inspectContainer(d, 'deps-api-1')).State.Status, 'running');
    const services = (await p.ok(['ps', '-a', '--services'])).trim().split('\n');
    assert.ok(!services.includes('debugger'), services.join(','));
  });

  test('ps shows health: healthy, none for NONE and disable, unhealthy after timeouts', async () => {
    const db = await waitForPs('db', (e) => e.Health === 'healthy');
    assert.match(db.Status, /^Up .*\(healthy\)$/);
    await waitForPs('cache', (e) => e.Health === 'healthy');
    const [nocheck] = await p.ps(['nocheck']);
    assert.equal(nocheck?.Health, '');
    assert.doesNotMatch(nocheck?.Status ?? '', /health/);
    const [disabled] = await p.ps(['disabled']);
    assert.equal(disabled?.Health, '');
    // Each check of slowcheck times out after 300ms; two in a row make it unhealthy.
    const slow = await waitForPs('slowcheck', (e) => e.Health === 'unhealthy');
    assert.match(slow.Status, /\(unhealthy\)/);
    const table = await p.ok(['ps']);
    assert.match(table, /deps-slowcheck-1 .*\(unhealthy\)/);
    const doc = (await inspectContainer(d, 'deps-slowcheck-1')) as unknown as { State: { Health: { Status: string; FailingStreak: number; Log: Array<{ ExitCode: number; Output: string }> } } };
    assert.equal(doc.State.Health.Status, 'unhealthy');
    assert.ok(doc.State.Health.FailingStreak >= 2);
    assert.match(doc.State.Health.Log.at(-1)?.Output ?? '', /timed out|exceeded/i);
  });

  test('the job ran to completion and stays exited 0', async () => {
    const [migrate] = await p.ps(['-a', 'migrate']);
    assert.equal(migrate?.State, 'exited');
    assert.equal(migrate?.ExitCode, 0);
    assert.match(await p.ok(['logs', 'migrate']), /migrated/);
  });

  test('restart: true restarts the dependent when its dependency restarts', async () => {
    const before = (await inspectContainer(d, 'deps-api-1')) as unknown as { State: { StartedAt: string } };
    const frontBefore = (await inspectContainer(d, 'deps-front-1')) as unknown as { State: { StartedAt: string } };
    const r = await p.run(['restart', '-t', '1', 'db']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Container deps-api-1 {2}Started/);
    const after = (await inspectContainer(d, 'deps-api-1')) as unknown as { State: { StartedAt: string } };
    assert.notEqual(after.State.StartedAt, before.State.StartedAt);
    // front depends on api without restart: true: untouched.
    const frontAfter = (await inspectContainer(d, 'deps-front-1')) as unknown as { State: { StartedAt: string } };
    assert.equal(frontAfter.State.StartedAt, frontBefore.State.StartedAt);
    assert.ok(lineOf(r.stderr, 'deps-db-1  Started') < lineOf(r.stderr, 'deps-api-1  Restarting'), r.stderr);
    // --no-deps: the named service alone.
    const noDeps = await p.run(['restart', '-t', '1', '--no-deps', 'db']);
    assert.equal(noDeps.code, 0, noDeps.stderr);
    assert.match(noDeps.stderr, /Container deps-db-1 {2}Started/);
    assert.doesNotMatch(noDeps.stderr, /deps-api-1/);
    assert.equal(((await inspectContainer(d, 'deps-api-1')) as unknown as { State: { StartedAt: string } }).State.StartedAt, after.State.StartedAt);
  });

  test('restart: true restarts the dependent when up recreates its dependency', async () => {
    const started = async (name: string) => ((await inspectContainer(d, name)) as unknown as { State: { StartedAt: string } }).State.StartedAt;
    const [api, front] = [await started('deps-api-1'), await started('deps-front-1')];
    await p.write(COMPOSE.replace('    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 3600"]\n', '$&    environment: { VERSION: "2" }\n'));
    const r = await p.run(['up', '-d', '-t', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Container deps-db-1 {2}Recreated/);
    assert.match(r.stderr, /Container deps-api-1 {2}Restarted/);
    assert.ok(lineOf(r.stderr, 'deps-db-1  Healthy') < lineOf(r.stderr, 'deps-api-1  Restarting'), r.stderr);
    assert.notEqual(await started('deps-api-1'), api);
    assert.equal(await started('deps-front-1'), front);
  });

  test('down stops dependents before their dependencies', async () => {
    const r = await p.run(['down', '-t', '1']);
    assert.equal(r.code, 0, r.stderr);
    const at = (t: string) => lineOf(r.stderr, t);
    assert.ok(at('deps-front-1  Removed') < at('deps-api-1  Stopping'), r.stderr);
    assert.ok(at('deps-api-1  Removed') < at('deps-db-1  Stopping'), r.stderr);
    assert.ok(at('deps-api-1  Removed') < at('deps-cache-1  Stopping'), r.stderr);
  });

  test('a dependency that turns unhealthy aborts up, naming it', async () => {
    const q = await ComposeProject.create(
      d,
      'sick',
      `
services:
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 100ms
      retries: 2
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      db:
        condition: service_healthy
`,
    );
    try {
      const r = await q.run(['up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /dependency failed to start: container sick-db-1 is unhealthy/);
      assert.equal(r.stderr.includes('    at '), false, r.stderr);
      // What was started is shown as it is: web was created, never started.
      const ps = await q.ps(['-a']);
      assert.deepEqual(ps.map((e) => [e.Service, e.State]), [['db', 'running'], ['web', 'created']]);
    } finally {
      await q.down();
    }
  });

  test('a dependency that fails aborts up, naming it', async () => {
    const q = await ComposeProject.create(
      d,
      'broken',
      `
services:
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "exit 3"]
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      migrate:
        condition: service_completed_successfully
  worker:
    image: busybox:latest
    command: ["sh", "-c", "exit 1"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 100ms
  consumer:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      worker:
        condition: service_healthy
`,
    );
    try {
      const r = await q.run(['up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /service "migrate" didn't complete successfully: exit 3|dependency failed to start: container broken-worker-1 exited \(1\)/);
      const ps = await q.ps(['-a']);
      const state = Object.fromEntries(ps.map((e) => [e.Service, e.State]));
      assert.equal(state.app, 'created');
      assert.equal(state.consumer, 'created');
    } finally {
      await q.down();
    }
  });
});
