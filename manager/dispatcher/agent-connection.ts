/**
 * The dispatcher's view of one node's agent: what the manager may ask a node to do. The manager
 * depends on this contract only; how it reaches the agent (in-process on one host through the
 * Engine API, over the network in a cluster) is the wiring's business.
 */
import type { ContainerSpec, ContainerSummary, NetworkSummary, ProcessSpec, VolumeSummary } from '../../common/rpc/engine-types';

export interface EngineFilter {
  key: string;
  values: string[];
}

export interface NodeInfo {
  hostname: string;
  os: string;
  arch: string;
  nanoCpus: number;
  memoryBytes: number;
}

export interface NetworkRequest {
  name: string;
  driver: string;
  subnet: string;
  gateway: string;
  ip_range: string;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
}

export interface VolumeRequest {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

export interface PullProgress {
  id: string;
  status: string;
}

export interface AgentConnection {
  info(): Promise<NodeInfo>;

  listContainers(filters: EngineFilter[], all: boolean): Promise<ContainerSummary[]>;
  /** `onWarning` gets the engine's warnings about the new container (e.g. its image's platform). */
  createContainer(spec: ContainerSpec, onWarning?: (warning: string) => void): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** `timeoutSeconds` -1: the container's own stop timeout. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  restartContainer(id: string, timeoutSeconds: number): Promise<void>;
  killContainer(id: string, signal: string): Promise<void>;
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  removeContainer(id: string, opts: { force: boolean; volumes: boolean }): Promise<void>;
  /** The container's volume mounts: the volume's name and where it is mounted. */
  containerVolumes(id: string): Promise<Array<{ name: string; destination: string }>>;
  /** Resolves with the exit code once the container is not running. */
  waitContainer(id: string, signal?: AbortSignal): Promise<number>;
  /** Runs a process in the running container to its end (Compose's lifecycle hooks). */
  runInContainer(id: string, process: ProcessSpec): Promise<{ exitCode: number; output: Buffer }>;

  /** The image's ID in the node's store (`sha256:…`), or undefined when it is not there. */
  imageId(reference: string): Promise<string | undefined>;
  /** `platform` (`os/arch[/variant]`, a service's) picks from a multi-platform image; '' is the node's own. */
  pullImage(reference: string, platform: string, onProgress: (p: PullProgress) => void): Promise<void>;
  /** Untags/deletes; returns the lines (`Untagged: …`, `Deleted: …`) and per-name errors. */
  removeImage(reference: string): Promise<{ lines: string[]; errors: string[] }>;

  listNetworks(filters: EngineFilter[]): Promise<NetworkSummary[]>;
  createNetwork(req: NetworkRequest): Promise<string>;
  removeNetwork(name: string): Promise<void>;

  listVolumes(filters: EngineFilter[]): Promise<VolumeSummary[]>;
  createVolume(req: VolumeRequest): Promise<void>;
  removeVolume(name: string): Promise<void>;
}
