/**
 * Compose's read-only verbs through the CLI against a real daemon, their output compared with
 * Compose v2's: `ps` (-a, -q, --services, --status, --format table|json), `ls` (-a, -q, json),
 * `logs` (-f, --tail, -t, --since, --no-color, --no-log-prefix, services), `top`, `port`,
 * `images`, `events` (--json, --since/--until) and `cp` in both directions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CLI, type TestDaemon } from '../helpers/daemon';
import { expectCode, lines, projectDir, startBusyboxDaemon } from '../helpers/compose';
import { freePort } from '../helpers/http';

let d: TestDaemon;
let dir: string;
let webPort: number;

const compose = (args: string[]) => d.run(args, { cwd: dir });
const ok = (args: string[]) => d.ok(args, { cwd: dir });

interface PsJson {
  ID: string;
  Name: string;
  Image: string;
  Command: string;
  Project: string;
  Service: string;
  State: string;
  Status: string;
  ExitCode: number;
  Health: string;
  Publishers: Array<{ URL: string; TargetPort: number; PublishedPort: number; Protocol: string }>;
}
const psJson = async (args: string[] = []) => lines(await ok(['ps', '--format', 'json', ...args])).map((l) => JSON.parse(l) as PsJson);

before(async () => {
  d = await startBusyboxDaemon();
  webPort = await freePort();
  dir = await projectDir(d, 'insp', {
    'compose.yaml': `services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo web-ready; echo web-err >&2; exec httpd -f -p 80 -h /tmp"]
    ports: ["127.0.0.1:${webPort}:80", "127.0.0.1:${webPort}:9999/udp"]
    stop_signal: SIGKILL
  echo:
    image: busybox:latest
    command: ["sh", "-c", "echo one; echo two; echo three; exec sleep 600"]
    ports: ["127.0.0.1::7000"]
    deploy:
      replicas: 2
    stop_signal: SIGKILL
  say:
    image: busybox:latest
    command: ["sh", "-c", "for i in 1 2 3; do echo tick-$$i; sleep 1.5; done"]
`,
  });
  const r = await compose(['up', '-d', '--wait']);
  if (r.code !== 0) throw new Error(`up failed: ${r.stderr}`);
});
after(async () => {
  if (d) {
    await d.run(['down', '-t', '0'], { cwd: dir });
    await d.destroy();
  }
});

describe('compose ps', () => {
  test('table: Compose’s columns, running containers only', async () => {
    await ok(['wait', 'say']);
    const [header, ...rows] = lines(await ok(['ps']));
    assert.match(header ?? '', /^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS$/);
    assert.deepEqual(rows.map((r) => r.split(/\s+/)[0]), ['insp-echo-1', 'insp-echo-2', 'insp-web-1']);
    assert.match(await ok(['ps']), new RegExp(`^insp-web-1\\s+busybox:latest\\s+"sh -c 'echo web-rea…"\\s+web\\s+\\S.* ago\\s+Up .*\\s+127\\.0\\.0\\.1:${webPort}->80/tcp, 127\\.0\\.0\\.1:${webPort}->9999/udp$`, 'm'));
    assert.match(await ok(['ps', 'echo']), /^insp-echo-2\s+.*127\.0\.0\.1:\d+->7000\/tcp$/m);
  });

  test('-a adds the exited one, --status filters, --services and -q', async () => {
    assert.match(await ok(['ps', '-a']), /^insp-say-1\s+busybox:latest\s+.*\s+say\s+.*Exited \(0\) .* ago\s*$/m);
    assert.deepEqual(lines(await ok(['ps', '--status', 'exited', '--services'])), ['say']);
    assert.deepEqual(lines(await ok(['ps', '--status', 'running', '--services'])), ['echo', 'web']);
    assert.deepEqual(lines(await ok(['ps', '-a', '--services'])), ['echo', 'say', 'web']);
    const ids = lines(await ok(['ps', '-q']));
    assert.equal(ids.length, 3);
    for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
    assert.deepEqual(lines(await ok(['ps', '-q', 'web'])), [(await psJson(['web']))[0]!.ID]);
    const bad = await compose(['ps', '--status', 'sleeping']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'status=sleeping'/);
    assert.equal((await compose(['ps', 'nosuch'])).code, 1);
  });

  test('--format json: one object a line with Compose’s fields', async () => {
    const all = await psJson(['-a']);
    const web = all.find((j) => j.Service === 'web')!;
    assert.equal(web.Name, 'insp-web-1');
    assert.equal(web.Project, 'insp');
    assert.equal(web.State, 'running');
    assert.equal(web.Image, 'busybox:latest');
    assert.equal(web.ExitCode, 0);
    assert.equal(web.Health, '');
    assert.match(web.Status, /^Up /);
    assert.deepEqual(
      web.Publishers.map((p) => [p.URL, p.TargetPort, p.PublishedPort, p.Protocol]),
      [
        ['127.0.0.1', 80, webPort, 'tcp'],
        ['127.0.0.1', 9999, webPort, 'udp'],
      ],
    );
    // A Go template over the same fields.
    assert.equal(await ok(['ps', '--format', '{{.Name}} {{.State}}', 'web']), 'insp-web-1 running\n');
    assert.deepEqual(lines(await ok(['ps', '--format', 'table {{.Service}}\t{{.Status}}', 'web'])).map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['SERVICE STATUS', 'web Up']);
    const say = all.find((j) => j.Service === 'say')!;
    assert.equal(say.State, 'exited');
    assert.deepEqual(say.Publishers, []);
  });
});

describe('compose ls', () => {
  test('projects with their status and files', async () => {
    const out = await ok(['ls']);
    assert.match(lines(out)[0] ?? '', /^NAME\s+STATUS\s+CONFIG FILES$/);
    assert.match(out, new RegExp(`^insp\\s+running\\(3\\)\\s+${path.join(dir, 'compose.yaml').replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(await ok(['ls', '-a']), /^insp\s+(running\(3\), exited\(1\)|exited\(1\), running\(3\))\s/m);
    assert.deepEqual(lines(await ok(['ls', '-q'])), ['insp']);
    assert.deepEqual(JSON.parse(await ok(['ls', '--format', 'json'])), [{ Name: 'insp', Status: 'running(3)', ConfigFiles: path.join(dir, 'compose.yaml') }]);
  });
});

describe('compose logs', () => {
  test('prefixes, service names, --no-log-prefix, --no-color', async () => {
    const out = await ok(['logs', 'echo', 'web']);
    assert.match(out, /^echo-1 {2}\| one$/m);
    assert.match(out, /^echo-2 {2}\| three$/m);
    assert.match(out, /^web-1 {3}\| web-ready$/m);
    assert.match(out, /^web-1 {3}\| web-err$/m);
    assert.doesNotMatch(out, /tick/);
    assert.doesNotMatch(await ok(['logs', '--no-color']), /\x1b\[/);
    assert.equal(await ok(['logs', '--no-log-prefix', '--index', '1', 'echo']), 'one\ntwo\nthree\n');
  });

  test('--tail, -t and --since', async () => {
    assert.deepEqual(lines(await ok(['logs', '--tail', '1', 'say'])), ['say-1  | tick-3']);
    assert.equal(await ok(['logs', '--tail', '0', 'say']), '');
    const stamped = lines(await ok(['logs', '-t', 'say']));
    assert.equal(stamped.length, 3);
    for (const l of stamped) assert.match(l, /^say-1 {2}\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick-\d$/);
    assert.equal(lines(await ok(['logs', '--since', '1h', 'say'])).length, 3);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.equal(await ok(['logs', '--since', future, 'say']), '');
    assert.equal((await compose(['logs', '--tail', 'x'])).code, 1);
  });

  test('an unknown service is an error, as for every other verb', async () => {
    const r = await compose(['logs', 'nosuch']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no such service: nosuch/);
    assert.equal((await compose(['logs', '-f', 'web', 'nosuch'])).code, 1);
  });

  test('-f follows until the container stops', async () => {
    // say prints for 4.5 s once restarted: logs -f starts while it runs and ends when it exits.
    expectCode(await compose(['restart', 'say']), 0);
    const r = await d.run(['logs', '-f', 'say'], { cwd: dir, timeoutMs: 30_000 });
    // The log ended with the container, by itself (not by the timeout's SIGKILL).
    assert.equal(r.code, 0, r.stderr);
    // Both runs' lines, to the last one of the second.
    assert.equal(r.stdout.match(/^say-1 {2}\| tick-3$/gm)?.length, 2, r.stdout);
  });

  test('-f picks up a container that starts while it follows: a new replica', async () => {
    // say-1 runs for 4.5 s again; a second replica started meanwhile is followed from its start.
    expectCode(await compose(['restart', 'say']), 0);
    const follow = d.run(['logs', '-f', '--no-color', 'say'], { cwd: dir, timeoutMs: 30_000 });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expectCode(await compose(['up', '-d', '--no-recreate', '--scale', 'say=2', 'say']), 0);
      const r = await follow;
      assert.equal(r.code, 0, r.stderr);
      // From its first line: the start event comes after the process may have written it.
      assert.match(r.stdout, /^say-2 {2}\| tick-1$/m, r.stdout);
      assert.match(r.stdout, /^say-2 {2}\| tick-3$/m, 'followed to its end');
    } finally {
      await follow.catch(() => undefined);
      expectCode(await compose(['up', '-d', '--no-recreate', '--scale', 'say=1', 'say']), 0);
    }
  });
});

describe('compose top, port, images', () => {
  test('top: one table, SERVICE and # first, CMD last', async () => {
    const out = lines(await ok(['top']));
    assert.match(out[0] ?? '', /^SERVICE\s+#\s+UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    assert.match(out.find((l) => l.startsWith('web'))!, /^web\s+1\s+root\s+\d+\s+\d+\s+.*httpd -f -p 80 -h \/tmp$/);
    assert.deepEqual(out.filter((l) => l.startsWith('echo')).map((l) => l.split(/\s+/)[1]), ['1', '2']);
    assert.deepEqual(lines(await ok(['top', 'web'])).slice(1).map((l) => l.split(/\s+/)[0]), ['web']);
  });

  test('port prints HOST:PORT; --index and --protocol pick the binding', async () => {
    assert.equal(await ok(['port', 'web', '80']), `127.0.0.1:${webPort}\n`);
    assert.equal(await ok(['port', '--protocol', 'udp', 'web', '9999']), `127.0.0.1:${webPort}\n`);
    const two = (await psJson(['echo'])).find((j) => j.Name === 'insp-echo-2')!.Publishers[0]!.PublishedPort;
    assert.equal(await ok(['port', '--index', '2', 'echo', '7000']), `127.0.0.1:${two}\n`);
    const missing = await compose(['port', 'web', '81']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no port 81\/tcp for container insp-web-1/);
  });

  test('images: Compose’s columns, -q bare IDs, json', async () => {
    const out = lines(await ok(['images']));
    assert.match(out[0] ?? '', /^CONTAINER\s+REPOSITORY\s+TAG\s+IMAGE ID\s+SIZE$/);
    assert.match(out[1] ?? '', /^insp-echo-1\s+busybox\s+latest\s+[0-9a-f]{12}\s+\d[\d.]*[kMG]?B$/);
    assert.equal(out.length, 5);
    const ids = lines(await ok(['images', '-q']));
    assert.equal(ids.length, 1);
    assert.match(ids[0]!, /^[0-9a-f]{64}$/);
    const json = JSON.parse(await ok(['images', '--format', 'json'])) as Array<{ ContainerName: string; Repository: string; Tag: string; ID: string }>;
    assert.deepEqual(json.map((j) => j.ContainerName).sort(), ['insp-echo-1', 'insp-echo-2', 'insp-say-1', 'insp-web-1']);
    assert.equal(json[0]!.ID, `sha256:${ids[0]}`);
  });
});

describe('compose events', () => {
  test('--json streams the project’s container events', async () => {
    const child = spawn(process.execPath, [CLI, 'events', '--json', 'web'], { cwd: dir, env: { ...process.env, ...d.env } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      // The stream is open once a first event can arrive: restart until it shows (bounded).
      for (let i = 0; i < 20 && !/"action":"start"/.test(out); i++) {
        await ok(['restart', 'web']);
        await new Promise((r) => setTimeout(r, 300));
      }
      await ok(['restart', 'echo']);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    const events = lines(out).map((l) => JSON.parse(l) as { time: string; type: string; service: string; id: string; action: string; attributes: Record<string, string> });
    const start = events.find((e) => e.action === 'start');
    assert.ok(start, out);
    assert.deepEqual(Object.keys(start).sort(), ['action', 'attributes', 'id', 'service', 'time', 'type']);
    assert.equal(start.type, 'container');
    assert.equal(start.service, 'web');
    assert.equal(start.id, (await psJson(['web']))[0]!.ID);
    assert.match(start.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(start.attributes['name'], 'insp-web-1');
    assert.equal(start.attributes['image'], 'busybox:latest');
    assert.ok(!Object.keys(start.attributes).some((k) => k.startsWith('com.docker.compose.')));
    // Only the services asked for.
    assert.ok(events.every((e) => e.service === 'web'), out);
  });

  test('plain lines, bounded by --since and --until', async () => {
    const out = await ok(['events', '--since', '10m', '--until', '0s', 'say']);
    const first = lines(out)[0] ?? '';
    assert.match(first, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} container create [0-9a-f]{64} \(.*name=insp-say-1.*\)$/);
    assert.match(out, / container die [0-9a-f]{64} \(.*exitCode=0.*\)$/m);
  });
});

describe('compose events: every action of a container', () => {
  let evDir: string;
  before(async () => {
    evDir = await projectDir(d, 'evs', {
      'compose.yaml': `services:
  app:
    image: busybox:latest
    command: ["sleep", "600"]
    stop_signal: SIGKILL
    labels: { tier: front }
  hc:
    image: busybox:latest
    command: ["sleep", "600"]
    stop_signal: SIGKILL
    healthcheck: { test: ["CMD", "true"], interval: 1s }
`,
    });
    expectCode(await d.run(['up', '-d'], { cwd: evDir }), 0);
  });
  after(async () => {
    await d.run(['down', '-t', '0'], { cwd: evDir });
  });

  test('kill, stop, restart, exec, health and down, with the labels Compose filters on', async () => {
    const run = async (args: string[]) => expectCode(await d.run(args, { cwd: evDir }), 0);
    const child = spawn(process.execPath, [CLI, 'events', '--json'], { cwd: evDir, env: { ...process.env, ...d.env } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    let mark = 0;
    try {
      // The stream is open once a first event can arrive: start hc again until one shows (bounded).
      for (let i = 0; i < 20 && !/"action":"start"/.test(out); i++) {
        await run(['restart', 'hc']);
        await new Promise((r) => setTimeout(r, 300));
      }
      await new Promise((r) => setTimeout(r, 300));
      mark = lines(out).length;
      await run(['kill', 'app']);
      await run(['start', 'app']);
      await run(['stop', 'app']);
      await run(['start', 'app']);
      await run(['exec', '-T', 'app', 'true']);
      await run(['restart', 'app']);
      // hc's probe runs every second: its events are in by now.
      await new Promise((r) => setTimeout(r, 1500));
      // Not -t 0: that sends a second SIGKILL (a second kill event), as Docker does.
      await run(['down']);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    const events = lines(out).map((l) => JSON.parse(l) as { service: string; action: string; attributes: Record<string, string> });
    const app = events.slice(mark).filter((e) => e.service === 'app');
    // Docker's order for each verb.
    assert.deepEqual(
      app.map((e) => e.action.replace(/^exec_start: .*/, 'exec_start')),
      [
        ...['kill', 'die'],
        'start',
        ...['kill', 'die', 'stop'],
        'start',
        ...['exec_start', 'exec_die'],
        ...['kill', 'die', 'stop', 'start', 'restart'],
        ...['kill', 'die', 'stop', 'destroy'],
      ],
      out,
    );
    for (const e of app) {
      assert.equal(e.attributes['name'], 'evs-app-1');
      assert.equal(e.attributes['tier'], 'front', JSON.stringify(e));
    }
    assert.equal(app[0]!.attributes['signal'], '9');
    assert.equal(app.find((e) => e.action === 'exec_die')!.attributes['exitCode'], '0');
    assert.ok(events.some((e) => e.service === 'hc' && e.action === 'health_status: healthy'), out);
    assert.ok(events.some((e) => e.service === 'hc' && e.action === 'exec_die'), out);
    // The engine's own stream carries the labels too.
    const sys = await d.ok(['system', 'events', '--since', '10m', '--until', '0s', '--filter', 'event=restart', '--filter', 'label=tier=front', '--format', '{{.Actor.Attributes.name}}']);
    assert.equal(sys, 'evs-app-1\n');
  });
});

describe('compose cp', () => {
  test('into every replica, out of one, and through a tar stream', async () => {
    const local = path.join(d.dir, 'note.txt');
    await fsp.writeFile(local, 'copied-in\n');
    expectCode(await compose(['cp', local, 'echo:/tmp/note.txt']), 0);
    assert.equal(await ok(['exec', '-T', '--index', '1', 'echo', 'cat', '/tmp/note.txt']), 'copied-in\n');
    assert.equal(await ok(['exec', '-T', '--index', '2', 'echo', 'cat', '/tmp/note.txt']), 'copied-in\n');
    await ok(['exec', '-T', '--index', '2', 'echo', 'sh', '-c', 'echo from-two > /tmp/mine']);
    const back = path.join(d.dir, 'mine.txt');
    expectCode(await compose(['cp', '--index', '2', 'echo:/tmp/mine', back]), 0);
    assert.equal(await fsp.readFile(back, 'utf8'), 'from-two\n');
    // Without --index, out of the first replica, which has no such file.
    assert.equal((await compose(['cp', 'echo:/tmp/mine', back])).code, 1);
    const tar = await d.run(['cp', 'web:/tmp', '-'], { cwd: dir });
    assert.equal(tar.code, 0, tar.stderr);
    assert.ok(tar.stdoutBuffer.length >= 512 && tar.stdoutBuffer.subarray(257, 262).toString() === 'ustar');
    const bad = await compose(['cp', local, 'nosuch:/tmp']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no such service: nosuch/);
  });
});
