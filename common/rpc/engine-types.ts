/**
 * The engine API's messages as plain objects (proto-loader with keepCase: field names are the
 * proto's own snake_case). Kept by hand beside proto/engine.proto: when a message changes there,
 * it changes here. int64 fields arrive as numbers (longs: Number).
 */

export interface PortBinding {
  container_port: number;
  protocol: string;
  host_ip: string;
  host_port: number;
  /** Above host_port: a range, of which each start takes the first free port (as Docker's "8080-8082"). */
  host_port_end?: number;
}

export interface NetworkAttachment {
  network: string;
  aliases: string[];
  ipv4_address: string;
  mac_address: string;
  driver_opts: Record<string, string>;
}

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs' | string;
  source: string;
  target: string;
  read_only: boolean;
  create_host_path: boolean;
  propagation: string;
  no_copy: boolean;
  subpath: string;
  volume_labels: Record<string, string>;
  volume_driver: string;
  volume_options: Record<string, string>;
  tmpfs_size: number;
  tmpfs_mode: number;
  selinux: string;
  tmpfs_options: string[];
  /** The `docker run` flag behind the mount (`volume`, `mount`, `tmpfs`), '' for none; records older than it have none. */
  flag: '' | 'volume' | 'mount' | 'tmpfs' | string;
  /** That flag's value as Docker's API carries it: -v's spec, --tmpfs's `path[:options]`, --mount's Mount as JSON. */
  flag_value: string;
}

export interface RestartPolicy {
  name: '' | 'no' | 'always' | 'on-failure' | 'unless-stopped' | string;
  max_retries: number;
}

export interface Resources {
  memory: number;
  memory_swap: number;
  memory_reservation: number;
  nano_cpus: number;
  cpu_shares: number;
  cpu_quota: number;
  cpu_period: number;
  cpuset_cpus: string;
  pids_limit: number;
  shm_size: number;
  oom_kill_disable: boolean;
  /** -1: not set (the kernel's). */
  memory_swappiness: number;
  blkio_weight: number;
  blkio_weight_device: DeviceRate[];
  device_read_bps: DeviceRate[];
  device_write_bps: DeviceRate[];
  device_read_iops: DeviceRate[];
  device_write_iops: DeviceRate[];
  cpuset_mems: string;
}

/** `ContainerUpdate`: zero and empty fields leave the container's values as they are. */
export interface ContainerUpdateRequest {
  id: string;
  resources: Resources;
  restart_policy: RestartPolicy;
}

/** A block device on the host and a rate (or weight) for it. */
export interface DeviceRate {
  path: string;
  rate: number;
}

export interface HealthcheckSpec {
  test: string[];
  interval: number;
  timeout: number;
  retries: number;
  start_period: number;
  start_interval: number;
}

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export interface ContainerSpec {
  name: string;
  image: string;
  cmd: string[];
  cmd_set: boolean;
  entrypoint: string[];
  entrypoint_set: boolean;
  env: string[];
  working_dir: string;
  user: string;
  hostname: string;
  domainname: string;
  labels: Record<string, string>;
  tty: boolean;
  open_stdin: boolean;
  stdin_once: boolean;
  ports: PortBinding[];
  publish_all: boolean;
  expose: string[];
  network_mode: string;
  networks: NetworkAttachment[];
  mounts: MountSpec[];
  read_only: boolean;
  restart_policy: RestartPolicy;
  auto_remove: boolean;
  resources: Resources;
  init: boolean;
  cap_add: string[];
  cap_drop: string[];
  privileged: boolean;
  stop_signal: string;
  stop_timeout: number;
  healthcheck: HealthcheckSpec;
  dns: string[];
  dns_search: string[];
  dns_options: string[];
  extra_hosts: string[];
  sysctls: Record<string, string>;
  ulimits: Ulimit[];
  volumes_from: string[];
  platform: string;
  ipc_mode: string;
  pid_mode: string;
  oom_score_adj: number;
  group_add: string[];
  security_opt: string[];
  mac_address: string;
  devices: string[];
  device_cgroup_rules: string[];
  cgroupns_mode: string;
  cgroup_parent: string;
  uts_mode: string;
  annotations: Record<string, string>;
  /** Docker's legacy links, "container:alias". */
  links: string[];
  files: FileInjection[];
  /** Docker's LogConfig: `json-file` (""), `local` or `k8s-file`, with `max-size`/`max-file`. */
  log_driver: string;
  log_options: Record<string, string>;
}

/** A file written for the container and bind-mounted read-only (Compose secrets and configs). */
export interface FileInjection {
  target: string;
  content: Buffer;
  uid: number;
  gid: number;
  /** Permission bits; 0 means 0444. */
  mode: number;
}

/** A spec with every field at its proto default, to fill in from flags or a compose service. */
export function emptyContainerSpec(): ContainerSpec {
  return {
    name: '',
    image: '',
    cmd: [],
    cmd_set: false,
    entrypoint: [],
    entrypoint_set: false,
    env: [],
    working_dir: '',
    user: '',
    hostname: '',
    domainname: '',
    labels: {},
    tty: false,
    open_stdin: false,
    stdin_once: false,
    ports: [],
    publish_all: false,
    expose: [],
    network_mode: '',
    networks: [],
    mounts: [],
    read_only: false,
    restart_policy: { name: '', max_retries: 0 },
    auto_remove: false,
    resources: {
      memory: 0,
      memory_swap: 0,
      memory_reservation: 0,
      nano_cpus: 0,
      cpu_shares: 0,
      cpu_quota: 0,
      cpu_period: 0,
      cpuset_cpus: '',
      pids_limit: 0,
      shm_size: 0,
      oom_kill_disable: false,
      memory_swappiness: -1,
      blkio_weight: 0,
      blkio_weight_device: [],
      device_read_bps: [],
      device_write_bps: [],
      device_read_iops: [],
      device_write_iops: [],
      cpuset_mems: '',
    },
    init: false,
    cap_add: [],
    cap_drop: [],
    privileged: false,
    stop_signal: '',
    stop_timeout: -1,
    healthcheck: { test: [], interval: 0, timeout: 0, retries: 0, start_period: 0, start_interval: 0 },
    dns: [],
    dns_search: [],
    dns_options: [],
    extra_hosts: [],
    sysctls: {},
    ulimits: [],
    volumes_from: [],
    links: [],
    platform: '',
    ipc_mode: '',
    pid_mode: '',
    oom_score_adj: 0,
    group_add: [],
    security_opt: [],
    mac_address: '',
    devices: [],
    device_cgroup_rules: [],
    cgroupns_mode: '',
    cgroup_parent: '',
    uts_mode: '',
    annotations: {},
    files: [],
    log_driver: '',
    log_options: {},
  };
}

/** A mount with every field at its proto default. */
export function emptyMountSpec(type: MountSpec['type'], target: string): MountSpec {
  return {
    type,
    source: '',
    target,
    read_only: false,
    create_host_path: false,
    propagation: '',
    no_copy: false,
    subpath: '',
    volume_labels: {},
    volume_driver: '',
    volume_options: {},
    tmpfs_size: 0,
    tmpfs_mode: 0,
    selinux: '',
    tmpfs_options: [],
    flag: '',
    flag_value: '',
  };
}

export interface PortView {
  ip: string;
  private_port: number;
  public_port: number;
  type: string;
}

export interface ContainerSummary {
  id: string;
  names: string[];
  image: string;
  image_id: string;
  command: string;
  created: number;
  state: string;
  status: string;
  ports: PortView[];
  labels: Record<string, string>;
  size_rw: number;
  size_root_fs: number;
  networks: string[];
  mounts: string[];
  health: string;
  exit_code: number;
  started_at: number;
  finished_at: number;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr' | string;
  data: Buffer;
  time_nano: number;
  /** A run of the process ended and the restart policy starts another (`attempts` requested). */
  exited?: boolean;
  exit_code?: number;
}

export interface ExecSpec {
  cmd: string[];
  env: string[];
  user: string;
  working_dir: string;
  tty: boolean;
  stdin: boolean;
  detach: boolean;
  privileged: boolean;
  height: number;
  width: number;
}

/** A process run in a container to its end (ContainerExecRun): Compose's hooks, watch's exec. */
export interface ProcessSpec {
  cmd: string[];
  env: string[];
  user: string;
  workingDir: string;
  privileged: boolean;
}

/** The ExecSpec of such a process: no terminal, no stdin, not detached. */
export function runToEndExecSpec(p: ProcessSpec): ExecSpec {
  return { cmd: p.cmd, env: p.env, user: p.user, working_dir: p.workingDir, privileged: p.privileged, tty: false, stdin: false, detach: false, height: 0, width: 0 };
}

export interface AttachOpen {
  id: string;
  exec?: ExecSpec;
  stdin: boolean;
  logs: boolean;
  detach_keys: string;
}

export type AttachInput =
  | { open: AttachOpen }
  | { stdin: Buffer }
  | { stdin_close: boolean }
  | { resize: { id: string; exec_id: string; height: number; width: number } };

export interface AttachOutput {
  part?: 'stdout' | 'stderr' | 'exit_code' | 'exec_id';
  stdout?: Buffer;
  stderr?: Buffer;
  exit_code?: number;
  exec_id?: string;
}

export interface ContainerStatsEntry {
  id: string;
  name: string;
  cpu_percent: number;
  memory_usage: number;
  memory_limit: number;
  memory_percent: number;
  net_rx: number;
  net_tx: number;
  block_read: number;
  block_write: number;
  pids: number;
  read_nano: number;
}

export interface NetworkSummary {
  id: string;
  name: string;
  driver: string;
  scope: string;
  created: number;
  internal: boolean;
  labels: Record<string, string>;
  subnet: string;
}

export interface VolumeSummary {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  scope: string;
  created: number;
  size: number;
  ref_count: number;
}

export interface BuildOptions {
  dockerfile: string;
  dockerfile_content: string;
  tags: string[];
  build_args: Record<string, string>;
  target: string;
  no_cache: boolean;
  pull: boolean;
  labels: Record<string, string>;
  quiet: boolean;
  progress: string;
  platform: string;
  secrets: BuildSecret[];
  /** name → `docker-image://ref`, or `local:` for a directory uploaded after the main context. */
  named_contexts: Record<string, string>;
  /** RUN's network unless the step says: '' | 'default' | 'host' | 'none'. */
  network: string;
  /** `host:ip` lines for RUN's /etc/hosts. */
  extra_hosts: string[];
}

export interface BuildSecret {
  id: string;
  value: Buffer;
  /** Defaults for the secret's mounts; '' when unset. */
  uid: string;
  gid: string;
  /** Octal. */
  mode: string;
}

export type BuildInput = { options: BuildOptions } | { data: Buffer; context?: string };

export interface BuildProgress {
  vertex: number;
  status: 'start' | 'log' | 'cached' | 'done' | 'error' | 'warning' | 'info' | string;
  text: string;
  elapsed_ms: number;
  image_id: string;
  stream: string;
}
