import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * One record of conmon's k8s-file log: `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`. `P`
 * marks a partial line (the process wrote no newline yet, or a line longer than conmon's
 * buffer); the next records continue it until an `F`.
 */
export interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}

export function parseLogLine(line: string): LogRecord | undefined {
  // [\s\S]: a terminal's output ends lines with \r, which `.` would not match.
  const m = /^(\S+) (stdout|stderr) ([FP]) ?([\s\S]*)$/.exec(line);
  if (!m) return undefined;
  return { time: m[1] as string, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', text: m[4] ?? '' };
}

/** Reads a log file into whole lines per stream, joining partial records. */
export async function readLog(file: string): Promise<{ stream: 'stdout' | 'stderr'; time: string; line: string }[]> {
  const out: { stream: 'stdout' | 'stderr'; time: string; line: string }[] = [];
  const pending: Record<'stdout' | 'stderr', { time: string; text: string } | undefined> = { stdout: undefined, stderr: undefined };
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const raw of rl) {
    const rec = parseLogLine(raw);
    if (!rec) continue;
    const prev = pending[rec.stream];
    const joined = { time: prev?.time ?? rec.time, text: (prev?.text ?? '') + rec.text };
    if (rec.partial) {
      pending[rec.stream] = joined;
    } else {
      pending[rec.stream] = undefined;
      out.push({ stream: rec.stream, time: joined.time, line: joined.text });
    }
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const p = pending[stream];
    if (p) out.push({ stream, time: p.time, line: p.text });
  }
  return out;
}
