/**
 * Phase timings of container runs, for finding where a `run` spends its time: with
 * `TSCOMPOSE_TRACE=1` in the daemon's environment, each traced phase prints one line on stderr,
 * `trace <container id> <phase> @<start> +<duration>`, in ms since the container's first traced
 * phase. Off (the default) it costs one boolean test per phase.
 */
const enabled = process.env['TSCOMPOSE_TRACE'] === '1';
const origins = new Map<string, number>();

export function traced<T>(id: string, phase: string, fn: () => Promise<T>): Promise<T> {
  if (!enabled) return fn();
  const start = performance.now();
  const origin = origins.get(id) ?? start;
  if (!origins.has(id)) origins.set(id, origin);
  const done = () => {
    process.stderr.write(`trace ${id.slice(0, 12)} ${phase} @${(start - origin).toFixed(1)} +${(performance.now() - start).toFixed(1)}\n`);
  };
  const p = fn();
  p.then(done, done);
  return p;
}

/** A point in time of a container's run (no duration). */
export function traceMark(id: string, what: string): void {
  if (!enabled) return;
  const now = performance.now();
  const origin = origins.get(id) ?? now;
  if (!origins.has(id)) origins.set(id, origin);
  process.stderr.write(`trace ${id.slice(0, 12)} ${what} @${(now - origin).toFixed(1)}\n`);
}

/** Forgets a container's origin a little after its removal (late marks still line up). */
export function traceEnd(id: string): void {
  if (enabled) setTimeout(() => origins.delete(id), 10_000).unref();
}
