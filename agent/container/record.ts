/**
 * A container as the agent keeps it: the spec it was asked for, what was resolved from its image
 * at creation, the state it should be in (`desired`) and the state it is in (`state`).
 *
 * Vocabulary:
 * - **desired state**: what the user (or the manager) asked for: running, stopped, paused or
 *   removed. Commands only change this; the state machine (machine.ts) moves the container.
 * - **status**: Docker's container status: created, running, paused, restarting, removing,
 *   exited, dead.
 * - **attempt**: one run of the process, from runtime create to its exit. A restart is a new
 *   attempt on the same rootfs.
 */
import type { ContainerSpec } from '../../common/rpc/engine-types';

export type ContainerStatusName = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export type DesiredState = 'running' | 'stopped' | 'paused' | 'removed';

export interface HealthProbeResult {
  start: number;
  end: number;
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: HealthProbeResult[];
}

export interface HealthcheckConfig {
  test: string[];
  interval: number;
  timeout: number;
  retries: number;
  startPeriod: number;
  startInterval: number;
}

/** Docker's values for what a health check leaves unset (zero). */
const HEALTH_DEFAULTS = { interval: 30e9, timeout: 30e9, retries: 3, startInterval: 5e9 };

/** The health check as it runs: Docker's defaults in place of the unset values. */
export function withHealthDefaults(hc: HealthcheckConfig): HealthcheckConfig {
  return {
    ...hc,
    interval: hc.interval || HEALTH_DEFAULTS.interval,
    timeout: hc.timeout || HEALTH_DEFAULTS.timeout,
    retries: hc.retries || HEALTH_DEFAULTS.retries,
    startInterval: hc.startInterval || HEALTH_DEFAULTS.startInterval,
  };
}

/**
 * A health check as Docker's API carries it (HealthConfig): as given, the unset (zero) fields
 * left out, as Go's `omitempty` leaves them out.
 */
export function healthcheckJson(hc: HealthcheckConfig): { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } {
  return {
    Test: hc.test,
    ...(hc.interval ? { Interval: hc.interval } : {}),
    ...(hc.timeout ? { Timeout: hc.timeout } : {}),
    ...(hc.startPeriod ? { StartPeriod: hc.startPeriod } : {}),
    ...(hc.startInterval ? { StartInterval: hc.startInterval } : {}),
    ...(hc.retries ? { Retries: hc.retries } : {}),
  };
}

/** The image-derived parts of the process, fixed at creation as Docker fixes them. */
export interface ResolvedConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  stopSignal: string;
  /**
   * Test, durations in ns, as given (the container's, else the image's; 0 where neither sets
   * one: `withHealthDefaults` gives what runs); undefined: none. Records made before this kept
   * the defaults in place of zeros.
   */
  healthcheck?: HealthcheckConfig;
  exposedPorts: string[];
  imageVolumes: string[];
  labels: Record<string, string>;
  hostname: string;
}

export interface EndpointRecord {
  networkId: string;
  networkName: string;
  /** The network manager's endpoint (random for `host` and `none`); absent in older records. */
  endpointId?: string;
  ipAddress: string;
  prefixLength: number;
  gateway: string;
  macAddress: string;
  aliases: string[];
}

export interface PublishedPort {
  containerPort: number;
  protocol: string;
  hostIp: string;
  hostPort: number;
}

export interface ResolvedMount {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume), empty (tmpfs). */
  source: string;
  target: string;
  readOnly: boolean;
  /** For volumes: where the volume's data is on the host while the container runs. */
  hostPath?: string;
  /** For volumes: the directory inside the volume mounted instead of its root (`volume-subpath`). */
  subpath?: string;
  propagation?: string;
  tmpfsSize?: number;
  tmpfsMode?: number;
  /** Mount options of a tmpfs over the defaults (`exec`, `uid=1000`, …). */
  tmpfsOptions?: string[];
}

export interface ContainerState {
  status: ContainerStatusName;
  pid: number;
  exitCode: number;
  error: string;
  oomKilled: boolean;
  /** ms since epoch; 0 = never */
  startedAt: number;
  finishedAt: number;
  restartCount: number;
  /** When a `restarting` container is started again (ms). */
  restartAt: number;
  /** Set by `stop`/`kill` from a user, cleared by `start`: `unless-stopped` and `always` honour it. */
  stoppedByUser: boolean;
  health?: HealthState;
}

export interface ContainerRecord {
  id: string;
  name: string;
  spec: ContainerSpec;
  /** The image as the user named it, and what it resolved to at creation. */
  image: string;
  imageId: string;
  created: number;
  config: ResolvedConfig;
  mounts: ResolvedMount[];
  /** Volumes created for this container alone (image VOLUMEs, `-v /path`); `rm -v` removes them. */
  anonymousVolumes: string[];
  desired: DesiredState;
  state: ContainerState;
  endpoints: Record<string, EndpointRecord>;
  ports: PublishedPort[];
  logPath: string;
  /** Network namespace path while running. */
  netnsPath: string;
  /** The own network namespace of the last run, after it ended: Docker keeps SandboxID and SandboxKey. */
  lastNetnsPath?: string;
  /** Names of the networks to join at start, first one primary. */
  networks: string[];
  networkMode: 'bridge' | 'host' | 'none' | 'container';
  /** The delay before the last policy restart, for the doubling backoff. */
  lastRestartDelayMs?: number;
}

export function initialState(): ContainerState {
  return {
    status: 'created',
    pid: 0,
    exitCode: 0,
    error: '',
    oomKilled: false,
    startedAt: 0,
    finishedAt: 0,
    restartCount: 0,
    restartAt: 0,
    stoppedByUser: false,
  };
}

export function isActive(status: ContainerStatusName): boolean {
  return status === 'running' || status === 'paused';
}

/**
 * A container event's attributes as Docker sends them: every label of the container, its image
 * and name, then what the action adds. Filters by label (Compose's project events) see every
 * action only because each one carries the labels.
 */
export function eventAttributes(c: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
  return { ...c.config.labels, image: c.image, name: c.name, ...extra };
}
