/**
 * Writing into a step's root the way COPY and ADD do: paths are resolved inside the root (a
 * symlink in the image can never lead a write out of it), missing parents are created, and each
 * copied entry gets the ownership, mode and modification time the instruction asks for.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../../common/errors';
import { resolveInRoot } from '../../runtime/user';

export interface Owner {
  uid: number;
  gid: number;
}

/** An entry to copy: where it is on the host and where it lands. */
export interface CopyItem {
  /** Host path of the source (not followed when it is a symlink). */
  source: string;
  type: 'file' | 'dir' | 'symlink';
  /** Absolute path in the root. */
  target: string;
  mode: number;
  mtimeMs: number;
  /** Ownership to keep when the copy does not set one (ADD of an archive). */
  owner?: Owner;
  linkTarget?: string;
  /** Files only: the target of an earlier file of the same copy this one is a hard link of. */
  hardlinkOf?: string;
}

export interface CopyOptions {
  /** `--chown`; root when absent, unless the item keeps its own. */
  owner?: Owner;
  /** `--chmod`, applied to files and directories. */
  mode?: number;
}

/** Host path of `p` (absolute, in the root) with every symlink along its parents resolved inside the root. */
async function hostParentPath(root: string, p: string): Promise<string> {
  const parent = path.posix.dirname(p);
  const resolvedParent = parent === '/' ? root : await resolveInRoot(root, parent);
  return path.join(resolvedParent, path.posix.basename(p));
}

async function lstatOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether `p` in the root is (or leads through symlinks to) a directory. */
export async function isDirectoryInRoot(root: string, p: string): Promise<boolean> {
  const st = await lstatOrUndefined(await resolveInRoot(root, p));
  return st?.isDirectory() ?? false;
}

/** `mkdir -p` inside the root; directories it creates get `owner` and mode 0755. */
export async function mkdirInRoot(root: string, dir: string, owner: Owner = { uid: 0, gid: 0 }): Promise<void> {
  const parts = path.posix.normalize(dir).split('/').filter(Boolean);
  let current = '/';
  for (const part of parts) {
    current = path.posix.join(current, part);
    const host = await resolveInRoot(root, current);
    const st = await lstatOrUndefined(host);
    if (st?.isDirectory()) continue;
    if (st) throw invalidArgument(`cannot create directory ${current}: a file of that name exists`);
    await fsp.mkdir(host, { mode: 0o755 });
    await fsp.chmod(host, 0o755);
    await fsp.lchown(host, owner.uid, owner.gid);
  }
}

/**
 * Copies `items` into the root, in order (parents before children). Directories are merged with
 * what is there; a file replaces a file or symlink, never a directory.
 */
export async function copyInto(root: string, items: readonly CopyItem[], opts: CopyOptions): Promise<void> {
  const dirTimes: Array<{ host: string; mtimeMs: number }> = [];
  /** Host paths of the files written, by target, for their hard links. */
  const files = new Map<string, string>();
  for (const item of items) {
    await mkdirInRoot(root, path.posix.dirname(item.target), opts.owner);
    const host = await hostParentPath(root, item.target);
    const existing = await lstatOrUndefined(host);
    const owner = opts.owner ?? item.owner ?? { uid: 0, gid: 0 };
    const mode = opts.mode ?? item.mode;
    switch (item.type) {
      case 'dir':
        if (existing && !existing.isDirectory()) await fsp.rm(host, { force: true });
        if (!existing?.isDirectory()) await fsp.mkdir(host);
        await fsp.chmod(host, mode);
        await fsp.lchown(host, owner.uid, owner.gid);
        dirTimes.push({ host, mtimeMs: item.mtimeMs });
        break;
      case 'file': {
        if (existing?.isDirectory()) throw invalidArgument(`cannot replace directory ${item.target} with a file`);
        if (existing) await fsp.rm(host, { force: true });
        const linkOf = item.hardlinkOf === undefined ? undefined : files.get(item.hardlinkOf);
        if (linkOf !== undefined) {
          // The inode already has its content, owner, mode and time.
          await fsp.link(linkOf, host);
          files.set(item.target, host);
          break;
        }
        await fsp.copyFile(item.source, host, fsConstants.COPYFILE_FICLONE);
        await fsp.chmod(host, mode);
        await fsp.lchown(host, owner.uid, owner.gid);
        await fsp.utimes(host, item.mtimeMs / 1000, item.mtimeMs / 1000);
        files.set(item.target, host);
        break;
      }
      case 'symlink':
        if (existing?.isDirectory()) throw invalidArgument(`cannot replace directory ${item.target} with a symlink`);
        if (existing) await fsp.rm(host, { force: true });
        await fsp.symlink(item.linkTarget ?? (await fsp.readlink(item.source)), host);
        await fsp.lchown(host, owner.uid, owner.gid);
        await fsp.lutimes(host, item.mtimeMs / 1000, item.mtimeMs / 1000);
        break;
    }
  }
  // Children's writes moved their parents' times: set directories' last, deepest first.
  for (const { host, mtimeMs } of dirTimes.reverse()) await fsp.utimes(host, mtimeMs / 1000, mtimeMs / 1000);
}

/** Writes one file in the root (COPY heredocs, ADD downloads). */
export async function writeFileInRoot(root: string, target: string, data: Uint8Array | string, mode: number, owner: Owner, mtimeMs?: number): Promise<void> {
  await mkdirInRoot(root, path.posix.dirname(target), owner);
  const host = await hostParentPath(root, target);
  const existing = await lstatOrUndefined(host);
  if (existing?.isDirectory()) throw invalidArgument(`cannot replace directory ${target} with a file`);
  if (existing) await fsp.rm(host, { force: true });
  await fsp.writeFile(host, data, { mode });
  await fsp.chmod(host, mode);
  await fsp.lchown(host, owner.uid, owner.gid);
  if (mtimeMs !== undefined) await fsp.utimes(host, mtimeMs / 1000, mtimeMs / 1000);
}

/** `--chmod=755`: octal only, as the classic builder takes it. */
export function parseChmod(text: string): number {
  if (!/^[0-7]{3,4}$/.test(text)) throw new Error(`invalid chmod parameter ${JSON.stringify(text)}: only octal modes are supported`);
  return parseInt(text, 8);
}
