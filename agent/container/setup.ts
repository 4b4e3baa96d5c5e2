/**
 * What it takes to run a container on this host, and to undo it: the rootfs mount, the network
 * namespace and endpoints, volumes and other mounts, the generated /etc files, and the OCI spec
 * handed to the runtime. `HostEnv` implements the state machine's MachineEnv with these.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors';
import { isMountPoint } from '../../common/mount';
import { mountOverlay, unmount } from '../image/snapshotter';
import type { ImageService } from '../image/service';
import { HOST_NETWORK, NONE_NETWORK, type ConnectResult, type NetworkManager } from '../network';
import type { PortProtocol, PortRequest } from '../network/ports';
import type { Runtime } from '../runtime/runtime';
import { buildSpec, writeEtcFiles, type EtcFiles, type MountOptions, type NamespaceMode, type ResourceOptions } from '../runtime/spec';
import { resolveInRoot, resolveUser } from '../runtime/user';
import { parseSecurityOptions } from '../runtime/security';
import { blockIOWeightSupported, cgroupsPathFor } from '../runtime/cgroups';
import type { VolumeService } from '../volume';
import type { ExitInfo, MachineEnv } from './machine';
import type { ContainerRecord, EndpointRecord } from './record';
import type { FileInjection, Resources } from '../../common/rpc/engine-types';
import { traced } from '../trace';
import { logSizeLimit } from './log-config';
import { resolveLinks, type ResolvedLink } from './links';

export interface HostDeps {
  images: ImageService;
  runtime: Runtime;
  networks: NetworkManager;
  volumes: VolumeService;
  /** `<dataRoot>/containers` */
  root: string;
  /** Looks up another container (for `container:<id>` network mode and volumes_from). */
  lookup(idOrName: string): ContainerRecord | undefined;
  /** Called whenever a record changed outside a machine step (network endpoints). */
  hostResolvConf: () => Promise<string>;
}

/**
 * A record's limits in the runtime's terms: what a start puts in the OCI spec and what
 * `container update` hands a running container, so both apply the same values.
 */
export function resourceOptions(r: Resources): ResourceOptions {
  return {
    memory: r.memory || undefined,
    memorySwap: r.memory_swap || undefined,
    memoryReservation: r.memory_reservation || undefined,
    cpus: r.nano_cpus ? r.nano_cpus / 1e9 : undefined,
    cpuShares: r.cpu_shares || undefined,
    cpuQuota: r.cpu_quota || undefined,
    cpuPeriod: r.cpu_period || undefined,
    cpusetCpus: r.cpuset_cpus || undefined,
    cpusetMems: r.cpuset_mems || undefined,
    pidsLimit: r.pids_limit || undefined,
    memorySwappiness: r.memory_swappiness >= 0 ? r.memory_swappiness : undefined,
    // A weight the kernel can't apply was dropped with a warning at create.
    ...(blockIOWeightSupported() ? { blkioWeight: r.blkio_weight || undefined, blkioWeightDevice: r.blkio_weight_device } : {}),
    deviceReadBps: r.device_read_bps,
    deviceWriteBps: r.device_write_bps,
    deviceReadIops: r.device_read_iops,
    deviceWriteIops: r.device_write_iops,
    oomKillDisable: r.oom_kill_disable || undefined,
  };
}

export function containerDir(root: string, id: string): string {
  return path.join(root, id);
}

/** The hosts, hostname and resolv.conf files `writeEtcFiles` made in `dir`. */
function etcFilesOf(dir: string): EtcFiles {
  return { hosts: path.join(dir, 'hosts'), hostname: path.join(dir, 'hostname'), resolvConf: path.join(dir, 'resolv.conf') };
}

/** Where a container's secrets and configs (spec.files) live on the host, one file each. */
function injectedFilePath(root: string, id: string, index: number): string {
  return path.join(containerDir(root, id), 'files', String(index));
}

/**
 * Writes spec.files at create time with their owner and mode, so the spec stored in the record
 * needn't carry their content; `start` bind-mounts them read-only.
 */
export async function writeInjectedFiles(root: string, id: string, files: FileInjection[]): Promise<void> {
  if (files.length === 0) return;
  await fsp.mkdir(path.join(containerDir(root, id), 'files'), { mode: 0o700 });
  for (const [i, f] of files.entries()) {
    const file = injectedFilePath(root, id, i);
    await fsp.writeFile(file, f.content, { mode: 0o600 });
    await fsp.chown(file, f.uid, f.gid);
    await fsp.chmod(file, f.mode || 0o444);
  }
}

export function rootfsPath(root: string, id: string): string {
  return path.join(root, id, 'rootfs');
}

/** Mounts the container's rootfs (image layers + its own upper dir) if it isn't mounted yet. */
export async function mountRootfs(deps: HostDeps, c: ContainerRecord): Promise<string> {
  const target = rootfsPath(deps.root, c.id);
  if (await isMountPoint(target)) return target;
  const img = deps.images.store.get(c.imageId);
  if (!img) throw notFound(`container ${c.name}: its image ${c.imageId} is gone`);
  const m = deps.images.snapshots.mountsFor(c.id, img.layers.map((l) => l.diffId));
  await mountOverlay(m, target);
  return target;
}

export async function unmountRootfs(deps: HostDeps, c: ContainerRecord): Promise<void> {
  // A target not mounted (removal tears down again what the exit did) costs no exec.
  await unmount(rootfsPath(deps.root, c.id));
}

/** /etc/hosts as Docker writes it: its defaults, `--add-host`s, links, then the container's own address. */
export function hostsFile(c: ContainerRecord, links: readonly ResolvedLink[] = []): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const h of c.spec.extra_hosts) {
    const i = h.indexOf(':');
    if (i > 0) lines.push(`${h.slice(i + 1) === 'host-gateway' ? firstGateway(c) : h.slice(i + 1)}\t${h.slice(0, i)}`);
  }
  for (const l of links) lines.push(`${l.ipAddress}\t${l.names.join(' ')}`);
  const primary = Object.values(c.endpoints)[0];
  // As Docker: the FQDN (hostname, plus the domain name when set), then the bare host name.
  const fqdn = c.spec.domainname ? `${c.config.hostname}.${c.spec.domainname}` : c.config.hostname;
  const bare = fqdn.split('.')[0]!;
  if (primary?.ipAddress) lines.push(`${primary.ipAddress}\t${bare === fqdn ? fqdn : `${fqdn} ${bare}`}`);
  return lines.join('\n') + '\n';
}

function firstGateway(c: ContainerRecord): string {
  return Object.values(c.endpoints).find((e) => e.gateway)?.gateway ?? '127.0.0.1';
}

/**
 * resolv.conf: the network's embedded DNS, or the host's minus loopback resolvers. `--dns`
 * replaces the host's resolvers; behind the embedded DNS it does not (Docker's rule: the
 * container's names must still resolve), the embedded DNS forwards to them instead.
 * `--dns-search` and `--dns-option` always apply.
 */
export function resolvConf(
  c: ContainerRecord,
  fromNetwork: { nameservers: string[]; search: string[]; options: string[] } | undefined,
  hostText: string,
): string {
  let nameservers: string[] = [];
  let search: string[] = [];
  let options: string[] = [];
  if (fromNetwork) {
    ({ nameservers, search, options } = fromNetwork);
    nameservers = [...nameservers];
  } else {
    for (const line of hostText.split('\n')) {
      const [key, ...rest] = line.trim().split(/\s+/);
      if (key === 'nameserver' && rest[0] && !rest[0].startsWith('127.') && rest[0] !== '::1') nameservers.push(rest[0]);
      else if (key === 'search') search = rest;
      else if (key === 'options') options = rest;
    }
  }
  if (c.spec.dns.length > 0 && !fromNetwork) nameservers = c.spec.dns;
  if (c.spec.dns_search.length > 0) search = c.spec.dns_search;
  if (c.spec.dns_options.length > 0) {
    // The embedded DNS's ndots:0 stays unless the container sets its own.
    const keep = fromNetwork && !c.spec.dns_options.some((o) => o.startsWith('ndots:')) ? options.filter((o) => o.startsWith('ndots:')) : [];
    options = [...keep, ...c.spec.dns_options];
  }
  const out = [
    ...(search.length > 0 ? [`search ${search.join(' ')}`] : []),
    ...nameservers.map((n) => `nameserver ${n}`),
    ...(options.length > 0 ? [`options ${options.join(' ')}`] : []),
  ];
  return out.join('\n') + '\n';
}

/**
 * The process's environment: the image's, overridden by the container's, plus Docker's extras.
 * Link variables come first: the container's own values replace them, as in Docker.
 */
export function processEnv(c: ContainerRecord, linkEnv: readonly string[] = []): string[] {
  const env = new Map<string, string>();
  const put = (kv: string) => {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  };
  linkEnv.forEach(put);
  c.config.env.forEach(put);
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  env.set('HOSTNAME', c.config.hostname);
  if (c.spec.tty && !env.has('TERM')) env.set('TERM', 'xterm');
  return [...env.entries()].map(([k, v]) => `${k}=${v}`);
}

/** Docker's environment order: image env, then the container's `-e` values replace by key. */
export function mergeEnv(base: string[], overrides: string[]): string[] {
  const env = new Map<string, string>();
  for (const kv of [...base, ...overrides]) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
    else if (i === -1 && kv) env.delete(kv);
  }
  return [...env.entries()].map(([k, v]) => `${k}=${v}`);
}

/** What a container record keeps of one network connection. */
export function endpointRecord(result: ConnectResult, aliases: string[]): EndpointRecord {
  return {
    networkId: result.networkId,
    networkName: result.networkName,
    endpointId: result.endpointId ?? '',
    ipAddress: result.ipAddress ?? '',
    prefixLength: result.prefixLength ?? 0,
    gateway: result.gateway ?? '',
    macAddress: result.macAddress ?? '',
    aliases,
  };
}

export class HostEnv implements MachineEnv {
  /** Containers whose network setupNetwork is making: their connects are not "later joins". */
  private readonly settingUp = new Set<string>();

  constructor(private readonly deps: HostDeps) {
    deps.networks.onConnect?.((id, result) => this.joined(id, result));
  }

  /**
   * A running container joined one more network (`network connect`): like Docker, it gets the
   * embedded DNS server when that network has one and resolv.conf named none (default bridge),
   * and its published ports when this network became its gateway (all others were internal).
   */
  private async joined(id: string, result: ConnectResult): Promise<void> {
    if (this.settingUp.has(id)) return;
    const c = this.deps.lookup(id);
    if (!c || c.id !== id) return;
    if (result.ports.length > 0 && c.ports.length === 0) {
      c.ports = result.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort }));
    }
    if (!result.dns) return;
    const file = path.join(containerDir(this.deps.root, c.id), 'etc', 'resolv.conf');
    const current = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (current === undefined || current.includes('options ndots:0')) return;
    // In place, not renamed: the file is bind-mounted into the container by inode.
    await fsp.writeFile(file, resolvConf(c, result.dns, ''));
  }

  async start(c: ContainerRecord): Promise<{ pid: number }> {
    const d = this.deps;
    const undo: Array<() => Promise<void>> = [];
    try {
      // The rootfs, the sandbox and the clean-up of a leftover runtime container of an earlier
      // attempt (e.g. after a crash) don't depend on each other: made side by side. All of them
      // settle before a failure is thrown, so `undo` holds everything that was made.
      const [rootfs, network, hostResolv] = await allOrFirstError([
        traced(c.id, 'mount rootfs', () => mountRootfs(d, c)).then((p) => {
          undo.push(() => unmountRootfs(d, c));
          return p;
        }),
        traced(c.id, 'network', () => this.setupNetwork(c, undo)),
        d.hostResolvConf(),
        traced(c.id, 'delete leftover', () => d.runtime.delete(c.id, { force: true }).catch(() => undefined)),
      ] as const);
      const mounts = await this.setupMounts(c, rootfs, undo);
      const links = resolveLinks(c, d.lookup);
      const dir = containerDir(d.root, c.id);
      // A container on another's network namespace sees that one's names too (Docker's
      // initializeNetworking): its hosts, resolv.conf and hostname files, bound as they are.
      const etc = network.shareEtcOf
        ? etcFilesOf(path.join(containerDir(d.root, network.shareEtcOf), 'etc'))
        : await writeEtcFiles(path.join(dir, 'etc'), {
            hosts: hostsFile(c, links),
            hostname: c.config.hostname + '\n',
            resolvConf: resolvConf(c, network.dns, hostResolv),
          });
      const args = [...c.config.entrypoint, ...c.config.cmd];
      if (args.length === 0) throw invalidArgument('no command specified');
      const user = await resolveUser(rootfs, c.config.user || undefined, c.spec.group_add);
      const r = c.spec.resources;
      const security = parseSecurityOptions(c.spec.security_opt);
      const spec = buildSpec({
        rootfs,
        args,
        env: processEnv(c, links.flatMap((l) => l.env)),
        cwd: c.config.workingDir || '/',
        user,
        // The host's UTS namespace keeps the host's names.
        hostname: c.spec.uts_mode === 'host' ? undefined : c.config.hostname,
        domainname: (c.spec.uts_mode !== 'host' && c.spec.domainname) || undefined,
        uts: c.spec.uts_mode === 'host' ? 'host' : undefined,
        terminal: c.spec.tty,
        readonlyRootfs: c.spec.read_only,
        network: network.mode,
        pid: namespaceOf(c.spec.pid_mode, d, 'pid'),
        ipc: namespaceOf(c.spec.ipc_mode, d, 'ipc'),
        cgroupns: c.spec.cgroupns_mode === 'private' ? 'private' : 'host',
        cgroupsPath: c.spec.cgroup_parent ? cgroupsPathFor(c.id, c.spec.cgroup_parent) : undefined,
        capAdd: c.spec.cap_add,
        capDrop: c.spec.cap_drop,
        privileged: c.spec.privileged,
        ulimits: c.spec.ulimits,
        sysctls: c.spec.sysctls,
        oomScoreAdj: c.spec.oom_score_adj || undefined,
        noNewPrivileges: security.noNewPrivileges,
        seccompProfile: security.seccompProfile,
        unmaskSystemPaths: security.unmaskSystemPaths,
        resources: resourceOptions(r),
        shmSize: r.shm_size || undefined,
        mounts,
        init: c.spec.init,
        devices: c.spec.devices,
        deviceCgroupRules: c.spec.device_cgroup_rules,
        etcFiles: etc,
        annotations: { ...(c.spec.annotations ?? {}), 'org.tscompose.container.name': c.name },
      });
      const created = await traced(c.id, 'runtime create', () => d.runtime.create({
        id: c.id,
        spec,
        name: c.name,
        logPath: c.logPath,
        logSizeMax: logSizeLimit({ driver: c.spec.log_driver, options: c.spec.log_options }),
        stdin: c.spec.open_stdin,
        // As Docker, stdin closes with the first attach only without a terminal: `run -it`, then
        // Ctrl-P Ctrl-Q, then `attach` must find the shell still reading.
        keepStdinOpen: !c.spec.stdin_once || c.spec.tty,
      }));
      undo.push(() => d.runtime.delete(c.id, { force: true }));
      await traced(c.id, 'runtime start', () => d.runtime.start(c.id));
      // The pid is the one create reported: start runs that process, asking runc again costs an exec.
      return { pid: created.pid };
    } catch (err) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      throw err;
    }
  }

  private async setupNetwork(
    c: ContainerRecord,
    undo: Array<() => Promise<void>>,
  ): Promise<{ mode: NamespaceMode; dns?: { nameservers: string[]; search: string[]; options: string[] }; shareEtcOf?: string }> {
    const d = this.deps;
    c.endpoints = {};
    c.ports = [];
    if (c.networkMode === 'host') {
      // Recorded like any network's endpoint: Docker lists the container on `host` and tells
      // of its joining and leaving it.
      c.endpoints[HOST_NETWORK] = endpointRecord(await d.networks.connect(c.id, '', HOST_NETWORK), []);
      return { mode: 'host' };
    }
    if (c.networkMode === 'container') {
      const otherName = c.spec.network_mode.slice('container:'.length);
      const other = d.lookup(otherName);
      if (!other || other.state.status !== 'running' || !other.netnsPath)
        throw failedPrecondition(`cannot join network of a non running container: ${otherName}`);
      c.netnsPath = other.netnsPath;
      // Its host names are the other's, as in Docker; its UTS namespace stays its own.
      c.config.hostname = other.config.hostname;
      return { mode: { path: other.netnsPath }, shareEtcOf: other.id };
    }
    // A detach that failed when the last attempt ended (its error is not fatal there) left an
    // endpoint behind: it is retried here, else the connect below refuses the same name.
    await d.networks.disconnectAll(c.id);
    const removeSandbox = async () => {
      await d.networks.removeSandbox(c.id).catch(() => undefined);
      c.netnsPath = '';
    };
    const portRequests = portRequestsOf(c);
    if (c.networkMode === 'bridge' && c.networks.length === 1) {
      // The common case (default network, nothing published, no fixed address): a sandbox
      // made and attached beforehand, if the network manager has one ready.
      const net = c.networks[0]!;
      const att = c.spec.networks.find((n) => n.network === net);
      this.settingUp.add(c.id);
      try {
        const ready = await traced(c.id, 'take pooled sandbox', () => d.networks.takeSandbox(c.id, net, {
          name: c.name,
          aliases: [...(att?.aliases ?? []), c.id.slice(0, 12)],
          ipv4Address: att?.ipv4_address || undefined,
          macAddress: macAddressOn(c, 0),
          portMappings: portRequests,
        }));
        if (ready) {
          c.netnsPath = ready.netnsPath;
          undo.push(removeSandbox);
          c.endpoints[net] = endpointRecord(ready.result, att?.aliases ?? []);
          return { mode: { path: ready.netnsPath }, dns: ready.result.dns };
        }
      } finally {
        this.settingUp.delete(c.id);
      }
    }
    const netns = await traced(c.id, 'netns create', () => d.networks.netns.create(c.id));
    c.netnsPath = netns;
    undo.push(removeSandbox);
    if (c.networkMode === 'none') {
      c.endpoints[NONE_NETWORK] = endpointRecord(await d.networks.connect(c.id, netns, NONE_NETWORK), []);
      return { mode: { path: netns } };
    }
    let dns: { nameservers: string[]; search: string[]; options: string[] } | undefined;
    this.settingUp.add(c.id);
    try {
      for (const [index, net] of c.networks.entries()) {
        const att = c.spec.networks.find((n) => n.network === net);
        // Every connect offers the ports: the network manager publishes them on the container's
        // gateway endpoint, its first network that is not internal, and on no other.
        const result = await traced(c.id, `connect ${net}`, () => d.networks.connect(c.id, netns, net, {
          name: c.name,
          aliases: [...(att?.aliases ?? []), c.id.slice(0, 12)],
          ipv4Address: att?.ipv4_address || undefined,
          macAddress: macAddressOn(c, index),
          portMappings: portRequests,
          dnsServers: c.spec.dns,
        }));
        const ep = endpointRecord(result, att?.aliases ?? []);
        c.endpoints[net] = ep;
        if (result.ports.length > 0) c.ports = result.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort }));
        dns ??= result.dns;
      }
    } finally {
      this.settingUp.delete(c.id);
    }
    return { mode: { path: netns }, dns };
  }

  private async setupMounts(c: ContainerRecord, rootfs: string, undo: Array<() => Promise<void>>): Promise<MountOptions[]> {
    const d = this.deps;
    const out: MountOptions[] = [];
    for (const m of c.mounts) {
      if (m.type === 'tmpfs') {
        out.push({ type: 'tmpfs', target: m.target, readonly: m.readOnly, tmpfsSize: m.tmpfsSize, tmpfsMode: m.tmpfsMode, options: m.tmpfsOptions });
      } else if (m.type === 'bind') {
        out.push({ type: 'bind', source: m.source, target: m.target, readonly: m.readOnly, propagation: m.propagation });
      } else {
        const hostPath = await d.volumes.acquire(m.source, c.id);
        undo.push(() => d.volumes.release(m.source, c.id));
        m.hostPath = hostPath;
        const source = m.subpath ? await volumeSubdirectory(m.source, hostPath, m.subpath) : hostPath;
        out.push({ type: 'bind', source, target: m.target, readonly: m.readOnly });
      }
    }
    // After the volumes, so a secret may sit inside a mounted directory.
    for (const [i, f] of c.spec.files.entries()) {
      out.push({ type: 'bind', source: injectedFilePath(d.root, c.id, i), target: f.target, readonly: true });
    }
    void rootfs;
    return out;
  }

  async exitOf(c: ContainerRecord): Promise<ExitInfo | undefined> {
    let exit;
    try {
      exit = await this.deps.runtime.exitStatus(c.id);
    } catch {
      // The runtime has no such container (its state was lost, e.g. a reboot): it is not running.
      return { exitCode: c.state.exitCode || 255, oomKilled: false, finishedAt: Date.now() };
    }
    if (!exit) return undefined;
    return {
      exitCode: exit.exitCode,
      oomKilled: exit.oomKilled,
      finishedAt: exit.finishedAt ? Date.parse(exit.finishedAt) : Date.now(),
    };
  }

  /**
   * Runtime container, sandbox, volumes and rootfs are released side by side: the process is gone,
   * so none of them needs another (the sandbox's endpoints go before the sandbox itself).
   */
  async teardown(c: ContainerRecord): Promise<void> {
    const d = this.deps;
    const ownSandbox = c.networkMode !== 'host' && c.networkMode !== 'container';
    await allOrFirstError([
      traced(c.id, 'teardown runtime delete', () => d.runtime.delete(c.id, { force: true }).catch(() => undefined)),
      ownSandbox ? traced(c.id, 'teardown sandbox', () => d.networks.removeSandbox(c.id).catch(() => undefined)) : Promise.resolve(),
      ...c.mounts.filter((m) => m.type === 'volume').map((m) => d.volumes.release(m.source, c.id).catch(() => undefined)),
      traced(c.id, 'teardown umount rootfs', () => unmountRootfs(d, c)),
    ]);
    if (ownSandbox && c.netnsPath) c.lastNetnsPath = c.netnsPath;
    c.netnsPath = '';
  }

  pause(c: ContainerRecord): Promise<void> {
    return this.deps.runtime.pause(c.id);
  }

  resume(c: ContainerRecord): Promise<void> {
    return this.deps.runtime.resume(c.id);
  }

  async kill(c: ContainerRecord): Promise<void> {
    await this.deps.runtime.kill(c.id, 'SIGKILL').catch(() => undefined);
    await this.deps.runtime.wait(c.id).catch(() => undefined);
  }

  async remove(c: ContainerRecord): Promise<void> {
    const d = this.deps;
    await this.teardown(c);
    await traced(c.id, 'remove snapshot', () => d.images.snapshots.removeActive(c.id));
    await traced(c.id, 'remove dir', () => fsp.rm(containerDir(d.root, c.id), { recursive: true, force: true }));
  }
}

/** Like Promise.all, but waits for every promise to settle before rejecting with the first error. */
async function allOrFirstError<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

function namespaceOf(mode: string, d: HostDeps, kind: string): NamespaceMode | undefined {
  if (!mode || mode === 'private' || mode === 'shareable') return undefined;
  if (mode === 'host') return 'host';
  if (mode.startsWith('container:')) {
    const other = d.lookup(mode.slice(10));
    if (!other || other.state.status !== 'running') throw failedPrecondition(`cannot join ${kind} namespace of a non running container: ${mode.slice(10)}`);
    return { path: `/proc/${other.state.pid}/ns/${kind}` };
  }
  throw invalidArgument(`invalid ${kind} mode: ${mode}`);
}

/** Published ports: `-p` bindings plus, with `-P`, every exposed port on a random host port. */
function portRequestsOf(c: ContainerRecord): PortRequest[] {
  const out: PortRequest[] = c.spec.ports.map((p) => ({
    containerPort: p.container_port,
    protocol: (p.protocol || 'tcp') as PortProtocol,
    hostIp: p.host_ip || undefined,
    hostPort: p.host_port || undefined,
    hostPortEnd: p.host_port_end || undefined,
  }));
  if (c.spec.publish_all) {
    for (const e of c.config.exposedPorts) {
      const [port, proto] = e.split('/');
      const containerPort = Number(port);
      const protocol = (proto || 'tcp') as PortProtocol;
      if (!out.some((o) => o.containerPort === containerPort && o.protocol === protocol)) out.push({ containerPort, protocol, hostIp: undefined, hostPort: undefined });
    }
  }
  return out;
}

/**
 * The MAC address asked for the container's `index`th network: its own (`--network
 * name=x,mac-address=…`, Compose's `networks.x.mac_address`), else for the first network the
 * container's (`--mac-address`, Compose's service-level `mac_address`), as Docker's.
 */
function macAddressOn(c: ContainerRecord, index: number): string | undefined {
  const att = c.spec.networks.find((n) => n.network === c.networks[index]);
  return att?.mac_address || (index === 0 ? c.spec.mac_address : '') || undefined;
}

/**
 * Where a volume's subpath is on the host. Symlinks in the volume resolve inside it, as if it
 * were the root, so that a container cannot point one at the host's files; the subpath must
 * exist, as Docker requires (it is not created).
 */
async function volumeSubdirectory(volume: string, hostPath: string, subpath: string): Promise<string> {
  const resolved = await resolveInRoot(hostPath, subpath);
  try {
    await fsp.stat(resolved);
  } catch (err) {
    throw invalidArgument(`volume ${volume}: cannot access subpath ${subpath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return resolved;
}
