import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync, closeSync, constants as fsc, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { unavailable } from '../errors';
import { DEFAULT_SEARCH_PATH, forgetLookups, lookPath, type InPipe, type LaunchOptions, type LaunchResult, type Launched, type ProcessLauncher } from './launcher';
import { NodeLauncher } from './node';

/**
 * The spawn server: one long-lived `dash` reading commands on its stdin starts the daemon's
 * helper programs, so the daemon itself never forks for them. A fork of dash costs well under a
 * millisecond; a fork of the daemon ~9 ms plus its copy-on-write faults afterwards.
 *
 * Protocol, one request per line (arguments built here only, each single-quoted with `'` as
 * `'\''`, so nothing in them is ever shell syntax):
 *
 *     { ( [cd DIR || exit 126;] unset PWD OLDPWD; K=V… exec [ENV --default-signal --] FILE ARG… )
 *       <IN >OUT 2>ERR [3>FIFO 4<FIFO…] & echo "N p $!"; wait $!; echo "N x $?"; } 2>/dev/null &
 *     echo "N w $!"
 *
 * - a background subshell per request (the worker) starts the program, reports its pid, waits for
 *   it and reports its status: 128+n when signal n ended it, as Docker does. Each report is one
 *   write of a short line on the server's stdout, a pipe, so reports of concurrent requests never
 *   interleave (below PIPE_BUF writes are atomic);
 * - the daemon answers `N x` with `wait W` (W from `N w`): dash reaps background jobs only when
 *   waited for, and a finished worker would otherwise stay a zombie in its job table;
 * - a shell without job control starts background jobs with SIGINT and SIGQUIT ignored, and
 *   that is inherited: `env --default-signal` resets them for programs that ask (conmon, whose
 *   containers would inherit them). The others are spared that exec (~3 ms of CPU here);
 * - the server's own environment is empty: assignments before `exec` are the program's whole
 *   environment (the caller's, else the daemon's at the time of the request); a name that is no
 *   shell name goes through `env -i` instead;
 * - stdin, stdout and stderr are files in `dir` (tmpfs under /run), extra descriptors FIFOs there.
 *
 * When the server dies, it is started again on the next request; requests it had not started
 * yet (no report at all once its stdout reaches end-of-file, that is once every worker is gone)
 * go to the new one. Workers outlive it and still report on the old pipe.
 */
export class DashLauncher implements ProcessLauncher {
  private server: Server | undefined;
  private nextId = 1;
  private readonly fifos: string[] = [];
  private fifoFill: Promise<void> | undefined;
  private nextFifo = 1;
  private usable: Promise<boolean> | undefined;
  private readonly fallback = new NodeLauncher();
  private closed = false;
  private env = '/usr/bin/env';

  constructor(private readonly options: { dir: string; shell?: string }) {}

  async launch(file: string, args: readonly string[], options: LaunchOptions = {}): Promise<Launched> {
    const resolved = this.resolve(file, options);
    if (!(await this.isUsable()) || resolved.includes('=')) return this.fallback.launch(file, args, options);
    if ((options.extraFds?.length ?? 0) > 6) throw new RangeError('process launcher: at most 6 extra descriptors (3 to 9)');
    // The directory removed by hand (as the runtime root may be): made again, as the runtime does.
    if (!existsSync(this.options.dir)) {
      mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
      this.fifos.length = 0;
    }
    const fifos = options.extraFds?.length ? await this.takeFifos(options.extraFds.length) : [];
    return this.start(resolved, args, options, fifos);
  }

  async run(file: string, args: readonly string[], options?: LaunchOptions): Promise<LaunchResult> {
    return (await this.launch(file, args, options)).exited;
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.server;
    this.server = undefined;
    if (s) await s.stop();
    await this.fifoFill?.catch(() => undefined);
    for (const f of this.fifos.splice(0)) rmSync(f, { force: true });
  }

  /** Whether this host's dash and env do what the protocol needs; asked once, of the server itself. */
  private isUsable(): Promise<boolean> {
    this.usable ??= (async () => {
      try {
        accessSync(this.options.shell ?? '/bin/dash', fsc.X_OK);
        mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
        this.env = this.resolve('env', {});
        const r = await this.start(this.resolve('true', {}), [], { stdout: 'ignore', stderr: 'ignore', defaultSignals: true }, []).then((l) => l.exited);
        return r.code === 0;
      } catch {
        return false;
      }
    })();
    return this.usable;
  }

  private resolve(file: string, options: LaunchOptions): string {
    if (file.includes('/')) return options.cwd ? path.resolve(options.cwd, file) : path.resolve(file);
    return lookPath(file, options.env ? (options.env['PATH'] ?? DEFAULT_SEARCH_PATH) : undefined);
  }

  private async takeFifos(n: number): Promise<string[]> {
    while (this.fifos.length < n) {
      this.fifoFill ??= this.makeFifos(Math.max(16, n)).finally(() => (this.fifoFill = undefined));
      await this.fifoFill;
    }
    const taken = this.fifos.splice(0, n);
    if (this.fifos.length < 8 && !this.fifoFill) {
      this.fifoFill = this.makeFifos(16).finally(() => (this.fifoFill = undefined));
      this.fifoFill.catch(() => undefined);
    }
    return taken;
  }

  /** FIFOs made ahead, a batch per `mkfifo` (Node cannot make one itself). */
  private async makeFifos(n: number): Promise<void> {
    const names = Array.from({ length: n }, () => path.join(this.options.dir, `fifo-${process.pid}-${this.nextFifo++}`));
    const r = await this.start(this.resolve('mkfifo', {}), ['-m', '600', '--', ...names], {}, []).then((l) => l.exited);
    if (r.code !== 0) {
      for (const f of names) rmSync(f, { force: true });
      throw unavailable(`process launcher: mkfifo failed: ${r.stderr.trim().split('\n')[0] || `exit status ${r.code}`}`);
    }
    this.fifos.push(...names);
  }

  private start(file: string, args: readonly string[], options: LaunchOptions, fifos: string[]): Promise<Launched> {
    if (this.closed) return Promise.reject(unavailable('process launcher: closed'));
    const id = this.nextId++;
    const base = path.join(this.options.dir, `${process.pid}-${id}`);
    const files: string[] = [];
    const held: number[] = [];
    const fds: (Readable | InPipe)[] = [];
    let line = '{ (';
    if (options.cwd) line += `cd ${quote(options.cwd)} || exit 126; `;
    // dash exports PWD (and OLDPWD after a cd) to what it starts; the environment is ours alone.
    line += 'unset PWD OLDPWD; ';
    const env = Object.entries(options.env ?? process.env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== '');
    // Assignments before `exec` are the program's whole environment (the server's own is empty);
    // a name that is no shell name goes through `env -i` instead.
    const viaEnv = env.some(([k]) => !SHELL_NAME.test(k));
    if (!viaEnv) for (const [k, v] of env) line += `${k}=${quote(v)} `;
    line += 'exec';
    if (viaEnv || options.defaultSignals) {
      line += ` ${quote(this.env)}`;
      if (options.defaultSignals) line += ' --default-signal';
      if (viaEnv) {
        line += ' -i --';
        for (const [k, v] of env) if (!k.includes('=')) line += ` ${quote(`${k}=${v}`)}`;
      } else {
        line += ' --';
      }
    }
    for (const a of [file, ...args]) {
      if (a.includes('\0')) return Promise.reject(new TypeError(`process launcher: ${file}: argument contains a NUL byte`));
      line += ` ${quote(a)}`;
    }
    line += ')';
    if (options.input !== undefined) {
      const p = `${base}.in`;
      writeFileSync(p, options.input, { mode: 0o600 });
      files.push(p);
      line += ` <${quote(p)}`;
    } else {
      line += ' </dev/null';
    }
    const out = options.stdout === 'ignore' ? undefined : `${base}.out`;
    const err = options.stderr === 'ignore' ? undefined : `${base}.err`;
    for (const p of [out, err]) if (p) files.push(p);
    line += ` >${out ? quote(out) : '/dev/null'} 2>${err ? quote(err) : '/dev/null'}`;
    try {
      (options.extraFds ?? []).forEach((dir, i) => {
        const fifo = fifos[i] as string;
        files.push(fifo);
        // Held read-write until the program has exited: its opens of the FIFO never block (a
        // FIFO open waits for the other side), whatever we do with our end meanwhile.
        held.push(openSync(fifo, fsc.O_RDWR));
        if (dir === 'out') {
          const fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
          fds.push(new Socket({ fd, readable: true, writable: false }));
          line += ` ${3 + i}>${quote(fifo)}`;
        } else {
          const fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
          let open = true;
          fds.push({
            write: (s) => {
              if (open) writeSync(fd, s);
            },
            close: () => {
              if (open) closeSync(fd);
              open = false;
            },
          });
          line += ` ${3 + i}<${quote(fifo)}`;
        }
      });
    } catch (e) {
      for (const fd of held) closeSync(fd);
      for (const f of fds) if ('destroy' in f) f.destroy();
      for (const p of files) unlinkQuietly(p);
      return Promise.reject(e as Error);
    }
    line += ` & echo "${id} p $!"; wait $!; echo "${id} x $?"; } 2>/dev/null & echo "${id} w $!"\n`;

    let pidKnown: (pid: number) => void = () => undefined;
    const pid = new Promise<number>((r) => (pidKnown = r));
    let settle: (r: LaunchResult) => void = () => undefined;
    const exited = new Promise<LaunchResult>((r) => (settle = r));
    const request: Request = {
      id,
      line,
      pid: undefined,
      worker: undefined,
      code: undefined,
      heard: false,
      pendingSignal: undefined,
      onPid: (p) => {
        pidKnown(p);
        if (request.pendingSignal !== undefined) signal(p, request.pendingSignal);
      },
      onExit: (code) => {
        if (timer) clearTimeout(timer);
        for (const fd of held) closeSync(fd);
        const text = (p: string | undefined) => (p ? readFileSync(p, 'utf8') : '');
        let stdout = '';
        let stderr = '';
        try {
          stdout = text(out);
          stderr = text(err);
        } catch {
          // Removed under us: the result has no text.
        }
        for (const p of files) unlinkQuietly(p);
        // Not found after all (removed since it was looked up): look again next time.
        if (code === 127) forgetLookups();
        // A pid waited for may be reused; never signal it again.
        request.pid = undefined;
        pidKnown(0);
        settle({ code, stdout, stderr });
      },
    };
    const timer = options.timeoutMs ? setTimeout(() => kill('SIGKILL'), options.timeoutMs) : undefined;
    const kill = (sig: NodeJS.Signals | number) => {
      if (request.code !== undefined) return;
      if (request.pid === undefined) request.pendingSignal = sig;
      else signal(request.pid, sig);
    };
    // SIGINT and SIGQUIT are ignored until env has reset them: sent before the program runs,
    // they would be lost. They wait (briefly) until the process is the program (and are lost on
    // one that asked for no defaults).
    const signal = (p: number, sig: NodeJS.Signals | number) => {
      const held = sig === 'SIGINT' || sig === 'SIGQUIT' || sig === SIGINT || sig === SIGQUIT;
      if (!held || !options.defaultSignals) return send(p, sig);
      let tries = 0;
      const attempt = () => {
        if (request.code !== undefined) return;
        if (isProgram(p, file) || ++tries > 500) send(p, sig);
        else setTimeout(attempt, 2);
      };
      attempt();
    };
    this.send(request);
    return Promise.resolve({
      pid,
      fds,
      exited,
      stderrSoFar: () => {
        if (!err) return '';
        try {
          return readFileSync(err, 'utf8');
        } catch {
          return '';
        }
      },
      kill: (sig) => kill(sig ?? 'SIGTERM'),
    });
  }

  private send(request: Request): void {
    if (!this.server?.alive) {
      this.server = new Server(this.options.shell ?? '/bin/dash', (orphans) => {
        // Never started by the server that died: the next one starts them.
        if (this.closed) for (const r of orphans) r.onExit(255);
        else for (const r of orphans) this.send(r);
      });
    }
    this.server.send(request);
  }
}

interface Request {
  id: number;
  line: string;
  pid: number | undefined;
  worker: number | undefined;
  code: number | undefined;
  /** Whether any report about it came: the server started it. */
  heard: boolean;
  pendingSignal: NodeJS.Signals | number | undefined;
  onPid(pid: number): void;
  onExit(code: number): void;
}

/** One dash process and the requests it was given. */
class Server {
  alive = true;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Request>();
  private buffered = '';

  constructor(shell: string, onLost: (orphans: Request[]) => void) {
    // Its own session: a Ctrl-C meant for a foreground daemon is not its children's. Its stdin
    // ends when the daemon dies, however it dies, and dash then exits.
    this.child = spawn(shell, [], { stdio: ['pipe', 'pipe', 'ignore'], detached: true, env: {} });
    this.child.unref();
    this.child.on('error', () => undefined);
    this.child.stdin?.on('error', () => undefined);
    (this.child.stdin as unknown as Socket).unref?.();
    this.child.on('exit', () => {
      this.alive = false;
    });
    const stdout = this.child.stdout as Socket;
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => this.onData(chunk));
    stdout.on('close', () => {
      this.alive = false;
      const orphans: Request[] = [];
      for (const r of this.pending.values()) {
        if (!r.heard) orphans.push(r);
        // Started, but its worker was killed before it could report: the status is lost.
        else if (r.code === undefined) r.onExit(255);
      }
      this.pending.clear();
      onLost(orphans);
    });
    stdout.unref();
  }

  send(r: Request): void {
    if (this.pending.size === 0) (this.child.stdout as Socket).ref();
    this.pending.set(r.id, r);
    this.child.stdin?.write(r.line);
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const [id, what, n] = this.buffered.slice(0, nl).split(' ');
      this.buffered = this.buffered.slice(nl + 1);
      const r = this.pending.get(Number(id));
      const value = Number(n);
      if (!r || !Number.isInteger(value)) continue;
      r.heard = true;
      if (what === 'p') {
        r.pid = value;
        r.onPid(value);
      } else if (what === 'w') {
        r.worker = value;
      } else if (what === 'x') {
        r.code = value;
        r.onExit(value);
      }
      if (r.code !== undefined && r.worker !== undefined) {
        this.pending.delete(r.id);
        if (this.alive) this.child.stdin?.write(`wait ${r.worker}\n`);
        if (this.pending.size === 0) (this.child.stdout as Socket).unref();
      }
    }
  }

  /** Ends its input: dash exits once it has read what came before. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(timer);
  }
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const { SIGINT, SIGQUIT } = constants.signals;
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function unlinkQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // Never made (the program did not start) or already gone.
  }
}

/** Whether `pid` runs `file` yet (not still the shell or env on the way to it). */
function isProgram(pid: number, file: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(`${file}\0`);
  } catch {
    return true;
  }
}

function send(pid: number, sig: NodeJS.Signals | number): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Removes what an earlier daemon left in `dir` (its servers are gone with it). */
export function clearSpawnDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
