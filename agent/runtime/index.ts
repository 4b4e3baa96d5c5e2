export type {
  AttachStreams,
  ConsoleSize,
  ContainerState,
  ContainerStatus,
  CreateOptions,
  ExecOptions,
  ExecSession,
  ExitStatus,
  Runtime,
} from './runtime';
export { RuncRuntime, type RuncRuntimeOptions } from './runc';
export {
  ALL_CAPABILITIES,
  availableCapabilities,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  buildSpec,
  capabilitySet,
  hostDevices,
  mappedDevices,
  ociResources,
  parseDeviceRule,
  writeEtcFiles,
  type ContainerSpecOptions,
  type EtcFiles,
  type MountOptions,
  type NamespaceMode,
  type ResourceOptions,
  type Ulimit,
} from './spec';
export { resolveUser, type ResolvedUser } from './user';
export { cgroupMode, cgroupsPathFor, readStats, type CgroupMode, type ContainerStats } from './cgroups';
export { parseLogLine, readLog, type LogRecord } from './logs';
export type { OciSpec, OciProcess, OciMount, OciUser } from './oci';
