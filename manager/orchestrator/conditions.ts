/**
 * Waiting on containers: for `depends_on` conditions (started, healthy, completed successfully)
 * and for `up --wait`. The agent reports health in its container list, so waiting is polling it;
 * a container that stops while waited on for health fails the wait with its exit code.
 */
import { cancelled, failedPrecondition, unavailable } from '../../common/errors';
import type { AgentConnection } from '../dispatcher/index';
import type { ActualContainer } from './plan';

const POLL_MS = 200;

export interface WaitTarget {
  agent: AgentConnection;
  id: string;
  name: string;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled('cancelled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled('cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function current(t: WaitTarget): Promise<ActualContainer | undefined> {
  const [c] = await t.agent.listContainers([{ key: 'id', values: [t.id] }], true);
  return c ? { ...c, nodeId: '' } : undefined;
}

/** Resolves once the container is healthy; fails when it is unhealthy or stops. */
export async function waitHealthy(t: WaitTarget, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const c = await current(t);
    if (!c) throw failedPrecondition(`dependency failed to start: container ${t.name} was removed`);
    if (c.state === 'exited' || c.state === 'dead') throw failedPrecondition(`dependency failed to start: container ${t.name} exited (${c.exit_code})`);
    if (c.health === 'healthy') return;
    if (c.health === 'unhealthy') throw failedPrecondition(`dependency failed to start: container ${t.name} is unhealthy`);
    if (c.health === '') throw failedPrecondition(`container ${t.name} has no healthcheck configured`);
    await sleep(POLL_MS, signal);
  }
}

/** Resolves once the container exited 0; fails with its exit code otherwise. */
export async function waitCompleted(t: WaitTarget, service: string): Promise<void> {
  const code = await t.agent.waitContainer(t.id);
  if (code !== 0) throw failedPrecondition(`service "${service}" didn't complete successfully: exit ${code}`);
}

/**
 * `up --wait`: running (healthy when it has a healthcheck). A container that may exit (a job
 * others wait to complete) passes when it exited 0.
 */
export async function waitRunningOrHealthy(t: WaitTarget, mayExit: boolean, signal?: AbortSignal): Promise<'Exited' | 'Running' | 'Healthy'> {
  for (;;) {
    const c = await current(t);
    if (!c) throw failedPrecondition(`container ${t.name} was removed`);
    if (c.state === 'exited' || c.state === 'dead') {
      if (mayExit && c.exit_code === 0) return 'Exited';
      throw failedPrecondition(`container ${t.name} exited (${c.exit_code})`);
    }
    if (c.state === 'running') {
      if (c.health === '' || c.health === 'healthy') return c.health === '' ? 'Running' : 'Healthy';
      if (c.health === 'unhealthy') throw failedPrecondition(`container ${t.name} is unhealthy`);
    }
    await sleep(POLL_MS, signal);
  }
}

/** Runs `work` with a deadline; `seconds` 0 means none. `timedOut` is the error's message. */
export async function withTimeout<T>(seconds: number, timedOut: string, work: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const ac = new AbortController();
  const onOuter = () => ac.abort();
  outer?.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline =
    seconds > 0
      ? new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            ac.abort();
            reject(unavailable(timedOut));
          }, seconds * 1000);
        })
      : undefined;
  try {
    return await (deadline ? Promise.race([work(ac.signal), deadline]) : work(ac.signal));
  } finally {
    if (timer) clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}
