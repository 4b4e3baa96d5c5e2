import { promises as fsp, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { failedPrecondition, invalidArgument } from '../../common/errors';
import { writeFileAtomic } from '../../common/fsutil';
import { dockerSeccompToOci } from './security';
import type { OciBlockIO, OciDevice, OciDeviceRate, OciDeviceRule, OciMount, OciNamespace, OciNamespaceType, OciResources, OciSpec, OciUser } from './oci';

/** Every capability Linux knows, by bit number; the privileged set is bounded by cap_last_cap. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** Docker's default capability set; as a CapEff mask it is 0x00000000a80425fb. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export const DEFAULT_MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
/** Where Docker puts its init inside the container; catatonit is bound there. */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';
export const DEFAULT_INIT_BINARY = '/usr/bin/catatonit';

/**
 * Docker's device cgroup: deny all, then the implicit OCI devices (null, zero, full, random,
 * urandom, tty, console, ptmx, pts) and no tun/tap.
 */
const DEFAULT_DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

/** How a namespace is provided: a fresh one, the host's, or one joined by path (`/proc/<pid>/ns/net`, a bind-mounted netns). */
export type NamespaceMode = 'private' | 'host' | { path: string };

/** A user mount, in Docker's terms. */
export interface MountOptions {
  type: 'bind' | 'tmpfs';
  /** Host path for bind mounts; ignored for tmpfs. */
  source?: string;
  target: string;
  readonly?: boolean;
  /** Bind mounts: recursive (rbind, Docker's default) or not. */
  recursive?: boolean;
  /** Bind mounts: rprivate (default), rshared, rslave, private, shared, slave. */
  propagation?: string;
  /** tmpfs: size in bytes and mode. */
  tmpfsSize?: number;
  tmpfsMode?: number;
  /** Extra raw mount(8) options appended as given. */
  options?: string[];
}

export interface Ulimit {
  /** Docker's name, e.g. `nofile`, `nproc`, `core`. */
  name: string;
  soft: number;
  hard: number;
}

/** A block device on the host and a rate (or a weight) for it. */
export interface DeviceRateOption {
  path: string;
  rate: number;
}

export interface ResourceOptions {
  /** Memory limit in bytes. */
  memory?: number;
  /** Memory plus swap in bytes as Docker's --memory-swap; -1 unlimited; unset = twice memory. */
  memorySwap?: number;
  memoryReservation?: number;
  /** Docker's --cpus: fractional CPUs, turned into a CFS quota over a 100 ms period. */
  cpus?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** Maximum number of processes; 0 or negative means unlimited. */
  pidsLimit?: number;
  blkioWeight?: number;
  /** 0 to 100; unset leaves the kernel's. */
  memorySwappiness?: number;
  /** Per-device weights and limits, each device named by its host path (see blockDeviceRates). */
  blkioWeightDevice?: DeviceRateOption[];
  deviceReadBps?: DeviceRateOption[];
  deviceWriteBps?: DeviceRateOption[];
  deviceReadIops?: DeviceRateOption[];
  deviceWriteIops?: DeviceRateOption[];
  /** The OOM killer spares the container's processes (cgroup v1 only). */
  oomKillDisable?: boolean;
}

/** Files generated per container and bound over the image's own. */
export interface EtcFiles {
  hosts?: string;
  hostname?: string;
  resolvConf?: string;
}

export interface ContainerSpecOptions {
  /** Absolute path of the container's mounted root filesystem. */
  rootfs: string;
  args: string[];
  env?: string[];
  cwd?: string;
  user?: OciUser;
  hostname?: string;
  domainname?: string;
  terminal?: boolean;
  readonlyRootfs?: boolean;
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  /** Docker's --cgroupns: `private` gives the container a cgroup namespace (its cgroup is its root). */
  cgroupns?: 'host' | 'private';
  uts?: NamespaceMode;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  ulimits?: Ulimit[];
  sysctls?: Record<string, string>;
  oomScoreAdj?: number;
  noNewPrivileges?: boolean;
  resources?: ResourceOptions;
  /** Size of /dev/shm in bytes (Docker's --shm-size, default 64 MiB). */
  shmSize?: number;
  mounts?: MountOptions[];
  /** Extra device cgroup rules in Docker's `c 1:3 rwm` / `b 8:* r` syntax. */
  deviceCgroupRules?: string[];
  /** Host devices in Docker's `--device` syntax (see mappedDevices). */
  devices?: string[];
  /** A Docker seccomp profile's JSON (see dockerSeccompToOci); none runs unfiltered. */
  seccompProfile?: string;
  /** `--security-opt systempaths=unconfined`: nothing of /proc and /sys masked or read-only. */
  unmaskSystemPaths?: boolean;
  /** Run catatonit as PID 1 in front of the process, as `docker run --init` does with tini. */
  init?: boolean;
  initBinary?: string;
  /** Paths of generated /etc files (see writeEtcFiles) to bind into the container. */
  etcFiles?: EtcFiles;
  cgroupsPath?: string;
  annotations?: Record<string, string>;
}

/** Builds config.json for one container from Docker-style options, with Docker's defaults. */
export function buildSpec(o: ContainerSpecOptions): OciSpec {
  if (!path.isAbsolute(o.rootfs)) throw invalidArgument(`runtime: rootfs ${o.rootfs} is not an absolute path`);
  if (o.args.length === 0) throw invalidArgument('runtime: no command specified');
  const privileged = o.privileged === true;
  const caps = privileged ? availableCapabilities() : capabilitySet(o.capAdd, o.capDrop);

  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  addNamespace(namespaces, 'network', o.network ?? 'private');
  addNamespace(namespaces, 'uts', o.uts ?? 'private');
  addNamespace(namespaces, 'pid', o.pid ?? 'private');
  addNamespace(namespaces, 'ipc', o.ipc ?? 'private');
  if (o.cgroupns === 'private') namespaces.push({ type: 'cgroup' });
  const privateUts = namespaces.some((n) => n.type === 'uts' && !n.path);
  if (!privateUts && (o.hostname || o.domainname)) {
    throw invalidArgument('runtime: hostname cannot be set when the UTS namespace is shared');
  }

  const env = [...(o.env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH_ENV);
  if (o.hostname && !env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${o.hostname}`);
  if (o.terminal && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');

  let args = [...o.args];
  const mounts = defaultMounts(o.shmSize ?? DEFAULT_SHM_SIZE, privileged, o.ipc ?? 'private');
  // The container's own files go with the user's mounts, deepest last, as Docker sorts them: a
  // volume on /etc or /sbin must not hide /etc/hosts or the init binary mounted below it.
  const ownFiles: OciMount[] = [];
  if (o.init) {
    args = [INIT_PATH_IN_CONTAINER, '--', ...args];
    ownFiles.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: o.initBinary ?? DEFAULT_INIT_BINARY, options: ['bind', 'ro'] });
  }
  const etc = o.etcFiles ?? {};
  for (const [dest, src] of [
    ['/etc/hosts', etc.hosts],
    ['/etc/hostname', etc.hostname],
    ['/etc/resolv.conf', etc.resolvConf],
  ] as const) {
    if (src) ownFiles.push({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate', o.readonlyRootfs ? 'ro' : 'rw'] });
  }
  const userMounts = [...(o.mounts ?? [])].map(toOciMount);
  // A user mount over a default destination (e.g. /dev/shm, /etc/hosts) replaces the default.
  const userTargets = new Set(userMounts.map((m) => m.destination));
  const notReplaced = (m: OciMount) => !userTargets.has(m.destination);
  const allMounts = [...mounts.filter(notReplaced), ...sortByDepth([...ownFiles.filter(notReplaced), ...userMounts])];

  const sysctl: Record<string, string> = {};
  if (namespaces.some((n) => n.type === 'network')) {
    // Docker's defaults for every network mode but host: ports below 1024 and ping need no
    // capability. A joined namespace (the CNI sandbox, another container's) gets them too.
    sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
    sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
  }
  // runc 1.1 ignores the spec's `domainname`; the sysctl has the same effect as setdomainname(2),
  // and is how Docker sets it.
  if (privateUts && o.domainname) sysctl['kernel.domainname'] = o.domainname;
  Object.assign(sysctl, o.sysctls ?? {});

  const mapped = mappedDevices(o.devices ?? []);
  const deviceRules = privileged
    ? [{ allow: true, access: 'rwm' } satisfies OciDeviceRule]
    : [...DEFAULT_DEVICE_RULES, ...(o.deviceCgroupRules ?? []).map(parseDeviceRule), ...mapped.rules];
  const devices = privileged ? hostDevices().filter((h) => !mapped.devices.some((m) => m.path === h.path)) : [];
  devices.push(...mapped.devices);

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: o.terminal ?? false,
      user: o.user ?? { uid: 0, gid: 0 },
      args,
      env,
      cwd: o.cwd || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: (o.ulimits ?? []).map((u) => ({ type: rlimitName(u.name), soft: u.soft, hard: u.hard })),
      noNewPrivileges: o.noNewPrivileges ?? false,
      ...(o.oomScoreAdj !== undefined ? { oomScoreAdj: o.oomScoreAdj } : {}),
    },
    root: { path: o.rootfs, readonly: o.readonlyRootfs ?? false },
    ...(privateUts && o.hostname ? { hostname: o.hostname } : {}),
    mounts: allMounts,
    ...(o.annotations ? { annotations: o.annotations } : {}),
    linux: {
      namespaces,
      devices,
      resources: { devices: deviceRules, ...ociResources(o.resources) },
      ...(o.cgroupsPath ? { cgroupsPath: o.cgroupsPath } : {}),
      sysctl,
      maskedPaths: privileged || o.unmaskSystemPaths ? [] : [...DEFAULT_MASKED_PATHS],
      readonlyPaths: privileged || o.unmaskSystemPaths ? [] : [...DEFAULT_READONLY_PATHS],
      // Docker runs a privileged container without a filter, whatever the profile.
      ...(o.seccompProfile && !privileged ? { seccomp: dockerSeccompToOci(o.seccompProfile, { capabilities: caps, arch: process.arch }) } : {}),
    },
  };
  return spec;
}

/** Directories of /dev that hold no device nodes to pass on, or that the container mounts itself. */
const SKIPPED_DEV_DIRS = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/.lxc', '/dev/.udev', '/dev/fd']);
const DEFAULT_DEV_NODES = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/console', '/dev/ptmx']);

/**
 * The host's device nodes, which Docker gives a privileged container. Sync like the rest of
 * buildSpec; /dev is small and on a memory file system.
 */
export function hostDevices(dir = '/dev'): OciDevice[] {
  return devicesUnder(dir, dir, (p) => SKIPPED_DEV_DIRS.has(p) || DEFAULT_DEV_NODES.has(p));
}

/** The device nodes below `dir`, each at its path with `hostPrefix` replaced by `containerPrefix`. */
function devicesUnder(dir: string, containerPrefix: string, skip: (hostPath: string) => boolean = () => false, hostPrefix = dir): OciDevice[] {
  const out: OciDevice[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (skip(p)) continue;
    if (e.isDirectory()) {
      out.push(...devicesUnder(p, containerPrefix, skip, hostPrefix));
      continue;
    }
    if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
    const node = deviceNode(p, path.join(containerPrefix, path.relative(hostPrefix, p)));
    if (node) out.push(node);
  }
  return out;
}

/** The node at `hostPath` as the OCI spec describes it, at `containerPath`; undefined if it isn't one. */
function deviceNode(hostPath: string, containerPath: string): OciDevice | undefined {
  let st: import('node:fs').BigIntStats;
  try {
    st = statSync(hostPath, { bigint: true });
  } catch {
    return undefined; // a node that vanished while walking
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
  return {
    type: st.isBlockDevice() ? 'b' : 'c',
    path: containerPath,
    major: Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn)),
    minor: Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn)),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** Rates per block device, each named by its host path, as the major:minor the kernel takes. */
export function blockDeviceRates(rates: readonly DeviceRateOption[]): OciDeviceRate[] {
  return rates.map(({ path: p, rate }) => {
    const node = deviceNode(p, p);
    if (!node || node.type !== 'b') throw invalidArgument(`runtime: ${p} is not a block device`);
    if (!Number.isInteger(rate) || rate < 0) throw invalidArgument(`runtime: invalid rate ${rate} for ${p}`);
    return { major: node.major, minor: node.minor, rate };
  });
}

/**
 * Docker's `--device HOST[:CONTAINER][:PERMISSIONS]` (Compose's `devices`): the node (or every
 * node below a directory) appears at its container path, and the device cgroup allows it with
 * the permissions, `rwm` by default. Errors name the device as Docker's do.
 */
export function mappedDevices(values: readonly string[]): { devices: OciDevice[]; rules: OciDeviceRule[] } {
  const devices: OciDevice[] = [];
  const rules: OciDeviceRule[] = [];
  for (const value of values) {
    if (!value.startsWith('/') && value.includes('=')) {
      throw invalidArgument(`runtime: device ${JSON.stringify(value)}: CDI devices are not supported; give the device node's path`);
    }
    const parts = value.split(':');
    const hostPath = parts[0] ?? '';
    let containerPath = hostPath;
    let access = 'rwm';
    if (parts.length === 2) {
      if (parts[1]!.startsWith('/')) containerPath = parts[1]!;
      else access = parts[1]!;
    } else if (parts.length === 3) {
      containerPath = parts[1]!;
      access = parts[2]!;
    }
    if (!path.isAbsolute(hostPath) || !path.isAbsolute(containerPath) || parts.length > 3 || !/^[rwm]{1,3}$/.test(access)) {
      throw invalidArgument(`runtime: invalid device specification: ${value}`);
    }
    const gathering = `error gathering device information while adding custom device ${JSON.stringify(hostPath)}`;
    let st: import('node:fs').Stats;
    try {
      st = statSync(hostPath);
    } catch (err) {
      throw invalidArgument(`${gathering}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    const found = st.isDirectory() ? devicesUnder(hostPath, containerPath) : [deviceNode(hostPath, containerPath)].filter((d): d is OciDevice => !!d);
    if (found.length === 0 && !st.isDirectory()) throw invalidArgument(`${gathering}: not a device node`);
    for (const d of found) {
      devices.push(d);
      rules.push({ allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major, minor: d.minor, access });
    }
  }
  return { devices, rules };
}

function addNamespace(list: OciNamespace[], type: OciNamespaceType, mode: NamespaceMode): void {
  if (mode === 'host') return;
  if (mode === 'private') list.push({ type });
  else list.push({ type, path: mode.path });
}

function defaultMounts(shmSize: number, privileged: boolean, ipc: NamespaceMode): OciMount[] {
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  // With the host's IPC namespace the container sees the host's /dev/shm, as Docker does.
  if (ipc === 'host') {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  } else {
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] });
  }
  return mounts;
}

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

function toOciMount(m: MountOptions): OciMount {
  if (!path.posix.isAbsolute(m.target)) throw invalidArgument(`runtime: mount target ${m.target} is not absolute`);
  if (m.type === 'bind') {
    if (!m.source || !path.isAbsolute(m.source)) throw invalidArgument(`runtime: bind source ${m.source ?? ''} is not absolute`);
    const propagation = m.propagation ?? 'rprivate';
    if (!PROPAGATIONS.has(propagation)) throw invalidArgument(`runtime: invalid mount propagation ${propagation}`);
    return {
      destination: m.target,
      type: 'bind',
      source: m.source,
      options: [m.recursive === false ? 'bind' : 'rbind', m.readonly ? 'ro' : 'rw', propagation, ...(m.options ?? [])],
    };
  }
  const options = ['nosuid', 'nodev', 'noexec'];
  if (m.readonly) options.push('ro');
  if (m.tmpfsSize !== undefined) options.push(`size=${m.tmpfsSize}`);
  if (m.tmpfsMode !== undefined) options.push(`mode=${m.tmpfsMode.toString(8)}`);
  return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: [...options, ...(m.options ?? [])] };
}

function sortByDepth(mounts: OciMount[]): OciMount[] {
  const depth = (m: OciMount) => path.posix.normalize(m.destination).split('/').filter(Boolean).length;
  return mounts.sort((a, b) => depth(a) - depth(b));
}

export function normalizeCapability(name: string): string {
  const up = name.trim().toUpperCase();
  return up === 'ALL' || up.startsWith('CAP_') ? up : `CAP_${up}`;
}

/** Docker's cap-add/cap-drop rules: ALL in add starts from everything, ALL in drop from nothing. */
export function capabilitySet(capAdd: string[] = [], capDrop: string[] = []): string[] {
  const add = capAdd.map(normalizeCapability);
  const drop = capDrop.map(normalizeCapability);
  for (const c of [...add, ...drop]) {
    if (c !== 'ALL' && !(ALL_CAPABILITIES as readonly string[]).includes(c)) {
      throw invalidArgument(`runtime: unknown capability ${JSON.stringify(c)}`);
    }
  }
  const all = availableCapabilities();
  const unavailable = add.find((c) => c !== 'ALL' && !all.includes(c));
  if (unavailable) throw failedPrecondition(`runtime: capability ${unavailable} is not available on this host`);
  let set: string[];
  if (add.includes('ALL')) set = all.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) set = add;
  else set = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c) && all.includes(c)), ...add.filter((c) => !drop.includes(c))];
  return [...new Set(set)];
}

let cachedAvailable: string[] | undefined;

/**
 * The capabilities this process may hand out: its own bounding set, not every name the kernel
 * knows. A host (or an outer container) may have dropped some, and asking runc for one of those
 * fails the whole create with EPERM, as Podman also avoids.
 */
export function availableCapabilities(): string[] {
  if (!cachedAvailable) {
    let mask = 0n;
    try {
      // Synchronous on purpose: one tiny procfs read, once per process, keeps buildSpec pure and sync.
      const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      mask = hex ? BigInt(`0x${hex}`) : 0n;
    } catch {
      mask = (1n << BigInt(ALL_CAPABILITIES.length)) - 1n;
    }
    cachedAvailable = ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
  }
  return cachedAvailable;
}

const RLIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

function rlimitName(name: string): string {
  const r = RLIMITS[name.toLowerCase()];
  if (!r) throw invalidArgument(`runtime: invalid ulimit type ${name}`);
  return r;
}

/** Parses Docker's device cgroup rule syntax: `<a|b|c> <major|*>:<minor|*> [rwm]`. */
export function parseDeviceRule(rule: string): OciDeviceRule {
  const m = /^([abc])\s+(\d+|\*):(\d+|\*)\s+([rwm]{1,3})$/.exec(rule.trim());
  if (!m) throw invalidArgument(`runtime: invalid device cgroup rule ${JSON.stringify(rule)}`);
  const [, type, major, minor, access] = m;
  return {
    allow: true,
    type: type as 'a' | 'b' | 'c',
    ...(major !== '*' ? { major: Number(major) } : {}),
    ...(minor !== '*' ? { minor: Number(minor) } : {}),
    access: access as string,
  };
}

const CFS_PERIOD_US = 100_000;

/** Docker-style resource options as OCI `linux.resources` (without device rules). */
export function ociResources(r: ResourceOptions | undefined): Omit<OciResources, 'devices'> {
  if (!r) return {};
  const out: Omit<OciResources, 'devices'> = {};
  if (r.memory !== undefined || r.memoryReservation !== undefined || r.memorySwappiness !== undefined || r.oomKillDisable) {
    const memory: NonNullable<typeof out.memory> = {};
    if (r.memory !== undefined && r.memory > 0) {
      if (r.memory < 6 * 1024 * 1024) throw invalidArgument('runtime: minimum memory limit allowed is 6MB');
      memory.limit = r.memory;
      const swap = r.memorySwap ?? r.memory * 2;
      if (swap !== -1 && swap < r.memory) throw invalidArgument('runtime: memory-swap must be at least the memory limit');
      memory.swap = swap;
    }
    if (r.memoryReservation !== undefined) memory.reservation = r.memoryReservation;
    if (r.memorySwappiness !== undefined) memory.swappiness = r.memorySwappiness;
    if (r.oomKillDisable) memory.disableOOMKiller = true;
    out.memory = memory;
  }
  if (r.cpus !== undefined || r.cpuShares !== undefined || r.cpuQuota !== undefined || r.cpuPeriod !== undefined || r.cpusetCpus !== undefined || r.cpusetMems !== undefined) {
    const cpu: NonNullable<typeof out.cpu> = {};
    if (r.cpus !== undefined) {
      if (r.cpus <= 0) throw invalidArgument(`runtime: invalid cpus ${r.cpus}`);
      cpu.period = CFS_PERIOD_US;
      cpu.quota = Math.round(r.cpus * CFS_PERIOD_US);
    } else if (r.cpuQuota !== undefined) {
      cpu.quota = r.cpuQuota;
      cpu.period = r.cpuPeriod ?? CFS_PERIOD_US;
    } else if (r.cpuPeriod !== undefined) {
      // A period alone, as Docker applies --cpu-period without a quota.
      cpu.period = r.cpuPeriod;
    }
    if (r.cpuShares !== undefined) cpu.shares = r.cpuShares;
    if (r.cpusetCpus !== undefined) cpu.cpus = r.cpusetCpus;
    if (r.cpusetMems !== undefined) cpu.mems = r.cpusetMems;
    out.cpu = cpu;
  }
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit > 0 ? r.pidsLimit : -1 };
  const blockIO: OciBlockIO = {};
  if (r.blkioWeight !== undefined) blockIO.weight = r.blkioWeight;
  if (r.blkioWeightDevice?.length) blockIO.weightDevice = blockDeviceRates(r.blkioWeightDevice).map(({ major, minor, rate }) => ({ major, minor, weight: rate }));
  if (r.deviceReadBps?.length) blockIO.throttleReadBpsDevice = blockDeviceRates(r.deviceReadBps);
  if (r.deviceWriteBps?.length) blockIO.throttleWriteBpsDevice = blockDeviceRates(r.deviceWriteBps);
  if (r.deviceReadIops?.length) blockIO.throttleReadIOPSDevice = blockDeviceRates(r.deviceReadIops);
  if (r.deviceWriteIops?.length) blockIO.throttleWriteIOPSDevice = blockDeviceRates(r.deviceWriteIops);
  if (Object.keys(blockIO).length > 0) out.blockIO = blockIO;
  return out;
}

/**
 * Writes the caller's /etc/hosts, /etc/hostname and /etc/resolv.conf contents into `dir` (one
 * per container) and returns their paths for `ContainerSpecOptions.etcFiles`.
 */
export async function writeEtcFiles(dir: string, content: EtcFiles): Promise<EtcFiles> {
  await fsp.mkdir(dir, { recursive: true });
  const out: EtcFiles = {};
  const files = { hosts: 'hosts', hostname: 'hostname', resolvConf: 'resolv.conf' } as const;
  for (const key of Object.keys(files) as (keyof EtcFiles)[]) {
    const text = content[key];
    if (text === undefined) continue;
    const file = path.join(dir, files[key]);
    // Made again at every start: a rename is enough, no flush to disk.
    await writeFileAtomic(file, text.endsWith('\n') ? text : `${text}\n`, 0o644, { durable: false });
    out[key] = file;
  }
  return out;
}
