import type { Readable } from 'node:stream';
import { launcher, type InPipe } from '../../common/process';

/**
 * One message conmon writes on a sync or attach pipe (API version 1): `{"data": N}` with
 * `message` on failure. On create, `data` is the container pid or -1; on exec the pid first,
 * then the exit code.
 */
export interface SyncMessage {
  data: number;
  message?: string;
}

/** A conmon being launched: its pipes to us until it has daemonised. */
export interface ConmonLaunch {
  /** Resolves with the next message on the sync pipe, undefined when conmon closed it. */
  nextSync(): Promise<SyncMessage | undefined>;
  /** Resolves with the next message on the attach pipe (exec with --exec-attach only). */
  nextAttach(): Promise<SyncMessage | undefined>;
  /** Writes one byte on the start pipe: conmon waits for it before it forks, and again before runc exec with --exec-attach. */
  release(): void;
  /** What conmon printed before it daemonised (argument errors and the like). */
  stderr(): string;
  /** Drops our ends of the pipes; conmon carries on alone. */
  detach(): void;
}

/**
 * Starts conmon with the sync and start pipes (and the attach pipe for exec attach) on fds 3,
 * 4 and 5, named to it by `_OCI_SYNCPIPE`, `_OCI_STARTPIPE` and `_OCI_ATTACHPIPE`. conmon forks,
 * the first process exits, and the second calls setsid(): the supervisor is in neither our
 * process group nor our session, so it outlives us. Started by the daemon's process launcher
 * (the pipes are FIFOs there), so a container's start does not fork the daemon.
 */
export async function launchConmon(conmonPath: string, args: string[], opts: { cwd: string; attachPipe?: boolean }): Promise<ConmonLaunch> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    _OCI_SYNCPIPE: '3',
    _OCI_STARTPIPE: '4',
    // conmon hands its environment to `runc create`, which hands GOMAXPROCS on to `runc init`:
    // Go programs that live a few milliseconds, dozens at once while a project starts, whose
    // second scheduler thread only spins (as for the CNI plugins; ~5% less CPU for a project).
    GOMAXPROCS: '1',
  };
  const extraFds: ('out' | 'in')[] = ['out', 'in'];
  if (opts.attachPipe) {
    extraFds.push('out');
    env['_OCI_ATTACHPIPE'] = '5';
  }
  // No defaultSignals: conmon handles SIGINT and SIGQUIT itself (it forwards them), and a handled
  // signal is at its default again after exec, so runc and the container never see them ignored
  // (the runtime test checks it).
  const child = await launcher().launch(conmonPath, args, { env, cwd: opts.cwd, stdout: 'ignore', extraFds });
  const sync = new LineReader(child.fds[0] as Readable);
  const attach = opts.attachPipe ? new LineReader(child.fds[2] as Readable) : undefined;
  const start = child.fds[1] as InPipe;
  return {
    nextSync: () => sync.next(),
    nextAttach: () => (attach ? attach.next() : Promise.resolve(undefined)),
    release: () => {
      start.write('0');
    },
    stderr: () => child.stderrSoFar().slice(0, 8192).trim(),
    detach: () => {
      sync.close();
      attach?.close();
      start.close();
    },
  };
}

/** Newline-delimited JSON messages from one pipe, handed out in order. */
class LineReader {
  private buffered = '';
  private queue: (SyncMessage | undefined)[] = [];
  private waiters: { resolve: (m: SyncMessage | undefined) => void }[] = [];
  private ended = false;

  constructor(private readonly stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl).trim();
        this.buffered = this.buffered.slice(nl + 1);
        if (line) this.push(parseMessage(line));
      }
    });
    const finish = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.waiters.splice(0)) w.resolve(undefined);
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  }

  private push(m: SyncMessage): void {
    const w = this.waiters.shift();
    if (w) w.resolve(m);
    else this.queue.push(m);
  }

  next(): Promise<SyncMessage | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  close(): void {
    this.stream.destroy();
  }
}

function parseMessage(line: string): SyncMessage {
  try {
    const m = JSON.parse(line) as { data?: unknown; message?: unknown };
    if (typeof m.data !== 'number') throw new Error('no data');
    return typeof m.message === 'string' ? { data: m.data, message: m.message } : { data: m.data };
  } catch {
    return { data: -1, message: `unreadable message from conmon: ${line}` };
  }
}

/**
 * The last meaningful line of runc's error output. runc prints its final error on stderr as a
 * plain line, and logrus lines (`time=… level=error msg="…"`) when it has no log file.
 */
export function lastErrorLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines[lines.length - 1] ?? '';
  const logrus = /level=\w+ msg="((?:[^"\\]|\\.)*)"/.exec(last);
  if (logrus?.[1] !== undefined) return logrus[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return last;
}
