/**
 * Compose projects through the CLI against a real daemon: `up -d --wait` with a published port
 * and a `service_healthy` dependency, `ps`, `logs`, `exec`, an unchanged `up` that touches
 * nothing, a changed service recreated alone, and `down` leaving no containers or networks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { freePort, get } from '../helpers/http';
import { ComposeProject } from '../helpers/compose';

let d: TestDaemon;
let dir: string;
let port: number;

function composeFile(clientMessage: string): string {
  return `services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-compose > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${port}:80"]
    healthcheck:
      test: ["CMD-SHELL", "printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc 127.0.0.1 80 | grep -q hello-compose"]
      interval: 500ms
      timeout: 2s
      retries: 30
  client:
    image: busybox:latest
    command: ["sh", "-c", "echo ${clientMessage}; exec sleep 1000"]
    depends_on:
      web:
        condition: service_healthy
`;
}

const compose = (args: string[]) => d.ok(args, { cwd: dir });
const ids = async () => (await compose(['ps', '-q'])).trim().split('\n').filter(Boolean).sort();

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  port = await freePort();
  dir = path.join(d.dir, 'shop');
  await fsp.mkdir(dir);
  await fsp.writeFile(path.join(dir, 'compose.yaml'), composeFile('client-v1'));
});
after(async () => {
  if (d) {
    await d.run(['down', '-t', '1'], { cwd: dir });
    await d.destroy();
  }
});

describe('compose up', () => {
  test('up -d --wait starts web before its healthy-dependent client', async () => {
    const r = await d.run(['up', '-d', '--wait'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ Network shop_default {2}Created/);
    assert.match(r.stderr, /✔ Container shop-web-1 {2}Healthy/);
    const started = r.stderr.split('\n');
    const webHealthy = started.findIndex((l) => l.includes('Container shop-web-1  Healthy'));
    const clientStarted = started.findIndex((l) => l.includes('Container shop-client-1  Started'));
    assert.ok(webHealthy >= 0 && clientStarted > webHealthy, r.stderr);
    assert.equal(await get(`http://127.0.0.1:${port}/`), 'hello-compose\n');
  });

  test('ps shows Compose columns and names', async () => {
    const out = await compose(['ps']);
    const [header, ...rows] = out.trim().split('\n');
    assert.match(header ?? '', /^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS$/);
    assert.equal(rows.length, 2);
    assert.match(out, /shop-web-1\s+busybox:latest\s+.*web\s+.*Up .*\(healthy\)\s+127\.0\.0\.1:\d+->80\/tcp/);
    assert.equal((await compose(['ps', '--services'])).trim(), 'client\nweb');
    const json = (await compose(['ps', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l) as { Service: string; State: string });
    assert.deepEqual(json.map((j) => [j.Service, j.State]), [['client', 'running'], ['web', 'running']]);
  });

  test('labels are Compose’s', async () => {
    const [doc] = JSON.parse(await d.ok(['container', 'inspect', 'shop-web-1'])) as Array<{ Config: { Labels: Record<string, string> } }>;
    const labels = doc?.Config.Labels ?? {};
    assert.equal(labels['com.docker.compose.project'], 'shop');
    assert.equal(labels['com.docker.compose.service'], 'web');
    assert.equal(labels['com.docker.compose.container-number'], '1');
    assert.equal(labels['com.docker.compose.oneoff'], 'False');
    assert.equal(labels['com.docker.compose.project.working_dir'], dir);
    assert.equal(labels['com.docker.compose.project.config_files'], path.join(dir, 'compose.yaml'));
    assert.match(labels['com.docker.compose.config-hash'] ?? '', /^[0-9a-f]{64}$/);
    assert.ok(labels['com.docker.compose.version']);
  });

  test('logs are prefixed with service and number', async () => {
    const out = await compose(['logs', 'client']);
    assert.match(out, /^client-1 {2}\| client-v1$/m);
    assert.equal((await compose(['logs', '--no-log-prefix', 'client'])).trim(), 'client-v1');
  });

  test('exec runs in the service container and reaches the other service by name', async () => {
    assert.equal((await compose(['exec', '-T', 'web', 'cat', '/www/index.html'])).trim(), 'hello-compose');
    const r = await d.run(['exec', '-T', 'web', 'sh', '-c', 'exit 7'], { cwd: dir });
    assert.equal(r.code, 7);
    const body = await compose(['exec', '-T', 'client', 'sh', '-c', 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc web 80']);
    assert.match(body, /hello-compose/);
  });

  test('an unchanged up touches nothing', async () => {
    const before = await ids();
    const r = await d.run(['up', '-d'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Recreate|Created|Starting/);
    assert.deepEqual(await ids(), before);
  });

  test('a changed service is recreated alone', async () => {
    const webBefore = (await compose(['ps', '-q', 'web'])).trim();
    const clientBefore = (await compose(['ps', '-q', 'client'])).trim();
    await fsp.writeFile(path.join(dir, 'compose.yaml'), composeFile('client-v2'));
    const r = await d.run(['up', '-d', '-t', '1'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ Container shop-client-1 {2}Recreated/);
    assert.equal((await compose(['ps', '-q', 'web'])).trim(), webBefore);
    assert.notEqual((await compose(['ps', '-q', 'client'])).trim(), clientBefore);
    assert.match(await compose(['logs', 'client']), /client-v2/);
  });

  test('ls lists the project', async () => {
    assert.match(await compose(['ls']), /^shop\s+running\(2\)\s+\S+compose\.yaml$/m);
  });

  test('up --wait gives up after --wait-timeout on a service that never turns healthy; what started stays for down', async () => {
    const stuckDir = path.join(d.dir, 'stuck');
    await fsp.mkdir(stuckDir);
    await fsp.writeFile(
      path.join(stuckDir, 'compose.yaml'),
      'services:\n  never:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    healthcheck:\n      test: ["CMD", "false"]\n      interval: 500ms\n      retries: 1000\n',
    );
    const bad = await d.run(['up', '-d', '--wait', '--wait-timeout', 'soon'], { cwd: stuckDir });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), 'invalid --wait-timeout "soon"');
    const r = await d.run(['up', '-d', '--wait', '--wait-timeout', '2'], { cwd: stuckDir });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^application not healthy after 2s$/m);
    assert.match(await d.ok(['ps'], { cwd: stuckDir }), /stuck-never-1 .*Up .*\(health: starting\)/);
    await d.ok(['down', '-t', '0'], { cwd: stuckDir });
    assert.equal((await d.ok(['ps', '-a', '-q'], { cwd: stuckDir })).trim(), '');
  });

  test('down leaves no containers and no networks', async () => {
    const r = await d.run(['down', '-t', '1'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ Container shop-web-1 {2}Removed/);
    assert.match(r.stderr, /✔ Network shop_default {2}Removed/);
    assert.equal((await d.ok(['container', 'ls', '-aq'])).trim(), '');
    assert.doesNotMatch(await d.ok(['network', 'ls']), /shop_default/);
    assert.equal((await compose(['ps', '-a', '-q'])).trim(), '');
  });
});

describe('deploy.mode: global', () => {
  test('one container on this host, none where the constraints exclude it, and no --scale', async () => {
    const p = await ComposeProject.create(d, 'glob', `services:
  agent:
    image: busybox:latest
    command: ["sleep", "1000"]
    init: true
    deploy: { mode: global }
  workers-only:
    image: busybox:latest
    command: ["sleep", "1000"]
    deploy: { mode: global, placement: { constraints: [node.role==worker] } }
`);
    try {
      const up = await p.run(['up', '-d']);
      assert.equal(up.code, 0, up.stderr);
      assert.deepEqual((await p.ps(['-a'])).map((e) => e.Name), ['glob-agent-1']);
      const scaled = await p.run(['up', '-d', '--scale', 'agent=2']);
      assert.notEqual(scaled.code, 0);
      assert.match(scaled.stderr, /service "agent": scale can only be used with replicated or replicated-job mode/);
      assert.equal(scaled.stderr.trim().split('\n').length, 1, scaled.stderr);
      assert.deepEqual((await p.ps(['-a'])).map((e) => e.Name), ['glob-agent-1']);
    } finally {
      await p.down();
    }
  });
});
