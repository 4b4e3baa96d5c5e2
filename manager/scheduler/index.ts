export { schedule, refusalMessage, nodesForGlobal } from './scheduler';
export { DEFAULT_FILTERS, readyFilter, resourcesFilter, constraintFilter, platformFilter, maxReplicasFilter } from './filters';
export type { Filter, NodeLoad } from './filters';
export type * from './types';
