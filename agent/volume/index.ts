/**
 * Volumes: Docker's named and anonymous volumes on this host. The daemon uses `VolumeService`;
 * the `VolumeDriver` contract and the `local` driver are exported for other drivers and tests.
 */
export {
  VolumeService,
  formatRfc3339,
  type VolumeServiceOptions,
  type VolumeRecord,
  type VolumeView,
  type VolumeUsage,
  type VolumeReference,
  type VolumeEventSink,
  type CreateVolumeRequest,
  type PruneResult,
} from './service';
export type { VolumeDriver } from './driver';
export { LocalDriver, LOCAL_DRIVER } from './local';
export { ANONYMOUS_LABEL, checkVolumeName, randomVolumeName } from './names';
export type { VolumeFilter } from './filters';
export { directorySize } from './usage';
