export type { Store } from './store';
export { FileStore, emptyState } from './file-store';
export type * from './types';
