/**
 * Restart policies, as Docker's restart manager applies them: `no`, `always`, `unless-stopped`
 * and `on-failure[:N]`, with a delay that starts at 100 ms, doubles at each restart up to one
 * minute, and falls back to 100 ms once a run lasted at least 10 seconds.
 */
import type { RestartPolicy } from '../../common/rpc/engine-types';
import { invalidArgument } from '../../common/errors';

export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const STABLE_RUN_MS = 10_000;

export function validatePolicy(p: RestartPolicy, autoRemove: boolean): void {
  const name = p.name || 'no';
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(name)) throw invalidArgument(`invalid restart policy '${name}'`);
  if (p.max_retries < 0) throw invalidArgument(`invalid restart policy: maximum retry count can't be negative`);
  if (p.max_retries > 0 && name !== 'on-failure')
    throw invalidArgument(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (autoRemove && name !== 'no') throw invalidArgument('can\'t create \'AutoRemove\' container with restart policy');
}

/** Whether a process that just exited with `exitCode` is started again. */
export function shouldRestart(p: RestartPolicy, exitCode: number, restartCount: number, stoppedByUser: boolean): boolean {
  if (stoppedByUser) return false;
  switch (p.name || 'no') {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (p.max_retries === 0 || restartCount < p.max_retries);
    default:
      return false;
  }
}

/** The delay before restart number `restartCount + 1`, given how long the last run lasted. */
export function restartDelay(previousDelayMs: number, ranForMs: number): number {
  if (ranForMs >= STABLE_RUN_MS || previousDelayMs <= 0) return BACKOFF_START_MS;
  return Math.min(previousDelayMs * 2, BACKOFF_MAX_MS);
}

/** Whether the daemon starts the container again when it starts (after a reboot or crash). */
export function restartsWithDaemon(p: RestartPolicy, stoppedByUser: boolean): boolean {
  const name = p.name || 'no';
  if (name === 'always') return !stoppedByUser;
  if (name === 'unless-stopped') return !stoppedByUser;
  return false;
}
