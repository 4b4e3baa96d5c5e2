/**
 * The manager's state store. Every change is a transaction on the whole state: it commits
 * entirely or not at all, and changes are serialised, so concurrent `up`s of two projects never
 * lose each other's records.
 */
import type { ManagerState, ProjectRecord } from './types';

export interface Store {
  /** Reads (or creates) the state; called once before any other method. */
  open(): Promise<void>;
  /** The last committed state; treat it as read-only. */
  readonly state: ManagerState;
  update<R>(change: (draft: ManagerState) => R | Promise<R>): Promise<R>;
  project(name: string): ProjectRecord | undefined;
}
