/**
 * Blob downloads shared between concurrent pulls in one process: a second pull that needs a
 * digest already being fetched into the same store joins that fetch (and sees its progress)
 * instead of starting another. The fetch is cancelled only when every puller waiting on it is.
 */
import { cancelled } from '../../common/errors';
import type { ContentInfo, ContentStore } from '../image/content';
import type { BlobProgress } from './client';

export interface FetchWaiter {
  onProgress?: (p: BlobProgress) => void;
  signal?: AbortSignal;
}

export type StartFetch = (signal: AbortSignal, onProgress: (p: BlobProgress) => void) => Promise<ContentInfo>;

interface SharedFetch {
  promise: Promise<ContentInfo>;
  listeners: Set<(p: BlobProgress) => void>;
  controller: AbortController;
  waiters: number;
  last?: BlobProgress;
}

export class BlobFetchGroup {
  private readonly byStore = new WeakMap<ContentStore, Map<string, SharedFetch>>();

  /** Whether a fetch of `digest` into `store` is running (for tests and diagnostics). */
  isFetching(store: ContentStore, digest: string): boolean {
    return this.byStore.get(store)?.has(digest) ?? false;
  }

  fetch(store: ContentStore, digest: string, start: StartFetch, waiter: FetchWaiter = {}): Promise<ContentInfo> {
    let running = this.byStore.get(store);
    if (!running) {
      running = new Map();
      this.byStore.set(store, running);
    }
    let shared = running.get(digest);
    // A fetch every waiter left is winding down; the next one starts once it released the ingest.
    const previous = shared?.controller.signal.aborted ? shared.promise : undefined;
    if (!shared || previous) {
      const controller = new AbortController();
      const listeners = new Set<(p: BlobProgress) => void>();
      const entry: SharedFetch = { listeners, controller, waiters: 0, promise: Promise.resolve() as never };
      const map = running;
      const report = (p: BlobProgress) => {
        entry.last = p;
        for (const l of listeners) l(p);
      };
      const begin = () => start(controller.signal, report);
      entry.promise = (previous ? previous.then(begin, begin) : begin()).finally(() => {
        if (map.get(digest) === entry) map.delete(digest);
      });
      entry.promise.catch(() => undefined);
      running.set(digest, entry);
      shared = entry;
    }
    return this.join(shared, waiter);
  }

  private join(shared: SharedFetch, waiter: FetchWaiter): Promise<ContentInfo> {
    const { signal, onProgress } = waiter;
    if (signal?.aborted) return Promise.reject(cancelled('context canceled'));
    shared.waiters++;
    if (onProgress) {
      shared.listeners.add(onProgress);
      if (shared.last) onProgress(shared.last);
    }
    return new Promise<ContentInfo>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        if (onProgress) shared.listeners.delete(onProgress);
        signal?.removeEventListener('abort', onAbort);
        shared.waiters--;
      };
      const onAbort = () => {
        leave();
        if (shared.waiters === 0) shared.controller.abort();
        reject(cancelled('context canceled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      shared.promise.then(
        (info) => {
          leave();
          resolve(info);
        },
        (err: unknown) => {
          leave();
          reject(err);
        },
      );
    });
  }
}

/** The process-wide group pulls share unless given their own. */
export const processBlobFetches = new BlobFetchGroup();
