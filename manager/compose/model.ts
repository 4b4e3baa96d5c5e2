/**
 * The typed Compose model that `up` and the runtime consume. Attribute names are the Compose
 * Specification's own (snake_case), so the spec documents every field. Units:
 * - durations (`*_period`, `interval`, `timeout`, `delay`, `stop_grace_period`, …): nanoseconds;
 * - byte sizes (`mem_limit`, `shm_size`, `tmpfs.size`, `memory`, blkio `_bps` rates): bytes;
 * - `cpus`: fractional CPUs; file modes: numbers (e.g. 0o440).
 * Every service is in long syntax: no short forms, paths absolute (unless loaded with
 * resolvePaths: false), `environment` already merged with its env files.
 */

export type Nanoseconds = number;
export type Bytes = number;
export type Extensions = Record<`x-${string}`, unknown>;

export interface Project {
  name: string;
  /** Directory relative paths were resolved against. */
  working_dir: string;
  services: Record<string, ServiceConfig>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, SecretConfig>;
  configs: Record<string, ConfigObjConfig>;
  models: Record<string, ModelConfig>;
  /** Services left out by profiles (or by naming other services on the command line). */
  disabled_services: string[];
  /** Profiles in effect, including those activated by services named on the command line. */
  profiles: string[];
  /** The Compose files that were loaded, in order, includes and extended files after them. */
  compose_files: string[];
  /** Variables used for interpolation (shell, --env-file, .env). */
  environment: Record<string, string>;
  extensions: Extensions;
}

export interface ServiceConfig {
  name: string;
  /** The canonical plain tree of this service, as `config` prints it; hashed for the config-hash label. */
  canonical: Record<string, unknown>;
  annotations?: Record<string, string>;
  attach?: boolean;
  blkio_config?: BlkioConfig;
  build?: BuildConfig;
  cap_add?: string[];
  cap_drop?: string[];
  cgroup?: 'host' | 'private';
  cgroup_parent?: string;
  command?: string[] | null;
  configs?: FileReferenceConfig[];
  container_name?: string;
  cpu_count?: number;
  cpu_percent?: number;
  cpu_shares?: number;
  cpu_quota?: number;
  cpu_period?: number;
  cpu_rt_period?: number;
  cpu_rt_runtime?: number;
  cpus?: number;
  cpuset?: string;
  credential_spec?: { config?: string; file?: string; registry?: string };
  depends_on?: Record<string, DependsOn>;
  deploy?: DeployConfig;
  develop?: DevelopConfig;
  device_cgroup_rules?: string[];
  devices?: DeviceMapping[];
  dns?: string[];
  dns_opt?: string[];
  dns_search?: string[];
  domainname?: string;
  entrypoint?: string[] | null;
  /** Values are null when given without a value and not set in the project environment. */
  environment?: Record<string, string | null>;
  expose?: string[];
  external_links?: string[];
  extra_hosts?: Record<string, string[]>;
  gpus?: DeviceRequest[];
  group_add?: string[];
  healthcheck?: Healthcheck;
  hostname?: string;
  image?: string;
  init?: boolean;
  ipc?: string;
  isolation?: string;
  labels?: Record<string, string>;
  links?: string[];
  logging?: { driver?: string; options?: Record<string, string> };
  mac_address?: string;
  mem_limit?: Bytes;
  mem_reservation?: Bytes;
  mem_swappiness?: number;
  /** -1 means unlimited swap. */
  memswap_limit?: Bytes;
  models?: Record<string, { endpoint_var?: string; model_var?: string } | null>;
  network_mode?: string;
  networks?: Record<string, ServiceNetworkConfig | null>;
  oom_kill_disable?: boolean;
  oom_score_adj?: number;
  pid?: string | null;
  pids_limit?: number;
  platform?: string;
  ports?: PortConfig[];
  post_start?: ServiceHook[];
  pre_stop?: ServiceHook[];
  privileged?: boolean;
  profiles?: string[];
  provider?: { type: string; options?: Record<string, unknown> };
  pull_policy?: string;
  pull_refresh_after?: string;
  read_only?: boolean;
  restart?: string;
  runtime?: string;
  scale?: number;
  secrets?: FileReferenceConfig[];
  security_opt?: string[];
  shm_size?: Bytes;
  stdin_open?: boolean;
  stop_grace_period?: Nanoseconds;
  stop_signal?: string;
  storage_opt?: Record<string, unknown>;
  sysctls?: Record<string, string>;
  tmpfs?: string[];
  tty?: boolean;
  ulimits?: Record<string, { soft: number; hard: number }>;
  use_api_socket?: boolean;
  user?: string;
  userns_mode?: string;
  uts?: string;
  volumes?: ServiceVolumeConfig[];
  volumes_from?: string[];
  working_dir?: string;
  extensions: Extensions;
}

export interface BuildConfig {
  /** Absolute directory, or a URL (git, http) left as written. */
  context: string;
  /** Relative to the context (as Docker reads it); absent when dockerfile_inline is set. */
  dockerfile?: string;
  dockerfile_inline?: string;
  args?: Record<string, string | null>;
  ssh?: string[];
  labels?: Record<string, string>;
  cache_from?: string[];
  cache_to?: string[];
  no_cache?: boolean;
  additional_contexts?: Record<string, string>;
  network?: string;
  pull?: boolean;
  target?: string;
  shm_size?: Bytes;
  extra_hosts?: Record<string, string[]>;
  isolation?: string;
  privileged?: boolean;
  secrets?: FileReferenceConfig[];
  tags?: string[];
  ulimits?: Record<string, { soft: number; hard: number }>;
  platforms?: string[];
  entitlements?: string[];
}

export interface PortConfig {
  name?: string;
  mode: 'ingress' | 'host' | string;
  host_ip?: string;
  target: number;
  /** Host port or range (`"8080"`, `"8000-8010"`); absent means an ephemeral port. */
  published?: string;
  protocol: 'tcp' | 'udp' | 'sctp' | string;
  app_protocol?: string;
}

export interface ServiceVolumeConfig {
  type: 'bind' | 'volume' | 'tmpfs' | 'cluster' | 'npipe' | 'image';
  /** Host path (bind), volume name (volume; absent for anonymous volumes), image reference (image). */
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; recursive?: string; selinux?: 'z' | 'Z' };
  volume?: { labels?: Record<string, string>; nocopy?: boolean; subpath?: string };
  tmpfs?: { size?: Bytes; mode?: number };
  image?: { subpath?: string };
}

export interface DependsOn {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required: boolean;
  restart?: boolean;
}

export interface Healthcheck {
  /** `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`. */
  test?: string[];
  interval?: Nanoseconds;
  timeout?: Nanoseconds;
  start_period?: Nanoseconds;
  start_interval?: Nanoseconds;
  retries?: number;
  disable?: boolean;
}

export interface ServiceNetworkConfig {
  aliases?: string[];
  interface_name?: string;
  ipv4_address?: string;
  ipv6_address?: string;
  link_local_ips?: string[];
  mac_address?: string;
  driver_opts?: Record<string, string>;
  priority?: number;
  gw_priority?: number;
}

export interface FileReferenceConfig {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface DeviceMapping {
  source: string;
  target: string;
  permissions: string;
}

export interface DeviceRequest {
  capabilities?: string[];
  /** -1 means all devices. */
  count?: number;
  device_ids?: string[];
  driver?: string;
  options?: Record<string, string>;
}

export interface BlkioConfig {
  weight?: number;
  weight_device?: { path: string; weight: number }[];
  device_read_bps?: { path: string; rate: Bytes }[];
  device_write_bps?: { path: string; rate: Bytes }[];
  device_read_iops?: { path: string; rate: number }[];
  device_write_iops?: { path: string; rate: number }[];
}

export interface UpdateConfig {
  parallelism?: number;
  delay?: Nanoseconds;
  failure_action?: string;
  monitor?: Nanoseconds;
  max_failure_ratio?: number;
  order?: 'start-first' | 'stop-first';
}

export interface Resources {
  cpus?: number;
  memory?: Bytes;
  pids?: number;
}

export interface DeployConfig {
  mode?: string;
  endpoint_mode?: string;
  replicas?: number;
  labels?: Record<string, string>;
  rollback_config?: UpdateConfig;
  update_config?: UpdateConfig;
  resources?: {
    limits?: Resources;
    reservations?: Resources & { devices?: DeviceRequest[]; generic_resources?: { discrete_resource_spec?: { kind?: string; value?: number } }[] };
  };
  restart_policy?: { condition?: string; delay?: Nanoseconds; max_attempts?: number; window?: Nanoseconds };
  placement?: { constraints?: string[]; preferences?: { spread?: string }[]; max_replicas_per_node?: number };
}

export interface ServiceHook {
  command: string[] | null;
  user?: string;
  privileged?: boolean;
  working_dir?: string;
  environment?: Record<string, string | null>;
}

export interface DevelopConfig {
  watch?: {
    path: string;
    action: 'rebuild' | 'sync' | 'restart' | 'sync+restart' | 'sync+exec';
    target?: string;
    ignore?: string[];
    include?: string[];
    exec?: ServiceHook;
    initial_sync?: boolean;
  }[];
}

export interface NetworkConfig {
  /** The engine-level name (`<project>_<key>` unless set or external). */
  name: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  ipam?: { driver?: string; config?: { subnet?: string; ip_range?: string; gateway?: string; aux_addresses?: Record<string, string> }[]; options?: Record<string, string> };
  external?: boolean;
  internal?: boolean;
  enable_ipv4?: boolean;
  enable_ipv6?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  extensions: Extensions;
}

export interface VolumeConfig {
  name: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  external?: boolean;
  labels?: Record<string, string>;
  extensions: Extensions;
}

export interface SecretConfig {
  name: string;
  /** Absolute path of the file holding the secret. */
  file?: string;
  environment?: string;
  external?: boolean;
  labels?: Record<string, string>;
  driver?: string;
  driver_opts?: Record<string, string>;
  template_driver?: string;
  extensions: Extensions;
}

export interface ConfigObjConfig {
  name: string;
  file?: string;
  content?: string;
  environment?: string;
  external?: boolean;
  labels?: Record<string, string>;
  template_driver?: string;
  extensions: Extensions;
}

export interface ModelConfig {
  name?: string;
  model: string;
  context_size?: number;
  runtime_flags?: string[];
  extensions: Extensions;
}
