/**
 * The Store in one JSON document under `<dataRoot>/manager/state.json`, replaced atomically on
 * every change (common/statefile.ts): a crash leaves the state before or after a change.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { JsonStateFile } from '../../common/statefile';
import type { Store } from './store';
import type { ManagerState, ProjectRecord } from './types';

export class FileStore implements Store {
  private readonly file: JsonStateFile<ManagerState>;

  constructor(dataRoot: string) {
    this.file = new JsonStateFile(path.join(dataRoot, 'manager', 'state.json'), emptyState);
  }

  async open(): Promise<void> {
    await this.file.load();
  }

  get state(): ManagerState {
    return this.file.state;
  }

  update<R>(change: (draft: ManagerState) => R | Promise<R>): Promise<R> {
    return this.file.update(change);
  }

  project(name: string): ProjectRecord | undefined {
    return this.file.state.projects[name];
  }
}

export function emptyState(): ManagerState {
  return { version: 1, localNodeId: randomBytes(13).toString('base64url').toLowerCase().slice(0, 25), projects: {} };
}
