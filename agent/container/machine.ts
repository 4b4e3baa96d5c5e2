/**
 * The container state machine: `advance` moves a container exactly one step towards its desired
 * state, and says which step it took. The reconcile loop (service.ts) calls it until it returns
 * undefined. Everything that touches the host goes through `MachineEnv`, whose members are plain
 * function fields, so tests drive the machine with a fake runtime.
 *
 * Steps:
 *   created|exited --start--> running      (desired running)
 *   restarting --start (when due)--> running
 *   running --exited--> exited | restarting (restart policy) | removing (auto-remove)
 *   running --pause--> paused --resume--> running
 *   restarting --cancel--> exited          (desired stopped)
 *   created|exited|dead --remove--> (gone) (desired removed)
 */
import type { ContainerRecord } from './record';
import { restartDelay, shouldRestart } from './restart';

export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
  /** ms */
  finishedAt: number;
}

export interface MachineEnv {
  /** Prepares everything and runs the process; returns its pid. Cleans up after itself on failure. */
  start(c: ContainerRecord): Promise<{ pid: number }>;
  /** The exit of the current attempt if it has ended, without waiting. */
  exitOf(c: ContainerRecord): Promise<ExitInfo | undefined>;
  /** Releases what a run held: runtime container, network, rootfs mount. */
  teardown(c: ContainerRecord): Promise<void>;
  pause(c: ContainerRecord): Promise<void>;
  resume(c: ContainerRecord): Promise<void>;
  /** Deletes everything the container owns; the record is gone after it. */
  remove(c: ContainerRecord): Promise<void>;
  /** Kills the process at once (remove of a running container). */
  kill(c: ContainerRecord): Promise<void>;
}

export type Step =
  | { kind: 'started' }
  | { kind: 'start-failed'; error: string; exitCode: number }
  | { kind: 'exited'; exitCode: number; oomKilled: boolean }
  | { kind: 'restart-scheduled'; delayMs: number }
  | { kind: 'paused' }
  | { kind: 'resumed' }
  | { kind: 'restart-cancelled' }
  | { kind: 'killed' }
  | { kind: 'removed' };

/** Docker's exit codes for a process that could not be started. */
export function startFailureExitCode(message: string): number {
  if (/executable file not found|no such file or directory|not found in \$PATH/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return 128;
}

export async function advance(c: ContainerRecord, env: MachineEnv, now: number): Promise<Step | undefined> {
  const s = c.state;
  if (c.desired === 'removed') {
    if (s.status === 'running' || s.status === 'paused') {
      const exit = await env.exitOf(c);
      if (!exit) {
        await env.kill(c);
        return { kind: 'killed' };
      }
      return finishAttempt(c, env, exit, now, false);
    }
    await env.remove(c);
    s.status = 'removing';
    return { kind: 'removed' };
  }

  if (s.status === 'running' || s.status === 'paused') {
    const exit = await env.exitOf(c);
    if (exit) return finishAttempt(c, env, exit, now, c.desired === 'running' || c.desired === 'paused');
    if (c.desired === 'paused' && s.status === 'running') {
      await env.pause(c);
      s.status = 'paused';
      return { kind: 'paused' };
    }
    if (c.desired === 'running' && s.status === 'paused') {
      await env.resume(c);
      s.status = 'running';
      return { kind: 'resumed' };
    }
    return undefined;
  }

  if (s.status === 'restarting') {
    if (c.desired !== 'running') {
      s.status = 'exited';
      return { kind: 'restart-cancelled' };
    }
    if (now < s.restartAt) return undefined;
    return startAttempt(c, env, now);
  }

  if ((s.status === 'created' || s.status === 'exited' || s.status === 'dead') && c.desired === 'running') {
    return startAttempt(c, env, now);
  }
  return undefined;
}

async function startAttempt(c: ContainerRecord, env: MachineEnv, now: number): Promise<Step> {
  const s = c.state;
  try {
    const { pid } = await env.start(c);
    s.status = 'running';
    s.pid = pid;
    s.startedAt = now;
    s.exitCode = 0;
    s.error = '';
    s.oomKilled = false;
    if (c.config.healthcheck) s.health = { status: 'starting', failingStreak: 0, log: s.health?.log ?? [] };
    return { kind: 'started' };
  } catch (err) {
    const error = (err as Error).message;
    const exitCode = startFailureExitCode(error);
    // As Docker: a container that failed to start keeps its status (created stays created).
    if (s.status === 'restarting') s.status = 'exited';
    s.error = error;
    s.exitCode = exitCode;
    s.pid = 0;
    s.finishedAt = now;
    c.desired = c.spec.auto_remove ? 'removed' : 'stopped';
    return { kind: 'start-failed', error, exitCode };
  }
}

async function finishAttempt(c: ContainerRecord, env: MachineEnv, exit: ExitInfo, now: number, wantRunning: boolean): Promise<Step> {
  const s = c.state;
  await env.teardown(c);
  const ranFor = exit.finishedAt - s.startedAt;
  s.pid = 0;
  s.exitCode = exit.exitCode;
  s.oomKilled = exit.oomKilled;
  s.finishedAt = exit.finishedAt;
  if (wantRunning && shouldRestart(c.spec.restart_policy, exit.exitCode, s.restartCount, s.stoppedByUser)) {
    const delayMs = restartDelay(c.lastRestartDelayMs ?? 0, ranFor);
    c.lastRestartDelayMs = delayMs;
    s.restartCount += 1;
    s.restartAt = now + delayMs;
    s.status = 'restarting';
    return { kind: 'restart-scheduled', delayMs };
  }
  s.status = 'exited';
  if (c.desired !== 'removed') c.desired = c.spec.auto_remove ? 'removed' : 'stopped';
  return { kind: 'exited', exitCode: exit.exitCode, oomKilled: exit.oomKilled };
}
