/**
 * Reading a container's log (conmon's k8s-file format) as Docker's `logs` shows it: whole lines
 * per stream, with `--since/--until/--tail`, and following new lines as they are written.
 */
import { promises as fsp, watch } from 'node:fs';
import { parseLogLine } from '../runtime/logs';

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** The text with its newline when the process wrote one. */
  data: Buffer;
  timeNano: number;
}

function toNano(rfc3339: string): number {
  const m = /\.(\d+)/.exec(rfc3339);
  const frac = m ? (m[1] ?? '').padEnd(9, '0').slice(0, 9) : '000000000';
  const secs = Math.floor(Date.parse(rfc3339.replace(/\.\d+/, '')) / 1000);
  return secs * 1e9 + Number(frac);
}

/** Parses complete records from `text`; partial records (P) join the next of the same stream. */
export class LogParser {
  private rest = '';

  /**
   * `passPartial`: each record is passed on as it comes (a prompt without a newline must reach an
   * attached terminal now); otherwise partial records are joined into whole lines, as `logs`.
   */
  constructor(private readonly passPartial = false) {}

  private readonly pending: Record<'stdout' | 'stderr', { time: number; text: string } | undefined> = { stdout: undefined, stderr: undefined };

  push(chunk: string): LogLine[] {
    const out: LogLine[] = [];
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const raw of lines) {
      const rec = parseLogLine(raw);
      if (!rec) continue;
      if (this.passPartial) {
        out.push({ stream: rec.stream, data: Buffer.from(rec.partial ? rec.text : rec.text + '\n'), timeNano: toNano(rec.time) });
        continue;
      }
      const prev = this.pending[rec.stream];
      const joined = { time: prev?.time ?? toNano(rec.time), text: (prev?.text ?? '') + rec.text };
      if (rec.partial) {
        this.pending[rec.stream] = joined;
        continue;
      }
      this.pending[rec.stream] = undefined;
      out.push({ stream: rec.stream, data: Buffer.from(joined.text + '\n'), timeNano: joined.time });
    }
    return out;
  }

  /** Partial lines still open when the process ended, without a newline, as Docker shows them. */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const p = this.pending[stream];
      if (p) out.push({ stream, data: Buffer.from(p.text), timeNano: p.time });
      this.pending[stream] = undefined;
    }
    return out;
  }
}

export interface FollowOptions {
  /** Byte offset to start at. */
  offset: number;
  /** Called for each batch of lines; returning false stops. */
  onLines(lines: LogLine[]): boolean | void;
  /** True while more output may come (the container runs). */
  live(): boolean;
  /**
   * Settles when `live()` may have turned false: the follow ends then, rather than at its next
   * poll, which is up to 250 ms later when the file has not changed (a process exiting quietly).
   */
  ended?: Promise<unknown>;
  signal?: AbortSignal;
  /** Pass partial records on at once (attach) instead of joining them (logs). */
  passPartial?: boolean;
}

/** Reads the log from `offset`, then keeps reading as it grows while `live()` holds. */
export async function followLog(file: string, opts: FollowOptions): Promise<number> {
  const parser = new LogParser(opts.passPartial === true);
  let offset = opts.offset;
  let wake: (() => void) | undefined;
  let watcher: ReturnType<typeof watch> | undefined;
  const nudge = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  try {
    watcher = watch(file, nudge);
  } catch {
    watcher = undefined;
  }
  opts.signal?.addEventListener('abort', nudge);
  // A wake-up with nothing to wait for is harmless: live() is checked before every wait.
  void opts.ended?.then(nudge, nudge);
  // One descriptor for the whole follow: the file may be unlinked meanwhile (a `--rm`
  // container is removed as soon as it exits) and its content stays readable through it.
  let fh: Awaited<ReturnType<typeof fsp.open>> | undefined;
  try {
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      // Asked before reading: a process's last lines are written before its exit is recorded,
      // so a read after live() turned false has them all.
      const wasLive = opts.live();
      fh ??= await fsp.open(file, 'r').catch(() => undefined);
      let readAny = false;
      if (fh) {
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          readAny = true;
          const lines = parser.push(buf.subarray(0, bytesRead).toString('utf8'));
          if (lines.length > 0 && opts.onLines(lines) === false) return offset;
        }
      }
      if (opts.signal?.aborted) return offset;
      if (!readAny && fh && (await rotated(file, fh, offset))) {
        // conmon emptied a full log (max-size) by putting a new file in its place: go on there
        // (the process may have written its last lines there and exited since).
        await fh.close();
        fh = undefined;
        offset = 0;
        watcher?.close();
        watcher = undefined;
        continue;
      }
      if (!readAny && !wasLive) {
        const rest = parser.flush();
        if (rest.length > 0) opts.onLines(rest);
        return offset;
      }
      if (!readAny) {
        if (!watcher) watcher = (() => { try { return watch(file, nudge); } catch { return undefined; } })();
        await new Promise<void>((resolve) => {
          wake = resolve;
          // inotify can miss the very first write of a just-created file: poll as a fallback.
          setTimeout(nudge, 250).unref();
        });
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', nudge);
    watcher?.close();
    await fh?.close();
  }
}

/**
 * Whether the log at `file` is no longer what `fh` reads up to `offset`: another file took its
 * name (a rotation), or it was emptied in place. An unlinked log (a removed `--rm` container's)
 * is not rotated: what is left is read through `fh`.
 */
async function rotated(file: string, fh: Awaited<ReturnType<typeof fsp.open>>, offset: number): Promise<boolean> {
  const now = await fsp.stat(file).catch(() => undefined);
  if (!now) return false;
  const open = await fh.stat();
  return now.ino !== open.ino || now.dev !== open.dev || now.size < offset;
}

export async function logSize(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}
