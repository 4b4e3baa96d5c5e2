import { watch, type FSWatcher } from 'node:fs';
import { cancelled } from '../../common/errors';

/**
 * Resolves with the first defined result of `check`, re-running it whenever something changes
 * in `dir` (inotify) and at least every `pollMs`, since some changes are not file events
 * (a supervisor dying, a process ending without writing anything). With `maxPollMs` the poll
 * interval doubles up to it: a daemon waits on every running container at once, and the file
 * events already bring the usual endings at once, so the poll is only for the rare rest.
 * `check` learns whether a timer (`polled`) rather than an event or the first look called it, so
 * that it can answer the timer's question (did something end silently?) more cheaply.
 */
export function waitUntil<T>(
  check: (polled: boolean) => Promise<T | undefined>,
  dir: string | undefined,
  opts: { signal?: AbortSignal; pollMs?: number; maxPollMs?: number; what?: string } = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let running = false;
    let again = false;
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      done = true;
      clearTimeout(timer);
      watcher?.close();
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      if (done) return;
      cleanup();
      reject(cancelled(`runtime: wait for ${opts.what ?? 'exit'} cancelled`));
    };
    let againPolled = true;
    const tick = (polled = false): void => {
      if (done) return;
      if (running) {
        again = true;
        againPolled &&= polled;
        return;
      }
      running = true;
      check(polled).then(
        (value) => {
          running = false;
          if (done) return;
          if (value !== undefined) {
            cleanup();
            resolve(value);
          } else if (again) {
            const polledAgain = againPolled;
            again = false;
            againPolled = true;
            tick(polledAgain);
          }
        },
        (err: unknown) => {
          running = false;
          if (done) return;
          cleanup();
          reject(err);
        },
      );
    };
    let pollMs = opts.pollMs ?? 250;
    const maxPollMs = Math.max(pollMs, opts.maxPollMs ?? pollMs);
    const poll = () => {
      tick(true);
      pollMs = Math.min(pollMs * 2, maxPollMs);
      timer = setTimeout(poll, pollMs);
    };
    timer = setTimeout(poll, pollMs);
    if (dir) {
      try {
        watcher = watch(dir, { persistent: false }, () => tick());
        watcher.on('error', () => watcher?.close());
      } catch {
        watcher = undefined;
      }
    }
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort);
    tick();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
