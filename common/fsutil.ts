import { promises as fsp, constants, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a file so that a crash at any moment leaves either the old content or the new one,
 * never a mix: write to a temporary sibling, fsync it, rename over, fsync the directory.
 *
 * `durable: false` keeps the rename but skips both fsyncs: the file is still never seen half
 * written, and it survives a crash (even `kill -9`) of the process, but a power loss may bring
 * back its previous version. That is right for state a reboot makes moot anyway (runtime files
 * under /run, generated /etc files, network endpoints whose namespaces a reboot destroys) and
 * saves two disk flushes per write on a container's critical path.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644, opts: { durable?: boolean } = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${randomBytes(6).toString('hex')}`);
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await fsyncDir(dir);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * A file the kernel makes up as it is read (procfs, sysfs, cgroupfs), as text; undefined when it
 * cannot be read (its process or cgroup gone). Such a file says its size is 0, so
 * fs.promises.readFile reads it through a new 64 KB Buffer, on the thread pool: a container's
 * start and removal read dozens, which left tens of MB of dead Buffers per 50 containers for
 * V8 to collect, and their memory to malloc, which keeps it. Read synchronously, the text comes
 * straight from the kernel (which answers from memory) with no Buffer and no thread in between.
 */
export function readKernelFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Writes every byte of `buffers` with writev, again from where a short write stopped. At
 * `position` when given, else at the file's current position.
 */
export async function writevFully(fh: FileHandle, buffers: readonly Uint8Array[], position?: number): Promise<void> {
  let pending = buffers;
  let at = position;
  for (;;) {
    const { bytesWritten } = await fh.writev(pending as Uint8Array[], at);
    if (at !== undefined) at += bytesWritten;
    let skip = bytesWritten;
    while (pending.length > 0 && skip >= pending[0]!.length) {
      skip -= pending[0]!.length;
      pending = pending.slice(1);
    }
    if (pending.length === 0) return;
    pending = [pending[0]!.subarray(skip), ...pending.slice(1)];
  }
}
