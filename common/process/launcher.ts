import { accessSync, constants, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Starting the daemon's short-lived helper programs (mount, umount, conmon, runc, ip, CNI
 * plugins). Behind a contract because how a process is started is itself a cost: Node's spawn
 * forks the whole daemon (~9 ms here, plus copy-on-write faults afterwards), a small spawn server
 * forks a few hundred kB (`dash.ts`).
 */
export interface ProcessLauncher {
  /** Starts `file` (a path, or a name looked up in PATH) with `args`; failures to start reject. */
  launch(file: string, args: readonly string[], options?: LaunchOptions): Promise<Launched>;
  /** Starts a program and waits for it; a non-zero exit is a result, not an error. */
  run(file: string, args: readonly string[], options?: LaunchOptions): Promise<LaunchResult>;
  /** Stops the launcher's own helpers; processes already started carry on. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** The whole environment of the program; the daemon's own when absent. */
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** What the program reads on stdin; /dev/null when absent. */
  input?: string | Buffer;
  /** Default 'capture': the text is in the result. */
  stdout?: 'capture' | 'ignore';
  stderr?: 'capture' | 'ignore';
  /**
   * Extra descriptors 3, 4, …, each a pipe to us: 'out' the program writes and we read, 'in'
   * the program reads and we write (conmon's sync, start and attach pipes).
   */
  extraFds?: readonly ('out' | 'in')[];
  /**
   * The program (and what it starts) must get SIGINT and SIGQUIT at their defaults: conmon, whose
   * container inherits them. Otherwise a launcher may leave them ignored (background jobs of a
   * shell without job control), which spares an exec for short-lived helpers.
   */
  defaultSignals?: boolean;
  /** SIGKILL after this long. */
  timeoutMs?: number;
}

/** Our end of an 'in' descriptor: small writes (a byte, a line), never blocking. */
export interface InPipe {
  write(data: string): void;
  close(): void;
}

export interface Launched {
  readonly pid: Promise<number>;
  /** For each of `extraFds`, in order: a Readable for 'out', an InPipe for 'in'. */
  readonly fds: readonly (Readable | InPipe)[];
  /** Settles when the program has exited (never rejects once launched). */
  readonly exited: Promise<LaunchResult>;
  /** What the program has written on stderr so far (when captured). */
  stderrSoFar(): string;
  kill(signal?: NodeJS.Signals | number): void;
}

export interface LaunchResult {
  /** The exit status; 128+n when signal n ended the program, as shells and Docker report it. */
  code: number;
  stdout: string;
  stderr: string;
}

/** The `code: 'ENOENT'` error Node's spawn gives for a program that is not there. */
export function notInstalled(file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`spawn ${file} ENOENT`);
  err.code = 'ENOENT';
  err.errno = -2;
  err.syscall = `spawn ${file}`;
  err.path = file;
  return err;
}

/** The search path of a program given an environment without PATH. */
export const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const found = new Map<string, string>();

/**
 * Where `file` is on `search` (default: this process's PATH), looked up once per name: a start
 * by bare name tries each PATH entry in turn, an execve per entry before the right one.
 */
export function lookPath(file: string, search = process.env['PATH'] ?? DEFAULT_SEARCH_PATH): string {
  const key = `${search}\0${file}`;
  const known = found.get(key);
  if (known) return known;
  for (const dir of search.split(':')) {
    const p = path.join(dir || '.', file);
    try {
      accessSync(p, constants.X_OK);
      if (!statSync(p).isFile()) continue;
    } catch {
      continue;
    }
    found.set(key, p);
    return p;
  }
  throw notInstalled(file);
}

/** Drops what `lookPath` found (a program removed since, say). */
export function forgetLookups(): void {
  found.clear();
}
