/**
 * The host's mount table and mount(8)/umount(8). Volumes mount rarely (first user of a volume
 * with `type`/`device` options), so running the tools costs nothing worth a native binding, and
 * mount(8) already knows every filesystem's option syntax and helper (mount.nfs, mount.cifs).
 */
import * as path from 'node:path';
import { mountPoints } from '../../common/mount';
import { launcher } from '../../common/process';

export { isMountPoint, mountPoints } from '../../common/mount';

/**
 * Mount points at or below `dir`, deepest first: the order they must be unmounted in. A point
 * with mounts stacked on it is listed once per mount.
 */
export async function mountsUnder(dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  const found = (await mountPoints()).filter((m) => m === root || m.startsWith(root + '/'));
  return found.sort((a, b) => b.length - a.length);
}

export interface CommandFailure {
  code: number;
  stderr: string;
}

/** Rejects only when the program is not there (ENOENT), as callers tell that apart. */
async function run(file: string, args: string[]): Promise<CommandFailure | undefined> {
  const r = await launcher().run(file, args, { stdout: 'ignore', timeoutMs: 60_000 });
  if (r.code === 0) return undefined;
  return { code: r.code, stderr: r.stderr.trim() || `${file} exited with status ${r.code}` };
}

/** `mount -t type -o options device target`; resolves to the failure instead of throwing. */
export function mountFilesystem(device: string, target: string, type: string, options: string): Promise<CommandFailure | undefined> {
  const args = ['-t', type];
  if (options) args.push('-o', options);
  args.push(device, target);
  return run('mount', args);
}

export function unmountFilesystem(target: string): Promise<CommandFailure | undefined> {
  return run('umount', [target]);
}

/** Unmounts everything at or below `dir`, so that removing `dir` cannot reach a mounted filesystem. */
export async function unmountAllUnder(dir: string): Promise<void> {
  let lastFailure = '';
  for (const m of await mountsUnder(dir)) {
    const failure = await unmountFilesystem(m);
    if (failure) lastFailure = `unmount ${m}: ${failure.stderr}`;
  }
  if ((await mountsUnder(dir)).length > 0) throw new Error(lastFailure || `unmount ${dir}: still mounted`);
}
