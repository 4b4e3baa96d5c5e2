import { realpath } from 'node:fs/promises';
import * as path from 'node:path';
import { readKernelFile } from './fsutil';
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

async function mountedAmong(targets: string[]): Promise<string[]> {
  const points = new Set(await mountPoints());
  // mountinfo shows resolved paths: a target under a symlink is looked up by its real path.
  const mounted = await Promise.all(targets.map(async (t) => points.has(t) || points.has(await realpath(t).catch(() => t))));
  return targets.filter((_t, i) => mounted[i]);
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
  return (await mountPoints()).includes(path.resolve(p));
}
