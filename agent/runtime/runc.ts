import { constants as fsc, existsSync, promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { conflict, failedPrecondition, internal, invalidArgument, notFound, TsError } from '../../common/errors';
import { exists, readJsonIfExists, readKernelFile, writeFileAtomic } from '../../common/fsutil';
import { isInMemory, mountTmpfs } from '../../common/mount';
import { KeyedMutex } from '../../common/mutex';
import { launcher } from '../../common/process';
import { connectAttach } from './attach';
import { cgroupsPathFor, oomKillCount, readStats, removeCgroup, type ContainerStats } from './cgroups';
import { lastErrorLine, launchConmon, type ConmonLaunch } from './conmon';
import type { OciProcess, OciSpec } from './oci';
import type {
  AttachStreams,
  ConsoleSize,
  ContainerState,
  ContainerStatus,
  CreateOptions,
  ExecOptions,
  ExecSession,
  ExitStatus,
  Runtime,
} from './runtime';
import { availableCapabilities, ociResources, type ResourceOptions } from './spec';
import { sleep, waitUntil } from './wait';
import { traced } from '../trace';

export interface RuncRuntimeOptions {
  /** Where the runtime keeps bundles, runc state, exit files and sockets; default /run/tscompose/runtime. */
  root?: string;
  runcPath?: string;
  conmonPath?: string;
}

/** What the runtime records about a container beside its bundle, to answer after a restart. */
interface ContainerRecord {
  id: string;
  name: string;
  createdAt: string;
  startedAt?: string;
  logPath: string;
  terminal: boolean;
  stdin: boolean;
  cgroupsPath: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** sun_path is 108 bytes; conmon's attach socket lives at `<sockets>/<id>/attach`. */
const MAX_SOCKET_PATH = 107;
const SUPERVISOR_EXIT_TIMEOUT_MS = 5000;
/**
 * Files under the runtime root describe processes, which a reboot ends (runc's own state lives
 * beside them, normally on tmpfs): replaced atomically, never flushed to disk.
 */
const RUNTIME_WRITE = { durable: false };

/**
 * The runtime on runc, each container supervised by its own conmon as Podman and CRI-O do.
 *
 * Files under `root`:
 * - `runc/`: runc's own state (`runc --root`).
 * - `containers/<id>/`: bundle (config.json) and conmon's persist dir: `conmon.pid`, `pid`,
 *   `exit`, `oom`, `ctl`/`winsz` fifos, `attach` socket, `ctr.log`, `runc.log`, `record.json`,
 *   and `exec/<session>/` per exec session.
 * - `exits/<id>`: conmon's exit dir, one file per exited container, for a daemon to watch.
 * - `sockets/<id>`: conmon's symlink to the bundle so the attach socket path stays short.
 *
 * Exec goes through `conmon --exec` rather than a bare `runc exec`: the session then has a
 * supervisor like the main process does, so a detached exec outlives the daemon and still
 * records its exit code, and attach, TTY and resize work the same way for both.
 */
export class RuncRuntime implements Runtime {
  readonly root: string;
  readonly runcPath: string;
  readonly conmonPath: string;
  private readonly locks = new KeyedMutex();

  constructor(opts: RuncRuntimeOptions = {}) {
    this.root = path.resolve(opts.root ?? '/run/tscompose/runtime');
    this.runcPath = opts.runcPath ?? findBinary(['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc']);
    this.conmonPath = opts.conmonPath ?? findBinary(['/usr/bin/conmon', '/usr/libexec/podman/conmon', '/usr/local/bin/conmon']);
  }

  private get runcRoot(): string {
    return path.join(this.root, 'runc');
  }
  private get exitDir(): string {
    return path.join(this.root, 'exits');
  }
  private get socketDir(): string {
    return path.join(this.root, 'sockets');
  }
  private get containersDir(): string {
    return path.join(this.root, 'containers');
  }
  private dir(id: string): string {
    return path.join(this.containersDir, id);
  }

  private layoutMade = false;

  /**
   * Puts the runtime root on a tmpfs of its own when it is on disk (a host whose /run is no
   * tmpfs) and holds no container a mount would hide. Everything here ends with a reboot, and is
   * made and removed with every container and helper run: on a disk file system each file made
   * costs an inode allocation, which on ext4 without a journal scans past every inode freed in
   * the last minute (`recently_deleted`), milliseconds per file while containers come and go.
   * False when the root stays on disk (only slower).
   */
  async keepInMemory(): Promise<boolean> {
    if (await isInMemory(this.root)) return true;
    if ((await fsp.readdir(this.containersDir).catch(() => [])).length > 0) return false;
    return mountTmpfs(this.root);
  }

  private async ensureLayout(): Promise<void> {
    // Once per daemon; create makes them again if they went away.
    if (this.layoutMade) return;
    for (const d of [this.runcRoot, this.exitDir, this.socketDir, this.containersDir]) {
      await fsp.mkdir(d, { recursive: true, mode: 0o700 });
    }
    this.layoutMade = true;
  }

  async create(opts: CreateOptions): Promise<ContainerState> {
    const { id } = opts;
    if (!ID_PATTERN.test(id)) throw invalidArgument(`runtime: invalid container id ${JSON.stringify(id)}`);
    if (path.join(this.socketDir, id, 'attach').length > MAX_SOCKET_PATH) {
      throw invalidArgument(`runtime: container ${short(id)}: runtime root ${this.root} is too long for attach sockets`);
    }
    return this.locks.run(id, async () => {
      await this.ensureLayout();
      const dir = this.dir(id);
      try {
        await fsp.mkdir(dir, { mode: 0o700 }).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
          // The runtime root went away under us (removed by hand): made again.
          this.layoutMade = false;
          await this.ensureLayout();
          await fsp.mkdir(dir, { mode: 0o700 });
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`runtime: container ${short(id)} already exists`);
        throw err;
      }
      try {
        const spec: OciSpec = structuredClone(opts.spec);
        spec.linux.cgroupsPath ??= cgroupsPathFor(id);
        const record: ContainerRecord = {
          id,
          name: opts.name ?? id,
          createdAt: new Date().toISOString(),
          logPath: opts.logPath ?? path.join(dir, 'ctr.log'),
          terminal: spec.process.terminal === true,
          stdin: opts.stdin === true,
          cgroupsPath: spec.linux.cgroupsPath,
        };
        await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2), 0o644, RUNTIME_WRITE);
        await writeFileAtomic(path.join(dir, 'record.json'), JSON.stringify(record), 0o644, RUNTIME_WRITE);
        await fsp.rm(path.join(this.exitDir, id), { force: true });

        const args = [
          ...this.commonConmonArgs(id, id, record.name, dir),
          '-p', path.join(dir, 'pid'),
          '--persist-dir', dir,
          '--exit-dir', this.exitDir,
          '-l', `k8s-file:${record.logPath}`,
        ];
        if (opts.logSizeMax !== undefined) args.push('--log-size-max', String(opts.logSizeMax));
        if (record.terminal) args.push('-t');
        if (record.stdin) args.push('-i');
        if (record.stdin && opts.keepStdinOpen) args.push('--leave-stdin-open');
        const launch = await this.launchConmon(id, args, { cwd: dir });
        launch.release();
        const pid = await traced(id, 'conmon+runc create', () => this.expectPid(launch, id, 'create'));
        launch.detach();
        // Built here rather than asked of runc: create is on every container's critical path.
        return {
          id,
          status: 'created',
          pid,
          supervisorPid: await this.supervisorPid(dir, id),
          oomKilled: false,
          createdAt: record.createdAt,
          bundle: dir,
          logPath: record.logPath,
          terminal: record.terminal,
          stdin: record.stdin,
          cgroupsPath: record.cgroupsPath,
        };
      } catch (err) {
        await this.runc(['delete', '--force', id]).catch(() => undefined);
        await fsp.rm(dir, { recursive: true, force: true });
        await fsp.rm(path.join(this.socketDir, id), { force: true });
        await fsp.rm(path.join(this.exitDir, id), { force: true });
        throw err;
      }
    });
  }

  private commonConmonArgs(ctrId: string, sessionId: string, name: string, bundle: string): string[] {
    return [
      '--api-version', '1',
      '-c', ctrId,
      '-u', sessionId,
      '-n', name,
      '-r', this.runcPath,
      '-b', bundle,
      '-P', path.join(bundle, 'conmon.pid'),
      '--socket-dir-path', this.socketDir,
      `--runtime-arg=--root=${this.runcRoot}`,
      `--runtime-arg=--log=${path.join(this.dir(ctrId), 'runc.log')}`,
      '--runtime-arg=--log-format=json',
    ];
  }

  private launchConmon(id: string, args: string[], opts: { cwd: string; attachPipe?: boolean }): Promise<ConmonLaunch> {
    return launchConmon(this.conmonPath, args, opts).catch((err: unknown) => {
      throw internal(`runtime: container ${short(id)}: cannot run conmon: ${(err as Error).message}`, err);
    });
  }

  /** Reads conmon's first sync message: the new process's pid, or runc's error. */
  private async expectPid(launch: ConmonLaunch, id: string, what: 'create' | 'exec'): Promise<number> {
    let msg;
    try {
      msg = await launch.nextSync();
    } catch (err) {
      throw internal(`runtime: container ${short(id)}: cannot run conmon: ${(err as Error).message}`, err);
    }
    if (msg === undefined) {
      const why = launch.stderr() || (await this.lastRuncLogError(id)) || 'conmon exited without a word';
      throw internal(`runtime: container ${short(id)}: runc ${what} failed: ${withoutRuncPrefix(lastErrorLine(why))}`);
    }
    if (msg.data <= 0) {
      const why = withoutRuncPrefix(lastErrorLine(msg.message ?? '') || (await this.lastRuncLogError(id)) || `exit status ${-msg.data}`);
      const err = `runtime: container ${short(id)}: runc ${what} failed: ${why}`;
      throw what === 'exec' && /executable file not found|no such file or directory/.test(why)
        ? invalidArgument(err)
        : failedPrecondition(err);
    }
    return msg.data;
  }

  private async lastRuncLogError(id: string): Promise<string | undefined> {
    const text = await fsp.readFile(path.join(this.dir(id), 'runc.log'), 'utf8').catch(() => '');
    const lines = text.trim().split('\n').reverse();
    for (const line of lines) {
      try {
        const rec = JSON.parse(line) as { level?: string; msg?: string };
        if (rec.level === 'error' && rec.msg) return rec.msg;
      } catch {
        // not a JSON line
      }
    }
    return undefined;
  }

  async start(id: string): Promise<void> {
    await this.locks.run(id, async () => {
      const record = await this.record(id);
      if (!(await this.startThroughExecFifo(id))) await this.runc(['start', id], id);
      record.startedAt = new Date().toISOString();
      await writeFileAtomic(path.join(this.dir(id), 'record.json'), JSON.stringify(record), 0o644, RUNTIME_WRITE);
    });
  }

  /**
   * Does what `runc start` does to a created container, without running runc (one process
   * fewer on every start): `runc init` waits to write a byte into `<runc root>/<id>/exec.fifo`
   * and then execs the container's process; reading that byte up to the end of the stream (the
   * exec closes init's end) and removing the fifo is the start. False, with nothing read, when
   * there is no fifo (not created, or a runc that keeps it elsewhere): `runc start` then decides.
   */
  private async startThroughExecFifo(id: string): Promise<boolean> {
    const fifo = path.join(this.runcRoot, id, 'exec.fifo');
    let fh: Awaited<ReturnType<typeof fsp.open>>;
    try {
      // Non-blocking: with no writer a blocking open would hold a thread-pool thread for good.
      fh = await fsp.open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch {
      return false;
    }
    try {
      if (!(await fh.stat()).isFIFO()) return false;
      const buf = Buffer.alloc(64);
      let got = 0;
      for (let pauseMs = 1; ; pauseMs = Math.min(pauseMs * 2, 50)) {
        let n: number | undefined;
        try {
          n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n !== undefined && n > 0) {
          got += n;
          pauseMs = 0.5;
          continue;
        }
        // End of stream after the byte: init has exec'd the process.
        if (n === 0 && got > 0) break;
        // Nothing yet: init is still opening its end, or it died (then it never will).
        if (n === 0 && !(await this.initAlive(id))) {
          // Between that read and this look, init may have written its byte and exec'd a
          // process that already exited (`sh -c 'exit 3'`): the byte is still in the pipe, and
          // the container did start.
          const late = await fh.read(buf, 0, buf.length, null).then(
            (r) => r.bytesRead,
            () => 0,
          );
          if (late > 0) break;
          throw failedPrecondition(`runtime: container ${short(id)}: runc start failed: container process is already dead`);
        }
        await sleep(pauseMs);
      }
    } finally {
      await fh.close();
    }
    await fsp.rm(fifo, { force: true });
    return true;
  }

  /** Whether the container's init (its pid file, as conmon recorded it) is alive and not a zombie. */
  private async initAlive(id: string): Promise<boolean> {
    const pid = Number.parseInt((await fsp.readFile(path.join(this.dir(id), 'pid'), 'utf8').catch(() => '')).trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return false;
    const stat = readKernelFile(`/proc/${pid}/stat`) ?? '';
    // The state follows the parenthesised command name: Z is a zombie.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== '' && state !== 'Z' && state !== 'X';
  }

  async state(id: string): Promise<ContainerState> {
    return this.stateOf(id, await this.record(id));
  }

  /**
   * Everything needed to re-adopt lives on disk (record, conmon's pidfiles, exit and oom
   * files, runc's state), so recovery is reading it; the supervisor is checked by its command
   * line, not just its pid, so a reused pid is not taken for a live conmon.
   */
  async recover(id: string): Promise<ContainerState> {
    return this.state(id);
  }

  async list(): Promise<ContainerState[]> {
    let ids: string[];
    try {
      ids = await fsp.readdir(this.containersDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: ContainerState[] = [];
    for (const id of ids.sort()) {
      try {
        out.push(await this.state(id));
      } catch (err) {
        if (!(err instanceof TsError && err.kind === 'NotFound')) throw err;
      }
    }
    return out;
  }

  private async record(id: string): Promise<ContainerRecord> {
    if (!ID_PATTERN.test(id)) throw invalidArgument(`runtime: invalid container id ${JSON.stringify(id)}`);
    const rec = await readJsonIfExists<ContainerRecord>(path.join(this.dir(id), 'record.json'));
    if (!rec) throw notFound(`runtime: container ${short(id)} not found`);
    return rec;
  }

  private async stateOf(id: string, record: ContainerRecord): Promise<ContainerState> {
    const dir = this.dir(id);
    const supervisorPid = await this.supervisorPid(dir, id);
    const base = {
      id,
      supervisorPid,
      createdAt: record.createdAt,
      ...(record.startedAt ? { startedAt: record.startedAt } : {}),
      bundle: dir,
      logPath: record.logPath,
      terminal: record.terminal,
      stdin: record.stdin,
      cgroupsPath: record.cgroupsPath,
    };
    const exit = await this.readExit(id, record);
    if (exit) return { ...base, status: 'stopped', pid: 0, exitCode: exit.exitCode, oomKilled: exit.oomKilled, ...(exit.finishedAt ? { finishedAt: exit.finishedAt } : {}) };

    const rs = await this.runcState(id);
    const status: ContainerStatus = rs?.status ?? 'stopped';
    if (status === 'stopped' && supervisorPid !== 0) {
      // The process is gone and conmon is writing its exit file right now.
      const late = await this.waitExitFile(id, record, 2000);
      if (late) return { ...base, status: 'stopped', pid: 0, exitCode: late.exitCode, oomKilled: late.oomKilled, ...(late.finishedAt ? { finishedAt: late.finishedAt } : {}) };
    }
    if (status === 'stopped') {
      // No supervisor recorded the exit (it was killed); 255 as Docker reports unknown exits.
      const oom = await this.oomKilled(dir, record);
      return { ...base, status, pid: 0, exitCode: oom ? 137 : 255, oomKilled: oom };
    }
    return { ...base, status, pid: rs?.pid ?? 0, oomKilled: false };
  }

  private async readExit(id: string, record: ContainerRecord): Promise<ExitStatus | undefined> {
    const dir = this.dir(id);
    for (const file of [path.join(dir, 'exit'), path.join(this.exitDir, id)]) {
      let text: string;
      let mtime: Date;
      try {
        text = await fsp.readFile(file, 'utf8');
        mtime = (await fsp.stat(file)).mtime;
      } catch {
        continue;
      }
      const code = Number.parseInt(text.trim(), 10);
      if (!Number.isFinite(code)) continue;
      return { exitCode: code < 0 ? 255 : code, oomKilled: await this.oomKilled(dir, record), finishedAt: mtime.toISOString() };
    }
    return undefined;
  }

  private waitExitFile(id: string, record: ContainerRecord, ms: number): Promise<ExitStatus | undefined> {
    const deadline = Date.now() + ms;
    return waitUntil(
      async () => (await this.readExit(id, record)) ?? (Date.now() > deadline ? null : undefined),
      this.dir(id),
      { pollMs: 50, what: 'exit file' },
    ).then((v) => v ?? undefined);
  }

  /** conmon's own `oom` marker, or the kernel's OOM-kill counter of the container's memory cgroup. */
  private async oomKilled(dir: string, record: ContainerRecord): Promise<boolean> {
    if (await exists(path.join(dir, 'oom'))) return true;
    if ((await oomKillCount(record.cgroupsPath)) > 0) {
      // Keep the verdict: the counter goes away with the cgroup on delete.
      await fsp.writeFile(path.join(dir, 'oom'), '').catch(() => undefined);
      return true;
    }
    return false;
  }

  /** conmon's pid if it still runs and is the one supervising this container (pids get reused). */
  private async supervisorPid(dir: string, id: string): Promise<number> {
    const text = await fsp.readFile(path.join(dir, 'conmon.pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return 0;
    const cmdline = readKernelFile(`/proc/${pid}/cmdline`) ?? '';
    const argv = cmdline.split('\0');
    return path.basename(argv[0] ?? '') === 'conmon' && argv.includes(id) ? pid : 0;
  }

  private async runcState(id: string): Promise<{ status: ContainerStatus; pid: number } | undefined> {
    try {
      const out = await this.runc(['state', id]);
      const s = JSON.parse(out) as { status?: string; pid?: number };
      const status = s.status === 'created' || s.status === 'running' || s.status === 'paused' ? s.status : 'stopped';
      return { status, pid: s.pid ?? 0 };
    } catch (err) {
      if (err instanceof TsError && err.kind === 'NotFound') return undefined;
      throw err;
    }
  }

  async exitStatus(id: string): Promise<ExitStatus | undefined> {
    return this.exitOf(id, await this.record(id));
  }

  /** The container's exit, if it ended; `onSupervisor` hears of the conmon found still running. */
  private async exitOf(id: string, record: ContainerRecord, onSupervisor?: (pid: number) => void): Promise<ExitStatus | undefined> {
    const exit = await this.readExit(id, record);
    if (exit) return exit;
    const supervisor = await this.supervisorPid(this.dir(id), id);
    if (supervisor !== 0) {
      onSupervisor?.(supervisor);
      return undefined;
    }
    // No supervisor: only runc can tell whether the process still runs.
    const s = await this.stateOf(id, record);
    return s.status === 'stopped'
      ? { exitCode: s.exitCode ?? 255, oomKilled: s.oomKilled, ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}) }
      : undefined;
  }

  async wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    const record = await this.record(id);
    // The identity of the conmon last seen alive: a poll that finds that very process still
    // running has its answer (nothing ended silently) without touching the bundle's files. The
    // poll runs for every running container, so its cost is the idle daemon's CPU.
    let seen: { pid: number; start: number } | undefined;
    return waitUntil(
      async (polled) => {
        if (polled && seen && processStartTime(seen.pid) === seen.start) return undefined;
        seen = undefined;
        return this.exitOf(id, record, (pid) => {
          const start = processStartTime(pid);
          if (start !== undefined) seen = { pid, start };
        });
      },
      this.dir(id),
      // conmon's exit file is an inotify event in the bundle; the poll, slowed to every 2 s,
      // only catches a supervisor that died without writing it.
      { ...(signal ? { signal } : {}), maxPollMs: 2000, what: `container ${short(id)}` },
    );
  }

  async kill(id: string, signal: string | number = 'SIGTERM'): Promise<void> {
    await this.record(id);
    const sig = signalArg(signal);
    if (await this.signalInit(id, sig)) return;
    await this.runc(['kill', id, sig], id);
  }

  /**
   * What `runc kill` does, without running runc (a Go start-up on every stop and `rm -f`): the
   * signal goes to the container's init, checked to be the process runc started (its start time,
   * from runc's state, so a reused pid is never signalled). False, with nothing sent, whenever
   * runc should decide: no state, a frozen container (runc thaws it after a SIGKILL), a signal
   * Node cannot name, or an init that is gone (runc then says "not running").
   */
  private async signalInit(id: string, sig: string): Promise<boolean> {
    const number = /^\d+$/.test(sig) ? Number(sig) : osConstants.signals[`SIG${sig}` as keyof typeof osConstants.signals];
    if (number === undefined) return false;
    const st = await readJsonIfExists<RuncState>(path.join(this.runcRoot, id, 'state.json')).catch(() => undefined);
    const pid = st?.init_process_pid;
    if (!st || !pid || pid <= 0) return false;
    if (!isThawed(st.cgroup_paths ?? {})) return false;
    if (processStartTime(pid) !== st.init_process_start) return false;
    try {
      process.kill(pid, number);
      return true;
    } catch {
      return false;
    }
  }

  async pause(id: string): Promise<void> {
    await this.locks.run(id, async () => {
      await this.record(id);
      await this.runc(['pause', id], id);
    });
  }

  async resume(id: string): Promise<void> {
    await this.locks.run(id, async () => {
      await this.record(id);
      await this.runc(['resume', id], id);
    });
  }

  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.locks.run(id, async () => {
      const dir = this.dir(id);
      const record = await this.record(id).catch(async (err: unknown) => {
        // A create cut short (daemon killed) before its record: only the bundle dir exists, and
        // it must go, or the next create of this id fails with "already exists".
        if (!(err instanceof TsError && err.kind === 'NotFound') || !existsSync(dir)) throw err;
        await this.runc(['delete', '--force', id], id).catch(() => undefined);
        await fsp.rm(dir, { recursive: true, force: true });
        return undefined;
      });
      if (!record) return;
      // conmon writes the exit file once the process is gone: with one, runc needn't be asked.
      const exited = (await exists(path.join(dir, 'exit'))) || (await exists(path.join(this.exitDir, id)));
      const state = exited ? undefined : await traced(id, 'delete: state', () => this.stateOf(id, record));
      if (state && state.status !== 'stopped') {
        if (!opts.force) throw failedPrecondition(`runtime: container ${short(id)} is ${state.status}: stop it first or force the removal`);
        if (state.status === 'paused') await this.runc(['resume', id], id).catch(() => undefined);
        if (!(await this.signalInit(id, 'KILL'))) await this.runc(['kill', id, 'KILL'], id).catch(() => undefined);
      }
      // conmon writes the exit files once the process is gone; let it finish before removing them.
      await traced(id, 'delete: supervisor exit', () => this.awaitSupervisorExit(dir, id));
      for (const session of await fsp.readdir(path.join(dir, 'exec')).catch(() => [] as string[])) {
        await this.awaitSupervisorExit(path.join(dir, 'exec', session), id);
        await fsp.rm(path.join(this.socketDir, session), { force: true });
      }
      if (!(await traced(id, 'delete: in-process', () => this.deleteStopped(id)))) {
        await traced(id, 'delete: runc delete', () => this.runc(['delete', '--force', id], id).catch((err: unknown) => {
          if (!(err instanceof TsError && err.kind === 'NotFound')) throw err;
          return '';
        }));
        await removeCgroup(record.cgroupsPath);
      }
      await fsp.rm(path.join(this.socketDir, id), { force: true });
      await fsp.rm(path.join(this.exitDir, id), { force: true });
      await fsp.rm(dir, { recursive: true, force: true });
      // A log file outside the bundle belongs to the caller: it outlives this run (restarts append).
    });
  }

  /**
   * What `runc delete` does to a stopped container, without running runc: remove its cgroups
   * (every hierarchy runc made one in) and its state directory. Only when that is all there is
   * to do: no process left in any of its cgroups (with a private pid namespace the kernel ended
   * them all with init; a shared one may leave some, which runc kills) and no poststop hook.
   * False, with runc's state left whole, whenever runc should do it (then our own cgroup sweep
   * follows); true when runc has no state for the container.
   */
  private async deleteStopped(id: string): Promise<boolean> {
    const stateDir = path.join(this.runcRoot, id);
    let st: RuncState | undefined;
    try {
      st = await readJsonIfExists<RuncState>(path.join(stateDir, 'state.json'));
    } catch {
      return false;
    }
    if (!st) return !existsSync(stateDir);
    if ((st.config?.hooks?.poststop?.length ?? 0) > 0) return false;
    // One cgroup per hierarchy (a dozen on v1): looked at side by side.
    const dirs = Object.values(st.cgroup_paths ?? {});
    const empty = dirs.map((dir) => {
      const procs = readKernelFile(path.join(dir, 'cgroup.procs'));
      return procs === undefined ? !existsSync(dir) : procs.trim() === '';
    });
    if (!empty.every(Boolean)) return false;
    const removed = await Promise.all(
      dirs.map((dir) =>
        fsp.rmdir(dir).then(
          () => true,
          (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
        ),
      ),
    );
    if (!removed.every(Boolean)) return false;
    await fsp.rm(stateDir, { recursive: true, force: true });
    return true;
  }

  private async awaitSupervisorExit(dir: string, id: string): Promise<void> {
    const deadline = Date.now() + SUPERVISOR_EXIT_TIMEOUT_MS;
    // conmon exits right after writing the exit file: look again soon, then less often.
    for (let pauseMs = 1; ; pauseMs = Math.min(pauseMs * 2, 20)) {
      const pid = await this.supervisorPid(dir, id);
      if (pid === 0) return;
      if (Date.now() > deadline) {
        process.kill(pid, 'SIGKILL');
        await sleep(50);
        return;
      }
      await sleep(pauseMs);
    }
  }

  async exec(id: string, opts: ExecOptions): Promise<ExecSession> {
    const record = await this.record(id);
    if (opts.args.length === 0) throw invalidArgument('runtime: exec needs a command');
    const state = await this.stateOf(id, record);
    if (state.status !== 'running') throw failedPrecondition(`runtime: container ${short(id)} is ${state.status}, not running`);

    const sessionId = randomBytes(16).toString('hex');
    const sessionDir = path.join(this.dir(id), 'exec', sessionId);
    await fsp.mkdir(path.join(sessionDir, 'exit'), { recursive: true, mode: 0o700 });
    const spec = JSON.parse(await fsp.readFile(path.join(this.dir(id), 'config.json'), 'utf8')) as OciSpec;
    await writeFileAtomic(path.join(sessionDir, 'process.json'), JSON.stringify(execProcess(spec.process, opts)), 0o644, RUNTIME_WRITE);

    const attach = opts.detach !== true;
    const args = [
      ...this.commonConmonArgs(id, sessionId, `${record.name}-exec`, sessionDir),
      '-p', path.join(sessionDir, 'pid'),
      '--exit-dir', path.join(sessionDir, 'exit'),
      '-l', `k8s-file:${path.join(sessionDir, 'exec.log')}`,
      '--exec',
      '--exec-process-spec', path.join(sessionDir, 'process.json'),
    ];
    if (opts.tty) args.push('-t');
    if (opts.stdin && attach) args.push('-i');
    if (attach) args.push('--exec-attach');

    const cleanup = async () => {
      await fsp.rm(path.join(this.socketDir, sessionId), { force: true });
      await fsp.rm(sessionDir, { recursive: true, force: true });
    };
    let launch: ConmonLaunch;
    try {
      launch = await this.launchConmon(id, args, { cwd: sessionDir, attachPipe: attach });
    } catch (err) {
      await cleanup();
      throw err;
    }
    let streams: AttachStreams | undefined;
    try {
      launch.release();
      if (attach) {
        const ready = await launch.nextAttach();
        if (!ready || ready.data < 0) {
          throw internal(`runtime: container ${short(id)}: exec attach failed: ${lastErrorLine(ready?.message ?? launch.stderr()) || 'conmon exited'}`);
        }
        streams = await connectAttach(path.join(this.socketDir, sessionId, 'attach'), opts.stdin === true);
        launch.release();
      }
      const pid = await this.expectPid(launch, id, 'exec');
      const exitFile = path.join(sessionDir, 'exit', id);
      const exitCode = (async () => {
        // The sync pipe brings the code first; the exit file covers a detached session.
        const msg = attach ? await launch.nextSync().catch(() => undefined) : undefined;
        launch.detach();
        const code =
          msg?.data ??
          (await waitUntil(
            async () => {
              const read = () => fsp.readFile(exitFile, 'utf8').then((t) => Number.parseInt(t.trim(), 10), () => undefined);
              const alive = (await this.supervisorPid(sessionDir, id)) !== 0;
              // Read after the liveness check: conmon writes the file just before it exits.
              const code = await read();
              if (code !== undefined) return code;
              return alive ? undefined : 255;
            },
            path.join(sessionDir, 'exit'),
            { what: `exec ${sessionId.slice(0, 12)}` },
          ));
        if (streams) await Promise.race([streams.closed, sleep(1000)]);
        await this.awaitSupervisorExit(sessionDir, id);
        await cleanup();
        return code < 0 ? 255 : code;
      })();
      if (!attach) launch.detach();
      // A caller that never awaits the code must not turn a late failure into an unhandled rejection.
      exitCode.catch(() => undefined);
      return {
        id: sessionId,
        pid,
        ...(streams ? { streams } : {}),
        exitCode,
        resize: (size) => writeControl(sessionDir, size),
      };
    } catch (err) {
      streams?.close();
      launch.detach();
      await cleanup();
      throw err;
    }
  }

  async attach(id: string): Promise<AttachStreams> {
    const record = await this.record(id);
    return connectAttach(path.join(this.socketDir, id, 'attach'), record.stdin);
  }

  async resize(id: string, size: ConsoleSize): Promise<void> {
    const record = await this.record(id);
    if (!record.terminal) throw failedPrecondition(`runtime: container ${short(id)} has no terminal`);
    await writeControl(this.dir(id), size);
  }

  async stats(id: string): Promise<ContainerStats> {
    const record = await this.record(id);
    return readStats(record.cgroupsPath);
  }

  async update(id: string, resources: ResourceOptions): Promise<void> {
    await this.locks.run(id, async () => {
      await this.record(id);
      const r = ociResources(resources);
      await this.runc(['update', '--resources', '-', id], id, JSON.stringify(r));
    });
  }

  /**
   * runc's and conmon's versions (`runc version 1.1.5+ds1` / `commit: …`), as `version` shows its
   * components; asked once. A helper that cannot say is reported with an empty version.
   */
  componentVersions(): Promise<Array<{ name: string; version: string; commit: string }>> {
    this.versions ??= Promise.all(
      [
        { name: 'runc', binary: this.runcPath },
        { name: 'conmon', binary: this.conmonPath },
      ].map(async ({ name, binary }) => {
        const out = await launcher()
          .run(binary, ['--version'])
          .then((r) => (r.code === 0 ? r.stdout : ''))
          .catch(() => '');
        const version = new RegExp(`^${name} version (\\S+)`, 'm').exec(out)?.[1] ?? '';
        const commit = /^commit: (\S+)/m.exec(out)?.[1] ?? '';
        return { name, version, commit };
      }),
    );
    return this.versions;
  }

  private versions?: Promise<Array<{ name: string; version: string; commit: string }>>;

  /** Runs runc with our state root; a failure becomes an error carrying runc's own last line. */
  private async runc(args: string[], id?: string, input?: string): Promise<string> {
    const full = ['--root', this.runcRoot];
    if (id && existsSync(this.dir(id))) full.push('--log', path.join(this.dir(id), 'runc.log'), '--log-format', 'json');
    full.push(...args);
    // GOMAXPROCS=1 as for `runc create` (conmon.ts): a short-lived Go program.
    const env = { ...process.env, GOMAXPROCS: '1' };
    const r = await launcher()
      .run(this.runcPath, full, input === undefined ? { env } : { env, input })
      .catch((err: unknown) => {
        throw internal(`runtime: cannot run runc: ${(err as Error).message}`, err);
      });
    if (r.code === 0) return r.stdout;
    const line = withoutRuncPrefix(lastErrorLine(r.stderr) || `exit status ${r.code}`);
    const what = `runtime: container ${short(args[args.length - 1] ?? '')}: runc ${args[0]} failed: ${line}`;
    if (/does not exist|not found/.test(line)) throw notFound(what);
    if (/not running|is paused|not paused|cannot|stopped|already/.test(line)) throw failedPrecondition(what);
    throw internal(what);
  }
}

/** The parts of runc's `state.json` (libcontainer's State) read here. */
interface RuncState {
  init_process_pid?: number;
  init_process_start?: number;
  /** Controller ("" for the v2 hierarchy) to the container's cgroup directory. */
  cgroup_paths?: Record<string, string>;
  config?: { hooks?: { poststop?: unknown[] } };
}

/**
 * A process's start time: field 22 of /proc/<pid>/stat (clock ticks after boot), as runc records
 * it, which tells a process from a later one that reused its pid; undefined when it is gone (or
 * a zombie).
 */
function processStartTime(pid: number): number | undefined {
  const stat = readKernelFile(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : startTimeIn(stat);
}

function startTimeIn(stat: string): number | undefined {
  // The fields after the parenthesised command name (which may hold spaces) start with field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (!state || state === 'Z' || state === 'X') return undefined;
  const start = Number(fields[22 - 3]);
  return Number.isFinite(start) ? start : undefined;
}

/** Whether the container's freezer lets signals through now (v1 freezer.state, else v2 cgroup.freeze). */
function isThawed(cgroupPaths: Record<string, string>): boolean {
  const v1 = cgroupPaths['freezer'];
  if (v1) return readKernelFile(path.join(v1, 'freezer.state'))?.trim() === 'THAWED';
  const v2 = cgroupPaths[''];
  if (v2) return readKernelFile(path.join(v2, 'cgroup.freeze'))?.trim() === '0';
  return false;
}

/** The exec process: the container's own process settings with the session's overrides. */
function execProcess(base: OciProcess, opts: ExecOptions): OciProcess {
  const env = new Map<string, string>();
  for (const e of [...base.env, ...(opts.env ?? [])]) env.set(e.split('=', 1)[0] ?? e, e);
  const proc: OciProcess = {
    ...base,
    terminal: opts.tty === true,
    args: opts.args,
    env: [...env.values()],
    cwd: opts.cwd || base.cwd,
    user: opts.user ?? base.user,
  };
  if (opts.tty && !env.has('TERM')) proc.env.push('TERM=xterm');
  if (opts.consoleSize) proc.consoleSize = opts.consoleSize;
  else delete proc.consoleSize;
  if (opts.privileged) {
    const all = availableCapabilities();
    proc.capabilities = { bounding: all, effective: all, permitted: all };
  }
  return proc;
}

/** conmon's control fifo: `1 <height> <width>` resizes the terminal. */
async function writeControl(dir: string, size: ConsoleSize): Promise<void> {
  let fh;
  try {
    // Non-blocking: with no conmon reading, open fails with ENXIO instead of hanging.
    fh = await fsp.open(path.join(dir, 'ctl'), fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw failedPrecondition(`runtime: resize: supervisor is not running (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  try {
    await fh.write(`1 ${Math.trunc(size.height)} ${Math.trunc(size.width)}\n`);
  } finally {
    await fh.close();
  }
}

function signalArg(signal: string | number): string {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal <= 0 || signal > 64) throw invalidArgument(`runtime: invalid signal ${signal}`);
    return String(signal);
  }
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) return signalArg(Number(s));
  const name = s.startsWith('SIG') ? s.slice(3) : s;
  if (!/^[A-Z0-9+-]+$/.test(name)) throw invalidArgument(`runtime: invalid signal ${signal}`);
  return name;
}

/** runc starts some errors with `runc create failed: `; our message already says so. */
function withoutRuncPrefix(line: string): string {
  return line.replace(/^runc \w+ failed: /, '');
}

function findBinary(candidates: string[]): string {
  for (const c of candidates) if (existsSync(c)) return c;
  return candidates[0] as string;
}

function short(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}
