import { spawn, type StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { InPipe, LaunchOptions, LaunchResult, Launched, ProcessLauncher } from './launcher';

/**
 * Node's own spawn: forks the daemon for every program. Kept for hosts without the spawn
 * server's pieces and for `TSCOMPOSE_SPAWN=node` (measuring one against the other).
 */
export class NodeLauncher implements ProcessLauncher {
  launch(file: string, args: readonly string[], options: LaunchOptions = {}): Promise<Launched> {
    const stdio: StdioOptions = [
      options.input === undefined ? 'ignore' : 'pipe',
      options.stdout === 'ignore' ? 'ignore' : 'pipe',
      options.stderr === 'ignore' ? 'ignore' : 'pipe',
      ...(options.extraFds ?? []).map(() => 'pipe' as const),
    ];
    const child = spawn(file, args, {
      stdio,
      env: (options.env ?? process.env) as NodeJS.ProcessEnv,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      // Never in the daemon's session: a Ctrl-C meant for a foreground daemon is not theirs.
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    const pipes = child.stdio as unknown as (Readable & Writable)[];
    const fds = (options.extraFds ?? []).map((dir, i): Readable | InPipe => {
      const p = pipes[3 + i] as Readable & Writable;
      if (dir === 'out') return p;
      p.on('error', () => undefined);
      return { write: (s) => void p.write(s), close: () => p.destroy() };
    });
    return new Promise((resolve, reject) => {
      let started = false;
      const exited = new Promise<LaunchResult>((done) => {
        child.on('close', (code, signal) => {
          if (timer) clearTimeout(timer);
          const sig = signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0;
          done({ code: code ?? 128 + sig, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
        });
      });
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        if (!started) reject(e);
      });
      child.on('spawn', () => {
        started = true;
        if (child.stdin) {
          // A program that exits before reading its input must not crash us with EPIPE.
          child.stdin.on('error', () => undefined);
          child.stdin.end(options.input);
        }
        resolve({
          pid: Promise.resolve(child.pid ?? 0),
          fds,
          exited,
          stderrSoFar: () => Buffer.concat(err).toString('utf8'),
          kill: (signal) => void child.kill(signal ?? 'SIGTERM'),
        });
      });
    });
  }

  async run(file: string, args: readonly string[], options?: LaunchOptions): Promise<LaunchResult> {
    return (await this.launch(file, args, options)).exited;
  }

  async close(): Promise<void> {
    // Nothing of ours is running.
  }
}
