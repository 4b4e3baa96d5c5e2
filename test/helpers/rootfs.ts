import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const BUSYBOX = '/usr/bin/busybox';

/**
 * Builds a minimal image root in `dir`: a static busybox with one symlink per applet in /bin,
 * and /etc/passwd, /etc/group with root, nobody and an unprivileged `app` user (uid 1000) whose
 * extra group is `staff` (50). Enough to run shells and coreutils in real containers.
 */
export async function buildBusyboxRootfs(dir: string): Promise<string> {
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/app', 'var', 'run']) {
    await fsp.mkdir(path.join(dir, d), { recursive: true });
  }
  await fsp.chmod(path.join(dir, 'tmp'), 0o1777);
  await fsp.copyFile(BUSYBOX, path.join(dir, 'bin/busybox'));
  await fsp.chmod(path.join(dir, 'bin/busybox'), 0o755);
  const { stdout } = await run(BUSYBOX, ['--list']);
  for (const applet of stdout.split('\n').map((s) => s.trim())) {
    if (!applet || applet === 'busybox') continue;
    await fsp.symlink('busybox', path.join(dir, 'bin', applet)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await fsp.writeFile(
    path.join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await fsp.writeFile(path.join(dir, 'etc/group'), 'root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n');
  return dir;
}

/** A container's writable root: an overlay of `lower` with its own upper and work dirs under `dir`. */
export interface OverlayRoot {
  rootfs: string;
  unmount(): Promise<void>;
}

export async function mountOverlay(lower: string, dir: string): Promise<OverlayRoot> {
  const upper = path.join(dir, 'upper');
  const work = path.join(dir, 'work');
  const rootfs = path.join(dir, 'merged');
  for (const d of [upper, work, rootfs]) await fsp.mkdir(d, { recursive: true });
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, rootfs]);
  return {
    rootfs,
    async unmount() {
      await run('umount', ['-l', rootfs]).catch(() => undefined);
    },
  };
}
