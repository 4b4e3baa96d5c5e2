/**
 * Health checks, as Docker runs them: a probe (an exec in the container) every `interval`, or
 * every `startInterval` during the start period; a probe that fails or outlasts `timeout` is a
 * failure; `retries` failures in a row make the container unhealthy (failures during the start
 * period don't count), one success makes it healthy. The last five results are kept.
 */
import type { EventLog } from '../events';
import type { Runtime } from '../runtime/runtime';
import { eventAttributes, withHealthDefaults, type ContainerRecord, type HealthProbeResult } from './record';

export interface HealthDeps {
  runtime: Runtime;
  events: EventLog;
  get(id: string): ContainerRecord | undefined;
  save(c: ContainerRecord): Promise<void>;
  notify(): void;
}

const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

export class HealthMonitor {
  private readonly running = new Map<string, { timer?: NodeJS.Timeout; stopped: boolean }>();

  constructor(private readonly deps: HealthDeps) {}

  start(id: string): void {
    this.stop(id);
    const handle: { timer?: NodeJS.Timeout; stopped: boolean } = { stopped: false };
    this.running.set(id, handle);
    const c = this.deps.get(id);
    if (!c?.config.healthcheck) return;
    const startedAt = c.state.startedAt;
    const hc = withHealthDefaults(c.config.healthcheck);
    const nextDelay = () => {
      const inStart = Date.now() - startedAt < hc.startPeriod / 1e6;
      return (inStart ? hc.startInterval : hc.interval) / 1e6;
    };
    const tick = async () => {
      if (handle.stopped) return;
      await this.probe(id, startedAt).catch(() => undefined);
      if (!handle.stopped) {
        handle.timer = setTimeout(() => void tick(), nextDelay());
        handle.timer.unref();
      }
    };
    handle.timer = setTimeout(() => void tick(), nextDelay());
    handle.timer.unref();
  }

  stop(id: string): void {
    const h = this.running.get(id);
    if (h) {
      h.stopped = true;
      clearTimeout(h.timer);
      this.running.delete(id);
    }
  }

  stopAll(): void {
    for (const id of [...this.running.keys()]) this.stop(id);
  }

  private async probe(id: string, startedAt: number): Promise<void> {
    const c = this.deps.get(id);
    if (!c?.config.healthcheck || c.state.status !== 'running') return;
    const hc = withHealthDefaults(c.config.healthcheck);
    const [kind, ...rest] = hc.test;
    const args = kind === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : kind === 'CMD' ? rest : hc.test;
    const start = Date.now();
    let exitCode: number;
    let output = '';
    try {
      const session = await this.deps.runtime.exec(id, { args, stdin: false, tty: false });
      const chunks: Buffer[] = [];
      let size = 0;
      const collect = (b: Buffer) => {
        if (size < MAX_OUTPUT) chunks.push(b);
        size += b.length;
      };
      session.streams?.stdout.on('data', collect);
      session.streams?.stderr.on('data', collect);
      const timeoutMs = hc.timeout / 1e6;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<number>((resolve) => {
        timer = setTimeout(() => resolve(-1), timeoutMs);
      });
      exitCode = await Promise.race([session.exitCode, timedOut]);
      clearTimeout(timer);
      if (exitCode === -1) {
        output = `Health check exceeded timeout (${formatDuration(timeoutMs)})`;
        session.streams?.close();
      } else {
        output = Buffer.concat(chunks).toString('utf8').slice(0, MAX_OUTPUT);
      }
    } catch (err) {
      exitCode = -1;
      output = (err as Error).message;
    }
    const cur = this.deps.get(id);
    if (!cur || cur.state.status !== 'running' || cur.state.startedAt !== startedAt) return;
    const result: HealthProbeResult = { start, end: Date.now(), exitCode, output };
    const h = cur.state.health ?? { status: 'starting', failingStreak: 0, log: [] };
    h.log = [...h.log, result].slice(-MAX_LOG);
    const before = h.status;
    if (exitCode === 0) {
      h.failingStreak = 0;
      h.status = 'healthy';
    } else {
      const inStartPeriod = start - startedAt < hc.startPeriod / 1e6;
      if (!inStartPeriod || h.status === 'healthy') {
        h.failingStreak += 1;
        if (h.failingStreak >= hc.retries) h.status = 'unhealthy';
      }
    }
    cur.state.health = h;
    await this.deps.save(cur);
    this.deps.events.emit('container', `exec_die`, id, eventAttributes(cur, { exitCode: String(exitCode) }));
    if (h.status !== before) {
      this.deps.events.emit('container', `health_status: ${h.status}`, id, eventAttributes(cur));
    }
    this.deps.notify();
  }
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
