import { mkdir, open, readdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { invalidArgument, unavailable } from '../../common/errors';
import { isMountPoint, unmount } from '../../common/mount';
import { lookPath } from '../../common/process';
import { execCapture, execOk } from './exec';

/**
 * Persistent network namespaces, one file per container under `dir`. A namespace lives as long
 * as something holds it; here that is a bind mount of the namespace onto the file (what
 * `ip netns add` does under /run/netns), so it outlives the process that made it and the daemon.
 *
 * The directory itself is bind-mounted onto itself and made a shared mount, again like
 * `ip netns`: mount namespaces cloned later (containers) then receive our unmounts too, so a
 * removed namespace is not kept alive by a stale copy of its mount.
 */
export class NetnsStore {
  /** The directory is a shared bind mount of itself: checked (two execs) once, not per sandbox. */
  private sharedDir: Promise<void> | undefined;

  constructor(readonly dir: string) {}

  /** Whether `p` is a sandbox of this store: its `lo` was brought up when it was made. */
  owns(p: string): boolean {
    return path.dirname(p) === this.dir;
  }

  pathOf(id: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw invalidArgument(`network: invalid namespace name ${JSON.stringify(id)}`);
    return path.join(this.dir, id);
  }

  private ensureSharedDir(): Promise<void> {
    this.sharedDir ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o755 });
      if (!(await isMountPoint(this.dir))) await execOk('mount', ['--bind', this.dir, this.dir]);
      await execOk('mount', ['--make-shared', this.dir]);
    })().catch((err: unknown) => {
      this.sharedDir = undefined;
      throw err;
    });
    return this.sharedDir;
  }

  /**
   * Creates the namespace (idempotent: an existing one is kept) with `lo` up, and returns its
   * path. `lo` comes up in the same exec that makes the namespace, instead of a CNI `loopback`
   * plugin run per sandbox.
   */
  async create(id: string): Promise<string> {
    const file = this.pathOf(id);
    await this.ensureSharedDir();
    if (await isMountPoint(file)) return file;
    // `ip` by its path: unshare would try each PATH entry before it with an execve.
    let ip: string;
    try {
      ip = lookPath('ip');
    } catch {
      throw unavailable(`network: cannot create network namespace ${id}: ip (iproute2) not found`);
    }
    await (await open(file, 'a', 0o444)).close();
    const r = await execCapture('unshare', [`--net=${file}`, ip, 'link', 'set', 'dev', 'lo', 'up']);
    if (r.code !== 0) {
      // unshare may have bound the namespace before `ip` failed.
      if (await isMountPoint(file)) await execCapture('umount', [file]);
      await rm(file, { force: true });
      throw unavailable(`network: cannot create network namespace ${id}: ${r.stderr.trim()}`);
    }
    return file;
  }

  /** Removes the namespace; a missing one is not an error. */
  async remove(id: string): Promise<void> {
    const file = this.pathOf(id);
    // Busy means a process is inside; detaching (lazily) still frees the name and the kernel
    // drops the namespace when that process exits.
    await unmount(file);
    await rm(file, { force: true });
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((name) => !name.startsWith('.')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Removes every namespace and the directory's own bind mount (uninstall, tests). */
  async removeAll(): Promise<void> {
    for (const id of await this.list()) await this.remove(id);
    this.sharedDir = undefined;
    for (let i = 0; i < 4 && (await isMountPoint(this.dir)); i++) {
      await execCapture('umount', [this.dir]);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
