/**
 * Real networking: namespaces, bridges, CNI plugins and iptables on this host. Traffic goes only
 * to 127.0.0.1 and to addresses inside the namespaces and bridges created here. Everything made
 * is removed in `after`, and the host's FORWARD policy and sysctls are put back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { access, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { NetworkManager, type ConnectResult, type NetworkManagerOptions } from '../../agent/network';
import { bridgeMac } from '../../agent/network/bridge';
import { execCapture } from '../../agent/network/exec';
import { isKind } from '../../common/errors';

const CNI_DIR = '/usr/lib/cni';
const UPSTREAM = { host: '127.0.0.77', port: 5353 };

async function canRun(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of [`${CNI_DIR}/bridge`, '/usr/bin/busybox', '/usr/bin/nsenter']) {
    try {
      await access(tool);
    } catch {
      return `${tool} is missing`;
    }
  }
  return undefined;
}
const skipReason = await canRun();

async function run(file: string, args: string[], input?: string) {
  return execCapture(file, args, { ...(input !== undefined ? { input } : {}), timeoutMs: 20_000 });
}
async function must(file: string, args: string[]): Promise<string> {
  const r = await run(file, args);
  assert.equal(r.code, 0, `${file} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function readSysctl(p: string): Promise<string> {
  return (await readFile(p, 'utf8')).trim();
}
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, tries = 50, delayMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, delayMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
function containerId(): string {
  return randomBytes(32).toString('hex');
}

/** Chains per table, to delete at the end those the plugins created during the test. */
async function chainsByTable(): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const table of ['filter', 'nat']) {
    const dump = (await run('iptables-save', ['-t', table])).stdout;
    out.set(table, new Set(dump.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!)));
  }
  return out;
}

describe('agent/network', { skip: skipReason }, () => {
  let root: string;
  let manager: NetworkManager;
  let options: NetworkManagerOptions;
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  let upstream: ReturnType<typeof createSocket> | undefined;
  let chainsBefore: Map<string, Set<string>>;
  const sysctlsBefore = new Map<string, string>();
  let forwardPolicyBefore = 'ACCEPT';
  const SYSCTLS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/bridge/bridge-nf-call-iptables'];

  /** A "container": a namespace from the manager's store, with a resolv.conf of its own. */
  async function sandbox(): Promise<{ id: string; netns: string }> {
    const id = containerId();
    return { id, netns: await manager.netns.create(id) };
  }
  function nsRun(netns: string, args: string[], resolvConf?: string) {
    if (!resolvConf) return run('nsenter', [`--net=${netns}`, ...args]);
    // A private mount namespace gives the command the container's resolv.conf, as a runtime would.
    const script = 'mount --bind "$0" /etc/resolv.conf && n="$1" && shift && exec nsenter --net="$n" "$@"';
    return run('unshare', ['-m', 'sh', '-c', script, resolvConf, netns, ...args]);
  }
  async function resolvConfFor(result: ConnectResult): Promise<string> {
    const file = path.join(root, `resolv-${randomBytes(4).toString('hex')}.conf`);
    const dns = result.dns ?? { nameservers: [UPSTREAM.host], search: [], options: [] };
    await writeFile(file, [...dns.nameservers.map((n) => `nameserver ${n}`), `options ${dns.options.join(' ')}`, ''].join('\n'));
    return file;
  }
  /** busybox httpd in the namespace, serving `body` at / on `port`. */
  async function serveHttp(netns: string, body: string, port = 80): Promise<void> {
    const dir = path.join(root, `www-${randomBytes(4).toString('hex')}`);
    await must('mkdir', ['-p', dir]);
    await writeFile(path.join(dir, 'index.html'), body);
    const child = spawn('nsenter', [`--net=${netns}`, 'busybox', 'httpd', '-f', '-p', String(port), '-h', dir], { stdio: 'ignore' });
    children.push(child);
    await eventually('httpd', async () => ((await wgetFrom(netns, `http://127.0.0.1:${port}/`)).body === body ? true : undefined));
  }
  async function httpGetFromHost(url: string): Promise<string> {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return res.text();
  }
  /**
   * HTTP GET from inside a namespace with `busybox nc`: busybox is static, and its wget crashes
   * in glibc's resolver even for address literals.
   */
  async function wgetFrom(netns: string, url: string): Promise<{ ok: boolean; body: string }> {
    const { hostname, port } = new URL(url);
    const r = await run('nsenter', [`--net=${netns}`, 'busybox', 'nc', '-w', '2', hostname, port || '80'], 'GET / HTTP/1.0\r\n\r\n');
    const ok = r.code === 0 && /^HTTP\/1\.[01] 200/.test(r.stdout);
    return { ok, body: ok ? r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4) : '' };
  }
  /** Loopback UDP on the host only: a free port number for "published on a fixed port" tests. */
  async function freeTcpPort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }

  before(async () => {
    chainsBefore = await chainsByTable();
    for (const s of SYSCTLS) sysctlsBefore.set(s, await readSysctl(s).catch(() => ''));
    forwardPolicyBefore = /^-P FORWARD (\w+)/m.exec((await run('iptables', ['-S', 'FORWARD'])).stdout)?.[1] ?? 'ACCEPT';
    root = await mkdtemp(path.join(tmpdir(), 'tsc-net-'));
    // A fake upstream resolver on loopback: answers `forwarded.example` and NXDOMAIN for the rest,
    // so no query ever leaves the host.
    upstream = createSocket('udp4');
    upstream.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const question = q.questions?.[0];
      const known = question?.name === 'forwarded.example' && question.type === 'A';
      const reply = dnsPacket.encode({
        type: 'response',
        id: q.id ?? 0,
        flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
        questions: q.questions ?? [],
        answers: known ? [{ type: 'A', name: 'forwarded.example', ttl: 5, data: '198.51.100.7' }] : [],
      });
      upstream?.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => upstream!.bind(UPSTREAM.port, UPSTREAM.host, () => r()));
    options = {
      root: path.join(root, 'data'),
      cniPluginDirs: [CNI_DIR],
      defaultBridgeName: 'tsct0',
      defaultSubnetPools: [{ base: '10.212.0.0/16', size: 16 }],
      subnetPools: [{ base: '10.213.0.0/16', size: 24 }],
      bridgePrefix: 'tsct',
      firewallChainPrefix: 'TSCTEST',
      dns: { upstreams: [`${UPSTREAM.host}:${UPSTREAM.port}`], upstreamTimeoutMs: 1000 },
    };
    manager = await NetworkManager.open(options);
    await manager.recover([]);
  });

  after(async () => {
    for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
    for (const s of servers) s.close();
    upstream?.close();
    await manager?.teardown().catch((err: unknown) => console.error('teardown:', err));
    await run('iptables', ['-P', 'FORWARD', forwardPolicyBefore]);
    for (const [file, value] of sysctlsBefore) if (value) await writeFile(file, value).catch(() => undefined);
    // portmap's shared chains outlive the containers; remove those this test brought into being.
    const now = await chainsByTable();
    for (const [table, chains] of now) {
      for (const chain of chains) {
        if (chainsBefore.get(table)?.has(chain) || !/^(CNI-|TSCTEST)/.test(chain)) continue;
        const dump = (await run('iptables-save', ['-t', table])).stdout;
        for (const rule of dump.split('\n').filter((l) => l.startsWith('-A ') && l.includes(`-j ${chain}`))) {
          await run('iptables-restore', ['-w', '--noflush'], `*${table}\n${rule.replace(/^-A /, '-D ')}\nCOMMIT\n`);
        }
        await run('iptables', ['-t', table, '-F', chain]);
        await run('iptables', ['-t', table, '-X', chain]);
      }
    }
    await run('ip', ['link', 'del', 'tsctdummy0']);
    await rm(root, { recursive: true, force: true });
  });

  test('containers on a user network find each other by name through the embedded DNS server', async () => {
    const net = await manager.createNetwork({ name: 'frontend', labels: { app: 'test' } });
    assert.match(net.ipam!.subnet, /^10\.213\.\d+\.0\/24$/);
    assert.equal(net.dnsAddress, net.ipam!.gateway);

    const web = await sandbox();
    const client = await sandbox();
    const webNet = await manager.connect(web.id, web.netns, 'frontend', { name: 'web', aliases: ['www'] });
    const clientNet = await manager.connect(client.id, client.netns, 'frontend', { name: 'client' });
    assert.equal(webNet.ifName, 'eth0');
    assert.equal(webNet.gateway, net.ipam!.gateway);
    assert.match(webNet.macAddress ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.deepEqual(clientNet.dns?.nameservers, [net.ipam!.gateway]);
    await serveHttp(web.netns, 'hello-from-web');

    const resolvConf = await resolvConfFor(clientNet);
    const lookup = await nsRun(client.netns, ['busybox', 'nslookup', 'web'], resolvConf);
    assert.match(lookup.stdout, new RegExp(`Address:\\s+${webNet.ipAddress!.replace(/\./g, '\\.')}`), lookup.stdout + lookup.stderr);
    const alias = await nsRun(client.netns, ['busybox', 'nslookup', 'www.frontend'], resolvConf);
    assert.ok(alias.stdout.includes(webNet.ipAddress!), alias.stdout);

    // By name with the libc resolver, as an application would (static busybox cannot: no NSS).
    const fetchByName = `fetch('http://web/',{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>process.stdout.write(t))`;
    const byName = await nsRun(client.netns, [process.execPath, '-e', fetchByName], resolvConf);
    assert.equal(byName.stdout, 'hello-from-web', byName.stderr);

    // Other names go to the upstream resolver (here the fake one on loopback).
    const forwarded = await nsRun(client.netns, ['busybox', 'nslookup', 'forwarded.example'], resolvConf);
    assert.ok(forwarded.stdout.includes('198.51.100.7'), forwarded.stdout);
    const unknown = await nsRun(client.netns, ['busybox', 'nslookup', 'nothing.invalid'], resolvConf);
    assert.notEqual(unknown.code, 0);

    const info = await manager.inspectNetwork('frontend');
    assert.deepEqual(info.containers.map((c) => c.names[0]).sort(), ['client', 'web']);
  });

  test('a service name answers with every replica, rotated', async () => {
    await manager.createNetwork({ name: 'svc' });
    const gateway = (await manager.inspectNetwork('svc')).ipam!.gateway;
    // Replicas start together: connects run concurrently.
    const replicas = await Promise.all([0, 1, 2].map(() => sandbox()));
    const results = await Promise.all(
      replicas.map((s, i) => manager.connect(s.id, s.netns, 'svc', { name: `api-${i}`, aliases: ['api'] })),
    );
    const ips = results.map((r) => r.ipAddress!);
    assert.equal(new Set(ips).size, 3);
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([gateway]);
    const first = await resolver.resolve4('api');
    const second = await resolver.resolve4('api');
    assert.deepEqual([...first].sort(), [...ips].sort());
    assert.deepEqual([...second].sort(), [...ips].sort());
    assert.notEqual(first[0], second[0]);
    // The default network has no embedded DNS, as in Docker.
    assert.equal((await manager.inspectNetwork('bridge')).dnsAddress, undefined);
  });

  test('published TCP ports answer on 127.0.0.1, also as hairpin from a container', async () => {
    const hostPort = await freeTcpPort();
    const server = await sandbox();
    const res = await manager.connect(server.id, server.netns, 'bridge', {
      portMappings: [{ containerPort: 80, hostPort, hostIp: '127.0.0.1' }, { containerPort: 80 }],
    });
    assert.equal(res.dns, undefined);
    await serveHttp(server.netns, 'published');
    assert.equal(await httpGetFromHost(`http://127.0.0.1:${hostPort}/`), 'published');

    // `-P`: a free port from our ephemeral range, on every host address.
    const random = res.ports[1]!;
    assert.equal(random.hostIp, '0.0.0.0');
    assert.ok(random.hostPort >= 61000 && random.hostPort <= 65535, String(random.hostPort));
    assert.equal(await httpGetFromHost(`http://127.0.0.1:${random.hostPort}/`), 'published');

    // Hairpin: a container of the same bridge reaches the published port through a host address.
    const peer = await sandbox();
    await manager.connect(peer.id, peer.netns, 'bridge');
    const gateway = (await manager.inspectNetwork('bridge')).ipam!.gateway;
    const hairpin = await wgetFrom(peer.netns, `http://${gateway}:${random.hostPort}/`);
    assert.equal(hairpin.body, 'published');
  });

  test('published UDP port', async () => {
    const s = await sandbox();
    const res = await manager.connect(s.id, s.netns, 'bridge', { portMappings: [{ containerPort: 5000, protocol: 'udp' }] });
    const hostPort = res.ports[0]!.hostPort;
    // busybox nc has no UDP mode: a node one-liner listens in the namespace instead.
    const listener = "require('node:dgram').createSocket('udp4').on('message', (m) => process.stdout.write(m)).bind(5000)";
    const child = spawn('nsenter', [`--net=${s.netns}`, process.execPath, '-e', listener], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    let received = '';
    child.stdout!.on('data', (b: Buffer) => (received += b.toString()));
    const sender = createSocket('udp4');
    try {
      await eventually('udp datagram', async () => {
        sender.send('ping-udp\n', hostPort, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 100));
        return received.includes('ping-udp') ? true : undefined;
      });
    } finally {
      sender.close();
    }
  });

  test('a host port already taken gives Docker\'s error', async () => {
    const hostPort = await freeTcpPort();
    const first = await sandbox();
    await manager.connect(first.id, first.netns, 'bridge', { portMappings: [{ containerPort: 80, hostPort }] });
    const second = await sandbox();
    await assert.rejects(
      manager.connect(second.id, second.netns, 'bridge', { portMappings: [{ containerPort: 80, hostPort, hostIp: '127.0.0.1' }] }),
      (err: Error) => isKind(err, 'Conflict') && err.message === `network: Bind for 127.0.0.1:${hostPort} failed: port is already allocated`,
    );
    // A port another process listens on.
    const other = createServer();
    servers.push(other);
    await new Promise<void>((r) => other.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const busy = (other.address() as { port: number }).port;
    await assert.rejects(
      manager.connect(second.id, second.netns, 'bridge', { portMappings: [{ containerPort: 80, hostPort: busy }] }),
      /Bind for 0\.0\.0\.0:\d+ failed: port is already allocated/,
    );
    // The failed attempts left nothing behind: the container can still connect.
    const ok = await manager.connect(second.id, second.netns, 'bridge');
    assert.ok(ok.ipAddress);
  });

  test('an internal network reaches nothing outside its subnet', async () => {
    await manager.createNetwork({ name: 'vault', internal: true, subnet: '10.214.7.0/24', gateway: '10.214.7.1' });
    await manager.createNetwork({ name: 'outside' });
    const inner = await sandbox();
    const innerPeer = await sandbox();
    const outer = await sandbox();
    const innerNet = await manager.connect(inner.id, inner.netns, 'vault', { ipv4Address: '10.214.7.50' });
    assert.equal(innerNet.ipAddress, '10.214.7.50');
    assert.equal(innerNet.gateway, undefined);
    const peerNet = await manager.connect(innerPeer.id, innerPeer.netns, 'vault', { name: 'peer' });
    const outerNet = await manager.connect(outer.id, outer.netns, 'outside');
    await serveHttp(outer.netns, 'outer');
    await serveHttp(innerPeer.netns, 'inner-peer');

    assert.equal((await wgetFrom(inner.netns, `http://${peerNet.ipAddress}/`)).body, 'inner-peer');
    assert.equal((await wgetFrom(inner.netns, `http://${outerNet.ipAddress}/`)).ok, false);
    assert.equal((await wgetFrom(outer.netns, `http://${peerNet.ipAddress}/`)).ok, false);
    const routes = await nsRun(inner.netns, ['ip', 'route']);
    assert.ok(!routes.stdout.includes('default'), routes.stdout);
    // DNS still works inside an internal network.
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers(['10.214.7.1']);
    assert.deepEqual(await resolver.resolve4('peer'), [peerNet.ipAddress]);
    // Names it does not own are not forwarded for a container with no way out (SERVFAIL, as
    // Docker); one also on an open network gets them from the upstream resolver.
    const lookupOutside = (netns: string) => nsRun(netns, ['timeout', '5', 'busybox', 'nslookup', 'forwarded.example', '10.214.7.1']);
    const shut = await lookupOutside(inner.netns);
    assert.ok(!shut.stdout.includes('198.51.100.7') && /SERVFAIL/i.test(shut.stdout + shut.stderr), shut.stdout + shut.stderr);
    const both = await sandbox();
    await manager.connect(both.id, both.netns, 'outside');
    await manager.connect(both.id, both.netns, 'vault');
    const open = await lookupOutside(both.netns);
    assert.ok(open.stdout.includes('198.51.100.7'), open.stdout + open.stderr);

    await assert.rejects(manager.connect(containerId(), inner.netns, 'vault', { ipv4Address: '10.214.7.50' }), /Address already in use/);
    await assert.rejects(manager.connect(containerId(), inner.netns, 'outside', { ipv4Address: '10.213.9.9' }), /user configured subnets/);
  });

  test('user networks are isolated from each other', async () => {
    await manager.createNetwork({ name: 'iso-a' });
    await manager.createNetwork({ name: 'iso-b' });
    const a = await sandbox();
    const b = await sandbox();
    await manager.connect(a.id, a.netns, 'iso-a');
    const bNet = await manager.connect(b.id, b.netns, 'iso-b', { name: 'bee' });
    await serveHttp(b.netns, 'b');
    assert.equal((await wgetFrom(a.netns, `http://${bNet.ipAddress}/`)).ok, false);
    // iso-b's DNS address is a host address a can route to; it must still not learn iso-b's names.
    const bGateway = (await manager.inspectNetwork('iso-b')).ipam!.gateway;
    const own = await run('timeout', ['3', 'nsenter', `--net=${b.netns}`, 'busybox', 'nslookup', 'bee', bGateway]);
    assert.ok(own.stdout.includes(bNet.ipAddress!), own.stdout);
    const foreign = await run('timeout', ['3', 'nsenter', `--net=${a.netns}`, 'busybox', 'nslookup', 'bee', bGateway]);
    assert.ok(!foreign.stdout.includes(bNet.ipAddress!), foreign.stdout);
  });

  test('automatic subnets skip prefixes the host already routes, and user subnets may not overlap', async () => {
    const probe = await manager.createNetwork({ name: 'probe' });
    const next = probe.ipam!.subnet;
    await manager.removeNetwork('probe');
    // A bridge stands in for a dummy interface: this kernel may lack the dummy module.
    if ((await run('ip', ['link', 'add', 'tsctdummy0', 'type', 'dummy'])).code !== 0) {
      await must('ip', ['link', 'add', 'tsctdummy0', 'type', 'bridge']);
    }
    await must('ip', ['link', 'set', 'tsctdummy0', 'up']);
    try {
      await must('ip', ['route', 'add', next, 'dev', 'tsctdummy0']);
      const chosen = await manager.createNetwork({ name: 'after-route' });
      assert.notEqual(chosen.ipam!.subnet, next);
      await manager.removeNetwork('after-route');
    } finally {
      await run('ip', ['link', 'del', 'tsctdummy0']);
    }
    await assert.rejects(manager.createNetwork({ name: 'clash', subnet: '10.214.7.128/25' }), /Pool overlaps/);
    await assert.rejects(manager.createNetwork({ name: 'frontend' }), /already exists/);
    await assert.rejects(manager.removeNetwork('bridge'), /pre-defined network/);
    await assert.rejects(manager.removeNetwork('frontend'), /has active endpoints/);
    const custom = await manager.createNetwork({
      name: 'custom',
      subnet: '10.214.8.0/24',
      ipRange: '10.214.8.128/25',
      options: { 'com.docker.network.bridge.name': 'tsctcustom', 'com.docker.network.driver.mtu': '1400' },
    });
    const link = JSON.parse(await must('ip', ['-j', 'link', 'show', 'tsctcustom'])) as { mtu: number }[];
    assert.equal(link[0]?.mtu, 1400);
    const s = await sandbox();
    const res = await manager.connect(s.id, s.netns, 'custom');
    assert.match(res.ipAddress!, /^10\.214\.8\.(12[89]|1[3-9]\d|2\d\d)$/);
    assert.equal(custom.bridge, 'tsctcustom');
  });

  test('with Docker\'s FORWARD DROP policy and br_netfilter, our bridges still work', async (t) => {
    try {
      await access('/proc/sys/net/bridge/bridge-nf-call-iptables');
    } catch {
      t.skip('br_netfilter is not available in this kernel (no /proc/sys/net/bridge)');
      return;
    }
    await writeFile('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
    await must('iptables', ['-P', 'FORWARD', 'DROP']);
    try {
      await manager.createNetwork({ name: 'dropped' });
      const a = await sandbox();
      const b = await sandbox();
      await manager.connect(a.id, a.netns, 'dropped', { name: 'a' });
      const bNet = await manager.connect(b.id, b.netns, 'dropped', { name: 'b', portMappings: [{ containerPort: 80 }] });
      await serveHttp(b.netns, 'through-drop');
      assert.equal((await wgetFrom(a.netns, `http://${bNet.ipAddress}/`)).body, 'through-drop');
      assert.equal(await httpGetFromHost(`http://127.0.0.1:${bNet.ports[0]!.hostPort}/`), 'through-drop');
      const gateway = (await manager.inspectNetwork('dropped')).ipam!.gateway;
      assert.equal((await wgetFrom(a.netns, `http://${gateway}:${bNet.ports[0]!.hostPort}/`)).body, 'through-drop');
      // Control: without our chain the same traffic is dropped, so the rules above are what let it through.
      await must('iptables', ['-D', 'FORWARD', '-j', 'TSCTEST-FORWARD']);
      try {
        assert.equal((await wgetFrom(a.netns, `http://${bNet.ipAddress}/`)).ok, false);
      } finally {
        await must('iptables', ['-I', 'FORWARD', '1', '-j', 'TSCTEST-FORWARD']);
      }
    } finally {
      await run('iptables', ['-P', 'FORWARD', forwardPolicyBefore]);
    }
  });

  test('recover() after a restart drops endpoints of dead containers and serves DNS again', async () => {
    await manager.createNetwork({ name: 'restart' });
    const alive = await sandbox();
    const dead = await sandbox();
    const aliveNet = await manager.connect(alive.id, alive.netns, 'restart', { name: 'alive' });
    const deadNet = await manager.connect(dead.id, dead.netns, 'restart', { name: 'dead', portMappings: [{ containerPort: 80 }] });
    const netId = aliveNet.networkId;
    await manager.close();

    // The dead container's namespace is gone by the time the daemon comes back.
    await manager.netns.remove(dead.id);
    const liveIds = (await manager.netns.list()).filter((id) => id !== dead.id);
    manager = await NetworkManager.open(options);
    await manager.recover(liveIds);

    const info = await manager.inspectNetwork('restart');
    assert.deepEqual(info.containers.map((c) => c.containerId), [alive.id]);
    const leases = await readdir(path.join(options.root, 'ipam', netId));
    assert.ok(leases.includes(aliveNet.ipAddress!) && !leases.includes(deadNet.ipAddress!), leases.join(','));
    const nat = (await run('iptables-save', ['-t', 'nat'])).stdout;
    assert.ok(!nat.includes(dead.id), 'rules of the dead container remain');
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([info.dnsAddress!]);
    assert.deepEqual(await resolver.resolve4('alive'), [aliveNet.ipAddress]);
  });

  test('bridges keep one MAC whatever ports join; a bridge made before gets its MAC pinned', async () => {
    const sysfs = (bridge: string, key: string) => readFile(`/sys/class/net/${bridge}/${key}`, 'utf8').then((t) => t.trim());
    const made = await manager.createNetwork({ name: 'fixed-mac' });
    assert.equal(await sysfs(made.bridge!, 'address'), bridgeMac(made.id));
    const box = await sandbox();
    const r = await manager.connect(box.id, box.netns, 'fixed-mac');
    const hostIndex = (await nsRun(box.netns, ['cat', `/sys/class/net/${r.ifName}/iflink`])).stdout.trim();
    const links = JSON.parse(await must('ip', ['-j', 'link', 'show'])) as { ifindex: number; ifname: string }[];
    const veth = links.find((l) => String(l.ifindex) === hostIndex)!.ifname;
    // The lowest MAC a port can have: a bridge that follows its ports would take it.
    await must('ip', ['link', 'set', 'dev', veth, 'address', '02:00:00:00:00:01']);
    assert.equal(await sysfs(made.bridge!, 'address'), bridgeMac(made.id));

    await must('ip', ['link', 'add', 'name', 'tsctpin0', 'type', 'bridge']);
    const before = await sysfs('tsctpin0', 'address');
    await manager.createNetwork({ name: 'pinned', options: { 'com.docker.network.bridge.name': 'tsctpin0' } });
    assert.equal(await sysfs('tsctpin0', 'addr_assign_type'), '3');
    assert.equal(await sysfs('tsctpin0', 'address'), before);
    await manager.disconnect(box.id, 'fixed-mac');
    await manager.removeNetwork('fixed-mac');
    await manager.removeNetwork('pinned');
  });

  test('a forced disconnect removes the endpoint a vanished container left, with its lease and DNS name', async () => {
    const none = () => false;
    const made = await manager.createNetwork({ name: 'stale' });
    const box = await sandbox();
    const r = await manager.connect(box.id, box.netns, 'stale', { name: 'ghost-web', aliases: ['web'] });
    const leaseDir = path.join(options.root, 'ipam', made.id);
    assert.ok((await readdir(leaseDir)).includes(r.ipAddress!));
    // The container and its namespace are gone; the network still holds its endpoint.
    await manager.netns.remove(box.id);
    assert.equal(await manager.removeStaleEndpoints('stale', 'nobody-of-that-name', none), 0);
    assert.equal(await manager.removeStaleEndpoints('stale', 'ghost-web', (id) => id === box.id), 0, 'a live container keeps its endpoint');
    assert.equal(await manager.removeStaleEndpoints('stale', box.id.slice(0, 11), none), 0, 'a prefix under 12 characters is not an ID');
    assert.equal(await manager.removeStaleEndpoints('stale', 'web', none), 1);
    assert.deepEqual((await manager.inspectNetwork('stale')).containers, []);
    assert.ok(!(await readdir(leaseDir)).includes(r.ipAddress!), 'the address lease is released');
    // By ID prefix, on a second endpoint.
    const box2 = await sandbox();
    await manager.connect(box2.id, box2.netns, 'stale');
    await manager.netns.remove(box2.id);
    assert.equal(await manager.removeStaleEndpoints('stale', box2.id.slice(0, 12), none), 1);
    await assert.rejects(manager.removeStaleEndpoints('no-such-net', 'x', none), (err: unknown) => isKind(err, 'NotFound'));
    await manager.removeNetwork('stale');
  });

  test('disconnect and remove leave no veth, namespace, lease or rule behind', async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    const networks = (await manager.listNetworks()).filter((n) => n.driver === 'bridge');
    const ids = new Set(networks.flatMap((n) => n.containers.map((c) => c.containerId)));
    assert.ok(ids.size > 0);
    for (const id of ids) await manager.disconnectAll(id);
    for (const id of await manager.netns.list()) await manager.netns.remove(id);

    const pruned = await manager.prune();
    assert.ok(pruned.includes('frontend') && pruned.includes('vault'), pruned.join(','));
    assert.deepEqual((await manager.listNetworks()).map((n) => n.name).sort(), ['bridge', 'host', 'none']);

    const links = JSON.parse(await must('ip', ['-j', 'link', 'show'])) as { ifname: string; master?: string }[];
    assert.deepEqual(links.filter((l) => l.master === 'tsct0').map((l) => l.ifname), []);
    assert.deepEqual(links.filter((l) => l.ifname.startsWith('tsct') && l.ifname !== 'tsct0').map((l) => l.ifname), []);
    assert.deepEqual(await manager.netns.list(), []);
    const bridgeNet = await manager.inspectNetwork('bridge');
    const leaseDir = path.join(options.root, 'ipam', bridgeNet.id);
    const leases = (await readdir(leaseDir).catch(() => [] as string[])).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
    assert.deepEqual(leases, []);
    const ipam = await readdir(path.join(options.root, 'ipam'));
    assert.deepEqual(ipam, [bridgeNet.id]);
    const dump = (await run('iptables-save', [])).stdout;
    for (const id of ids) assert.ok(!dump.includes(id), `iptables rules of ${id} remain`);
    const ownRules = dump.split('\n').filter((l) => l.startsWith('-A TSCTEST-FORWARD'));
    assert.ok(ownRules.every((l) => l.includes('tsct0')), ownRules.join('\n'));

    await manager.teardown();
    const after = (await run('iptables-save', [])).stdout;
    assert.ok(!after.includes('TSCTEST'), 'our chains remain after teardown');
    assert.notEqual((await run('ip', ['link', 'show', 'tsct0'])).code, 0);
    manager = await NetworkManager.open(options);
  });
});
