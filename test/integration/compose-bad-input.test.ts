/**
 * What `up` does with input it cannot honour, against a real daemon: an image that is missing
 * and cannot be pulled, a service no node can take, a host port already in use, a dependency that
 * never becomes healthy, and replicas of a service with a published port (a fixed port is refused,
 * a range gives each replica the next free port). Each failure is one line naming the service; a
 * refusal before anything is made leaves no network or volume behind; otherwise `ps` shows what
 * was started as it is, and `down` removes it all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { CLI, startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { get } from '../helpers/http';

let d: TestDaemon;
let dir: string;

const compose = (args: string[]) => d.run(args, { cwd: dir });

async function writeCompose(yaml: string): Promise<void> {
  await fsp.writeFile(path.join(dir, 'compose.yaml'), yaml);
}

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(s));
  });
}

const close = (s: net.Server) => new Promise((r) => s.close(r));

/** `n` consecutive loopback ports free right now. */
async function freePorts(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = await listen(0);
    const base = (probe.address() as net.AddressInfo).port;
    await close(probe);
    if (base + n - 1 > 65535) continue;
    const held: net.Server[] = [];
    try {
      for (let i = 0; i < n; i++) held.push(await listen(base + i));
      return base;
    } catch {
      // one of them is taken: try elsewhere
    } finally {
      await Promise.all(held.map(close));
    }
  }
  throw new Error(`no ${n} consecutive free ports`);
}

/** The error a failed command ends with: its last stderr line, with no stack trace before it. */
function errorLine(stderr: string): string {
  assert.doesNotMatch(stderr, /^\s+at /m, stderr);
  return stderr.trim().split('\n').at(-1) ?? '';
}

async function psStates(): Promise<string[]> {
  const r = await compose(['ps', '-a', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Name: string; State: string; Health: string })
    .map((e) => `${e.Name} ${e.State}${e.Health ? ` ${e.Health}` : ''}`)
    .sort();
}

/** `down` removes everything the failed `up` left, and nothing leaks. */
async function downLeavesNothing(): Promise<void> {
  const r = await compose(['down', '-t', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d.ok(['container', 'ls', '-aq'])).trim(), '');
  assert.doesNotMatch(await d.ok(['network', 'ls']), /bad_default/);
  assert.deepEqual(await d.leaks(), []);
}

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  dir = path.join(d.dir, 'bad');
  await fsp.mkdir(dir);
});
after(async () => {
  if (d) {
    await d.run(['down', '-t', '0'], { cwd: dir });
    await d.destroy();
  }
});

const SLEEPER = `  ok:
    image: busybox:latest
    command: ["sleep", "1000"]
`;

describe('compose up with bad input', () => {
  test('an image that is missing and cannot be pulled: one line naming the service, nothing started', async () => {
    const [closedPort] = [await freePorts(1)];
    await writeCompose(`services:\n${SLEEPER}  ghost:\n    image: 127.0.0.1:${closedPort}/nothing/here:v1\n    command: ["sleep", "1000"]\n`);
    const r = await compose(['up', '-d']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(errorLine(r.stderr), new RegExp(`^service "ghost": image 127\\.0\\.0\\.1:${closedPort}/nothing/here:v1 not found and could not be pulled: `));
    assert.deepEqual(await psStates(), []);
    assert.doesNotMatch(await d.ok(['network', 'ls']), /bad_default/);
    await downLeavesNothing();
  });

  test('a service no node can take is refused before anything is made: no network or volume left', async () => {
    await writeCompose(`services:
${SLEEPER}  big:
    image: busybox:latest
    command: ["sleep", "1000"]
    volumes: ["data:/data"]
    deploy:
      resources:
        reservations: { memory: 100000G }
volumes:
  data: {}
`);
    const r = await compose(['up', '-d']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(errorLine(r.stderr), /^no suitable node for bad-big-1 \(.*insufficient memory.*\)$/);
    assert.doesNotMatch(r.stderr, /Network|Volume|Container/);
    assert.deepEqual(await psStates(), []);
    assert.doesNotMatch(await d.ok(['network', 'ls']), /bad_default/);
    assert.doesNotMatch(await d.ok(['volume', 'ls']), /bad_data/);
    const down = await compose(['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /No resource found to remove for project "bad"/);
    assert.deepEqual(await d.leaks(), []);
  });

  test('a host port already in use: one line naming the service; ps shows what started', async () => {
    const port = await freePorts(1);
    const other = await listen(port);
    try {
      await writeCompose(`services:\n${SLEEPER}  web:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    ports: ["127.0.0.1:${port}:80"]\n`);
      const r = await compose(['up', '-d']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(errorLine(r.stderr), `service "web": container bad-web-1 failed to start: network: Bind for 127.0.0.1:${port} failed: port is already allocated`);
      assert.match(r.stderr, /✘ Container bad-web-1 {2}Error/);
      assert.deepEqual(await psStates(), ['bad-ok-1 running', 'bad-web-1 created']);
    } finally {
      await close(other);
    }
    await downLeavesNothing();
  });

  test('a dependency that never becomes healthy: one line naming it; its dependent is left created', async () => {
    await writeCompose(`services:
  db:
    image: busybox:latest
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 200ms
      retries: 2
  api:
    image: busybox:latest
    command: ["sleep", "1000"]
    depends_on:
      db: { condition: service_healthy }
`);
    const r = await compose(['up', '-d']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(errorLine(r.stderr), 'dependency failed to start: container bad-db-1 is unhealthy');
    assert.deepEqual(await psStates(), ['bad-api-1 created', 'bad-db-1 running unhealthy']);
    await downLeavesNothing();
  });

  test('replicas on one fixed host port are refused before anything starts, naming the service', async () => {
    const port = await freePorts(1);
    await writeCompose(`services:\n${SLEEPER}  web:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    ports: ["127.0.0.1:${port}:80"]\n    deploy: { replicas: 3 }\n`);
    const r = await compose(['up', '-d']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      errorLine(r.stderr),
      `service "web": 3 replicas cannot all publish host port ${port} (bad-web-1 and bad-web-2 would both bind it); publish a range such as "${port}-${port + 2}:80", or let the engine choose with "80"`,
    );
    assert.deepEqual(await psStates(), []);
    // One replica is fine; --scale past it is refused the same way, and leaves the first alone.
    const one = await compose(['up', '-d', '--scale', 'web=1']);
    assert.equal(one.code, 0, one.stderr);
    const two = await compose(['up', '-d', '--scale', 'web=2']);
    assert.equal(two.code, 1, two.stderr);
    assert.match(errorLine(two.stderr), /^service "web": 2 replicas cannot all publish host port \d+ \(bad-web-1 and bad-web-2 would both bind it\)/);
    assert.deepEqual(await psStates(), ['bad-ok-1 running', 'bad-web-1 running']);
    await downLeavesNothing();
  });

  test('two services on one fixed host port: up refuses before anything starts; ps and down of a running project still work', async () => {
    const port = await freePorts(1);
    const web = `  web:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    ports: ["${port}:80"]\n`;
    await writeCompose(`services:\n${web}`);
    assert.equal((await compose(['up', '-d'])).code, 0);
    // The file is edited into a clash while the project runs.
    await writeCompose(`services:\n${web}  admin:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    ports: ["127.0.0.1:${port}:81"]\n`);
    const r = await compose(['up', '-d']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(errorLine(r.stderr), `service "admin": host port ${port}/tcp on 127.0.0.1 is already published by service "web"`);
    assert.deepEqual(await psStates(), ['bad-web-1 running']);
    await downLeavesNothing();
  });

  test('an --env-file among the arguments is tscompose’s, through the launcher too', async () => {
    // Node 20 reads `--env-file` anywhere on its command line, after the script too, unless `--`
    // ends its own options first: bin/tscompose's first line does.
    await writeCompose(`services:\n${SLEEPER}`);
    const viaLauncher = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(CLI, args, { cwd: dir, env: { ...process.env, ...d.env } }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
      });
    const missing = await viaLauncher(['--env-file', 'nope.env', 'ps']);
    assert.equal(missing.code, 15, missing.stderr);
    assert.match(errorLine(missing.stderr), /env file .*nope\.env not found/);
    const echoed = await viaLauncher(['run', '--rm', 'ok', 'echo', '--env-file', '/only/in/the/container']);
    assert.equal(echoed.code, 0, echoed.stderr);
    assert.equal(echoed.stdout.trim(), '--env-file /only/in/the/container');
    await downLeavesNothing();
  });

  test('replicas on a host port range each take the next free port of it', async () => {
    const base = await freePorts(4);
    // Another process holds the range's second port: the replicas go around it.
    const other = await listen(base + 1);
    try {
      await writeCompose(`services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${base}-${base + 3}:80"]
    deploy: { replicas: 3 }
`);
      const r = await compose(['up', '-d']);
      assert.equal(r.code, 0, r.stderr);
      const ports = new Map<string, number>();
      for (const n of [1, 2, 3]) {
        const p = await compose(['port', '--index', String(n), 'web', '80']);
        assert.equal(p.code, 0, p.stderr);
        ports.set(`bad-web-${n}`, Number(p.stdout.trim().split(':').at(-1)));
      }
      assert.deepEqual([...ports.values()].sort(), [base, base + 2, base + 3]);
      const ps = await compose(['ps']);
      for (const port of ports.values()) assert.match(ps.stdout, new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
      // Each answers on its own port (the page is the container's hostname, its short id).
      const answers = new Set<string>();
      for (const port of ports.values()) answers.add((await get(`http://127.0.0.1:${port}/`)).trim());
      assert.equal(answers.size, 3);

      // A fourth replica finds the range full: one line naming the service.
      const more = await compose(['up', '-d', '--scale', 'web=4']);
      assert.equal(more.code, 1, more.stderr);
      assert.equal(
        errorLine(more.stderr),
        `service "web": container bad-web-4 failed to start: network: Bind for 127.0.0.1:${base}-${base + 3} failed: every port of the range is already allocated`,
      );
      assert.deepEqual(await psStates(), ['bad-web-1 running', 'bad-web-2 running', 'bad-web-3 running', 'bad-web-4 created']);
    } finally {
      await close(other);
    }
    await downLeavesNothing();
  });
});
