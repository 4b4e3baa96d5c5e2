import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, statfs } from 'node:fs/promises';
import * as path from 'node:path';
import { launcher } from './process';

/**
 * Unmounting with umount(8), the requests of one moment served by one process: every start of a
 * program costs (a fork of the spawn server, an exec of umount), and a container's end asks for two
 * (rootfs, network namespace) at once, a `rm -f` of many for dozens. A target that is not
 * mounted is not an error; a busy one is detached lazily rather than leaked (its last user
 * frees it), as `umount -l` does.
 */
export function unmount(target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    queue.push({ target, resolve, reject });
    if (!draining) {
      draining = true;
      // Later in this turn of the event loop, so requests made side by side share the process.
      setImmediate(() => void drain());
    }
  });
}

interface Request {
  target: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

const queue: Request[] = [];
let draining = false;

async function drain(): Promise<void> {
  while (queue.length > 0) {
    const batch = queue.splice(0);
    let left: Map<string, string>;
    try {
      left = await unmountAll([...new Set(batch.map((r) => r.target))]);
    } catch (err) {
      for (const r of batch) r.reject(err as Error);
      continue;
    }
    for (const r of batch) {
      const why = left.get(r.target);
      if (why === undefined) r.resolve();
      else r.reject(new Error(`umount ${r.target}: ${why}`));
    }
  }
  draining = false;
}

/** Unmounts what of `targets` is mounted; returns those still mounted after all, with umount's word. */
async function unmountAll(targets: string[]): Promise<Map<string, string>> {
  let mounted = await mountedAmong(targets);
  if (mounted.length === 0) return new Map();
  let r = await run(['umount', ...mounted]);
  if (r.code === 0) return new Map();
  mounted = await mountedAmong(mounted);
  if (mounted.length === 0) return new Map();
  r = await run(['umount', '--lazy', ...mounted]);
  mounted = await mountedAmong(mounted);
  const why = r.stderr.trim().split('\n')[0] || 'still mounted';
  return new Map(mounted.map((m) => [m, why]));
}

export interface MountRequest {
  type: string;
  source: string;
  options: string[];
  /** Relative paths in the options (overlay's lower dirs) are resolved against it. */
  cwd?: string;
}

/**
 * Mounting with mount(8), the requests of one moment with the same `cwd` made by one process:
 * `mount -a` reading a table of them (fstab syntax) on its stdin. Containers starting side by
 * side each want their rootfs mounted, and every start of mount(8) costs a fork, an exec and a
 * parse of mountinfo. A mount the shared run did not make is tried again alone, so its failure
 * carries mount's own word about it (and a mount(8) without `-a -T` works as before).
 */
export function mountOne(req: MountRequest, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    mountQueue.push({ req, target, resolve, reject });
    if (!mountDraining) {
      mountDraining = true;
      setImmediate(() => void drainMounts());
    }
  });
}

interface MountJob {
  req: MountRequest;
  target: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

const mountQueue: MountJob[] = [];
let mountDraining = false;

async function drainMounts(): Promise<void> {
  while (mountQueue.length > 0) {
    const batch = mountQueue.splice(0);
    const byCwd = new Map<string, MountJob[]>();
    for (const job of batch) {
      const key = job.req.cwd ?? '';
      byCwd.set(key, [...(byCwd.get(key) ?? []), job]);
    }
    await Promise.all([...byCwd.values()].map((jobs) => mountTogether(jobs)));
  }
  mountDraining = false;
}

async function mountTogether(jobs: MountJob[]): Promise<void> {
  let left = jobs;
  if (jobs.length > 1) {
    const table = jobs.map((j) => [j.req.source, j.target, j.req.type, j.req.options.join(',') || 'defaults', '0', '0'].map(octalEscaped).join(' ')).join('\n');
    const cwd = jobs[0]!.req.cwd;
    await launcher()
      .run('mount', ['-a', '-T', '/dev/stdin'], { input: `${table}\n`, stdout: 'ignore', ...(cwd ? { cwd } : {}) })
      .catch(() => undefined);
    const mounted = new Set(await mountedAmong(jobs.map((j) => j.target)).catch(() => [] as string[]));
    for (const j of jobs) if (mounted.has(j.target)) j.resolve();
    left = jobs.filter((j) => !mounted.has(j.target));
  }
  await Promise.all(
    left.map(async (j) => {
      const { type, source, options, cwd } = j.req;
      const r = await launcher()
        .run('mount', ['-t', type, source, ...(options.length > 0 ? ['-o', options.join(',')] : []), j.target], { stdout: 'ignore', ...(cwd ? { cwd } : {}) })
        .catch((err: unknown) => ({ code: -1, stderr: (err as Error).message }));
      if (r.code === 0) j.resolve();
      else j.reject(new Error(r.stderr.trim() || `mount exited with status ${r.code}`));
    }),
  );
}

/** A path as mountinfo and fstab write it: space, tab, newline and backslash as octal escapes. */
function octalEscaped(text: string): string {
  return text.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

async function mountedAmong(targets: string[]): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  // mountinfo shows resolved paths: a target under a symlink is looked up by its real path.
  const mounted = await Promise.all(targets.map(async (t) => isMountedIn(text, t) || isMountedIn(text, await realpath(t).catch(() => t))));
  return targets.filter((_t, i) => mounted[i]);
}

/**
 * Whether `target` is the mount point (fifth field) of a line of mountinfo's `text`, found by
 * searching the text rather than splitting it: it is read for every container started, and on
 * a busy host holds hundreds of lines.
 */
function isMountedIn(text: string, target: string): boolean {
  const needle = ` ${octalEscaped(target)} `;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + 1)) {
    // The fifth field follows the fourth space of its line; fields hold no raw spaces.
    let spaces = 0;
    for (let j = text.lastIndexOf('\n', i) + 1; j <= i; j++) if (text.charCodeAt(j) === 32) spaces++;
    if (spaces === 4) return true;
  }
  return false;
}

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  try {
    return await launcher().run(argv[0]!, argv.slice(1), { stdout: 'ignore' });
  } catch (err) {
    return { code: 1, stderr: (err as Error).message };
  }
}

/** Mount points of this mount namespace (mountinfo's fifth field), one per mount. */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    // mountinfo escapes space, tab, newline and backslash as octal.
    if (field) out.push(field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return out;
}

export async function isMountPoint(p: string): Promise<boolean> {
  return isMountedIn(await readFile('/proc/self/mountinfo', 'utf8'), path.resolve(p));
}

/** statfs(2) f_type of file systems that live in memory. */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** Whether `dir` (made if missing) lives in memory: tmpfs or ramfs. */
export async function isInMemory(dir: string): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const type = (await statfs(dir)).type;
  return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
}

/**
 * Mounts a tmpfs (mode 0700) on `dir`, hiding what it holds; false when that fails (no right to
 * mount, say). Node's own spawn, not the launcher: the daemon's spawn server may keep its files
 * under `dir`, and is not started before it is settled.
 */
export function mountTmpfs(dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('mount', ['-t', 'tmpfs', '-o', 'mode=0700,nosuid,nodev', 'tmpfs', dir], (err) => resolve(!err));
  });
}
