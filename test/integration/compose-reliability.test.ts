/**
 * Compose projects surviving what goes wrong, against a real daemon: a `kill -9` of a container
 * with `restart: always` (with the daemon up, and while it is down), a `kill -9` of the daemon at
 * several points of an `up` of services with depends_on, two `up`s racing (against a running
 * daemon, and both starting it), and `down` leaving no container, network, bridge, mount,
 * namespace or IP lease behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';

let d: TestDaemon;

interface PsEntry {
  Name: string;
  Service: string;
  State: string;
  Status: string;
}

async function project(name: string, yaml: string): Promise<string> {
  const dir = path.join(d.dir, name);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'compose.yaml'), yaml);
  return dir;
}

async function ps(dir: string, all = true): Promise<PsEntry[]> {
  const out = await d.ok(['ps', ...(all ? ['-a'] : []), '--format', 'json'], { cwd: dir });
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PsEntry);
}

/** Every container of the daemon, by name (a duplicate would show twice). */
async function allContainerNames(): Promise<string[]> {
  return (await d.ok(['container', 'ls', '-a', '--format', '{{.Names}}'])).trim().split('\n').filter(Boolean).sort();
}

async function networkNames(): Promise<string[]> {
  return (await d.ok(['network', 'ls', '--format', '{{.Name}}'])).trim().split('\n').filter(Boolean).sort();
}

/** Bridges this daemon owns (their alias is its network state dir). */
function ownedBridges(): string[] {
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'type', 'bridge']).toString() || '[]') as Array<{ ifname: string; ifalias?: string }>;
  return links.filter((l) => l.ifalias === path.join(d.dataRoot, 'network')).map((l) => l.ifname).sort();
}

async function inspect(name: string): Promise<{ pid: number; status: string; restarts: number }> {
  const out = await d.ok(['container', 'inspect', '--format', '{{.State.Pid}} {{.State.Status}} {{.RestartCount}}', name]);
  const [pid, status, restarts] = out.trim().split(' ');
  return { pid: Number(pid), status: status ?? '', restarts: Number(restarts) };
}

/** Polls until `check` passes (bounded), returning its last value. */
async function eventually<T>(what: string, get: () => Promise<T>, check: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await get();
  while (!check(last)) {
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
    last = await get();
  }
  return last;
}

/**
 * Runs the CLI (`up -d`, `down`) and SIGKILLs the daemon as soon as a progress line contains
 * `trigger`. Returns what the CLI said and whether the kill happened before it finished.
 */
async function runKillingDaemonAt(dir: string, args: string[], trigger: string): Promise<{ code: number; stderr: string; killed: boolean }> {
  const child = d.spawn(args, { cwd: dir });
  let stderr = '';
  let killed: Promise<void> | undefined;
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (!killed && stderr.includes(trigger)) killed = d.kill9();
  });
  child.stdout!.resume();
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  if (killed) await killed;
  return { code, stderr, killed: killed !== undefined };
}

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
});
after(async () => {
  if (d) await d.destroy();
});

describe('compose reliability', () => {
  const RESTARTS = `services:
  always:
    image: busybox:latest
    command: ["sleep", "1000"]
    restart: always
  never:
    image: busybox:latest
    command: ["sleep", "1000"]
`;

  test('kill -9 of a restart: always container brings it back, its restart count up', async () => {
    const dir = await project('rs', RESTARTS);
    const up = await d.run(['up', '-d'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    const first = await inspect('rs-always-1');
    assert.equal(first.restarts, 0);
    for (const round of [1, 2]) {
      const before = await inspect('rs-always-1');
      process.kill(before.pid, 'SIGKILL');
      const back = await eventually('rs-always-1 back', () => inspect('rs-always-1'), (s) => s.status === 'running' && s.pid !== before.pid && s.pid > 0);
      assert.equal(back.restarts, round);
    }
    const running = (await ps(dir, false)).map((e) => [e.Name, e.State]);
    assert.deepEqual(running, [['rs-always-1', 'running'], ['rs-never-1', 'running']]);

    // Without a restart policy, a killed container stays down, and ps says so.
    process.kill((await inspect('rs-never-1')).pid, 'SIGKILL');
    const never = await eventually('rs-never-1 exited', () => ps(dir), (l) => l.find((e) => e.Name === 'rs-never-1')?.State === 'exited');
    assert.match(never.find((e) => e.Name === 'rs-never-1')?.Status ?? '', /^Exited \(137\)/);
    assert.deepEqual((await ps(dir, false)).map((e) => e.Name), ['rs-always-1']);
  });

  test('a restart: always container killed while the daemon is down is restarted when it comes back', async () => {
    const dir = path.join(d.dir, 'rs');
    const before = await inspect('rs-always-1');
    await d.kill9();
    process.kill(before.pid, 'SIGKILL');
    await d.start();
    const back = await eventually('rs-always-1 back', () => inspect('rs-always-1'), (s) => s.status === 'running' && s.pid !== before.pid && s.pid > 0);
    assert.equal(back.restarts, before.restarts + 1);
    // The engine restores what its restart policies ask; `up` is what restores the rest, as Compose.
    const up = await d.run(['up', '-d'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /✔ Container rs-always-1 {2}Running/);
    assert.match(up.stderr, /✔ Container rs-never-1 {2}Started/);
    const down = await d.run(['down', '-t', '0'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
  });

  const CRASH = `services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5; touch /ready; exec sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 200ms
      retries: 100
  cache:
    image: busybox:latest
    command: ["sleep", "1000"]
    deploy: { replicas: 3 }
  api:
    image: busybox:latest
    command: ["sleep", "1000"]
    deploy: { replicas: 2 }
    depends_on:
      db: { condition: service_healthy }
      cache: { condition: service_started }
  web:
    image: busybox:latest
    command: ["sleep", "1000"]
    depends_on: [api]
`;
  const CRASH_NAMES = ['crash-api-1', 'crash-api-2', 'crash-cache-1', 'crash-cache-2', 'crash-cache-3', 'crash-db-1', 'crash-web-1'];

  /** The project is up exactly once: every replica running, no duplicate, one network. */
  async function assertConverged(dir: string, prefix: string, names: string[]): Promise<void> {
    const list = await ps(dir);
    assert.deepEqual(list.map((e) => e.Name).sort(), names);
    assert.deepEqual(list.filter((e) => e.State !== 'running').map((e) => `${e.Name} ${e.State}`), []);
    assert.deepEqual((await allContainerNames()).filter((n) => n.startsWith(`${prefix}-`)), names);
    assert.deepEqual((await networkNames()).filter((n) => n.startsWith(`${prefix}_`)), [`${prefix}_default`]);
  }

  for (const trigger of ['Network crash_default  Creating', 'Container crash-cache-1  Creating', 'Container crash-db-1  Starting', 'Container crash-db-1  Waiting']) {
    test(`a kill -9 of the daemon at "${trigger.trim()}" is survived: the next up converges`, async () => {
      const dir = await project('crash', CRASH);
      const crashed = await runKillingDaemonAt(dir, ['up', '-d'], trigger);
      assert.ok(crashed.killed, `up never printed ${JSON.stringify(trigger)}: ${crashed.stderr}`);
      assert.equal(crashed.code, 1, crashed.stderr);
      assert.match(crashed.stderr.trim().split('\n').at(-1) ?? '', /^lost the connection to the daemon \(connection dropped\): it stopped or crashed;/);
      await d.start();
      const up = await d.run(['up', '-d'], { cwd: dir });
      assert.equal(up.code, 0, up.stderr);
      await assertConverged(dir, 'crash', CRASH_NAMES);
      const again = await d.run(['up', '-d'], { cwd: dir });
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stderr, /Creat|Recreat|Start/);
      const down = await d.run(['down', '-t', '0'], { cwd: dir });
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await allContainerNames(), []);
      assert.deepEqual(await d.leaks(), []);
    });
  }

  test('a kill -9 of the daemon during down is survived: the next down finishes the job', async () => {
    const dir = await project('crash', CRASH);
    const up = await d.run(['up', '-d'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    const crashed = await runKillingDaemonAt(dir, ['down', '-t', '0'], 'Container crash-web-1  Removing');
    assert.ok(crashed.killed, crashed.stderr);
    assert.equal(crashed.code, 1, crashed.stderr);
    await d.start();
    const down = await d.run(['down', '-t', '0'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await allContainerNames(), []);
    assert.deepEqual((await networkNames()).filter((n) => n.startsWith('crash_')), []);
    assert.deepEqual(await d.leaks(), []);
  });

  const RACE = `services:
  a:
    image: busybox:latest
    command: ["sleep", "1000"]
    deploy: { replicas: 2 }
  b:
    image: busybox:latest
    command: ["sleep", "1000"]
    depends_on: [a]
  c:
    image: busybox:latest
    command: ["sleep", "1000"]
    depends_on: [b]
`;
  const RACE_NAMES = ['race-a-1', 'race-a-2', 'race-b-1', 'race-c-1'];

  test('two ups of one project racing end with one set of containers', async () => {
    const dir = await project('race', RACE);
    for (let round = 0; round < 3; round++) {
      const [one, two] = await Promise.all([d.run(['up', '-d'], { cwd: dir }), d.run(['up', '-d'], { cwd: dir })]);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      await assertConverged(dir, 'race', RACE_NAMES);
      const down = await d.run(['down', '-t', '0'], { cwd: dir });
      assert.equal(down.code, 0, down.stderr);
    }
  });

  test('two ups racing to start the daemon end with one daemon and one set of containers', async () => {
    const dir = path.join(d.dir, 'race');
    await d.stop();
    // Auto-start is what this test is about: on for these two (the helper turns it off).
    const autoStart = { cwd: dir, env: { TSCOMPOSE_NO_AUTOSTART: '' } };
    const [one, two] = await Promise.all([d.run(['up', '-d'], autoStart), d.run(['up', '-d'], autoStart)]);
    // The CLI started the daemon this time: stop that one, and carry on with the test's own.
    const pid = Number((await fsp.readFile(path.join(d.dataRoot, 'tscompose.pid'), 'utf8')).trim());
    try {
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      await assertConverged(dir, 'race', RACE_NAMES);
    } finally {
      process.kill(pid, 'SIGTERM');
      await eventually('the CLI-started daemon gone', async () => fsp.access(`/proc/${pid}`).then(() => true, () => false), (alive) => !alive);
      await d.start();
    }
    await assertConverged(dir, 'race', RACE_NAMES);
    const down = await d.run(['down', '-t', '0'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
  });

  test('down leaves no container, network, bridge, volume, mount, namespace or IP lease behind', async () => {
    const bridgesBefore = ownedBridges();
    const dir = await project(
      'tidy',
      `services:
  front:
    image: busybox:latest
    command: ["sleep", "1000"]
    deploy: { replicas: 2 }
    networks: [edge, back]
  back:
    image: busybox:latest
    command: ["sleep", "1000"]
    networks: [back]
    volumes: ["data:/data", "/srv"]
networks:
  edge: {}
  back: { internal: true }
volumes:
  data: {}
`,
    );
    const up = await d.run(['up', '-d'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(ownedBridges().length, bridgesBefore.length + 2);
    const down = await d.run(['down', '-v', '-t', '0'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await allContainerNames(), []);
    assert.deepEqual((await networkNames()).filter((n) => n.startsWith('tidy_')), []);
    assert.equal((await d.ok(['volume', 'ls', '-q'])).trim(), '');
    assert.deepEqual(ownedBridges(), bridgesBefore);
    assert.deepEqual(await d.leaks(), []);
  });
});
