import { execFile } from 'node:child_process';
import { mkdir, realpath, statfs } from 'node:fs/promises';
import * as path from 'node:path';
import { readKernelFile } from './fsutil';
import { launcher } from './process';

/** A request waiting in a `batched` queue, settled by the batch that serves it. */
interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Requests of one moment served together: the first waits for the rest of this turn of the event
 * loop, so requests made side by side share one `serve`; requests made while it runs wait for the
 * next. `serve` settles each request of its batch; if it throws, those it left are rejected.
 */
function batched<T>(serve: (batch: Pending<T>[]) => Promise<void>): (item: T) => Promise<void> {
  const queue: Pending<T>[] = [];
  let draining = false;
  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue.splice(0);
      await serve(batch).catch((err: unknown) => {
        for (const r of batch) r.reject(err as Error);
      });
    }
    draining = false;
  };
  return (item) =>
    new Promise((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!draining) {
        draining = true;
        setImmediate(() => void drain());
      }
    });
}

/**
 * Unmounting with umount(8), the requests of one moment served by one process: every start of a
 * program costs (a fork of the spawn server, an exec of umount), and a container's end asks for two
 * (rootfs, network namespace) at once, a `rm -f` of many for dozens. A target that is not
 * mounted is not an error; a busy one is detached lazily rather than leaked (its last user
 * frees it), as `umount -l` does.
 */
export function unmount(target: string): Promise<void> {
  return unmountBatched(target);
}

const unmountBatched = batched<string>(async (batch) => {
  const left = await unmountAll([...new Set(batch.map((r) => r.item))]);
  for (const r of batch) {
    const why = left.get(r.item);
    if (why === undefined) r.resolve();
    else r.reject(new Error(`umount ${r.item}: ${why}`));
  }
});

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
  return mountBatched({ req, target });
}

type MountJob = Pending<{ req: MountRequest; target: string }>;

const mountBatched = batched<{ req: MountRequest; target: string }>(async (batch) => {
  const byCwd = new Map<string, MountJob[]>();
  for (const job of batch) {
    const key = job.item.req.cwd ?? '';
    const jobs = byCwd.get(key);
    if (jobs) jobs.push(job);
    else byCwd.set(key, [job]);
  }
  await Promise.all([...byCwd.values()].map((jobs) => mountTogether(jobs)));
});

async function mountTogether(jobs: MountJob[]): Promise<void> {
  let left = jobs;
  if (jobs.length > 1) {
    const lines = jobs.map(({ item: { req, target } }) => [req.source, target, req.type, req.options.join(',') || 'defaults', '0', '0'].map(octalEscaped).join(' '));
    const cwd = jobs[0]!.item.req.cwd;
    await launcher()
      .run('mount', ['-a', '-T', '/dev/stdin'], { input: `${lines.join('\n')}\n`, stdout: 'ignore', ...(cwd ? { cwd } : {}) })
      .catch(() => undefined);
    const mounted = new Set(await mountedAmong(jobs.map((j) => j.item.target)).catch(() => [] as string[]));
    for (const j of jobs) if (mounted.has(j.item.target)) j.resolve();
    left = jobs.filter((j) => !mounted.has(j.item.target));
  }
  await Promise.all(
    left.map(async (j) => {
      const { req: { type, source, options, cwd }, target } = j.item;
      const r = await launcher()
        .run('mount', ['-t', type, source, ...(options.length > 0 ? ['-o', options.join(',')] : []), target], { stdout: 'ignore', ...(cwd ? { cwd } : {}) })
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
  const text = readKernelFile('/proc/self/mountinfo') ?? '';
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
  const text = readKernelFile('/proc/self/mountinfo') ?? '';
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    // mountinfo escapes space, tab, newline and backslash as octal.
    if (field) out.push(field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return out;
}

export async function isMountPoint(p: string): Promise<boolean> {
  return isMountedIn(readKernelFile('/proc/self/mountinfo') ?? '', path.resolve(p));
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
