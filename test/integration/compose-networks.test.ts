/**
 * Compose networks through the CLI against a real daemon: the project's default network, named
 * networks with driver_opts, ipam subnets, aliases and ipv4_address, a container on several
 * networks, an external network (must exist, survives `down`), DNS of service names (round-robin
 * over replicas), container names and aliases, and `network_mode` host/none/service:/container:.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { TestDaemon } from '../helpers/daemon';
import { ComposeProject, inspectContainer, startBusyboxDaemon } from '../helpers/compose';

let d: TestDaemon;
let p: ComposeProject;
// A bridge name unique to this daemon, so parallel test runs don't collide.
let bridge: string;
// The first two octets of this run's subnets (10.2xx), also unique per daemon.
let net: string;
const esc = (s: string) => s.replace(/\./g, '\\.');

const compose = (bridgeName: string, net: string) => `
services:
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    deploy:
      replicas: 3
  api:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    networks:
      front:
        aliases: [backend, api.internal]
        ipv4_address: ${net}.7.50
      back: {}
      default: {}
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    container_name: netsem-database
    networks: [back]
  sidecar:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    network_mode: service:api
  client:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    networks: [front]
  hostnet:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    network_mode: host
  nonet:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    network_mode: none
  byname:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    network_mode: container:netsem-database
    depends_on: [db]
  outside:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    networks: [shared]
networks:
  front:
    driver_opts:
      com.docker.network.bridge.name: ${bridgeName}
      com.docker.network.driver.mtu: "1400"
    ipam:
      config:
        - subnet: ${net}.7.0/24
          gateway: ${net}.7.1
  back:
    ipam:
      config:
        - subnet: ${net}.8.0/24
  shared:
    external: true
    name: netsem-shared
`;

before(async () => {
  d = await startBusyboxDaemon();
  const tag = createHash('sha256').update(d.dir).digest();
  bridge = `tscf${tag.toString('hex').slice(0, 8)}`;
  net = `10.${200 + ((tag[0] ?? 0) % 50)}`;
  p = await ComposeProject.create(d, 'netsem', compose(bridge, net));
});
after(async () => {
  if (d) {
    await p?.down();
    await d.run(['network', 'rm', 'netsem-shared']);
    await d.destroy();
  }
});

describe('compose networks', () => {
  test('an external network must exist', async () => {
    const r = await p.run(['up', '-d']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /network netsem-shared declared as external, but could not be found/);
    // Refused before anything was made.
    assert.doesNotMatch(await d.ok(['network', 'ls']), /netsem_/);
    await d.ok(['network', 'create', '--subnet', `${net}.9.0/24`, 'netsem-shared']);
    const up = await p.run(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
  });

  test('the project has a default network and the named ones, with their labels', async () => {
    const names = (await d.ok(['network', 'ls', '--format', '{{.Name}}'])).trim().split('\n');
    for (const n of ['netsem_default', 'netsem_front', 'netsem_back', 'netsem-shared']) assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
    const [front] = JSON.parse(await d.ok(['network', 'inspect', 'netsem_front'])) as Array<{
      Labels: Record<string, string>;
      Options: Record<string, string>;
      IPAM: { Config: Array<{ Subnet: string; Gateway: string }> };
    }>;
    assert.equal(front?.Labels['com.docker.compose.project'], 'netsem');
    assert.equal(front?.Labels['com.docker.compose.network'], 'front');
    assert.equal(front?.IPAM.Config[0]?.Subnet, `${net}.7.0/24`);
    assert.equal(front?.IPAM.Config[0]?.Gateway, `${net}.7.1`);
  });

  test('driver_opts name the bridge and set its MTU', async () => {
    const link = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', bridge]).toString()) as Array<{ mtu: number }>;
    assert.equal(link[0]?.mtu, 1400);
    // api's interface on `front` (its networks are in name order: back, default, front).
    const dev = await p.sh('api', `ip -4 -o addr show | awk '$4 == "${net}.7.50/24" {print $2}'`);
    assert.match(dev, /^eth\d$/);
    assert.equal(await p.sh('api', `cat /sys/class/net/${dev}/mtu`), '1400');
    assert.equal(await p.sh('api', 'cat /sys/class/net/eth0/mtu'), '1500');
  });

  test('ipv4_address and ipam subnets give the addresses', async () => {
    const api = await inspectContainer(d, 'netsem-api-1');
    const nets = api.NetworkSettings.Networks;
    assert.deepEqual(Object.keys(nets).sort(), ['netsem_back', 'netsem_default', 'netsem_front']);
    assert.equal(nets.netsem_front?.IPAddress, `${net}.7.50`);
    assert.match(nets.netsem_back?.IPAddress ?? '', new RegExp(`^${esc(net)}\\.8\\.\\d+$`));
    const addrs = await p.sh('api', "ip -4 -o addr show | awk '{print $4}'");
    assert.match(addrs, new RegExp(`${esc(net)}\\.7\\.50/24`));
    assert.match(addrs, new RegExp(`${esc(net)}\\.8\\.\\d+/24`));
    assert.equal(addrs.split('\n').filter((a) => !a.startsWith('127.')).length, 3);
  });

  test('DNS resolves a service name to all its replicas', async () => {
    const out = await p.sh('api', 'nslookup web');
    const addrs = [...out.slice(out.indexOf('Name:')).matchAll(/Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)/g) ?? []].map((m) => m[1]);
    assert.equal(new Set(addrs).size, 3, out);
    const expected = await Promise.all([1, 2, 3].map(async (n) => (await inspectContainer(d, `netsem-web-${n}`)).NetworkSettings.Networks.netsem_default?.IPAddress));
    assert.deepEqual([...new Set(addrs)].sort(), expected.sort());
    // Round-robin: the first answer changes from one lookup to the next.
    const firsts = await p.sh('api', "for i in 1 2 3 4 5 6 7 8; do nslookup web | awk '/^Address/ {print $NF}' | sed -n 2p; done");
    assert.ok(new Set(firsts.split('\n')).size > 1, firsts);
  });

  test('DNS resolves container names and aliases, on the networks shared', async () => {
    const ip = (out: string) => out.slice(out.indexOf('Name:')).match(/Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)/)?.[1];
    // db is on `back` only; its container_name resolves there.
    const db = await inspectContainer(d, 'netsem-database');
    assert.equal(ip(await p.sh('api', 'nslookup netsem-database')), db.NetworkSettings.Networks.netsem_back?.IPAddress);
    assert.equal(ip(await p.sh('api', 'nslookup db')), db.NetworkSettings.Networks.netsem_back?.IPAddress);
    // On `front`, api's aliases and name resolve to its fixed address there.
    assert.equal(ip(await p.sh('client', 'nslookup backend')), `${net}.7.50`);
    assert.equal(ip(await p.sh('client', 'nslookup api.internal')), `${net}.7.50`);
    assert.equal(ip(await p.sh('client', 'nslookup api')), `${net}.7.50`);
    assert.equal(ip(await p.sh('web', 'nslookup netsem-api-1')), (await inspectContainer(d, 'netsem-api-1')).NetworkSettings.Networks.netsem_default?.IPAddress);
    // web is not on `back`: db's name doesn't resolve there.
    const r = await p.run(['exec', '-T', 'web', 'nslookup', 'netsem-database']);
    assert.notEqual(r.code, 0, r.stdout);
  });

  test('containers on a network reach each other; other networks are apart', async () => {
    assert.equal(await p.sh('api', 'ping -c1 -W2 netsem-database >/dev/null && echo ok'), 'ok');
    assert.equal(await p.sh('web', 'ping -c1 -W2 api >/dev/null && echo ok'), 'ok');
    const dbIp = (await inspectContainer(d, 'netsem-database')).NetworkSettings.Networks.netsem_back?.IPAddress ?? '';
    assert.equal(await p.sh('web', `ping -c1 -W1 ${dbIp} >/dev/null 2>&1 && echo reached || echo apart`), 'apart');
  });

  test('network_mode: service: and container: share the other container’s stack', async () => {
    const apiAddrs = await p.sh('api', "ip -4 -o addr show | awk '{print $4}' | sort");
    assert.equal(await p.sh('sidecar', "ip -4 -o addr show | awk '{print $4}' | sort"), apiAddrs);
    const sidecar = await inspectContainer(d, 'netsem-sidecar-1');
    assert.match(sidecar.HostConfig.NetworkMode, /^container:/);
    const dbAddrs = await p.sh('db', "ip -4 -o addr show | awk '{print $4}' | sort");
    assert.equal(await p.sh('byname', "ip -4 -o addr show | awk '{print $4}' | sort"), dbAddrs);
    // Its names are the other's too, as in Docker: resolv.conf (the embedded DNS), hosts, hostname.
    for (const file of ['/etc/resolv.conf', '/etc/hosts']) assert.equal(await p.sh('sidecar', `cat ${file}`), await p.sh('api', `cat ${file}`));
    assert.equal(await p.sh('sidecar', 'hostname'), await p.sh('api', 'hostname'));
    assert.equal(await p.sh('sidecar', 'ping -c1 -W2 netsem-database >/dev/null && echo ok'), 'ok');
    assert.equal(await p.sh('byname', 'hostname'), await p.sh('db', 'hostname'));
  });

  test('a container sharing another’s network follows it when it is recreated', async () => {
    const before = (await inspectContainer(d, 'netsem-sidecar-1')).Id;
    await p.write(compose(bridge, net).replace('      back: {}\n      default: {}\n', '      back: {}\n      default: {}\n    environment: { V: "2" }\n'));
    const r = await p.run(['up', '-d', '-t', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Container netsem-api-1 {2}Recreated/);
    assert.match(r.stderr, /Container netsem-sidecar-1 {2}Recreated/);
    assert.notEqual((await inspectContainer(d, 'netsem-sidecar-1')).Id, before);
    assert.equal(await p.sh('sidecar', "ip -4 -o addr show | awk '{print $4}' | sort"), await p.sh('api', "ip -4 -o addr show | awk '{print $4}' | sort"));
    assert.equal((await inspectContainer(d, 'netsem-api-1')).NetworkSettings.Networks.netsem_front?.IPAddress, `${net}.7.50`);
  });

  test('network_mode: host sees the host’s interfaces; none has only loopback', async () => {
    assert.equal((await inspectContainer(d, 'netsem-hostnet-1')).HostConfig.NetworkMode, 'host');
    const hostLinks = (await p.sh('hostnet', 'ls /sys/class/net')).split(/\s+/);
    assert.ok(hostLinks.includes(bridge), hostLinks.join(' '));
    assert.equal((await inspectContainer(d, 'netsem-nonet-1')).HostConfig.NetworkMode, 'none');
    assert.equal(await p.sh('nonet', 'ls /sys/class/net'), 'lo');
  });

  test('a container on an external network is reachable there', async () => {
    const outside = await inspectContainer(d, 'netsem-outside-1');
    assert.match(outside.NetworkSettings.Networks['netsem-shared']?.IPAddress ?? '', new RegExp(`^${esc(net)}\\.9\\.\\d+$`));
  });

  test('down removes the project networks but keeps the external one', async () => {
    const r = await p.run(['down', '-t', '1']);
    assert.equal(r.code, 0, r.stderr);
    const names = (await d.ok(['network', 'ls', '--format', '{{.Name}}'])).trim().split('\n');
    assert.ok(names.includes('netsem-shared'));
    for (const n of ['netsem_default', 'netsem_front', 'netsem_back']) assert.ok(!names.includes(n), `${n} left behind`);
    assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', bridge], { stdio: 'ignore' }));
  });
});
