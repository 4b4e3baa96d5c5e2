/**
 * End to end: examples/three-tier as a user runs it, on images that scripts/base-images.sh builds
 * from Debian packages (busybox, Redis). `up -d --wait` answers on the published port through
 * web → api → redis, the Redis data survives `down`/`up`, the back network is internal, and
 * `down -v` leaves no container, network, bridge, volume, mount, namespace or IP lease behind.
 * Traffic goes only to 127.0.0.1 and to the project's own containers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CLI, REPO, startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/http';

const run = promisify(execFile);
const EXAMPLE = path.join(REPO, 'examples', 'three-tier');

let d: TestDaemon;
let port: number;

function get(urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 10_000 }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

interface Items {
  items: string[];
  hits: number;
  served_by: string;
}

async function items(): Promise<Items> {
  const r = await get('/cgi-bin/items');
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Items;
}

/** Compose commands in the example's directory, with the web published on a free port. */
function compose(args: string[]): Promise<string> {
  return d.ok(args, { cwd: EXAMPLE, env: { WEB_PORT: String(port) }, timeoutMs: 180_000 });
}

async function lines(args: string[]): Promise<string[]> {
  return (await d.ok(args)).trim().split('\n').filter(Boolean);
}

before(async () => {
  d = await startTestDaemon();
  // The project's own set-up builds the images, against this daemon.
  await run('bash', [path.join(REPO, 'scripts', 'base-images.sh')], { env: { ...process.env, ...d.env, TSCOMPOSE: CLI } });
  port = await freePort();
});

after(async () => {
  if (!d) return;
  await d.run(['down', '-v', '-t', '1'], { cwd: EXAMPLE, env: { WEB_PORT: String(port) } });
  await d.destroy();
});

describe('three-tier example', () => {
  let bridges: string[] = [];

  test('up -d --wait answers on its published port through web → api → redis', async () => {
    await compose(['up', '-d', '--wait']);
    const first = await items();
    assert.deepEqual(first.items, ['apple', 'pear', 'plum']);
    assert.equal(first.hits, 1);
    assert.equal((await items()).hits, 2);
    assert.match(await compose(['logs', 'migrate']), /applied 2 \(plum\)/);
    const ps = await compose(['ps', '-a', '--format', 'json']);
    const states = Object.fromEntries(
      ps.trim().split('\n').map((l) => {
        const c = JSON.parse(l) as { Service: string; State: string; Health: string };
        return [c.Service, `${c.State}/${c.Health}`];
      }),
    );
    assert.deepEqual(states, { web: 'running/healthy', api: 'running/healthy', redis: 'running/healthy', migrate: 'exited/' });
    bridges = [];
    for (const name of ['three-tier_front', 'three-tier_back']) {
      const n = JSON.parse(await d.ok(['network', 'inspect', name]))[0] as { Internal: boolean; Options: Record<string, string> };
      bridges.push(n.Options['com.docker.network.bridge.name']!);
      assert.equal(n.Internal, name.endsWith('back'));
    }
  });

  test('the api and redis are on the internal network only: no way out, names of their own', async () => {
    const api = async (cmd: string) => (await d.run(['exec', '-T', 'api', 'sh', '-c', `${cmd} 2>&1`], { cwd: EXAMPLE, env: { WEB_PORT: String(port) } })).stdout.trim();
    assert.equal(await api('redis-cli -h redis ping'), 'PONG');
    assert.doesNotMatch(await api('ip route'), /default/);
    // web is on front and back: the api reaches it on back; front's address is another network.
    const webFront = (await d.ok(['container', 'inspect', '-f', '{{(index .NetworkSettings.Networks "three-tier_front").IPAddress}}', 'three-tier-web-1'])).trim();
    assert.match(await api(`nc -w 3 ${webFront} 80 </dev/null`), /unreachable|can't connect|timed out/);
    assert.match(await api('nslookup tscompose-outside.invalid'), /SERVFAIL/i);
  });

  test('the Redis data survives down and up', async () => {
    await compose(['down', '-t', '5']);
    assert.deepEqual(await lines(['container', 'ls', '-aq']), []);
    assert.ok((await lines(['volume', 'ls', '-q'])).includes('three-tier_redis-data'));
    await compose(['up', '-d', '--wait']);
    const after = await items();
    assert.deepEqual(after.items, ['apple', 'pear', 'plum']);
    assert.equal(after.hits, 3);
    assert.match(await compose(['logs', 'migrate']), /schema at version 2/);
    assert.doesNotMatch(await compose(['logs', 'migrate']), /applied/);
  });

  test('down -v leaves nothing behind', async () => {
    await compose(['down', '-v', '-t', '5']);
    assert.deepEqual(await lines(['container', 'ls', '-aq']), []);
    assert.deepEqual(await lines(['volume', 'ls', '-q']), []);
    assert.doesNotMatch(await d.ok(['network', 'ls']), /three-tier/);
    for (const bridge of bridges) assert.ok(!existsSync(`/sys/class/net/${bridge}`), `bridge ${bridge} is left`);
    assert.deepEqual(await d.leaks(), []);
    const volumes = path.join(d.dataRoot, 'volumes');
    assert.deepEqual((await fsp.readdir(volumes).catch(() => [] as string[])).filter((f) => f.startsWith('three-tier')), []);
  });
});
