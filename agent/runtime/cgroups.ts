import { existsSync, promises as fsp } from 'node:fs';
import { readKernelFile } from '../../common/fsutil';
import * as path from 'node:path';

/**
 * The host's cgroup layout. `v1` also covers the hybrid layout (v1 controllers plus a v2
 * hierarchy at /sys/fs/cgroup/unified): runc and conmon both treat it as v1, and so do we.
 */
export type CgroupMode = 'v1' | 'v2';

const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;
/** v1 reports "no limit" as the largest page-aligned signed 64-bit number. */
const V1_UNLIMITED = 2 ** 62;

let detectedMode: CgroupMode | undefined;

export async function cgroupMode(): Promise<CgroupMode> {
  if (!detectedMode) {
    const st = await fsp.statfs(CGROUP_ROOT);
    detectedMode = st.type === CGROUP2_SUPER_MAGIC ? 'v2' : 'v1';
  }
  return detectedMode;
}

let weightSupported: boolean | undefined;

/**
 * Whether the kernel can weigh block I/O between cgroups: v1's blkio.weight (CFQ) or
 * blkio.bfq.weight, v2's io.weight or io.bfq.weight. Without BFQ or CFQ (mq-deadline, none), it
 * can't, and Docker drops the weight with a warning.
 */
export function blockIOWeightSupported(): boolean {
  // Asked at every create and start; the I/O schedulers don't change while the daemon runs.
  weightSupported ??= ['blkio/blkio.weight', 'blkio/blkio.bfq.weight', 'io.weight', 'io.bfq.weight', 'unified/io.weight', 'unified/io.bfq.weight'].some((c) =>
    existsSync(path.join(CGROUP_ROOT, c)),
  );
  return weightSupported;
}

/**
 * The cgroupsPath written in config.json for the cgroupfs driver: an absolute path below one
 * shared parent, the same string for v1 (joined under each controller's mount) and v2.
 */
export function cgroupsPathFor(id: string, parent = '/tscompose'): string {
  return path.posix.join('/', parent, id);
}

type Hierarchy = { mount: string; controllers: string[]; v2: boolean };
let knownHierarchies: Promise<Hierarchy[]> | undefined;

/**
 * Each cgroup hierarchy mounted on the host: its mount point and (v1) its controllers. Read once
 * (they are mounted at boot); /proc/self/mounts grows with every container's mounts.
 */
function hierarchies(): Promise<Hierarchy[]> {
  knownHierarchies ??= readHierarchies();
  knownHierarchies.catch(() => (knownHierarchies = undefined));
  return knownHierarchies;
}

async function readHierarchies(): Promise<Hierarchy[]> {
  const text = await fsp.readFile('/proc/self/mounts', 'utf8');
  const out: Hierarchy[] = [];
  for (const line of text.split('\n')) {
    const [, mount, type, opts] = line.split(' ');
    if (!mount || (type !== 'cgroup' && type !== 'cgroup2')) continue;
    const controllers = type === 'cgroup' ? (opts ?? '').split(',').filter((o) => !o.includes('=') && !NON_CONTROLLER_OPTS.has(o)) : [];
    out.push({ mount: mount.replace(/\\040/g, ' '), controllers, v2: type === 'cgroup2' });
  }
  return out;
}

const NON_CONTROLLER_OPTS = new Set(['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'clone_children', 'xattr', 'noprefix']);

async function v1ControllerDir(controller: string, cgroupsPath: string): Promise<string | undefined> {
  for (const h of await hierarchies()) {
    if (!h.v2 && h.controllers.includes(controller)) return path.join(h.mount, cgroupsPath);
  }
  return undefined;
}

export interface ContainerStats {
  /** When the numbers were read, ISO 8601. */
  read: string;
  cpu: { usageNs: number; userNs: number; systemNs: number; throttledPeriods: number; throttledNs: number };
  memory: { usage: number; limit: number | null; cache: number; rss: number; failcnt: number };
  pids: { current: number; limit: number | null };
  io: { readBytes: number; writeBytes: number };
}

function readText(file: string | undefined): string | undefined {
  return file ? readKernelFile(file) : undefined;
}

async function readNumber(file: string | undefined): Promise<number | undefined> {
  const t = readText(file)?.trim();
  if (t === undefined || t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control) as a map. */
function keyValues(text: string | undefined): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

/** Reads cpu, memory, pids and block io counters of the cgroup at `cgroupsPath`. */
export async function readStats(cgroupsPath: string): Promise<ContainerStats> {
  return (await cgroupMode()) === 'v2' ? readStatsV2(cgroupsPath) : readStatsV1(cgroupsPath);
}

async function readStatsV1(p: string): Promise<ContainerStats> {
  const [cpuacct, cpu, memory, pids, blkio] = await Promise.all(
    ['cpuacct', 'cpu', 'memory', 'pids', 'blkio'].map((c) => v1ControllerDir(c, p)),
  );
  const j = (dir: string | undefined, f: string) => (dir ? path.join(dir, f) : undefined);
  // cpuacct.stat counts USER_HZ ticks, which is 100 on every Linux ABI.
  const ticks = keyValues(readText(j(cpuacct, 'cpuacct.stat')));
  const throttling = keyValues(readText(j(cpu, 'cpu.stat')));
  const memStat = keyValues(readText(j(memory, 'memory.stat')));
  const limit = await readNumber(j(memory, 'memory.limit_in_bytes'));
  const pidsMax = await readNumber(j(pids, 'pids.max'));
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of (readText(j(blkio, 'blkio.throttle.io_service_bytes_recursive')) ?? '').split('\n')) {
    const [, op, v] = line.trim().split(/\s+/);
    if (op === 'Read') readBytes += Number(v);
    if (op === 'Write') writeBytes += Number(v);
  }
  return {
    read: new Date().toISOString(),
    cpu: {
      usageNs: (await readNumber(j(cpuacct, 'cpuacct.usage'))) ?? 0,
      userNs: (await readNumber(j(cpuacct, 'cpuacct.usage_user'))) ?? (ticks.get('user') ?? 0) * 10_000_000,
      systemNs: (await readNumber(j(cpuacct, 'cpuacct.usage_sys'))) ?? (ticks.get('system') ?? 0) * 10_000_000,
      throttledPeriods: throttling.get('nr_throttled') ?? 0,
      throttledNs: throttling.get('throttled_time') ?? 0,
    },
    memory: {
      usage: (await readNumber(j(memory, 'memory.usage_in_bytes'))) ?? 0,
      limit: limit === undefined || limit >= V1_UNLIMITED ? null : limit,
      cache: memStat.get('total_cache') ?? memStat.get('cache') ?? 0,
      rss: memStat.get('total_rss') ?? memStat.get('rss') ?? 0,
      failcnt: (await readNumber(j(memory, 'memory.failcnt'))) ?? 0,
    },
    pids: { current: (await readNumber(j(pids, 'pids.current'))) ?? 0, limit: pidsMax ?? null },
    io: { readBytes, writeBytes },
  };
}

async function readStatsV2(p: string): Promise<ContainerStats> {
  const dir = path.join(CGROUP_ROOT, p);
  const f = (name: string) => path.join(dir, name);
  const cpuStat = keyValues(readText(f('cpu.stat')));
  const memStat = keyValues(readText(f('memory.stat')));
  const events = keyValues(readText(f('memory.events')));
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of (readText(f('io.stat')) ?? '').split('\n')) {
    for (const field of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = field.split('=');
      if (k === 'rbytes') readBytes += Number(v);
      if (k === 'wbytes') writeBytes += Number(v);
    }
  }
  return {
    read: new Date().toISOString(),
    cpu: {
      usageNs: (cpuStat.get('usage_usec') ?? 0) * 1000,
      userNs: (cpuStat.get('user_usec') ?? 0) * 1000,
      systemNs: (cpuStat.get('system_usec') ?? 0) * 1000,
      throttledPeriods: cpuStat.get('nr_throttled') ?? 0,
      throttledNs: (cpuStat.get('throttled_usec') ?? 0) * 1000,
    },
    memory: {
      usage: (await readNumber(f('memory.current'))) ?? 0,
      limit: (await readNumber(f('memory.max'))) ?? null,
      cache: memStat.get('file') ?? 0,
      rss: memStat.get('anon') ?? 0,
      failcnt: events.get('max') ?? 0,
    },
    pids: { current: (await readNumber(f('pids.current'))) ?? 0, limit: (await readNumber(f('pids.max'))) ?? null },
    io: { readBytes, writeBytes },
  };
}

/** How many processes the kernel's OOM killer took from this cgroup (0 when unknown or gone). */
export async function oomKillCount(cgroupsPath: string): Promise<number> {
  if ((await cgroupMode()) === 'v2') {
    return keyValues(readText(path.join(CGROUP_ROOT, cgroupsPath, 'memory.events'))).get('oom_kill') ?? 0;
  }
  const dir = await v1ControllerDir('memory', cgroupsPath);
  return keyValues(readText(dir && path.join(dir, 'memory.oom_control'))).get('oom_kill') ?? 0;
}

/**
 * Removes the container's cgroup directories in every hierarchy where they remain (runc
 * removes them on delete; this catches a delete that raced with a still-dying process).
 */
export async function removeCgroup(cgroupsPath: string): Promise<void> {
  for (const h of await hierarchies()) {
    const dir = path.join(h.mount, cgroupsPath);
    if (!dir.startsWith(h.mount + '/')) continue;
    await removeTree(dir);
  }
}

async function removeTree(dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeTree(path.join(dir, e.name));
  // A cgroup with processes left refuses rmdir with EBUSY; such a leftover is reported by the caller.
  await fsp.rmdir(dir).catch(() => undefined);
}

/** Whether any hierarchy still has a directory for this cgroup. */
export async function cgroupExists(cgroupsPath: string): Promise<boolean> {
  for (const h of await hierarchies()) {
    try {
      await fsp.access(path.join(h.mount, cgroupsPath));
      return true;
    } catch {
      // not in this hierarchy
    }
  }
  return false;
}
