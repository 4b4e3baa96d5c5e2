import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from './fsutil';

/**
 * A JSON document kept in memory and on disk, where every change is one atomic file replace.
 * Several records that must change together (an image and its tags) live in one document, so a
 * `kill -9` at any moment leaves either the state before a change or the state after it.
 * Changes are serialised; readers see the last committed state.
 */
export class JsonStateFile<T> {
  private current!: T;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly empty: () => T,
  ) {}

  async load(): Promise<T> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true });
    try {
      this.current = JSON.parse(await fsp.readFile(this.file, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.current = this.empty();
    }
    return this.current;
  }

  get state(): T {
    return this.current;
  }

  /**
   * Applies `change` to a copy of the state and commits it. If `change` throws, nothing changes.
   * Returns what `change` returned.
   */
  update<R>(change: (draft: T) => R | Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      const draft = structuredClone(this.current);
      const result = await change(draft);
      await writeFileAtomic(this.file, JSON.stringify(draft));
      this.current = draft;
      return result;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}
