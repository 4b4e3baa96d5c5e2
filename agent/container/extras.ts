/**
 * The container commands that look inside a container rather than drive it: `top`, `stats`,
 * `cp` (both ways), `commit` and `export`, with Docker's semantics.
 *
 * Paths inside a container are resolved by us, component by component, with symlinks read
 * relative to the container's root: the root we work through is `/proc/<pid>/root` for a running
 * container, where the kernel would resolve an absolute symlink against the HOST's root.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { conflict, invalidArgument, notFound, TsError } from '../../common/errors';
import { readKernelFile } from '../../common/fsutil';
import type { EventLog } from '../events';
import { putBlob } from '../image/content';
import { diffDirectory, splitDev, tarDirectory, typeOf, writeLayer } from '../image/diff';
import { applyChanges } from '../image/import';
import { MediaType, type ContainerConfig, type HistoryEntry, type ImageConfig, type ImageManifest } from '../image/oci';
import { mknod, OVERLAY_XATTR_PREFIX, setXattrs, type XattrAssignment } from '../image/overlay-whiteout';
import type { ImageService } from '../image/service';
import { mountOverlay, unmount } from '../image/snapshotter';
import { familiarString, normalizeTag, parseReference, type ImageRecord, type LayerRef } from '../image/store';
import { ByteSource, encodeHeader, endOfArchive, padding, TarReader, type TarEntryType, type TarHeader } from '../image/tar-format';
import type { Runtime } from '../runtime/runtime';
import { resolveInRoot, resolveUser } from '../runtime/user';
import { eventAttributes, healthcheckJson, isActive, type ContainerRecord } from './record';
import type { ContainerService } from './service';

const execFileAsync = promisify(execFile);

/** What these commands need of the agent. */
export interface ExtrasDeps {
  containers: ContainerService;
  images: ImageService;
  runtime: Runtime;
  events: EventLog;
}

// ================================================================= top

export interface ProcessTable {
  titles: string[];
  processes: string[][];
}

/** Docker refuses `-o user=PID`-style args: a column renamed to PID would break the filtering. */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+([^\s]*)=\s*(PID[^\s]*)/g)) {
    if (m[1] !== 'pid') throw invalidArgument(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/**
 * Keeps the rows of `ps` output whose PID is one of `pids`, as Docker's parsePSOutput: the
 * columns beyond the titles are joined into the last one (the command line), and thread rows
 * (PID `-`, from `-L`/`m`) follow the process row before them.
 */
export function parsePsOutput(output: string, pids: ReadonlySet<number>): ProcessTable {
  const lines = output.split('\n');
  const titles = (lines[0] ?? '').trim().split(/\s+/).filter(Boolean);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex === -1) throw invalidArgument(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  const row = (fields: string[]) => [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
  let previousKept = false;
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    const pidField = fields[pidIndex] ?? '';
    if (pidField === '-') {
      if (previousKept) processes.push(row(fields));
      continue;
    }
    if (!/^\d+$/.test(pidField)) throw invalidArgument(`Unexpected pid '${pidField}': invalid syntax`);
    previousKept = pids.has(Number(pidField));
    if (previousKept) processes.push(row(fields));
  }
  return { titles, processes };
}

/**
 * Where a container's cgroup may be, most specific first: v1 controllers (pids, memory), the
 * hybrid layout's v2 hierarchy, then pure v2.
 */
export function cgroupDirCandidates(cgroupsPath: string, controllers: string[], cgroupRoot = '/sys/fs/cgroup'): string[] {
  const rel = path.posix.join('/', cgroupsPath).slice(1);
  return [...controllers.map((c) => path.join(cgroupRoot, c, rel)), path.join(cgroupRoot, 'unified', rel), path.join(cgroupRoot, rel)];
}

async function firstExistingDir(candidates: string[]): Promise<string | undefined> {
  for (const dir of candidates) {
    const st = await fsp.stat(dir).catch(() => undefined);
    if (st?.isDirectory()) return dir;
  }
  return undefined;
}

/** Every pid in the container's cgroup, nested cgroups included. */
export async function containerPids(cgroupsPath: string, cgroupRoot = '/sys/fs/cgroup'): Promise<Set<number>> {
  const dir = await firstExistingDir(cgroupDirCandidates(cgroupsPath, ['pids', 'memory'], cgroupRoot));
  const pids = new Set<number>();
  if (!dir) return pids;
  const visit = async (d: string): Promise<void> => {
    const text = readKernelFile(path.join(d, 'cgroup.procs')) ?? '';
    for (const line of text.split('\n')) if (/^\d+$/.test(line.trim())) pids.add(Number(line.trim()));
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await visit(path.join(d, e.name));
  };
  await visit(dir);
  return pids;
}

function requireRunning(c: ContainerRecord): void {
  if (c.state.status === 'restarting') throw conflict(`Container ${c.id} is restarting, wait until the container is running`);
  if (!isActive(c.state.status)) throw conflict(`Container ${c.id} is not running`);
}

/** `docker top`: the host's `ps` output, restricted to the container's processes. */
export async function containerTop(deps: ExtrasDeps, nameOrId: string, psArgs: string[]): Promise<ProcessTable> {
  const c = deps.containers.resolve(nameOrId);
  requireRunning(c);
  const args = psArgs.flatMap((a) => a.split(' ')).filter(Boolean);
  if (args.length === 0) args.push('-ef');
  validatePsArgs(' ' + args.join(' '));
  const { cgroupsPath } = await deps.runtime.state(c.id);
  const pids = await containerPids(cgroupsPath);
  let output: string;
  try {
    output = (await execFileAsync('ps', [...args, `-q${[...pids].join(',')}`], { maxBuffer: 64 << 20 })).stdout;
  } catch {
    // Some ps options (f, for one) cannot be combined with -q: ask for everything instead.
    try {
      output = (await execFileAsync('ps', args, { maxBuffer: 64 << 20 })).stdout;
    } catch (err) {
      const firstLine = String((err as { stderr?: string }).stderr ?? '').split('\n')[0] || (err as Error).message;
      throw invalidArgument(`ps: ${firstLine}`);
    }
  }
  return parsePsOutput(output, pids);
}

// ================================================================= stats

export interface StatsEntry {
  id: string;
  name: string;
  cpuPercent: number;
  memoryUsage: number;
  memoryLimit: number;
  memoryPercent: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
  /** When the numbers were read, ns since the epoch. */
  readNano: number;
}

export interface CpuReading {
  /** The container's cumulated cpu time (ns). */
  containerNs: number;
  /** The host's cumulated cpu time over all cpus (ns), as Docker's system_cpu_usage. */
  systemNs: number;
  onlineCpus: number;
}

/** USER_HZ, which is 100 on every Linux ABI. */
const CLOCK_TICKS = 100;

/** The host's total cpu time and online cpu count from /proc/stat. */
export function parseProcStat(text: string): { systemNs: number; onlineCpus: number } {
  let systemNs = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'cpu') {
      // user nice system idle iowait irq softirq: Docker leaves steal and guest out.
      const ticks = fields.slice(1, 8).reduce((sum, f) => sum + Number(f), 0);
      systemNs = (ticks * 1e9) / CLOCK_TICKS;
    } else if (/^cpu\d+$/.test(fields[0] ?? '')) {
      onlineCpus++;
    }
  }
  return { systemNs, onlineCpus };
}

/**
 * Docker's cpu percentage: the container's share of the host's cpu time between two readings,
 * scaled by the number of cpus, so one busy cpu reads 100% and a 4-cpu host tops at 400%.
 */
export function cpuPercent(previous: CpuReading | undefined, current: CpuReading): number {
  if (!previous) return 0;
  const cpuDelta = current.containerNs - previous.containerNs;
  const systemDelta = current.systemNs - previous.systemNs;
  if (cpuDelta <= 0 || systemDelta <= 0) return 0;
  return (cpuDelta / systemDelta) * (current.onlineCpus || 1) * 100;
}

/** Received and transmitted bytes over every interface of /proc/<pid>/net/dev but `lo`. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo' || name === '') continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    rx += Number(fields[0] ?? 0) || 0;
    tx += Number(fields[8] ?? 0) || 0;
  }
  return { rx, tx };
}

/** The memory Docker shows: usage minus the page cache that could be dropped (inactive files). */
export function memoryUsageWithoutCache(usage: number, memoryStat: ReadonlyMap<string, number>): number {
  const v1 = memoryStat.get('total_inactive_file');
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = memoryStat.get('inactive_file');
  if (v2 !== undefined && v2 < usage) return usage - v2;
  return usage;
}

function parseKeyValues(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

interface Sample {
  cpu: CpuReading;
  entry: StatsEntry;
}

function zeroEntry(c: ContainerRecord, readNano: number): StatsEntry {
  return {
    id: c.id,
    name: c.name,
    cpuPercent: 0,
    memoryUsage: 0,
    memoryLimit: 0,
    memoryPercent: 0,
    netRx: 0,
    netTx: 0,
    blockRead: 0,
    blockWrite: 0,
    pids: 0,
    readNano,
  };
}

/** Reads the numbers of every selected container; cgroup paths are cached per run of a container. */
class StatsSampler {
  private readonly cgroups = new Map<string, { startedAt: number; cgroupsPath: string }>();
  private readonly previous = new Map<string, CpuReading>();

  constructor(private readonly deps: ExtrasDeps) {}

  async sampleAll(containers: ContainerRecord[]): Promise<StatsEntry[]> {
    const host = parseProcStat(readKernelFile('/proc/stat') ?? '');
    const samples = await Promise.all(containers.map((c) => this.sample(c, host)));
    const live = new Set(containers.map((c) => c.id));
    for (const id of this.previous.keys()) if (!live.has(id)) this.previous.delete(id);
    return samples.map((s, i) => {
      const c = containers[i]!;
      if (!s) {
        this.previous.delete(c.id);
        return zeroEntry(c, Date.now() * 1e6);
      }
      s.entry.cpuPercent = cpuPercent(this.previous.get(c.id), s.cpu);
      this.previous.set(c.id, s.cpu);
      return s.entry;
    });
  }

  private async cgroupsPathOf(c: ContainerRecord): Promise<string> {
    const cached = this.cgroups.get(c.id);
    if (cached && cached.startedAt === c.state.startedAt) return cached.cgroupsPath;
    const { cgroupsPath } = await this.deps.runtime.state(c.id);
    this.cgroups.set(c.id, { startedAt: c.state.startedAt, cgroupsPath });
    return cgroupsPath;
  }

  private async sample(c: ContainerRecord, host: { systemNs: number; onlineCpus: number }): Promise<Sample | undefined> {
    if (!isActive(c.state.status)) return undefined;
    try {
      const [st, cgroupsPath] = await Promise.all([this.deps.runtime.stats(c.id), this.cgroupsPathOf(c)]);
      const memoryDir = await firstExistingDir(cgroupDirCandidates(cgroupsPath, ['memory']));
      const memoryStat = parseKeyValues((memoryDir && readKernelFile(path.join(memoryDir, 'memory.stat'))) ?? '');
      const net =
        c.networkMode === 'host' || c.state.pid <= 0
          ? { rx: 0, tx: 0 }
          : parseNetDev(readKernelFile(`/proc/${c.state.pid}/net/dev`) ?? '');
      const usage = memoryUsageWithoutCache(st.memory.usage, memoryStat);
      const limit = Math.min(st.memory.limit ?? Infinity, os.totalmem());
      return {
        cpu: { containerNs: st.cpu.usageNs, systemNs: host.systemNs, onlineCpus: host.onlineCpus },
        entry: {
          id: c.id,
          name: c.name,
          cpuPercent: 0,
          memoryUsage: usage,
          memoryLimit: limit,
          memoryPercent: limit > 0 ? (usage / limit) * 100 : 0,
          netRx: net.rx,
          netTx: net.tx,
          blockRead: st.io.readBytes,
          blockWrite: st.io.writeBytes,
          pids: st.pids.current,
          readNano: Date.parse(st.read) * 1e6,
        },
      };
    } catch {
      // The container stopped between listing and reading: it shows as not running.
      return undefined;
    }
  }
}

/** How long the first cpu reading is apart from the second, for a one-shot sample. */
const FIRST_SAMPLE_INTERVAL_MS = 500;
const STREAM_INTERVAL_MS = 1000;

function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface StatsOptions {
  /** Containers to report; empty: every running one (every one with `all`), re-listed each round. */
  ids: string[];
  stream: boolean;
  all: boolean;
}

/**
 * Stats entries: one per container once, or, with `stream`, one per container per second until
 * `signal` aborts. CPU needs two readings, so the first entries come after a short interval.
 */
export async function* containerStats(deps: ExtrasDeps, opts: StatsOptions, signal?: AbortSignal): AsyncGenerator<StatsEntry> {
  const named = opts.ids.map((n) => deps.containers.resolve(n).id);
  const select = (): ContainerRecord[] =>
    named.length > 0
      ? named.map((id) => deps.containers.tryResolve(id)).filter((c): c is ContainerRecord => c !== undefined)
      : deps.containers.list().filter((c) => opts.all || isActive(c.state.status));
  const sampler = new StatsSampler(deps);
  await sampler.sampleAll(select());
  let interval = FIRST_SAMPLE_INTERVAL_MS;
  for (;;) {
    if (!(await sleep(interval, signal))) return;
    for (const entry of await sampler.sampleAll(select())) {
      if (signal?.aborted) return;
      yield entry;
    }
    if (!opts.stream) return;
    interval = STREAM_INTERVAL_MS;
  }
}

// ================================================================= cp

export function fileNotFound(userPath: string, container: string): TsError {
  return notFound(`Could not find the file ${userPath} in container ${container}`);
}

export interface SourcePath {
  /** The path on the host, under the root it was resolved in. */
  hostPath: string;
  /** The name the archive gives it: the base name the user asked for, `.` for contents only. */
  archiveName: string;
  stat: Stats;
}

/**
 * Resolves the source of `cp` as Docker does: the directory part is resolved with symlinks
 * followed inside the root; the last element is taken as it is (a symlink is copied as a
 * symlink) unless the path ends in `/` or `/.`, which follow it, or `followLink` (`cp -L`) is
 * set, which follows it under the link's name. `/.` asks for the directory's contents without
 * the directory itself.
 */
export async function resolveSourcePath(root: string, userPath: string, container: string, followLink = false): Promise<SourcePath> {
  const clean = path.posix.resolve('/', userPath);
  const contentsOnly = /(^|\/)\.$/.test(userPath);
  const mustBeDir = contentsOnly || userPath.endsWith('/');
  let hostPath: string;
  let archiveName: string;
  if (clean === '/') {
    hostPath = await resolveInRoot(root, '/');
    archiveName = '.';
  } else if (mustBeDir || followLink) {
    hostPath = await resolveInRoot(root, clean);
    archiveName = contentsOnly ? '.' : path.posix.basename(clean);
  } else {
    hostPath = path.join(await resolveInRoot(root, path.posix.dirname(clean)), path.posix.basename(clean));
    archiveName = path.posix.basename(clean);
  }
  let stat: Stats;
  try {
    // The root may be reached through a link (/proc/<pid>/root of a running container).
    stat = clean === '/' ? await fsp.stat(hostPath) : await fsp.lstat(hostPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fileNotFound(userPath, container);
    throw err;
  }
  if (mustBeDir && !stat.isDirectory()) throw invalidArgument(`${userPath}: not a directory`);
  return { hostPath, archiveName, stat };
}

function headerFor(name: string, st: Stats, type: TarEntryType): TarHeader {
  return {
    name,
    type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: type === 'file' ? st.size : 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
  };
}

/**
 * The tar `docker cp` produces: a directory as itself and its contents under `archiveName`,
 * anything else as the single entry `archiveName`.
 */
export function archiveSource(src: SourcePath): Readable {
  return Readable.from(archiveEntries(src), { objectMode: false, highWaterMark: 1 << 20 });
}

async function* archiveEntries(src: SourcePath): AsyncGenerator<Buffer> {
  const type = typeOf(src.stat);
  if (!type) throw invalidArgument(`${src.archiveName}: cannot archive a socket`);
  const top = headerFor(src.archiveName, src.stat, type);
  switch (type) {
    case 'directory':
      yield encodeHeader(top);
      yield* renamed(tarDirectory(src.hostPath), src.archiveName);
      return;
    case 'file': {
      yield encodeHeader(top);
      const fh = await fsp.open(src.hostPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      try {
        let left = top.size;
        while (left > 0) {
          const chunk = Buffer.allocUnsafe(Math.min(left, 1 << 20));
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
          if (bytesRead === 0) throw conflict(`${src.archiveName} changed while being copied`);
          left -= bytesRead;
          yield chunk.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
      yield Buffer.alloc(padding(top.size));
      break;
    }
    case 'symlink':
      yield encodeHeader({ ...top, linkname: await fsp.readlink(src.hostPath) });
      break;
    case 'char':
    case 'block':
      yield encodeHeader({ ...top, ...splitDev(src.stat.rdev) });
      break;
    case 'fifo':
      yield encodeHeader(top);
      break;
  }
  yield endOfArchive();
}

/** Re-emits a tar's entries under `prefix/`, hard link targets included, and its end marker. */
async function* renamed(tar: Readable, prefix: string): AsyncGenerator<Buffer> {
  const source = new ByteSource(tar, () => undefined);
  const reader = new TarReader(source);
  try {
    for (let h = await reader.next(); h; h = await reader.next()) {
      const linkname = h.type === 'hardlink' ? `${prefix}/${h.linkname}` : h.linkname;
      yield encodeHeader({ ...h, name: `${prefix}/${h.name}`, linkname });
      if (h.type === 'file' && h.size > 0) {
        for await (const chunk of reader.body()) yield chunk;
        yield Buffer.alloc(padding(h.size));
      }
    }
    yield endOfArchive();
  } finally {
    await source.close();
  }
}

/** `docker cp CONTAINER:PATH -`: writes the tar of `userPath` to `out`. */
export async function copyFromContainer(
  deps: ExtrasDeps,
  nameOrId: string,
  userPath: string,
  out: Writable,
  opts: { followLink?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const { signal } = opts;
  const c = deps.containers.resolve(nameOrId);
  await deps.containers.withRootfs(c, async (root) => {
    const src = await resolveSourcePath(root, userPath, nameOrId, opts.followLink);
    await pipeline(archiveSource(src), out, signal ? { signal } : {});
  });
}

/** The tar entry name relative to the extraction directory, or undefined for the directory itself. */
export function entryPath(name: string, destination: string): string | undefined {
  const rel = path.posix.normalize(name.replace(/^\/+/, ''));
  if (rel === '.' || rel === './' || rel === '') return undefined;
  if (rel === '..' || rel.startsWith('../')) throw invalidArgument(`${JSON.stringify(name)} is outside of ${JSON.stringify(destination)}`);
  return rel.replace(/\/+$/, '');
}

export interface ExtractOptions {
  /** Owner of everything extracted; the archive's own ids when absent. */
  owner?: { uid: number; gid: number };
}

/**
 * Extracts a tar into `destDir` (a container path, already checked to be a directory) under
 * `root`. Each entry's parent is resolved inside the root, so neither a symlink the container
 * holds nor one the archive planted leads out of it. As `docker cp`: existing directories keep
 * their metadata, and a directory never replaces a non-directory nor the other way round.
 */
export async function extractInto(root: string, destDir: string, input: Readable, opts: ExtractOptions = {}): Promise<void> {
  const source = new ByteSource(input, () => undefined);
  const reader = new TarReader(source);
  const parents = new Map<string, string>();
  const createdDirs: Array<{ hostPath: string; h: TarHeader }> = [];
  const xattrs: XattrAssignment[] = [];
  const owner = (h: TarHeader) => opts.owner ?? { uid: h.uid, gid: h.gid };

  /** Host path of a container directory, created (0755) where missing. */
  const parentDir = async (containerDir: string): Promise<string> => {
    const known = parents.get(containerDir);
    if (known) return known;
    // The root itself may be reached through a link (/proc/<pid>/root): it is a directory.
    if (containerDir === '/') return root;
    const resolved = await resolveInRoot(root, containerDir);
    const st = await fsp.lstat(resolved).catch(() => undefined);
    if (!st) {
      const above = await parentDir(path.posix.dirname(containerDir));
      const created = path.join(above, path.posix.basename(containerDir));
      await fsp.mkdir(created, { mode: 0o755 });
      parents.set(containerDir, created);
      return created;
    }
    if (!st.isDirectory()) throw invalidArgument(`${containerDir}: not a directory`);
    parents.set(containerDir, resolved);
    return resolved;
  };

  try {
    for (let h = await reader.next(); h; h = await reader.next()) {
      const rel = entryPath(h.name, destDir);
      const containerPath = rel === undefined ? destDir : path.posix.join(destDir, rel);
      if (rel === undefined) {
        if (h.type === 'directory') continue;
        throw invalidArgument(`cannot overwrite directory ${JSON.stringify(destDir)} with non-directory ${JSON.stringify(h.name)}`);
      }
      const target = path.join(await parentDir(path.posix.dirname(containerPath)), path.posix.basename(containerPath));
      const existing = await fsp.lstat(target).catch(() => undefined);
      if (h.type === 'directory') {
        if (existing?.isDirectory()) continue;
        if (existing) throw invalidArgument(`cannot overwrite non-directory ${JSON.stringify(containerPath)} with directory ${JSON.stringify(h.name)}`);
        await fsp.mkdir(target, { mode: 0o700 });
        parents.set(containerPath, target);
        createdDirs.push({ hostPath: target, h });
        continue;
      }
      if (existing?.isDirectory()) throw invalidArgument(`cannot overwrite directory ${JSON.stringify(containerPath)} with non-directory ${JSON.stringify(h.name)}`);
      if (existing) await fsp.unlink(target);
      const { uid, gid } = owner(h);
      switch (h.type) {
        case 'file': {
          const fh = await fsp.open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
          try {
            for await (const chunk of reader.body()) await fh.write(chunk);
            // chown clears setuid/setgid, so the mode goes after it.
            await fh.chown(uid, gid);
            await fh.chmod(h.mode);
            await fh.utimes(h.mtime, h.mtime);
          } finally {
            await fh.close();
          }
          break;
        }
        case 'symlink':
          await fsp.symlink(h.linkname, target);
          await fsp.lchown(target, uid, gid);
          await fsp.lutimes(target, h.mtime, h.mtime);
          break;
        case 'hardlink': {
          const linkRel = entryPath(h.linkname, destDir);
          if (linkRel === undefined) throw invalidArgument(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`);
          const linkPath = path.posix.join(destDir, linkRel);
          const linkTarget = path.join(await parentDir(path.posix.dirname(linkPath)), path.posix.basename(linkPath));
          await fsp.link(linkTarget, target);
          break;
        }
        case 'char':
        case 'block':
        case 'fifo':
          await mknod(target, h.type, h.devmajor, h.devminor);
          await fsp.lchown(target, uid, gid);
          await fsp.chmod(target, h.mode);
          await fsp.utimes(target, h.mtime, h.mtime);
          break;
      }
      const kept = new Map([...h.xattrs].filter(([k]) => !k.startsWith(OVERLAY_XATTR_PREFIX)));
      if (kept.size > 0 && h.type !== 'hardlink') xattrs.push({ path: target, xattrs: kept });
    }
    await source.drain();
  } catch (err) {
    await source.close();
    throw err;
  }
  // Directories get their mode and times last: a read-only one still received its content,
  // and writing into one would have changed its mtime.
  for (const { hostPath, h } of createdDirs.reverse()) {
    const { uid, gid } = owner(h);
    await fsp.lchown(hostPath, uid, gid);
    await fsp.chmod(hostPath, h.mode);
    await fsp.utimes(hostPath, h.mtime, h.mtime);
  }
  for (const { hostPath, h } of createdDirs) {
    const kept = new Map([...h.xattrs].filter(([k]) => !k.startsWith(OVERLAY_XATTR_PREFIX)));
    if (kept.size > 0) xattrs.push({ path: hostPath, xattrs: kept });
  }
  await setXattrs(xattrs);
}

/** Docker refuses writes to a read-only rootfs or volume, unless a writable mount holds the path. */
function checkWritable(c: ContainerRecord, containerPath: string): void {
  const within = (target: string) => containerPath === target || containerPath.startsWith(target.endsWith('/') ? target : `${target}/`);
  const mount = c.mounts.filter((m) => within(m.target)).sort((a, b) => b.target.length - a.target.length)[0];
  if (mount?.readOnly) throw invalidArgument('mounted volume is marked read-only');
  if (!mount && c.spec.read_only) throw invalidArgument('container rootfs is marked read-only');
}

export interface CopyToOptions {
  /**
   * `docker cp -a`: files keep the archive's owners, or belong to the container's user when it
   * has one. Without it they belong to the container's root, as Docker's do.
   */
  copyUidGid?: boolean;
}

const ROOT_OWNER = { uid: 0, gid: 0 };

/** `docker cp - CONTAINER:DIR`: extracts the tar `input` into the existing directory `userPath`. */
export async function copyToContainer(deps: ExtrasDeps, nameOrId: string, userPath: string, input: Readable, opts: CopyToOptions = {}): Promise<void> {
  const c = deps.containers.resolve(nameOrId);
  await deps.containers.withRootfs(c, async (root) => {
    const hostDir = await resolveInRoot(root, path.posix.resolve('/', userPath));
    const st = await fsp.stat(hostDir).catch(() => undefined);
    if (!st) throw fileNotFound(userPath, nameOrId);
    if (!st.isDirectory()) throw invalidArgument('extraction point is not a directory');
    const rootHost = await resolveInRoot(root, '/');
    const containerDir = '/' + path.relative(rootHost, hostDir);
    checkWritable(c, containerDir);
    const owner = !opts.copyUidGid ? ROOT_OWNER : c.config.user ? await resolveUser(root, c.config.user) : undefined;
    await extractInto(root, containerDir, input, owner ? { owner: { uid: owner.uid, gid: owner.gid } } : {});
  });
}

// ================================================================= export

/**
 * Runs `fn` on the container's filesystem as Docker exports it: image layers plus the writable
 * layer, without /proc, /sys or volumes. A running container's writable layer is shown through
 * a second, read-only overlay that has it as the top lower layer.
 */
async function withFilesystem<T>(deps: ExtrasDeps, c: ContainerRecord, fn: (root: string) => Promise<T>): Promise<T> {
  if (!isActive(c.state.status)) return deps.containers.withRootfs(c, fn);
  const img = deps.images.store.get(c.imageId);
  if (!img) throw notFound(`container ${c.name}: its image ${c.imageId} is gone`);
  const snapshots = deps.images.snapshots;
  const m = snapshots.mountsFor(c.id, img.layers.map((l) => l.diffId));
  const lowers = m.options.find((o) => o.startsWith('lowerdir='))?.slice('lowerdir='.length) ?? 'empty';
  const upper = path.relative(m.cwd, snapshots.upperPath(c.id));
  const target = await fsp.mkdtemp(path.join(os.tmpdir(), 'tscompose-export-'));
  try {
    await mountOverlay({ ...m, options: [`lowerdir=${upper}:${lowers}`] }, target);
    try {
      return await fn(target);
    } finally {
      await unmount(target);
    }
  } finally {
    await fsp.rmdir(target).catch(() => undefined);
  }
}

/** `docker export`: the tar of the container's whole filesystem. */
export async function exportContainer(deps: ExtrasDeps, nameOrId: string, out: Writable, signal?: AbortSignal): Promise<void> {
  const c = deps.containers.resolve(nameOrId);
  await withFilesystem(deps, c, (root) => pipeline(tarDirectory(root), out, signal ? { signal } : {}));
}

// ================================================================= diff

/** Docker's change kinds, as `docker diff` prints them: C, A, D. */
export const enum ChangeKind {
  Modified = 0,
  Added = 1,
  Deleted = 2,
}

export interface FileChange {
  path: string;
  kind: ChangeKind;
}

/** Paths the engine makes in every container to mount over: never the container's own changes. */
const ENGINE_MOUNT_POINTS = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/.containerenv'];
/** Kernel and device file systems mounted over: nothing below them is the container's layer. */
const MOUNTED_TREES = new Set(['/dev', '/proc', '/sys']);

/**
 * `docker diff`: the container's writable layer read against its image's layers. A whiteout
 * is a deletion; a path the image has is modified, one it hasn't is added. Mount points the
 * engine or the container's mounts made are left out, with the directories changed only to hold
 * them (Docker keeps those in a hidden init layer).
 */
export async function containerChanges(deps: ExtrasDeps, nameOrId: string): Promise<FileChange[]> {
  const c = deps.containers.resolve(nameOrId);
  const img = deps.images.store.get(c.imageId);
  if (!img) throw notFound(`container ${c.name}: its image ${c.imageId} is gone`);
  const snapshots = deps.images.snapshots;
  const m = snapshots.mountsFor(c.id, img.layers.map((l) => l.diffId));
  const lowers = (m.options.find((o) => o.startsWith('lowerdir='))?.slice('lowerdir='.length) ?? '').split(':').filter((l) => l !== '' && l !== 'empty').map((l) => path.resolve(m.cwd, l));
  const upper = snapshots.upperPath(c.id);
  const mountPoints = new Set([...ENGINE_MOUNT_POINTS, ...c.mounts.map((x) => path.posix.normalize(x.target))]);
  const inImage = async (rel: string) => {
    for (const lower of lowers) if (await fsp.lstat(path.join(lower, rel)).catch(() => undefined)) return true;
    return false;
  };
  const changes: FileChange[] = [];
  const walk = async (relDir: string): Promise<void> => {
    const entries = await fsp.readdir(path.join(upper, relDir), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const rel = path.posix.join(relDir, e.name);
      if (MOUNTED_TREES.has(rel)) continue;
      if (e.isCharacterDevice()) {
        const st = await fsp.lstat(path.join(upper, rel));
        if (st.rdev === 0) {
          changes.push({ path: rel, kind: ChangeKind.Deleted });
          continue;
        }
      }
      const below = await inImage(rel);
      if (!below && mountPoints.has(rel)) continue;
      changes.push({ path: rel, kind: below ? ChangeKind.Modified : ChangeKind.Added });
      if (e.isDirectory()) await walk(rel);
    }
  };
  await walk('/');
  // A directory of the image that is in the writable layer only to hold a mount point is no change.
  const real = changes.filter((ch) => !(ch.kind === ChangeKind.Modified && [...mountPoints].some((mp) => mp.startsWith(`${ch.path}/`)) && !changes.some((o) => o !== ch && o.path.startsWith(`${ch.path}/`))));
  return real.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// ================================================================= commit

export interface CommitOptions {
  reference?: string;
  changes: string[];
  message?: string;
  author?: string;
  pause: boolean;
}

/** The digest of a tar holding nothing (the end-of-archive marker alone), Docker's empty layer. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/** The new image's `config`: the container's resolved process settings over the base image's. */
export function commitConfig(base: ContainerConfig | undefined, c: ContainerRecord, changes: string[]): ContainerConfig {
  const rc = c.config;
  const config: ContainerConfig = {
    ...(base ?? {}),
    User: rc.user,
    ExposedPorts: rc.exposedPorts.length > 0 ? Object.fromEntries(rc.exposedPorts.map((p) => [p, {}])) : undefined,
    Env: rc.env,
    Entrypoint: rc.entrypoint.length > 0 ? rc.entrypoint : null,
    Cmd: rc.cmd.length > 0 ? rc.cmd : null,
    Volumes: rc.imageVolumes.length > 0 ? Object.fromEntries(rc.imageVolumes.map((v) => [v, {}])) : undefined,
    WorkingDir: rc.workingDir,
    Labels: Object.keys(rc.labels).length > 0 ? rc.labels : undefined,
    // SIGTERM is every container's default, not a setting to bake into the image (Docker omits it).
    StopSignal: rc.stopSignal !== 'SIGTERM' || base?.StopSignal ? rc.stopSignal : undefined,
    Healthcheck: rc.healthcheck
      ? healthcheckJson(rc.healthcheck)
      : c.spec.healthcheck.test[0] === 'NONE'
        ? { Test: ['NONE'] }
        : base?.Healthcheck,
  };
  delete config.ArgsEscaped;
  for (const key of Object.keys(config) as Array<keyof ContainerConfig>) if (config[key] === undefined) delete config[key];
  return applyChanges(config, changes);
}

/** Layers as an OCI manifest names them (same bytes, OCI media types). */
function ociLayerMediaType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mediaType === MediaType.DockerForeignLayerGzip) return MediaType.OciLayerNondistributableGzip;
  return mediaType;
}

/** Keeps the platform fields of the base image's config; the rest is the commit's own. */
function platformFields(base: ImageConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['variant', 'os.version', 'os.features']) if (base[key] !== undefined) out[key] = base[key];
  return out;
}

/** `docker commit`: the container's writable layer becomes a new image on top of its image. */
export async function commitContainer(deps: ExtrasDeps, nameOrId: string, opts: CommitOptions): Promise<string> {
  const c = deps.containers.resolve(nameOrId);
  if (c.state.status === 'dead') throw conflict(`You cannot commit container ${c.id} which is Dead`);
  if (c.state.status === 'removing' || c.desired === 'removed') throw conflict(`cannot commit container ${c.id} which is being removed`);
  const tag = opts.reference ? normalizeTag(opts.reference) : undefined;
  const { images } = deps;
  const baseRecord = images.store.get(c.imageId);
  if (!baseRecord) throw notFound(`No such image: ${c.imageId}`);
  const base = await images.config(baseRecord.id);
  const config = commitConfig(base.config, c, opts.changes);

  const leased: string[] = [];
  const lease = (d: string) => {
    images.leases.add(d);
    leased.push(d);
  };
  try {
    const layer = await withPause(deps, c, opts.pause, () => storeLayer(images, c, lease));
    const empty = layer.diffId === EMPTY_LAYER_DIFF_ID;
    const now = new Date().toISOString();
    const history: HistoryEntry = { created: now, created_by: c.config.cmd.join(' ') };
    if (opts.author) history.author = opts.author;
    if (opts.message) history.comment = opts.message;
    if (empty) history.empty_layer = true;
    const imageConfig: ImageConfig = {
      architecture: base.architecture,
      os: base.os,
      ...platformFields(base),
      created: now,
      ...(opts.author ? { author: opts.author } : {}),
      config,
      rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...(empty ? [] : [layer.diffId])] },
      history: [...(base.history ?? []), history],
    };
    const cfgInfo = await putBlob(images.content, JSON.stringify(imageConfig));
    lease(cfgInfo.digest);
    const newLayers: LayerRef[] = empty ? [] : [{ diffId: layer.diffId, blobDigest: layer.diffId, blobSize: layer.size, mediaType: MediaType.OciLayer }];
    const layers = [...baseRecord.layers, ...newLayers];
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfgInfo.digest, size: cfgInfo.size },
      layers: layers.map((l) => ({ mediaType: ociLayerMediaType(l.mediaType), digest: l.blobDigest, size: l.blobSize })),
    };
    const mInfo = await putBlob(images.content, JSON.stringify(manifest));
    lease(mInfo.digest);
    const record: ImageRecord = {
      id: cfgInfo.digest,
      manifestDigest: mInfo.digest,
      manifestMediaType: MediaType.OciManifest,
      repoDigests: [],
      created: Date.parse(now),
      layers,
      size: baseRecord.size + (empty ? 0 : layer.size),
      parent: baseRecord.id,
    };
    await images.store.put(record, tag ? [tag] : []);
    await images.refreshLayerSizes();
    deps.events.emit(
      'container',
      'commit',
      c.id,
      eventAttributes(c, { comment: opts.message ?? '', imageID: record.id, imageRef: tag ? familiarString(parseReference(tag)) : '' }),
    );
    return record.id;
  } catch (err) {
    for (const d of leased) images.leases.delete(d);
    leased.length = 0;
    await images.gc().catch(() => undefined);
    throw err;
  } finally {
    for (const d of leased) images.leases.delete(d);
  }
}

/** Runs `fn` with the container frozen when asked and it runs, resuming it after. */
async function withPause<T>(deps: ExtrasDeps, c: ContainerRecord, pause: boolean, fn: () => Promise<T>): Promise<T> {
  if (!pause || c.state.status !== 'running') return fn();
  await deps.containers.pause(c.id);
  try {
    return await fn();
  } finally {
    await deps.containers.unpause(c.id);
  }
}

/**
 * The writable layer as an uncompressed blob (so blob digest = diffID) and as a snapshotter
 * layer, leased from the moment it exists so that a GC cannot take it before the image names it.
 */
async function storeLayer(images: ImageService, c: ContainerRecord, lease: (digest: string) => void): Promise<{ diffId: string; size: number }> {
  const writer = await images.content.writer(`commit-${c.id}-${randomBytes(6).toString('hex')}`);
  let blob: { diffId: string; size: number };
  try {
    const sink = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _enc, cb) {
        writer.write(chunk).then(() => cb(), cb);
      },
    });
    blob = await writeLayer(diffDirectory(images.snapshots.upperPath(c.id)), sink);
    lease(blob.diffId);
    await writer.commit({ digest: blob.diffId, size: blob.size });
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
  if (blob.diffId !== EMPTY_LAYER_DIFF_ID) {
    await images.snapshots.applyLayer(images.content.readStream(blob.diffId), blob.diffId, `committed from container ${c.name}`);
  }
  return blob;
}
