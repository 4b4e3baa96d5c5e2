/** Test images built from Debian's busybox-static, since no public registry can be reached. */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildBusyboxRootfs } from './rootfs';

const run = promisify(execFile);

/** A tarball of a busybox root filesystem (for `image import`), gzip when asked. */
export async function busyboxRootfsTar(out: string, opts: { gzip?: boolean } = {}): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsc-rootfs-'));
  try {
    await buildBusyboxRootfs(dir);
    await run('tar', [opts.gzip ? '-czf' : '-cf', out, '--numeric-owner', '-C', dir, '.']);
    return out;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
