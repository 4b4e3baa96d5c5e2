/**
 * `container run` / `container create` flags → a ContainerSpec, with Docker's validation and its
 * messages. Two kinds of error, as Docker's CLI has them: a value a typed flag can't hold
 * (`invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`) and a combination or
 * format the run command rejects (`tscompose: invalid restart policy 'x'`). Both exit 125.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ExitError } from '../cli';
import { parseBytes, parseDurationNanos } from '../format';
import {
  emptyContainerSpec,
  type ContainerSpec,
  type MountSpec,
  type NetworkAttachment,
  type PortBinding,
  type Resources,
  type RestartPolicy,
  type Ulimit,
} from '../../common/rpc/engine-types';
import { apiMountOf, parseMountFlag, parseTmpfsFlag, parseVolumeFlag, volumeFlagBind, type MountRequest } from './mounts';
import { parseGoBool } from './go-bool';

/** The flags as commander hands them over (repeatable flags collected into arrays). */
export interface RunFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  entrypoint?: string;
  workdir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  label?: string[];
  labelFile?: string[];
  annotation?: string[];
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  network?: string[];
  net?: string[];
  networkAlias?: string[];
  ip?: string;
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
  readOnly?: boolean;
  restart?: string;
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  runtime?: string;
  userns?: string;
  volumeDriver?: string;
  gpus?: string;
  pidsLimit?: string;
  shmSize?: string;
  oomKillDisable?: boolean;
  memorySwappiness?: string;
  blkioWeight?: string;
  blkioWeightDevice?: string[];
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
  init?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  stopSignal?: string;
  stopTimeout?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  /** false when `--no-healthcheck` is given (commander's negatable form). */
  healthcheck?: boolean;
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
  sysctl?: string[];
  logDriver?: string;
  logOpt?: string[];
  ulimit?: string[];
  volumesFrom?: string[];
  link?: string[];
  platform?: string;
  ipc?: string;
  pid?: string;
  oomScoreAdj?: string;
  groupAdd?: string[];
  securityOpt?: string[];
  macAddress?: string;
  device?: string[];
  deviceCgroupRule?: string[];
  cgroupns?: string;
  cgroupParent?: string;
  uts?: string;
  pull?: string;
  detachKeys?: string;
  attach?: string[];
  /** `--sig-proxy` alone is true; `--sig-proxy=false` arrives as a string. */
  sigProxy?: boolean | string;
  cidfile?: string;
  quiet?: boolean;
}

export type PullPolicy = 'always' | 'missing' | 'never';

/** What the CLI itself does around the container: attach, pull, the cidfile. */
export interface RunOptions {
  detach: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  sigProxy: boolean;
  detachKeys: string;
  cidfile: string;
  pull: PullPolicy;
  quiet: boolean;
}

export interface ParsedRun {
  spec: ContainerSpec;
  options: RunOptions;
}

/** `invalid argument "v" for "-m, --memory" flag: reason`, as pflag reports a bad value. */
export function flagError(flag: string, value: string, reason: string): ExitError {
  return new ExitError(125, `invalid argument "${value}" for "${flag}" flag: ${reason}`);
}

/** An error of the run command itself: `tscompose: invalid restart policy 'x'`. */
export function runError(message: string): ExitError {
  return new ExitError(125, `tscompose: ${message}`);
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Converts the flags; `lookupEnv` resolves `-e NAME` (the CLI's own environment by default). */
export function parseRunFlags(
  image: string,
  command: string[],
  flags: RunFlags,
  lookupEnv: (name: string) => string | undefined = (name) => process.env[name],
): ParsedRun {
  const spec = emptyContainerSpec();
  spec.image = image;
  if (command.length > 0) {
    spec.cmd = [...command];
    spec.cmd_set = true;
  }
  const options = parseRunOptions(flags);

  spec.name = flags.name ?? '';
  spec.tty = !!flags.tty;
  spec.open_stdin = !!flags.interactive;
  spec.stdin_once = options.attachStdin && !options.detach;
  spec.auto_remove = !!flags.rm;
  spec.read_only = !!flags.readOnly;
  spec.init = !!flags.init;
  spec.privileged = !!flags.privileged;
  spec.publish_all = !!flags.publishAll;
  spec.working_dir = flags.workdir ?? '';
  spec.user = flags.user ?? '';
  spec.hostname = flags.hostname ?? '';
  spec.domainname = flags.domainname ?? '';
  spec.platform = flags.platform ?? '';
  spec.stop_signal = flags.stopSignal ?? '';
  spec.cap_add = flags.capAdd ?? [];
  spec.cap_drop = flags.capDrop ?? [];
  spec.volumes_from = flags.volumesFrom ?? [];
  spec.links = (flags.link ?? []).map(parseLink);
  spec.group_add = flags.groupAdd ?? [];
  spec.dns_options = flags.dnsOption ?? [];

  if (flags.entrypoint !== undefined) {
    spec.entrypoint = flags.entrypoint === '' ? [] : [flags.entrypoint];
    spec.entrypoint_set = true;
  }
  spec.env = parseEnv(flags.envFile ?? [], flags.env ?? [], lookupEnv);
  spec.labels = parseLabels(flags.labelFile ?? [], flags.label ?? []);
  spec.annotations = parseAnnotations(flags.annotation ?? []);

  const { ports, expose } = parsePorts(flags.publish ?? [], flags.expose ?? []);
  spec.ports = ports;
  spec.expose = expose;
  Object.assign(spec, parseNetworks([...(flags.network ?? []), ...(flags.net ?? [])], flags.networkAlias ?? [], flags.ip));
  spec.mounts = parseMounts(flags.volume ?? [], flags.mount ?? [], flags.tmpfs ?? []);
  // --volume-driver: the driver of the named and anonymous volumes that name none.
  if (flags.volumeDriver) for (const m of spec.mounts) if (m.type === 'volume' && !m.volume_driver) m.volume_driver = flags.volumeDriver;

  spec.restart_policy = parseRestartPolicy(flags.restart ?? '');
  if (spec.auto_remove && spec.restart_policy.name !== '' && spec.restart_policy.name !== 'no') {
    throw runError('Conflicting options: --restart and --rm');
  }

  const resources = (spec.resources = parseResourceFlags(flags));
  resources.shm_size = bytesFlag('--shm-size', flags.shmSize);
  resources.oom_kill_disable = !!flags.oomKillDisable;
  resources.blkio_weight_device = (flags.blkioWeightDevice ?? []).map((v) => deviceRate('--blkio-weight-device', v, 'int'));
  resources.device_read_bps = (flags.deviceReadBps ?? []).map((v) => deviceRate('--device-read-bps', v, 'bytes'));
  resources.device_write_bps = (flags.deviceWriteBps ?? []).map((v) => deviceRate('--device-write-bps', v, 'bytes'));
  resources.device_read_iops = (flags.deviceReadIops ?? []).map((v) => deviceRate('--device-read-iops', v, 'int'));
  resources.device_write_iops = (flags.deviceWriteIops ?? []).map((v) => deviceRate('--device-write-iops', v, 'int'));
  if (flags.memorySwappiness !== undefined) {
    const v = Number(flags.memorySwappiness);
    if (!Number.isInteger(v) || v < -1 || v > 100) throw flagError('--memory-swappiness', flags.memorySwappiness, `invalid memory swappiness: ${flags.memorySwappiness} (its range is from 0 to 100)`);
    resources.memory_swappiness = v;
  }

  if (flags.stopTimeout !== undefined) spec.stop_timeout = intFlag('--stop-timeout', flags.stopTimeout);
  const oomScoreAdj = intFlag('--oom-score-adj', flags.oomScoreAdj);
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) throw runError('--oom-score-adj should be between -1000 and 1000');
  spec.oom_score_adj = oomScoreAdj;

  spec.healthcheck = parseHealthcheck(flags);
  spec.dns = (flags.dns ?? []).map((v) => {
    if (isIP(v) === 0) throw flagError('--dns', v, `IP address is not correctly formatted: ${v}`);
    return v;
  });
  spec.dns_search = (flags.dnsSearch ?? []).map(validateDnsSearch);
  spec.extra_hosts = (flags.addHost ?? []).map(parseExtraHost);
  spec.sysctls = parseSysctls(flags.sysctl ?? []);
  spec.log_driver = flags.logDriver ?? '';
  for (const v of flags.logOpt ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw flagError('--log-opt', v, `invalid key value pair format in log opts: ${v}`);
    spec.log_options[v.slice(0, eq)] = v.slice(eq + 1);
  }
  spec.ulimits = (flags.ulimit ?? []).map(parseUlimit);
  spec.security_opt = (flags.securityOpt ?? []).map(parseSecurityOpt);
  spec.devices = (flags.device ?? []).map(validateDevice);
  spec.device_cgroup_rules = flags.deviceCgroupRule ?? [];
  spec.cgroupns_mode = flags.cgroupns ?? '';
  spec.cgroup_parent = flags.cgroupParent ?? '';
  if (!['', 'host', 'private'].includes(spec.cgroupns_mode)) throw flagError('--cgroupns', spec.cgroupns_mode, `invalid cgroup namespace mode: ${spec.cgroupns_mode}`);

  spec.ipc_mode = flags.ipc ?? '';
  if (!validIpcMode(spec.ipc_mode)) throw runError('--ipc: invalid IPC mode');
  spec.pid_mode = flags.pid ?? '';
  if (!validPidMode(spec.pid_mode)) throw runError('--pid: invalid PID mode');
  // Only what this engine is: runc, no user-namespace remapping, no GPU driver.
  if (flags.runtime !== undefined && flags.runtime !== 'runc') throw runError(`Error response from daemon: unknown or invalid runtime name: ${flags.runtime}`);
  if (flags.userns !== undefined && !['', 'host'].includes(flags.userns)) throw runError('--userns: invalid USER mode');
  if (flags.gpus !== undefined) throw runError('Error response from daemon: could not select device driver "" with capabilities: [[gpu]]');
  spec.uts_mode = flags.uts ?? '';
  if (!['', 'host'].includes(spec.uts_mode)) throw runError('--uts: invalid UTS mode');
  if (spec.uts_mode === 'host' && spec.hostname) throw runError('Conflicting options: hostname and the UTS mode');

  if (flags.macAddress !== undefined && flags.macAddress !== '') {
    if (!/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(flags.macAddress)) {
      throw runError(`${flags.macAddress} is not a valid mac address`);
    }
    spec.mac_address = flags.macAddress;
  }
  return { spec, options };
}

/** The limit flags `run`, `create` and `update` share. */
export type ResourceFlags = Pick<
  RunFlags,
  'memory' | 'memorySwap' | 'memoryReservation' | 'cpus' | 'cpuShares' | 'cpuQuota' | 'cpuPeriod' | 'cpusetCpus' | 'cpusetMems' | 'pidsLimit' | 'blkioWeight'
>;

/** Those flags as the contract's `Resources`; an absent flag leaves its field at 0 or "". */
export function parseResourceFlags(flags: ResourceFlags): Resources {
  const resources = emptyContainerSpec().resources;
  resources.memory = bytesFlag('-m, --memory', flags.memory);
  resources.memory_swap =
    flags.memorySwap === '-1' ? -1 : bytesFlag('--memory-swap', flags.memorySwap);
  resources.memory_reservation = bytesFlag('--memory-reservation', flags.memoryReservation);
  resources.nano_cpus = flags.cpus === undefined ? 0 : parseNanoCpus(flags.cpus);
  resources.cpu_shares = intFlag('-c, --cpu-shares', flags.cpuShares);
  resources.cpu_quota = intFlag('--cpu-quota', flags.cpuQuota);
  resources.cpu_period = intFlag('--cpu-period', flags.cpuPeriod);
  resources.cpuset_cpus = flags.cpusetCpus ?? '';
  resources.cpuset_mems = flags.cpusetMems ?? '';
  if (resources.cpuset_mems && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(resources.cpuset_mems)) {
    throw flagError('--cpuset-mems', resources.cpuset_mems, 'invalid list of memory nodes');
  }
  resources.pids_limit = intFlag('--pids-limit', flags.pidsLimit);
  resources.blkio_weight = intFlag('--blkio-weight', flags.blkioWeight);
  return resources;
}

/** `container update`'s flags: the shared limit flags, the restart policy, and Docker's leftovers. */
export interface UpdateFlags extends ResourceFlags {
  restart?: string;
  kernelMemory?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
}

/**
 * The update to ask the daemon for. Docker's flags that this host cannot honour are refused
 * rather than stored as if they were applied: runc 1.1 no longer sets kernel memory limits,
 * and the engine's cgroup is given no real-time CPU budget.
 */
export function parseUpdateFlags(flags: UpdateFlags): { resources: Resources; restart_policy: RestartPolicy } {
  if (Object.values(flags).every((v) => v === undefined)) {
    throw new ExitError(1, 'you must provide one or more flags when using this command');
  }
  if (flags.kernelMemory !== undefined) {
    bytesFlag('--kernel-memory', flags.kernelMemory);
    throw runError('--kernel-memory is not supported: kernel memory limits are deprecated and no longer set by runc');
  }
  for (const [flag, value] of [['--cpu-rt-period', flags.cpuRtPeriod], ['--cpu-rt-runtime', flags.cpuRtRuntime]] as const) {
    if (value === undefined) continue;
    intFlag(flag, value);
    throw runError(`${flag} is not supported: real-time CPU scheduling is not applied by this engine`);
  }
  const resources = parseResourceFlags(flags);
  // Docker's daemon takes 0 and below as "no limit", which runc spells -1; 0 here means "unchanged".
  if (flags.pidsLimit !== undefined && resources.pids_limit <= 0) resources.pids_limit = -1;
  return { resources, restart_policy: parseRestartPolicy(flags.restart ?? '') };
}

function parseRunOptions(flags: RunFlags): RunOptions {
  const streams = new Set<string>();
  for (const s of flags.attach ?? []) {
    const stream = s.toLowerCase();
    if (stream !== 'stdin' && stream !== 'stdout' && stream !== 'stderr') {
      throw flagError('-a, --attach', s, 'valid streams are STDIN, STDOUT and STDERR');
    }
    streams.add(stream);
  }
  const detach = !!flags.detach;
  if (detach && streams.size > 0) throw runError('Conflicting options: -a and -d');
  const pull = flags.pull ?? 'missing';
  if (pull !== 'always' && pull !== 'missing' && pull !== 'never') {
    throw runError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
  const detachKeys = flags.detachKeys ?? '';
  if (detachKeys !== '') {
    try {
      parseDetachKeys(detachKeys);
    } catch (err) {
      throw runError(`Invalid detach keys (${detachKeys}) provided: ${messageOf(err)}`);
    }
  }
  let sigProxy = true;
  if (typeof flags.sigProxy === 'string') {
    const parsed = parseGoBool(flags.sigProxy);
    if (parsed === undefined) throw flagError('--sig-proxy', flags.sigProxy, `strconv.ParseBool: parsing "${flags.sigProxy}": invalid syntax`);
    sigProxy = parsed;
  } else if (flags.sigProxy === false) sigProxy = false;
  const noneChosen = streams.size === 0;
  return {
    detach,
    attachStdin: !detach && (streams.has('stdin') || !!flags.interactive),
    attachStdout: !detach && (noneChosen || streams.has('stdout')),
    attachStderr: !detach && (noneChosen || streams.has('stderr')),
    sigProxy,
    detachKeys,
    cidfile: flags.cidfile ?? '',
    pull,
    quiet: !!flags.quiet,
  };
}

// ----- detach keys -----

/** Docker's term.ToBytes: `ctrl-p,ctrl-q` → [0x10, 0x11]; single characters stand for themselves. */
export function parseDetachKeys(keys: string): number[] {
  const codes: number[] = [];
  for (const key of keys.split(',')) {
    if (key.length === 1) {
      codes.push(key.charCodeAt(0));
      continue;
    }
    const ctrl = /^ctrl-(.)$/i.exec(key);
    const c = ctrl?.[1]?.toLowerCase();
    if (c !== undefined) {
      if (c >= 'a' && c <= 'z') {
        codes.push(c.charCodeAt(0) - 96);
        continue;
      }
      const special: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };
      const code = special[c];
      if (code !== undefined) {
        codes.push(code);
        continue;
      }
    }
    throw new Error(`Unknown character: '${key}'`);
  }
  return codes;
}

// ----- environment and labels -----

/**
 * Docker's env-file / label-file format: one `KEY=VALUE` per line, the value taken verbatim;
 * `#` comments and blank lines skipped; a line without `=` names a variable of the CLI's
 * environment when `lookupEnv` is given (dropped if unset), or stands as is otherwise.
 */
export function parseKeyValueFile(file: string, lookupEnv?: (name: string) => string | undefined): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw runError(code === 'ENOENT' ? `open ${file}: no such file or directory` : `open ${file}: ${messageOf(err)}`);
  }
  const lines: string[] = [];
  let lineNumber = 0;
  for (let raw of text.split('\n')) {
    lineNumber++;
    if (lineNumber === 1) raw = raw.replace(/^\uFEFF/, '');
    if (raw.includes('\uFFFD')) {
      throw runError(`env file ${file} contains invalid utf8 bytes at line ${lineNumber}: ${JSON.stringify(raw)}`);
    }
    const line = raw.replace(/\r$/, '').replace(/^[ \t\v\f\r]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq === -1 ? line : line.slice(0, eq);
    if (name === '') throw runError(`no variable name on line '${line}'`);
    if (/\s/.test(name)) throw runError(`variable '${name}' contains whitespaces`);
    if (eq !== -1) lines.push(line);
    else if (!lookupEnv) lines.push(line);
    else {
      const value = lookupEnv(name);
      if (value !== undefined) lines.push(`${name}=${value}`);
    }
  }
  return lines;
}

/** `--env-file`s first, then `-e`s, as Docker orders them; `-e NAME` reads the CLI's environment. */
export function parseEnv(files: string[], values: string[], lookupEnv: (name: string) => string | undefined): string[] {
  const env: string[] = [];
  for (const file of files) env.push(...parseKeyValueFile(file, lookupEnv));
  for (const v of values) {
    const eq = v.indexOf('=');
    const name = eq === -1 ? v : v.slice(0, eq);
    if (name === '') throw flagError('-e, --env', v, `invalid environment variable: ${v}`);
    if (eq !== -1) env.push(v);
    else {
      const value = lookupEnv(name);
      if (value !== undefined) env.push(`${name}=${value}`);
    }
  }
  return env;
}

export function parseLabels(files: string[], values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const add = (v: string) => {
    const eq = v.indexOf('=');
    const key = eq === -1 ? v : v.slice(0, eq);
    labels[key] = eq === -1 ? '' : v.slice(eq + 1);
  };
  for (const file of files) for (const line of parseKeyValueFile(file)) add(line);
  for (const v of values) {
    const eq = v.indexOf('=');
    if ((eq === -1 ? v : v.slice(0, eq)).trim() === '') throw flagError('-l, --label', v, `invalid label '${v}': empty name`);
    add(v);
  }
  return labels;
}

/** `--annotation KEY=VALUE`, as Docker's: a key and a value, the value possibly empty. */
function parseAnnotations(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw flagError('--annotation', v, `invalid annotation '${v}': expected KEY=VALUE`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

// ----- ports -----

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** nat.ParsePortRange: `80` or `8000-8010`. */
function parsePortRange(text: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start < 0 || start > 65535 || end > 65535 || end < start) return undefined;
  return [start, end];
}

function splitProto(raw: string): [string, string] {
  const i = raw.lastIndexOf('/');
  if (i === -1) return [raw, 'tcp'];
  return [raw.slice(0, i), raw.slice(i + 1) || 'tcp'];
}

/**
 * nat.ParsePortSpec: `[ip:][hostPort:]containerPort[/proto]` with ranges on either port, IPv6
 * addresses in brackets. A missing host port means an engine-chosen one.
 */
export function parsePublish(raw: string): PortBinding[] {
  const [rest, proto] = splitProto(raw);
  const parts = rest.split(':');
  const n = parts.length;
  const containerPart = parts[n - 1] ?? '';
  let ip = '';
  let hostPart = '';
  if (n === 2) hostPart = parts[0] ?? '';
  else if (n === 3) [ip, hostPart] = [parts[0] ?? '', parts[1] ?? ''];
  else if (n > 3) [ip, hostPart] = [parts.slice(0, n - 2).join(':'), parts[n - 2] ?? ''];
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== '' && isIP(ip) === 0) throw runError(`invalid IP address: ${ip}`);
  if (containerPart === '') throw runError(`no port specified: ${raw}<empty>`);
  const containerRange = parsePortRange(containerPart);
  if (!containerRange || containerRange[0] === 0) throw runError(`invalid containerPort: ${containerPart}`);
  let hostRange: [number, number] | undefined;
  if (hostPart !== '') {
    hostRange = parsePortRange(hostPart);
    if (!hostRange) throw runError(`invalid hostPort: ${hostPart}`);
  }
  if (!PROTOCOLS.has(proto.toLowerCase())) throw runError(`invalid proto: ${proto}`);
  const protocol = proto.toLowerCase();
  const containerCount = containerRange[1] - containerRange[0];
  if (hostRange && containerCount === 0 && hostRange[1] > hostRange[0]) {
    // As Docker: one container port on a host range takes the range's first free port.
    return [{ container_port: containerRange[0], protocol, host_ip: ip, host_port: hostRange[0], host_port_end: hostRange[1] }];
  }
  if (hostRange && hostRange[1] - hostRange[0] !== containerCount) {
    throw runError(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  }
  const bindings: PortBinding[] = [];
  for (let i = 0; i <= containerCount; i++) {
    bindings.push({
      container_port: containerRange[0] + i,
      protocol,
      host_ip: ip,
      host_port: hostRange ? hostRange[0] + i : 0,
    });
  }
  return bindings;
}

export function parsePorts(publish: string[], exposeValues: string[]): { ports: PortBinding[]; expose: string[] } {
  const ports = publish.flatMap(parsePublish);
  const expose: string[] = [];
  for (const e of exposeValues) {
    if (e.includes(':')) throw runError(`invalid port format for --expose: ${e}`);
    const [port, proto] = splitProto(e);
    const range = parsePortRange(port);
    if (!range) throw runError(`invalid range specified for port: ${port}`);
    for (let p = range[0]; p <= range[1]; p++) expose.push(`${p}/${proto}`);
  }
  return { ports, expose };
}

// ----- networks -----

/** `--network NAME` or the long form `name=NAME,alias=A,ip=IP,mac-address=M,driver-opt=K=V`. */
export function parseNetworkValue(value: string): NetworkAttachment {
  const attachment: NetworkAttachment = { network: '', aliases: [], ipv4_address: '', mac_address: '', driver_opts: {} };
  if (!value.includes('=')) {
    attachment.network = value;
    return attachment;
  }
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    const key = eq === -1 ? field : field.slice(0, eq).trim().toLowerCase();
    const v = eq === -1 ? '' : field.slice(eq + 1).trim();
    switch (key) {
      case 'name':
        attachment.network = v;
        break;
      case 'alias':
        attachment.aliases.push(v);
        break;
      case 'ip':
        attachment.ipv4_address = v;
        break;
      case 'mac-address':
        attachment.mac_address = v;
        break;
      case 'driver-opt': {
        const i = v.indexOf('=');
        if (i <= 0) throw flagError('--network', value, `invalid driver-opt: ${v}`);
        attachment.driver_opts[v.slice(0, i)] = v.slice(i + 1);
        break;
      }
      default:
        throw flagError('--network', value, `invalid field key ${key}`);
    }
  }
  if (attachment.network === '') throw flagError('--network', value, 'network name is missing');
  return attachment;
}

/** Comma-separated fields where a double-quoted field may contain commas (encoding/csv). */
function splitCsv(value: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"') {
      if (quoted && value[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      fields.push(current);
      current = '';
    } else current += c;
  }
  fields.push(current);
  return fields;
}

const BUILTIN_NETWORK_MODES = ['bridge', 'host', 'none', 'default'];

function isUserDefinedNetwork(mode: string): boolean {
  return !BUILTIN_NETWORK_MODES.includes(mode) && !mode.startsWith('container:');
}

/**
 * The first `--network` becomes the network mode; the others are attached as well. The
 * container-wide `--network-alias` and `--ip` belong to the first network, so it is listed in
 * `networks` too when it carries such options.
 */
export function parseNetworks(
  values: string[],
  aliases: string[],
  ip: string | undefined,
): { network_mode: string; networks: NetworkAttachment[] } {
  const attachments = values.map(parseNetworkValue);
  const first = attachments[0];
  if (!first || !isUserDefinedNetwork(first.network)) {
    if (aliases.length > 0 || (first && first.aliases.length > 0)) {
      throw runError('network-scoped aliases are only supported for user-defined networks');
    }
    if (ip || (first && first.ipv4_address)) {
      throw runError('user specified IP address is supported on user defined networks only');
    }
  }
  if (!first) return { network_mode: '', networks: [] };
  const userDefined = attachments.filter((a) => isUserDefinedNetwork(a.network));
  if (userDefined.length > 0 && userDefined.length < attachments.length) {
    throw runError('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  }
  if (aliases.length > 0) {
    if (first.aliases.length > 0) throw runError('conflicting options: cannot specify both --network-alias and per-network alias');
    first.aliases = [...aliases];
  }
  if (ip) {
    if (first.ipv4_address) throw runError('conflicting options: cannot specify both --ip and per-network IPv4 address');
    if (isIP(ip) !== 4) throw runError(`invalid IPv4 address: ${ip}`);
    first.ipv4_address = ip;
  }
  const hasOptions = (a: NetworkAttachment) =>
    a.aliases.length > 0 || a.ipv4_address !== '' || a.mac_address !== '' || Object.keys(a.driver_opts).length > 0;
  const networks = attachments.slice(1);
  if (hasOptions(first)) networks.unshift(first);
  return { network_mode: first.network, networks };
}

// ----- mounts -----

/** The mount parsers' result in the contract's shape. */
export function mountRequestToSpec(request: MountRequest): MountSpec {
  return {
    type: request.type,
    source: request.source ?? '',
    target: request.target,
    read_only: request.readOnly,
    create_host_path: request.bindOptions?.createHostPath ?? false,
    propagation: request.bindOptions?.propagation ?? '',
    no_copy: request.volumeOptions?.noCopy ?? false,
    subpath: request.volumeOptions?.subpath ?? '',
    volume_labels: { ...(request.volumeOptions?.labels ?? {}) },
    volume_driver: request.volumeOptions?.driver ?? '',
    volume_options: { ...(request.volumeOptions?.driverOptions ?? {}) },
    tmpfs_size: request.tmpfsOptions?.sizeBytes ?? 0,
    tmpfs_mode: request.tmpfsOptions?.mode ?? 0,
    selinux: request.bindOptions?.selinux ?? '',
    tmpfs_options: [...(request.tmpfsOptions?.options ?? [])],
    flag: '',
    flag_value: '',
  };
}

/**
 * `-v`, `--mount` and `--tmpfs` in that order. A `--mount` whose syntax is wrong is a flag error;
 * everything else is what Docker's daemon would refuse, reported as its answer.
 */
export function parseMounts(volumes: string[], mounts: string[], tmpfs: string[], cwd = process.cwd()): MountSpec[] {
  const fromDaemon = (err: unknown) => runError(`Error response from daemon: ${messageOf(err)}`);
  const specs: MountSpec[] = [];
  // Each keeps its flag and that flag's value as Docker's API has it, for inspect's HostConfig.
  const add = (request: MountRequest, flag: MountSpec['flag'], value: string) => specs.push({ ...mountRequestToSpec(request), flag, flag_value: value });
  for (const v of volumes) {
    try {
      add(parseVolumeFlag(v, { cwd }), 'volume', volumeFlagBind(v, { cwd }));
    } catch (err) {
      throw fromDaemon(err);
    }
  }
  for (const m of mounts) {
    let request: MountRequest;
    try {
      request = parseMountFlag(m, { cwd });
    } catch (err) {
      if (messageOf(err).startsWith('invalid mount config')) throw fromDaemon(err);
      throw flagError('--mount', m, messageOf(err));
    }
    add(request, 'mount', JSON.stringify(apiMountOf(request)));
  }
  for (const t of tmpfs) {
    try {
      add(parseTmpfsFlag(t), 'tmpfs', t);
    } catch (err) {
      throw fromDaemon(err);
    }
  }
  const targets = new Set<string>();
  for (const s of specs) {
    if (targets.has(s.target)) throw fromDaemon(new Error(`Duplicate mount point: ${s.target}`));
    targets.add(s.target);
  }
  return specs;
}

// ----- restart, resources, health -----

/** `no|always|on-failure[:N]|unless-stopped`, with Docker's messages. */
export function parseRestartPolicy(value: string): ContainerSpec['restart_policy'] {
  if (value === '') return { name: '', max_retries: 0 };
  const colon = value.indexOf(':');
  const name = colon === -1 ? value : value.slice(0, colon);
  let maxRetries = 0;
  if (colon !== -1) {
    const count = value.slice(colon + 1);
    if (count === '') throw runError('invalid restart policy format: no number of retries specified');
    if (!/^[+-]?\d+$/.test(count)) {
      throw runError(`invalid restart policy format: maximum retry count must be an integer: strconv.Atoi: parsing "${count}": invalid syntax`);
    }
    maxRetries = Number(count);
  }
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(name)) throw runError(`invalid restart policy '${name}'`);
  if (maxRetries < 0) throw runError('invalid restart policy: maximum retry count cannot be negative');
  if (maxRetries > 0 && name !== 'on-failure') {
    throw runError("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  }
  return { name, max_retries: maxRetries };
}

/** Docker's `DEVICE:RATE` (`/dev/sda:1mb`, `/dev/sda:1000`). */
function deviceRate(flag: string, value: string, unit: 'bytes' | 'int'): { path: string; rate: number } {
  const at = value.lastIndexOf(':');
  const devicePath = value.slice(0, at);
  const rate = value.slice(at + 1);
  if (at <= 0 || !devicePath.startsWith('/dev/')) throw flagError(flag, value, `bad format: ${value}`);
  if (unit === 'bytes') return { path: devicePath, rate: bytesFlag(flag, rate) };
  if (!/^\d+$/.test(rate)) throw flagError(flag, value, `invalid rate for device: ${value}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  return { path: devicePath, rate: Number(rate) };
}

function bytesFlag(flag: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  try {
    return parseBytes(value);
  } catch (err) {
    throw flagError(flag, value, messageOf(err));
  }
}

/** pflag's int flags: strconv.ParseInt(s, 0, 64). */
function intFlag(flag: string, value: string | undefined): number {
  if (value === undefined) return 0;
  const m = /^([+-]?)(0x[0-9a-f]+|0o?[0-7]+|0b[01]+|\d+)$/i.exec(value.replace(/_/g, ''));
  if (!m || (value.includes('_') && !/^[+-]?0[xob]/i.test(value))) {
    throw flagError(flag, value, `strconv.ParseInt: parsing "${value}": invalid syntax`);
  }
  let digits = m[2]!;
  if (/^0[0-7]/.test(digits)) digits = `0o${digits.slice(1)}`;
  const n = Number(digits) * (m[1] === '-' ? -1 : 1);
  if (!Number.isSafeInteger(n)) throw flagError(flag, value, `strconv.ParseInt: parsing "${value}": value out of range`);
  return n;
}

/** opts.NanoCPUs: a decimal or rational number of CPUs, at most nanosecond precise. */
export function parseNanoCpus(value: string): number {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(value);
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(value);
  let nanos: bigint;
  if (frac) {
    const num = BigInt(frac[1]!) * 1_000_000_000n;
    const den = BigInt(frac[2]!);
    if (den === 0n) throw flagError('--cpus', value, `failed to parse ${value} as a rational number`);
    if (num % den !== 0n) throw flagError('--cpus', value, 'value is too precise');
    nanos = num / den;
  } else if (m && (m[2] !== '' || (m[3] ?? '') !== '')) {
    let digits = (m[2] ?? '') + (m[3] ?? '');
    let scale = (m[3] ?? '').length - Number(m[4] ?? '0') - 9;
    while (scale > 0) {
      if (!digits.endsWith('0')) throw flagError('--cpus', value, 'value is too precise');
      digits = digits.slice(0, -1);
      scale--;
    }
    nanos = BigInt(digits || '0') * 10n ** BigInt(-scale);
    if (m[1] === '-') nanos = -nanos;
  } else throw flagError('--cpus', value, `failed to parse ${value} as a rational number`);
  return Number(nanos);
}

function durationFlag(flag: string, value: string | undefined): number {
  if (value === undefined) return 0;
  let nanos: bigint;
  try {
    nanos = parseDurationNanos(value);
  } catch (err) {
    throw flagError(flag, value, messageOf(err));
  }
  if (nanos < 0n) throw runError(`${flag} cannot be negative`);
  return Number(nanos);
}

export function parseHealthcheck(flags: RunFlags): ContainerSpec['healthcheck'] {
  const interval = durationFlag('--health-interval', flags.healthInterval);
  const timeout = durationFlag('--health-timeout', flags.healthTimeout);
  const startPeriod = durationFlag('--health-start-period', flags.healthStartPeriod);
  const startInterval = durationFlag('--health-start-interval', flags.healthStartInterval);
  const retries = intFlag('--health-retries', flags.healthRetries);
  if (retries < 0) throw runError('--health-retries cannot be negative');
  const anyHealthFlag =
    flags.healthCmd !== undefined ||
    [flags.healthInterval, flags.healthTimeout, flags.healthStartPeriod, flags.healthStartInterval, flags.healthRetries].some(
      (v) => v !== undefined,
    );
  if (flags.healthcheck === false) {
    if (anyHealthFlag) throw runError('--no-healthcheck conflicts with --health-* options');
    return { test: ['NONE'], interval: 0, timeout: 0, retries: 0, start_period: 0, start_interval: 0 };
  }
  const test = flags.healthCmd !== undefined && flags.healthCmd !== '' ? ['CMD-SHELL', flags.healthCmd] : [];
  return { test, interval, timeout, retries, start_period: startPeriod, start_interval: startInterval };
}

// ----- host configuration -----

const DOMAIN = /^(:?(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))$/;

function validateDnsSearch(value: string): string {
  if (value === '.') return value;
  const domain = value.endsWith('.') ? value.slice(0, -1) : value;
  if (!DOMAIN.test(domain) || domain.length > 255) throw flagError('--dns-search', value, `${value} is not a valid domain`);
  return value;
}

/** `--link container[:alias]` → `container:alias`, as Docker parses it. */
export function parseLink(value: string): string {
  if (value === '') throw flagError('--link', value, 'empty string specified for links');
  const parts = value.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) throw flagError('--link', value, `bad format for links: ${value}`);
  const [name, alias] = parts as [string, string | undefined];
  return `${name.replace(/^\//, '')}:${alias ?? name}`;
}

/** `host:ip` or `host=ip` (IPv6 possibly in brackets, or `host-gateway`) → `host:ip`. */
export function parseExtraHost(value: string): string {
  const eq = value.indexOf('=');
  const sep = eq !== -1 ? eq : value.indexOf(':');
  if (sep <= 0) throw flagError('--add-host', value, `bad format for add-host: "${value}"`);
  const host = value.slice(0, sep);
  let ip = value.slice(sep + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== 'host-gateway' && isIP(ip) === 0) throw flagError('--add-host', value, `invalid IP address in add-host: "${ip}"`);
  return `${host}:${ip}`;
}

const NAMESPACED_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** Only the sysctls a container's namespaces isolate, as Docker's ValidateSysctl. */
export function parseSysctls(values: string[]): Record<string, string> {
  const sysctls: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq === -1 ? '' : v.slice(0, eq);
    const allowed = NAMESPACED_SYSCTLS.has(key) || key.startsWith('net.') || key.startsWith('fs.mqueue.');
    if (eq === -1 || !allowed) throw flagError('--sysctl', v, `sysctl '${v}' is not allowed`);
    sysctls[key] = v.slice(eq + 1);
  }
  return sysctls;
}

const ULIMIT_NAMES = new Set([
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

/** go-units ParseUlimit: `name=soft[:hard]`. */
export function parseUlimit(value: string): Ulimit {
  const fail = (reason: string) => flagError('--ulimit', value, reason);
  const eq = value.indexOf('=');
  if (eq === -1) throw fail(`invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw fail(`invalid ulimit type: ${name}`);
  const limits = value.slice(eq + 1).split(':');
  if (limits.length > 2) throw fail(`too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const parse = (text: string) => {
    if (!/^-?\d+$/.test(text)) throw fail(`strconv.ParseInt: parsing "${text}": invalid syntax`);
    return Number(text);
  };
  const soft = parse(limits[0]!);
  const hard = limits.length === 2 ? parse(limits[1]!) : soft;
  if (soft > hard) throw fail(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { name, soft, hard };
}

/** `seccomp=<file>` sends the profile's contents, as Docker's CLI does; other options pass as given. */
function parseSecurityOpt(value: string): string {
  const eq = value.indexOf('=');
  const key = eq === -1 ? value : value.slice(0, eq);
  const arg = eq === -1 ? '' : value.slice(eq + 1);
  if (key !== 'seccomp' || arg === 'unconfined' || arg === 'builtin' || arg === '') return value;
  try {
    const profile = readFileSync(arg, 'utf8');
    return `seccomp=${JSON.stringify(JSON.parse(profile))}`;
  } catch (err) {
    throw runError(`opening seccomp profile (${arg}) failed: ${messageOf(err)}`);
  }
}

/** `/dev/x[:/dev/y][:rwm]`, or a CDI name (`vendor.com/class=name`). */
function validateDevice(value: string): string {
  if (value.includes('=') && !value.startsWith('/')) return value;
  const parts = value.split(':');
  const validMode = (m: string) => /^[rwm]{1,3}$/.test(m) && new Set(m).size === m.length;
  if (parts.length > 3 || !parts[0]?.startsWith('/')) throw flagError('--device', value, `bad format for path: ${value}`);
  if (parts.length === 3 && !validMode(parts[2]!)) throw flagError('--device', value, `invalid device mode: ${parts[2]}`);
  if (parts.length === 2 && !parts[1]!.startsWith('/') && !validMode(parts[1]!)) {
    throw flagError('--device', value, `bad format for path: ${parts[1]}`);
  }
  return value;
}

function validIpcMode(mode: string): boolean {
  return ['', 'none', 'private', 'shareable', 'host'].includes(mode) || /^container:.+/.test(mode);
}

function validPidMode(mode: string): boolean {
  return mode === '' || mode === 'host' || /^container:.+/.test(mode);
}
