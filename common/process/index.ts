import { existsSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clearSpawnDir, DashLauncher } from './dash';
import type { ProcessLauncher } from './launcher';
import { NodeLauncher } from './node';

export type { InPipe, LaunchOptions, LaunchResult, Launched, ProcessLauncher } from './launcher';
export { lookPath } from './launcher';
export { DashLauncher } from './dash';
export { NodeLauncher } from './node';

let current: ProcessLauncher | undefined;
let spawnDir: string | undefined;

/**
 * Where the daemon's launcher keeps its request files and FIFOs (tmpfs under /run). What an
 * earlier daemon left there is removed. Without it, a directory of this process's own in
 * /dev/shm (or the temp dir) is used and removed at exit.
 */
export function useSpawnDir(dir: string): void {
  clearSpawnDir(dir);
  spawnDir = dir;
}

/**
 * The process-wide launcher: the dash spawn server, or Node's spawn with `TSCOMPOSE_SPAWN=node`
 * (and on hosts without dash or a GNU env with --default-signal).
 */
export function launcher(): ProcessLauncher {
  if (!current) {
    if (process.env['TSCOMPOSE_SPAWN'] === 'node') {
      current = new NodeLauncher();
    } else {
      let dir = spawnDir;
      if (!dir) {
        const parent = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
        const own = path.join(parent, `tscompose-spawn-${process.pid}`);
        removeStale(parent);
        clearSpawnDir(own);
        process.once('exit', () => rmSync(own, { recursive: true, force: true }));
        dir = own;
      }
      current = new DashLauncher({ dir });
    }
  }
  return current;
}

/** Directories of processes gone without their exit handler (killed). */
function removeStale(parent: string): void {
  for (const name of readdirSync(parent)) {
    const pid = /^tscompose-spawn-(\d+)$/.exec(name)?.[1];
    if (pid && !existsSync(`/proc/${pid}`)) rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

/** Stops the launcher's server (at daemon shutdown); a later use starts a new one. */
export async function closeLauncher(): Promise<void> {
  const l = current;
  current = undefined;
  await l?.close();
}
