/**
 * Container networking through the CLI and a real daemon: embedded DNS on internal networks, a
 * gateway that keeps its MAC as containers come, internal networks (engine and compose: names
 * and traffic inside, nothing in or out), published ports and the default route of containers on
 * several networks, connectivity of containers that kept running across a daemon crash, a
 * data root removed by hand and used again, and bridges and chains left by daemons whose data root is gone.
 * Traffic goes only to 127.0.0.1 and to our own containers; the daemon's bridges, chains and any
 * rule added here are removed in `after`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import * as path from 'node:path';
import { startTestDaemon, unmountUnder, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { freePort } from '../helpers/http';

let d: TestDaemon;
const extraRules: string[][] = [];

function sh(file: string, args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The per-daemon names agent.ts derives from the data root. */
function daemonTag(): string {
  return createHash('sha256').update(d.dataRoot).digest('hex').slice(0, 8);
}

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
});

after(async () => {
  if (!d) return;
  for (const rule of extraRules) sh('iptables', ['-w', '-D', ...rule]);
  const ids = (await d.ok(['container', 'ls', '-aq'])).trim().split('\n').filter(Boolean);
  if (ids.length > 0) await d.run(['container', 'rm', '-f', ...ids]);
  await d.run(['network', 'prune', '-f']);
  await d.destroy();
  // The default bridge and the chains of a test daemon are named after its data root.
  const tag = daemonTag();
  sh('ip', ['link', 'del', 'dev', `tscb${tag}`]);
  const chain = `TSC${tag.toUpperCase()}`;
  for (let i = 0; i < 8 && sh('iptables', ['-w', '-D', 'FORWARD', '-j', `${chain}-FORWARD`]).code === 0; i++);
  for (const c of [`${chain}-FORWARD`, `${chain}-ISOLATION`]) sh('iptables', ['-w', '-F', c]);
  for (const c of [`${chain}-FORWARD`, `${chain}-ISOLATION`]) sh('iptables', ['-w', '-X', c]);
});

async function until<T>(fn: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      if (Date.now() > deadline) throw last;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A TCP server in a container answering `word` to every connection on port 80. */
async function server(name: string, word: string, args: string[]): Promise<void> {
  await d.ok(['container', 'run', '-d', '--name', name, ...args, 'busybox', 'sh', '-c', `while true; do echo ${word} | nc -l -p 80; done`]);
}

/** `nc <target> 80` from a container: what the server said, or nc's error. */
async function ncFrom(container: string, target: string): Promise<string> {
  const r = await d.run(['container', 'exec', container, 'sh', '-c', `nc -w 3 ${target} 80 </dev/null 2>&1`]);
  return r.stdout.trim();
}

async function expectReply(container: string, target: string, word: string): Promise<void> {
  await until(async () => assert.equal(await ncFrom(container, target), word));
}

function hostRead(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let out = '';
    s.setTimeout(4000, () => {
      s.destroy();
      reject(new Error(`127.0.0.1:${port} timed out`));
    });
    s.on('data', (b: Buffer) => (out += b.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(out.trim()));
  });
}

async function defaultRoutes(container: string): Promise<string[]> {
  const routes = await d.ok(['container', 'exec', container, 'ip', 'route']);
  return routes.split('\n').filter((l) => l.startsWith('default'));
}

async function bridgeOf(network: string): Promise<string> {
  return (JSON.parse(await d.ok(['network', 'inspect', network]))[0].Options as Record<string, string>)['com.docker.network.bridge.name']!;
}

/** The host end of a container's eth0: the interface whose index its peer link names. */
async function hostVethOf(container: string): Promise<string> {
  const index = Number((await d.ok(['container', 'exec', container, 'cat', '/sys/class/net/eth0/iflink'])).trim());
  const links = JSON.parse(sh('ip', ['-j', 'link', 'show']).out) as { ifindex: number; ifname: string }[];
  const link = links.find((l) => l.ifindex === index);
  assert.ok(link, `no host interface with index ${index}`);
  return link.ifname;
}

async function ipOn(container: string, network: string): Promise<string> {
  return (await d.ok(['container', 'inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container])).trim();
}

describe('network engine', () => {
  test('names resolve on an internal network, whichever network resolv.conf names', async () => {
    await d.ok(['network', 'create', '--internal', 'dns-inner']);
    await d.ok(['network', 'create', 'dns-outer']);
    await server('dns-api', 'api-here', ['--network', 'dns-inner', '--network-alias', 'api']);
    // Only on the internal network.
    await d.ok(['container', 'run', '-d', '--name', 'dns-c1', '--network', 'dns-inner', 'busybox', 'sleep', '600']);
    // Primary network with DNS of its own, internal one second (at start and by `network connect`).
    await d.ok(['container', 'run', '-d', '--name', 'dns-c2', '--network', 'dns-outer', '--network', 'dns-inner', 'busybox', 'sleep', '600']);
    await d.ok(['container', 'run', '-d', '--name', 'dns-c3', '--network', 'dns-outer', 'busybox', 'sleep', '600']);
    await d.ok(['network', 'connect', 'dns-inner', 'dns-c3']);
    // Default bridge (no embedded DNS), internal network joined while running.
    await d.ok(['container', 'run', '-d', '--name', 'dns-c4', 'busybox', 'sleep', '600']);
    await d.ok(['network', 'connect', 'dns-inner', 'dns-c4']);
    for (const c of ['dns-c1', 'dns-c2', 'dns-c3', 'dns-c4']) {
      await expectReply(c, 'api', 'api-here');
      await expectReply(c, 'dns-api.dns-inner', 'api-here');
    }
    // And a container not on the internal network does not learn its names.
    await server('dns-web', 'web-here', ['--network', 'dns-outer']);
    assert.match(await ncFrom('dns-web', 'api'), /bad address|can't connect|timed out/);
  });

  test('a container on two networks reaches a new peer on its primary network by name', async () => {
    // dns-c3 (on dns-outer, then connected to the internal dns-inner) has resolved names through
    // dns-outer's gateway, so its ARP cache holds the gateway's MAC. A bridge whose address follows
    // its ports takes the lowest port MAC: a new peer whose veth has a lower one would change it,
    // and dns-c3's DNS queries would go to a MAC nobody answers until the ARP entry expired. The
    // new veth gets the lowest possible MAC, so this happens every time rather than now and then.
    const bridge = await bridgeOf('dns-outer');
    const gatewayMac = readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim();
    await server('dns-web2', 'web-here', ['--network', 'dns-outer']);
    assert.equal(sh('ip', ['link', 'set', 'dev', await hostVethOf('dns-web2'), 'address', '02:00:00:00:00:01']).code, 0);
    assert.equal(readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim(), gatewayMac, 'the gateway keeps its MAC');
    await expectReply('dns-c3', 'dns-web2', 'web-here');
    for (const c of ['dns-c2', 'dns-web']) await expectReply(c, 'dns-web2', 'web-here');
  });

  test('--mac-address and a network’s mac-address set the interface’s address; a taken one is refused', async () => {
    const macOf = async (c: string, ifName = 'eth0') => (await d.ok(['container', 'exec', c, 'cat', `/sys/class/net/${ifName}/address`])).trim();
    await d.ok(['network', 'create', 'mac-net']);
    await d.ok(['container', 'run', '-d', '--name', 'mac-1', '--mac-address', '02:42:ac:11:00:99', 'busybox', 'sleep', '600']);
    assert.equal(await macOf('mac-1'), '02:42:ac:11:00:99');
    await d.ok(['container', 'run', '-d', '--name', 'mac-2', '--network', 'name=mac-net,mac-address=02:00:00:aa:00:01', 'busybox', 'sleep', '600']);
    assert.equal(await macOf('mac-2'), '02:00:00:aa:00:01');
    assert.equal((await d.ok(['container', 'inspect', '-f', '{{(index .NetworkSettings.Networks "mac-net").MacAddress}}', 'mac-2'])).trim(), '02:00:00:aa:00:01');
    const taken = await d.run(['container', 'run', '--rm', '--network', 'mac-net', '--mac-address', '02:00:00:AA:00:01', 'busybox', 'true']);
    assert.equal(taken.code, 125);
    assert.match(taken.stderr, /MAC address already in use on mac-net: 02:00:00:aa:00:01/);
    await d.ok(['container', 'rm', '-f', 'mac-1', 'mac-2']);
    await d.ok(['network', 'rm', 'mac-net']);
  });

  test('--link: the alias reaches the linked container; Docker’s variables on the default bridge', async () => {
    await server('lk-db', 'db-here', ['--expose', '80', '-e', 'SECRET=s3']);
    const dbAddress = await ipOn('lk-db', 'bridge');
    // The default bridge has no embedded DNS: the alias can only come from /etc/hosts.
    const app = await d.ok(['container', 'run', '--name', 'lk-app', '--link', 'lk-db:db', 'busybox', 'sh', '-c', 'cat /etc/hosts; env; nc -w 3 db 80 </dev/null']);
    const hostname = (await d.ok(['container', 'inspect', '-f', '{{.Config.Hostname}}', 'lk-db'])).trim();
    assert.match(app, new RegExp(`^${dbAddress.replace(/\./g, '\\.')}\\tdb ${hostname} lk-db$`, 'm'));
    for (const line of ['DB_NAME=/lk-app/db', `DB_PORT=tcp://${dbAddress}:80`, `DB_PORT_80_TCP=tcp://${dbAddress}:80`, `DB_PORT_80_TCP_ADDR=${dbAddress}`, 'DB_PORT_80_TCP_PORT=80', 'DB_PORT_80_TCP_PROTO=tcp', 'DB_ENV_SECRET=s3']) {
      assert.ok(app.split('\n').includes(line), `${line} in\n${app}`);
    }
    assert.ok(!/^DB_ENV_PATH=/m.test(app));
    assert.match(app, /^db-here$/m);
    assert.deepEqual(JSON.parse(await d.ok(['container', 'inspect', '-f', '{{json .HostConfig.Links}}', 'lk-app'])), ['/lk-db:/lk-app/db']);

    // On a user network: the hosts line, no variables.
    await d.ok(['network', 'create', 'lk-net']);
    await server('lk-api', 'api-here', ['--network', 'lk-net']);
    const onNet = await d.ok(['container', 'run', '--rm', '--network', 'lk-net', '--link', 'lk-api:backend', 'busybox', 'sh', '-c', 'env; nc -w 3 backend 80 </dev/null']);
    assert.match(onNet, /^api-here$/m);
    assert.ok(!/^BACKEND_/m.test(onNet), onNet);

    const refused = async (args: string[], message: RegExp) => {
      const r = await d.run(['container', 'run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    };
    await refused(['--link', 'lk-nosuch'], /could not get container for lk-nosuch: No such container: lk-nosuch/);
    await refused(['--link', 'a:b:c'], /invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c/);
    await refused(['--network', 'host', '--link', 'lk-db'], /conflicting options: host type networking can't be used with links/);
    // A linked container that is not running: the start fails, the container stays created.
    await d.ok(['container', 'create', '--name', 'lk-stopped', 'busybox', 'sleep', '600']);
    const stopped = await d.run(['container', 'run', '-d', '--name', 'lk-x', '--link', 'lk-stopped:s', 'busybox', 'sleep', '600']);
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.stderr, /Cannot link to a non running container: \/lk-stopped AS \/lk-x\/s/);
    assert.equal((await d.ok(['container', 'inspect', '-f', '{{.State.Status}}', 'lk-x'])).trim(), 'created');
    await d.ok(['container', 'start', 'lk-stopped']);
    await d.ok(['container', 'start', 'lk-x']);
    assert.match(await d.ok(['container', 'exec', 'lk-x', 'cat', '/etc/hosts']), /\ts [0-9a-f]{12} lk-stopped$/m);
    await d.ok(['container', 'rm', '-f', 'lk-db', 'lk-app', 'lk-api', 'lk-stopped', 'lk-x']);
    await d.ok(['network', 'rm', 'lk-net']);
  });

  test('--dns behind the embedded DNS: the network’s names still resolve, other names go to the container’s resolvers', async () => {
    // A resolver of our own on loopback, where the daemon (on the host) forwards to.
    const upstream = createSocket('udp4');
    upstream.on('message', (msg, rinfo) => {
      const query = dnsPacket.decode(msg);
      const question = query.questions?.[0];
      if (!question) return;
      const answers = question.name === 'upstream.test' && question.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 60, data: '10.9.8.7' }] : [];
      // NXDOMAIN for the rest, as a real resolver: a client then tries its next search domain.
      const flags = dnsPacket.RECURSION_AVAILABLE | (answers.length === 0 && question.name !== 'upstream.test' ? 3 : 0);
      upstream.send(dnsPacket.encode({ type: 'response', id: query.id ?? 0, flags, questions: [question], answers }), rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => upstream.bind(53, '127.0.0.79', resolve));
    try {
      await d.ok(['network', 'create', 'dnsfw-net']);
      await d.ok(['container', 'run', '-d', '--name', 'dnsfw-web', '--network', 'dnsfw-net', 'busybox', 'sleep', '600']);
      const webIp = await ipOn('dnsfw-web', 'dnsfw-net');
      const conf = await d.ok(['container', 'run', '--rm', '--network', 'dnsfw-net', '--dns', '127.0.0.79', '--dns-search', 'corp.test', 'busybox', 'cat', '/etc/resolv.conf']);
      assert.doesNotMatch(conf, /nameserver 127\.0\.0\.79/);
      assert.match(conf, /^search corp\.test$/m);
      assert.match(conf, /^options ndots:0$/m);
      const out = await d.ok(['container', 'run', '--rm', '--network', 'dnsfw-net', '--dns', '127.0.0.79', 'busybox', 'sh', '-c', 'nslookup upstream.test; nslookup dnsfw-web']);
      assert.match(out, /Address: 10\.9\.8\.7/);
      assert.match(out, new RegExp(`Address: ${webIp.replace(/\./g, '\\.')}`));
      // Without --dns the same name is not the container's resolver's to answer.
      const plain = await d.run(['container', 'run', '--rm', '--network', 'dnsfw-net', 'busybox', 'nslookup', 'upstream.test']);
      assert.doesNotMatch(plain.stdout, /10\.9\.8\.7/);
    } finally {
      upstream.close();
      await d.run(['container', 'rm', '-f', 'dnsfw-web']);
      await d.run(['network', 'rm', 'dnsfw-net']);
    }
  });

  test('a container on another’s network namespace cannot set its own names, resolvers or ports', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'ns-owner', 'busybox', 'sleep', '600']);
    const cases: [string[], string][] = [
      [['--hostname', 'mine'], 'hostname and the network mode'],
      [['--dns', '192.0.2.1'], 'dns and the network mode'],
      [['--add-host', 'a:192.0.2.2'], 'custom host-to-IP mapping and the network mode'],
      [['-p', '127.0.0.1::80'], 'port publishing and the container type network mode'],
    ];
    for (const [args, message] of cases) {
      const r = await d.run(['container', 'run', '--rm', '--network', 'container:ns-owner', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`conflicting options: ${message}`));
    }
    assert.equal((await d.ok(['container', 'ls', '-aq', '--filter', 'status=created'])).trim(), '');
    await d.ok(['container', 'rm', '-f', 'ns-owner']);
  });

  test('a fixed address a network cannot give, or an unknown capability, is refused at create: no container is left', async () => {
    await d.ok(['network', 'create', 'fixed-auto']);
    await d.ok(['network', 'create', '--subnet', '10.214.63.0/24', 'fixed-own']);
    const cases: [string[], RegExp][] = [
      [['--network', 'fixed-auto', '--ip', '10.214.63.9'], /user specified IP address is supported only when connecting to networks with user configured subnets/],
      [['--network', 'fixed-own', '--ip', '10.214.64.9'], /no configured subnet or ip-range contain the IP address 10\.214\.64\.9/],
      [['--cap-add', 'NOT_A_CAP'], /unknown capability "CAP_NOT_A_CAP"/],
    ];
    for (const [args, message] of cases) {
      const r = await d.run(['container', 'create', '--name', 'refused-at-create', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, message);
      assert.equal((await d.run(['container', 'inspect', 'refused-at-create'])).code, 1, 'no container is left');
    }
    await d.ok(['container', 'create', '--name', 'fixed-ok', '--network', 'fixed-own', '--ip', '10.214.63.9', 'busybox', 'true']);
    await d.ok(['container', 'rm', 'fixed-ok']);
    await d.ok(['network', 'rm', 'fixed-auto', 'fixed-own']);
  });

  test('network create and rm refusals in Docker’s words', async () => {
    await d.ok(['network', 'create', '--subnet', '10.231.0.0/16', 'words']);
    try {
      const twice = await d.run(['network', 'create', 'words']);
      assert.equal(twice.code, 1);
      assert.equal(twice.stderr, 'Error response from daemon: network with name words already exists\n');
      const overlap = await d.run(['network', 'create', '--subnet', '10.231.7.0/24', 'words2']);
      assert.equal(overlap.stderr, 'Error response from daemon: invalid pool request: Pool overlaps with other one on this address space\n');
      const missing = await d.run(['network', 'rm', 'nosuchnet']);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr, 'Error response from daemon: network nosuchnet not found\n');
    } finally {
      await d.ok(['network', 'rm', 'words']);
    }
  });

  test('network disconnect takes a running container off a network: interface, name and address go', async () => {
    await d.ok(['network', 'create', '--subnet', '10.214.61.0/24', 'dis-net']);
    await server('dis-api', 'api-here', ['--network', 'dis-net']);
    await d.ok(['container', 'run', '-d', '--name', 'dis-c', '--network', 'dis-net', 'busybox', 'sleep', '600']);
    await d.ok(['network', 'connect', 'bridge', 'dis-api']);
    await expectReply('dis-c', 'dis-api', 'api-here');
    const address = await ipOn('dis-api', 'dis-net');

    await d.ok(['network', 'disconnect', 'dis-net', 'dis-api']);
    const nets = JSON.parse(await d.ok(['container', 'inspect', '-f', '{{json .NetworkSettings.Networks}}', 'dis-api'])) as Record<string, unknown>;
    assert.deepEqual(Object.keys(nets), ['bridge']);
    const ifaces = await d.ok(['container', 'exec', 'dis-api', 'ls', '/sys/class/net']);
    assert.deepEqual(ifaces.split(/\s+/).filter(Boolean).sort(), ['eth1', 'lo']);
    assert.match(await ncFrom('dis-c', 'dis-api'), /bad address/);
    // Its address is free again: a fixed one can take it.
    await d.ok(['container', 'run', '-d', '--name', 'dis-again', '--network', 'dis-net', '--ip', address, 'busybox', 'sleep', '600']);

    // dis-api is on the default bridge too: still it is refused as the pre-defined network it is.
    const predefined = await d.run(['network', 'rm', 'bridge']);
    assert.equal(predefined.code, 1);
    assert.match(predefined.stderr, /bridge is a pre-defined network and cannot be removed/);
    const twice = await d.run(['network', 'disconnect', 'dis-net', 'dis-api']);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /container [0-9a-f]{64} is not connected to network dis-net/);
    // -f names an endpoint a vanished container left; there is none here.
    const ghost = await d.run(['network', 'disconnect', '-f', 'dis-net', 'dis-ghost']);
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /endpoint dis-ghost not found/);
    assert.equal(ghost.stderr.trim().split('\n').length, 1);
    // -f on a container that exists is a plain disconnect.
    await d.ok(['network', 'disconnect', '-f', 'dis-net', 'dis-c']);
    assert.equal((await d.ok(['network', 'inspect', '-f', '{{len .Containers}}', 'dis-net'])).trim(), '1');
    await d.ok(['container', 'rm', '-f', 'dis-api', 'dis-c', 'dis-again']);
    await d.ok(['network', 'rm', 'dis-net']);
  });

  test('an internal network: its containers reach each other by name and nothing outside it', async () => {
    await d.ok(['network', 'create', '--internal', 'in-vault']);
    await d.ok(['network', 'create', 'in-open']);
    await server('in-db', 'db-here', ['--network', 'in-vault', '--network-alias', 'database']);
    await d.ok(['container', 'run', '-d', '--name', 'in-app', '--network', 'in-vault', 'busybox', 'sleep', '600']);
    await server('in-web', 'web-here', ['--network', 'in-open']);
    await d.ok(['container', 'run', '-d', '--name', 'in-both', '--network', 'in-open', '--network', 'in-vault', 'busybox', 'sleep', '600']);
    await expectReply('in-app', 'in-db', 'db-here');
    await expectReply('in-app', 'database', 'db-here');
    await expectReply('in-both', 'database', 'db-here');
    await expectReply('in-both', 'in-web', 'web-here');

    // No way out: no default route (a route lookup only, nothing is sent), other networks'
    // containers neither by address nor by name, and names it does not own are not forwarded.
    assert.deepEqual(await defaultRoutes('in-app'), []);
    assert.match((await d.run(['container', 'exec', 'in-app', 'ip', 'route', 'get', '192.0.2.1'])).stderr, /unreachable/i);
    assert.match(await ncFrom('in-app', await ipOn('in-web', 'in-open')), /unreachable|can't connect|timed out/);
    assert.match(await ncFrom('in-app', 'in-web'), /bad address/);
    const outside = await d.run(['container', 'exec', 'in-app', 'nslookup', 'tscompose-outside.invalid']);
    assert.match(outside.stdout + outside.stderr, /SERVFAIL/i);
    // Nor with a route of its own: the firewall drops what leaves the bridge.
    const gateway = JSON.parse(await d.ok(['network', 'inspect', 'in-vault']))[0].IPAM.Config[0].Gateway as string;
    const escape = await d.run([
      'container', 'run', '--rm', '--cap-add', 'NET_ADMIN', '--network', 'in-vault', 'busybox',
      'sh', '-c', `ip route add default via ${gateway} && nc -w 3 ${await ipOn('in-web', 'in-open')} 80 </dev/null 2>&1`,
    ]);
    assert.doesNotMatch(escape.stdout, /web-here/);
    assert.match(escape.stdout, /timed out|can't connect/);
    // And nothing gets in: an open network's container cannot reach the internal one's.
    assert.match(await ncFrom('in-web', await ipOn('in-db', 'in-vault')), /unreachable|can't connect|timed out/);
  });

  test('compose: an internal: true network resolves and connects inside, and keeps its services in', async () => {
    const dir = path.join(d.dir, 'vault');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'compose.yaml'),
      `services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "while true; do echo db-here | nc -l -p 80; done"]
    networks: [back]
  api:
    image: busybox:latest
    command: ["sh", "-c", "while true; do echo api-here | nc -l -p 80; done"]
    networks: [back, front]
  web:
    image: busybox:latest
    command: ["sh", "-c", "while true; do echo web-here | nc -l -p 80; done"]
    networks: [front]
networks:
  back:
    internal: true
  front: {}
`,
    );
    const compose = (args: string[]) => d.ok(args, { cwd: dir });
    const execIn = async (service: string, target: string) =>
      (await d.run(['exec', '-T', service, 'sh', '-c', `nc -w 3 ${target} 80 </dev/null 2>&1`], { cwd: dir })).stdout.trim();
    await compose(['up', '-d']);
    try {
      const back = JSON.parse(await d.ok(['network', 'inspect', 'vault_back']))[0] as { Internal: boolean };
      assert.equal(back.Internal, true);
      await until(async () => assert.equal(await execIn('db', 'api'), 'api-here'));
      await until(async () => assert.equal(await execIn('api', 'db'), 'db-here'));
      await until(async () => assert.equal(await execIn('api', 'web'), 'web-here'));
      assert.match(await execIn('db', 'web'), /bad address/);
      assert.match(await execIn('db', await ipOn('vault-web-1', 'vault_front')), /unreachable|can't connect|timed out/);
      assert.match(await execIn('web', await ipOn('vault-db-1', 'vault_back')), /unreachable|can't connect|timed out/);
      assert.match(await execIn('web', 'db'), /bad address/);
    } finally {
      await compose(['down', '-t', '1']);
    }
    assert.doesNotMatch(await d.ok(['network', 'ls']), /vault_/);
  });

  test('published ports answer and only the primary network gives a default route', async () => {
    await d.ok(['network', 'create', 'pp-front']);
    await d.ok(['network', 'create', 'pp-mid']);
    await d.ok(['network', 'create', '--internal', 'pp-back']);
    const [p1, p2, p3, p4] = [await freePort(), await freePort(), await freePort(), await freePort()];
    await server('pp-w1', 'w1', ['--network', 'pp-front', '--network', 'pp-back', '-p', `127.0.0.1:${p1}:80`]);
    // Internal network first: the ports go to the first network that is not internal.
    await server('pp-w2', 'w2', ['--network', 'pp-back', '--network', 'pp-front', '-p', `127.0.0.1:${p2}:80`]);
    await server('pp-w3', 'w3', ['--network', 'pp-front', '--network', 'pp-mid', '-p', `127.0.0.1:${p3}:80`]);
    // Internal only, then joined to a network that can publish.
    await server('pp-w4', 'w4', ['--network', 'pp-back', '-p', `127.0.0.1:${p4}:80`]);
    await d.ok(['network', 'connect', 'pp-mid', 'pp-w4']);
    for (const [c, port, gwNet] of [['pp-w1', p1, 'pp-front'], ['pp-w2', p2, 'pp-front'], ['pp-w3', p3, 'pp-front'], ['pp-w4', p4, 'pp-mid']] as const) {
      await until(async () => assert.equal(await hostRead(port), c.slice(3)));
      const routes = await defaultRoutes(c);
      assert.equal(routes.length, 1, `${c}: ${routes.join(' | ')}`);
      const gw = JSON.parse(await d.ok(['network', 'inspect', gwNet]))[0].IPAM.Config[0].Gateway as string;
      assert.ok(routes[0]!.includes(`via ${gw} `), `${c}: ${routes[0]} (want via ${gw})`);
      const ports = JSON.parse(await d.ok(['container', 'inspect', '-f', '{{json .NetworkSettings.Ports}}', c])) as Record<string, { HostPort: string }[] | null>;
      assert.equal(ports['80/tcp']?.[0]?.HostPort, String(port), `${c}: ${JSON.stringify(ports)}`);
    }
  });

  test('containers that kept running reach each other after a daemon crash', async () => {
    await d.ok(['network', 'create', 'rs-app']);
    await server('rs-srv', 'pong', ['--network', 'rs-app']);
    await d.ok(['container', 'run', '-d', '--name', 'rs-cli', '--network', 'rs-app', 'busybox', 'sleep', '600']);
    await expectReply('rs-cli', 'rs-srv', 'pong');
    const bridge = await bridgeOf('rs-app');
    const pid = (await d.ok(['container', 'inspect', '-f', '{{.State.Pid}}', 'rs-srv'])).trim();

    await d.kill9();
    // While the daemon is down: the bridge goes (its veths fall out of it) and a firewall puts a
    // rule that rejects the bridge's traffic above ours, as a reload would.
    sh('ip', ['link', 'del', 'dev', bridge]);
    const reject = ['FORWARD', '-i', bridge, '-o', bridge, '-j', 'REJECT', '--reject-with', 'icmp-host-unreachable'];
    extraRules.push(reject);
    assert.equal(sh('iptables', ['-w', '-I', ...reject]).code, 0);
    await d.start();

    assert.equal((await d.ok(['container', 'inspect', '-f', '{{.State.Pid}}', 'rs-srv'])).trim(), pid, 'the server kept running');
    await expectReply('rs-cli', await ipOn('rs-srv', 'rs-app'), 'pong');
    await expectReply('rs-cli', 'rs-srv', 'pong');

    // A second crash without any outside change keeps it working as well.
    await d.kill9();
    await d.start();
    await expectReply('rs-cli', 'rs-srv', 'pong');
  });

  test('a data root removed by hand and used again: the default bridge it left is set right', async () => {
    await d.ok(['container', 'run', '--rm', 'busybox', 'true']);
    const bridge = `tscb${daemonTag()}`;
    const before = (await d.ok(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', 'bridge'])).trim();
    // As a user resetting the engine would: stop it, delete its data root, start it again. The
    // bridge stays on the host with its gateway address, whose route makes the new default
    // network choose another subnet.
    const ids = (await d.ok(['container', 'ls', '-aq'])).trim().split('\n').filter(Boolean);
    if (ids.length > 0) await d.ok(['container', 'rm', '-f', ...ids]);
    await d.stop();
    await unmountUnder(d.dataRoot);
    await rm(d.dataRoot, { recursive: true, force: true });
    await d.start();
    const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
    await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);

    assert.equal(await d.ok(['container', 'run', '--rm', 'busybox', 'echo', 'ok']), 'ok\n');
    const after = (await d.ok(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', 'bridge'])).trim();
    assert.notEqual(after, before, 'the new default network has a subnet of its own');
    const addresses = [...sh('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]).out.matchAll(/\binet (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(addresses.map((a) => a?.split('/')[0]), [after]);
    // The lost state's subnet is not kept from other daemons: its claim went at the start.
    const owner = path.join(d.dataRoot, 'network');
    const claims = readdirSync('/run/tscompose/subnets').filter((f) => readFileSync(path.join('/run/tscompose/subnets', f), 'utf8') === owner);
    const subnet = (await d.ok(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'bridge'])).trim();
    assert.deepEqual(claims, [subnet.replace('/', '_')]);
  });

  test('a start removes the bridges and firewall chains of daemons whose data root is gone, and only those', async () => {
    const keptRoot = await mkdtemp(path.join(os.tmpdir(), 'tsc-live-root-'));
    // A default bridge (tscb + 8 hex digits) names its daemon's chains, as agent.ts derives both.
    const daemons = {
      orphan: { tag: randomBytes(4).toString('hex'), alias: `/tmp/tsc-gone-${randomBytes(3).toString('hex')}/root/network`, address: '10.254.251.1/24' },
      kept: { tag: randomBytes(4).toString('hex'), alias: path.join(keptRoot, 'network'), address: '10.254.252.1/24' },
    };
    const chainsOf = (tag: string) => {
      const prefix = `TSC${tag.toUpperCase()}`;
      return { forward: `${prefix}-FORWARD`, isolation: `${prefix}-ISOLATION`, nat: `${prefix}-POSTROUTING` };
    };
    const hasChain = (table: string, chain: string) => sh('iptables', ['-w', '-t', table, '-S', chain]).code === 0;
    try {
      for (const x of Object.values(daemons)) {
        const bridge = `tscb${x.tag}`;
        execFileSync('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
        execFileSync('ip', ['link', 'set', 'dev', bridge, 'alias', x.alias]);
        execFileSync('ip', ['addr', 'add', x.address, 'dev', bridge]);
        const c = chainsOf(x.tag);
        for (const chain of [c.forward, c.isolation]) execFileSync('iptables', ['-w', '-N', chain]);
        execFileSync('iptables', ['-w', '-A', 'FORWARD', '-j', c.forward]);
        execFileSync('iptables', ['-w', '-t', 'nat', '-N', c.nat]);
        execFileSync('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', c.nat]);
      }
      await d.stop();
      await d.start();
      const orphan = chainsOf(daemons.orphan.tag);
      assert.notEqual(sh('ip', ['link', 'show', 'dev', `tscb${daemons.orphan.tag}`]).code, 0, 'the orphaned bridge is gone');
      assert.deepEqual([hasChain('filter', orphan.forward), hasChain('filter', orphan.isolation), hasChain('nat', orphan.nat)], [false, false, false]);
      assert.doesNotMatch(sh('iptables', ['-w', '-S', 'FORWARD']).out, new RegExp(orphan.forward));
      const kept = chainsOf(daemons.kept.tag);
      assert.equal(sh('ip', ['link', 'show', 'dev', `tscb${daemons.kept.tag}`]).code, 0, 'the bridge of a daemon that still has its data root stays');
      assert.deepEqual([hasChain('filter', kept.forward), hasChain('filter', kept.isolation), hasChain('nat', kept.nat)], [true, true, true]);
    } finally {
      for (const x of Object.values(daemons)) {
        sh('ip', ['link', 'del', 'dev', `tscb${x.tag}`]);
        const c = chainsOf(x.tag);
        sh('iptables', ['-w', '-D', 'FORWARD', '-j', c.forward]);
        for (const chain of [c.forward, c.isolation]) sh('iptables', ['-w', '-X', chain]);
        sh('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-j', c.nat]);
        sh('iptables', ['-w', '-t', 'nat', '-X', c.nat]);
      }
      await rm(keptRoot, { recursive: true, force: true });
    }
  });
});
