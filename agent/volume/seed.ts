import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { launcher } from '../../common/process';

/** The image directory to copy from, or undefined when the image has nothing at that path. */
export async function seedSource(imageDir: string): Promise<Stats | undefined> {
  try {
    const st = await fsp.stat(imageDir);
    return st.isDirectory() ? st : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export async function isEmptyDirectory(dir: string): Promise<boolean> {
  return (await fsp.readdir(dir)).length === 0;
}

/**
 * Docker's copy-up: the image's content at a mount path goes into the volume, then the volume's
 * root takes the owner and mode of the image directory (so a `VOLUME /data` owned by a service
 * user stays writable by it). `cp -a` keeps owners, modes, timestamps, symlinks, hard links,
 * special files and xattrs, and reflinks where the filesystem can.
 */
export async function copyImageContent(source: string, sourceStat: Stats, dest: string): Promise<void> {
  const r = await launcher()
    .run('cp', ['-a', '--', `${source.replace(/\/+$/, '')}/.`, dest + '/'], { stdout: 'ignore' })
    .catch((err: unknown) => ({ code: -1, stderr: (err as Error).message }));
  if (r.code !== 0) throw new Error(`copy image content ${source}: ${r.stderr.trim().split('\n')[0] || `cp exited with status ${r.code}`}`);
  await fsp.chown(dest, sourceStat.uid, sourceStat.gid);
  await fsp.chmod(dest, sourceStat.mode & 0o7777);
}

/** Removes what a copy left in `dir`, keeping `dir` itself (it may be a mount point). */
export async function emptyDirectory(dir: string): Promise<void> {
  for (const entry of await fsp.readdir(dir)) {
    await fsp.rm(path.join(dir, entry), { recursive: true, force: true });
  }
}
