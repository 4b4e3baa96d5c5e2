/**
 * Test daemons: each runs the built CLI's `daemon` on its own data root and socket under a temp
 * dir, and is stopped (and its dir removed) by `stop()`, which tests call from `after` hooks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const CLI = path.join(REPO, 'bin', 'tscompose');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBuffer: Buffer;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export class TestDaemon {
  child: ChildProcess | undefined;
  readonly sock: string;
  readonly host: string;
  readonly dataRoot: string;

  constructor(readonly dir: string) {
    this.dataRoot = path.join(dir, 'root');
    this.sock = path.join(dir, 'tscompose.sock');
    this.host = `unix://${this.sock}`;
  }

  /**
   * The CLI's environment. No auto-start: a CLI still running when the test stopped this daemon
   * (a follower, a watcher) would otherwise start one of its own on the removed data root, and
   * that one would outlive the test run.
   */
  get env(): Record<string, string> {
    return { TSCOMPOSE_HOST: this.host, TSCOMPOSE_DATA_ROOT: this.dataRoot, TSCOMPOSE_NO_AUTOSTART: '1' };
  }

  /**
   * `args`: more options of `tscompose daemon` (`--debug`, …). `launcher`: started as a user's
   * shell does, through bin/tscompose's first line, not as `node bin/tscompose`; `env`: added to
   * the daemon's environment.
   */
  async start(args: string[] = [], options: { env?: Record<string, string>; launcher?: boolean } = {}): Promise<void> {
    ensureBuilt();
    await fsp.rm(this.sock, { force: true });
    const log = openSync(path.join(this.dir, 'daemon.log'), 'a');
    const argv = [CLI, 'daemon', '--data-root', this.dataRoot, '--host', this.host, ...args];
    this.child = spawn(options.launcher ? CLI : process.execPath, options.launcher ? argv.slice(1) : argv, {
      stdio: ['ignore', log, log],
      detached: true,
      env: { ...process.env, ...(options.env ?? {}) },
    });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (existsSync(this.sock)) {
        const r = await this.run(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
        if (r.code === 0) return;
      }
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`test daemon did not start: ${this.log()}`);
  }

  log(): string {
    try {
      return readFileSync(path.join(this.dir, 'daemon.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Runs the CLI against this daemon. */
  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...process.env, ...this.env, ...(opts.env ?? {}) },
        cwd: opts.cwd ?? this.dir,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        const stdoutBuffer = Buffer.concat(out);
        resolve({ code: code ?? -1, stdout: stdoutBuffer.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBuffer });
      });
      child.stdin.on('error', () => undefined);
      if (opts.input !== undefined) child.stdin.end(opts.input);
      else child.stdin.end();
    });
  }

  /** Starts the CLI against this daemon without waiting: for tests that watch or signal it as it runs. */
  spawn(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): ChildProcess {
    return spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...this.env, ...(opts.env ?? {}) },
      cwd: opts.cwd ?? this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Runs the CLI and fails with its stderr when it exits non-zero. */
  async ok(args: string[], opts: RunOptions = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`tscompose ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** SIGKILLs the daemon, as a crash would. */
  async kill9(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    this.child = undefined;
  }

  /**
   * Removes the daemon's remaining containers through the CLI (as a user would), stops it, and
   * checks that nothing leaked: no mounts, network namespaces or IP leases left under its data
   * root (checked after the stop, which also empties the daemon's pool of spare sandboxes).
   * Everything is cleaned up either way; a leak then fails the test file's `after` hook.
   */
  async destroy(): Promise<void> {
    let leaks: string[] = [];
    if (this.child && this.child.exitCode === null) {
      const ids = (await this.run(['container', 'ls', '-aq'], { timeoutMs: 30_000 }).catch(() => undefined))?.stdout.trim().split('\n').filter(Boolean) ?? [];
      if (ids.length > 0) await this.run(['container', 'rm', '-f', '-v', ...ids], { timeoutMs: 60_000 }).catch(() => undefined);
      await this.stop();
      leaks = await this.leaks({ spares: false });
    }
    await this.stop();
    await unmountUnder(this.dir);
    await removeHostState(this.dataRoot);
    await fsp.rm(this.dir, { recursive: true, force: true });
    if (leaks.length > 0) throw new Error(`test daemon leaked after removing its containers: ${leaks.join('; ')}`);
  }

  /**
   * What removed containers must not leave behind. A running daemon may hold spare sandboxes
   * for the default network (`pool-…` namespaces and their leases): those are not leaks, unless
   * `spares: false` (a stopped daemon must have removed them too).
   */
  async leaks(opts: { spares?: boolean } = {}): Promise<string[]> {
    const out: string[] = [];
    const netnsDir = path.join(this.dataRoot, 'network', 'netns');
    const spare = (name: string) => opts.spares !== false && isSpareSandbox(name);
    // The data root itself may be a mount of the test's own (a small tmpfs for a full disk).
    for (const m of await mountsUnder(this.dataRoot)) if (m !== netnsDir && m !== this.dataRoot && !spare(path.basename(m))) out.push(`mount ${m}`);
    for (const n of await fsp.readdir(netnsDir).catch(() => [] as string[])) if (!spare(n)) out.push(`netns ${n}`);
    const ipam = path.join(this.dataRoot, 'network', 'ipam');
    for (const f of await fsp.readdir(ipam, { recursive: true }).catch(() => [] as string[])) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(path.basename(String(f)))) continue;
      const owner = (await fsp.readFile(path.join(ipam, String(f)), 'utf8').catch(() => '')).split(/\r?\n/)[0] ?? '';
      if (!spare(owner)) out.push(`ip lease ${f}`);
    }
    return out;
  }
}

/** A namespace (or lease owner) of the daemon's pool of spare default-network sandboxes. */
export function isSpareSandbox(name: string): boolean {
  return name.startsWith('pool-');
}

export async function startTestDaemon(args: string[] = [], options: Parameters<TestDaemon['start']>[1] = {}): Promise<TestDaemon> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsc-daemon-'));
  const d = new TestDaemon(dir);
  try {
    await d.start(args, options);
  } catch (err) {
    await d.destroy();
    throw err;
  }
  return d;
}

export function ensureBuilt(): void {
  if (!existsSync(path.join(REPO, 'dist', 'tscompose.cjs'))) {
    throw new Error('dist/ is missing: run `npm run build` before the integration tests (npm test does)');
  }
}

/** Mount points under `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
}

export async function unmountUnder(dir: string): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  for (const m of await mountsUnder(dir)) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      // already gone
    }
  }
}

/**
 * What a daemon keeps outside its data root, named after it: its bridges (their alias is its
 * network state dir), its firewall chains, its runtime dir under /run and its subnet claims.
 * A user's daemon keeps these for its next start; a test daemon's go with it.
 */
export async function removeHostState(dataRoot: string): Promise<void> {
  const { createHash } = await import('node:crypto');
  const { execFileSync } = await import('node:child_process');
  const tag = createHash('sha256').update(dataRoot).digest('hex').slice(0, 8);
  const owner = path.join(dataRoot, 'network');
  const run = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      return '';
    }
  };
  const links = JSON.parse(run('ip', ['-j', 'link', 'show', 'type', 'bridge']) || '[]') as Array<{ ifname?: string; ifalias?: string }>;
  for (const l of links) if (l.ifname && (l.ifalias === owner || l.ifname === `tscb${tag}`)) run('ip', ['link', 'del', 'dev', l.ifname]);
  const ok = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  for (const chain of [`TSC${tag.toUpperCase()}-FORWARD`, `TSC${tag.toUpperCase()}-ISOLATION`]) {
    for (let i = 0; i < 20 && ok('iptables', ['-D', 'FORWARD', '-j', chain]); i++);
    ok('iptables', ['-F', chain]);
    ok('iptables', ['-X', chain]);
  }
  const natChain = `TSC${tag.toUpperCase()}-POSTROUTING`;
  for (let i = 0; i < 20 && ok('iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-j', natChain]); i++);
  ok('iptables', ['-t', 'nat', '-F', natChain]);
  ok('iptables', ['-t', 'nat', '-X', natChain]);
  // The daemon may have mounted a tmpfs on its runtime dir (where /run is on disk).
  await unmountUnder(path.join('/run/tscompose', tag));
  await fsp.rm(path.join('/run/tscompose', tag), { recursive: true, force: true });
  const claims = '/run/tscompose/subnets';
  for (const f of await fsp.readdir(claims).catch(() => [] as string[])) {
    const holder = await fsp.readFile(path.join(claims, f), 'utf8').catch(() => '');
    if (holder === owner) await fsp.rm(path.join(claims, f), { force: true });
  }
}
