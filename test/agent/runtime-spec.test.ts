import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildSpec,
  capabilitySet,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  parseDeviceRule,
  parseLogLine,
  resolveUser,
} from '../../agent/runtime';
import { buildBusyboxRootfs } from '../helpers/rootfs';

describe('buildSpec', () => {
  const base = { rootfs: '/rootfs', args: ['sh'] };

  it("carries Docker's defaults", () => {
    const s = buildSpec(base);
    assert.deepEqual(s.process.capabilities?.effective, DEFAULT_CAPABILITIES);
    assert.equal(s.process.noNewPrivileges, false);
    assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.deepEqual(s.linux.maskedPaths, DEFAULT_MASKED_PATHS);
    assert.ok(s.linux.readonlyPaths?.includes('/proc/sys'));
    const byDest = new Map(s.mounts.map((m) => [m.destination, m]));
    for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']) assert.ok(byDest.has(d), d);
    assert.ok(byDest.get('/sys')?.options?.includes('ro'));
    assert.ok(byDest.get('/sys/fs/cgroup')?.options?.includes('ro'));
    assert.ok(byDest.get('/dev/shm')?.options?.includes(`size=${64 * 1024 * 1024}`));
    assert.deepEqual(s.linux.resources?.devices?.[0], { allow: false, access: 'rwm' });
    assert.equal(s.process.env[0], 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.equal(s.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
  });

  it('joins a given network namespace or the host one', () => {
    const joined = buildSpec({ ...base, network: { path: '/run/netns/x' } });
    assert.deepEqual(joined.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/run/netns/x' });
    assert.equal(joined.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
    const host = buildSpec({ ...base, network: 'host' });
    assert.equal(host.linux.namespaces.find((n) => n.type === 'network'), undefined);
    assert.equal(host.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], undefined);
  });

  it('turns --cpus, memory, pids and shm into OCI resources', () => {
    const s = buildSpec({ ...base, resources: { cpus: 1.5, memory: 64 << 20, pidsLimit: 100 }, shmSize: 1 << 20 });
    assert.deepEqual(s.linux.resources?.cpu, { period: 100000, quota: 150000 });
    assert.deepEqual(s.linux.resources?.memory, { limit: 64 << 20, swap: 128 << 20 });
    assert.deepEqual(s.linux.resources?.pids, { limit: 100 });
    assert.ok(s.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes(`size=${1 << 20}`));
    assert.throws(() => buildSpec({ ...base, resources: { memory: 1024 } }), { name: 'InvalidArgument' });
  });

  it('prepends the init and binds it read-only', () => {
    const s = buildSpec({ ...base, init: true });
    assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'sh']);
    assert.deepEqual(s.mounts.find((m) => m.destination === '/sbin/docker-init'), {
      destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/catatonit', options: ['bind', 'ro'],
    });
  });

  it('privileged drops masks and device restrictions and grants every capability', () => {
    const s = buildSpec({ ...base, privileged: true });
    assert.deepEqual(s.linux.maskedPaths, []);
    assert.deepEqual(s.linux.readonlyPaths, []);
    assert.ok(s.process.capabilities?.bounding.includes('CAP_SYS_ADMIN'));
    assert.deepEqual(s.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
  });

  it('lets a user mount replace a default one and orders mounts parents first', () => {
    const s = buildSpec({
      ...base,
      mounts: [
        { type: 'bind', source: '/a', target: '/data/sub' },
        { type: 'tmpfs', target: '/dev/shm', tmpfsSize: 1000 },
        { type: 'bind', source: '/b', target: '/data', readonly: true, propagation: 'rslave' },
      ],
    });
    const dests = s.mounts.map((m) => m.destination);
    assert.equal(dests.filter((d) => d === '/dev/shm').length, 1);
    assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'));
    assert.deepEqual(s.mounts.find((m) => m.destination === '/data')?.options, ['rbind', 'ro', 'rslave']);
    assert.throws(() => buildSpec({ ...base, mounts: [{ type: 'bind', source: 'rel', target: '/x' }] }), { name: 'InvalidArgument' });
  });

  it('mounts its own files after a user mount of their parent: a volume on /etc or /sbin hides none of them', () => {
    const s = buildSpec({
      ...base,
      init: true,
      etcFiles: { hosts: '/c/hosts', hostname: '/c/hostname', resolvConf: '/c/resolv.conf' },
      mounts: [
        { type: 'bind', source: '/v/etc', target: '/etc' },
        { type: 'bind', source: '/v/sbin', target: '/sbin' },
      ],
    });
    const dests = s.mounts.map((m) => m.destination);
    for (const own of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']) assert.ok(dests.indexOf('/etc') < dests.indexOf(own), own);
    assert.ok(dests.indexOf('/sbin') < dests.indexOf('/sbin/docker-init'));
    const replaced = buildSpec({ ...base, etcFiles: { hosts: '/c/hosts' }, mounts: [{ type: 'bind', source: '/mine', target: '/etc/hosts' }] });
    assert.deepEqual(replaced.mounts.filter((m) => m.destination === '/etc/hosts').map((m) => m.source), ['/mine']);
  });

  it('sets the domainname through the kernel.domainname sysctl, which runc 1.1 applies', () => {
    const s = buildSpec({ ...base, hostname: 'web', domainname: 'example.test' });
    assert.equal(s.hostname, 'web');
    assert.equal(s.linux.sysctl?.['kernel.domainname'], 'example.test');
  });

  it('rejects a hostname with a shared UTS namespace, bad ulimits and bad rules', () => {
    assert.throws(() => buildSpec({ ...base, uts: 'host', hostname: 'x' }), { name: 'InvalidArgument' });
    assert.throws(() => buildSpec({ ...base, ulimits: [{ name: 'bogus', soft: 1, hard: 1 }] }), { name: 'InvalidArgument' });
    assert.throws(() => parseDeviceRule('c 1:x rwm'), { name: 'InvalidArgument' });
    assert.deepEqual(parseDeviceRule('c 10:* rw'), { allow: true, type: 'c', major: 10, access: 'rw' });
  });
});

describe('capabilitySet', () => {
  it('follows Docker cap-add/cap-drop rules', () => {
    assert.deepEqual(capabilitySet(['NET_ADMIN'], ['cap_chown']).sort(), [...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN'), 'CAP_NET_ADMIN'].sort());
    assert.deepEqual(capabilitySet(['KILL'], ['ALL']), ['CAP_KILL']);
    assert.ok(capabilitySet(['ALL'], ['SYS_ADMIN']).length > 30);
    assert.ok(!capabilitySet(['ALL'], ['SYS_ADMIN']).includes('CAP_SYS_ADMIN'));
    assert.throws(() => capabilitySet(['NOT_A_CAP']), { name: 'InvalidArgument' });
  });
});

describe('resolveUser', () => {
  let dir: string;
  let rootfs: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsuser-'));
    rootfs = await buildBusyboxRootfs(path.join(dir, 'root'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  // The groups are Docker 20.10's (checked against it with this image): the primary gid first,
  // memberships only when no group is given, then --group-add.
  it("reads names from the image's passwd and group", async () => {
    assert.deepEqual(await resolveUser(rootfs, 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 50], home: '/home/app' });
    assert.deepEqual(await resolveUser(rootfs, '1000'), { uid: 1000, gid: 1000, additionalGids: [1000, 50], home: '/home/app' });
    assert.deepEqual(await resolveUser(rootfs, 'app:staff'), { uid: 1000, gid: 50, additionalGids: [50], home: '/home/app' });
    assert.deepEqual(await resolveUser(rootfs, '1000:1000'), { uid: 1000, gid: 1000, additionalGids: [1000], home: '/home/app' });
    assert.deepEqual(await resolveUser(rootfs, '1234:99'), { uid: 1234, gid: 99, additionalGids: [99], home: '/' });
    assert.deepEqual(await resolveUser(rootfs, '1234'), { uid: 1234, gid: 0, additionalGids: [0], home: '/' });
    assert.deepEqual(await resolveUser(rootfs, undefined), { uid: 0, gid: 0, additionalGids: [0], home: '/root' });
    await assert.rejects(resolveUser(rootfs, 'ghost'), { name: 'NotFound' });
    await assert.rejects(resolveUser(rootfs, 'app:ghosts'), { name: 'NotFound' });
  });

  it('adds --group-add groups by name or number', async () => {
    assert.deepEqual((await resolveUser(rootfs, '1000:1000', ['staff', '2222'])).additionalGids, [1000, 50, 2222]);
    assert.deepEqual((await resolveUser(rootfs, 'app', ['staff'])).additionalGids, [1000, 50]);
    await assert.rejects(resolveUser(rootfs, 'app', ['ghosts']), { name: 'NotFound' });
  });

  it('follows symlinks inside the image, never out of it', async () => {
    await fsp.writeFile(path.join(rootfs, 'etc/passwd.real'), 'svc:x:77:88::/srv:/bin/sh\n');
    await fsp.rm(path.join(rootfs, 'etc/passwd'));
    await fsp.symlink('/etc/passwd.real', path.join(rootfs, 'etc/passwd'));
    assert.deepEqual(await resolveUser(rootfs, 'svc'), { uid: 77, gid: 88, additionalGids: [88], home: '/srv' });
    await fsp.rm(path.join(rootfs, 'etc/passwd'));
    await fsp.symlink('../../../../../../etc/shadow-that-is-not-there', path.join(rootfs, 'etc/passwd'));
    await assert.rejects(resolveUser(rootfs, 'root'), { name: 'NotFound' });
  });
});

describe('log lines', () => {
  it("parses conmon's k8s-file records", () => {
    assert.deepEqual(parseLogLine('2024-01-01T00:00:00.000000000+00:00 stderr P half'), {
      time: '2024-01-01T00:00:00.000000000+00:00', stream: 'stderr', partial: true, text: 'half',
    });
    assert.equal(parseLogLine('garbage'), undefined);
  });
});
