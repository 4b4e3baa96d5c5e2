import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument, internal } from '../../common/errors';
import type { VolumeDriver } from './driver';
import { isMountPoint, mountFilesystem, unmountAllUnder, unmountFilesystem } from './mounts';

export const LOCAL_DRIVER = 'local';

/** Options of Docker's local driver; `size` (an XFS project quota) is accepted only as 0. */
const VALID_OPTIONS = new Set(['type', 'o', 'device', 'size']);
/** An option is meaningless without these others (Docker's `mandatoryOpts`). */
const REQUIRED_WITH: ReadonlyArray<[string, string[]]> = [
  ['device', ['type']],
  ['type', ['device']],
  ['o', ['device', 'type']],
];

/**
 * Docker's `local` driver: a directory `<root>/<name>/_data` per volume. With `type` and
 * `device` options, the directory is a mount point instead and the filesystem they describe
 * (`tmpfs`, `none` + `o=bind`, `nfs`…) is mounted on it while the volume has users.
 */
export class LocalDriver implements VolumeDriver {
  readonly name = LOCAL_DRIVER;
  readonly scope = 'local' as const;

  constructor(readonly root: string) {}

  path(name: string): string {
    return path.join(this.root, name, '_data');
  }

  validateOptions(options: Readonly<Record<string, string>>): void {
    for (const key of Object.keys(options).sort()) {
      if (!VALID_OPTIONS.has(key)) throw invalidArgument(`invalid option: ${JSON.stringify(key)}`);
    }
    const size = options.size;
    if (size !== undefined && !/^0+[a-zA-Z]*$/.test(size.trim())) {
      throw invalidArgument('quota size requested but no quota support');
    }
    for (const [key, required] of REQUIRED_WITH) {
      if (!(key in options)) continue;
      for (const other of required) {
        if (!(other in options)) throw invalidArgument(`missing required option: ${JSON.stringify(other)}`);
      }
    }
  }

  async create(name: string, options: Readonly<Record<string, string>>): Promise<void> {
    this.validateOptions(options);
    await fsp.mkdir(this.path(name), { recursive: true, mode: 0o755 });
  }

  async remove(name: string): Promise<void> {
    const dir = path.join(this.root, name);
    // A bind-backed volume left mounted would otherwise have its host directory emptied.
    await unmountAllUnder(dir);
    await fsp.rm(dir, { recursive: true, force: true });
  }

  needsMount(options: Readonly<Record<string, string>>): boolean {
    return Boolean(options.type || options.device);
  }

  async mount(name: string, options: Readonly<Record<string, string>>): Promise<void> {
    const device = options.device;
    if (!device) throw invalidArgument('missing device in volume options');
    const target = this.path(name);
    await fsp.mkdir(target, { recursive: true, mode: 0o755 });
    const failure = await mountFilesystem(device, target, options.type ?? 'none', options.o ?? '');
    if (failure) throw internal(`failed to mount local volume: ${hidePassword(failure.stderr.split('\n')[0] ?? '')}`);
  }

  async unmount(name: string): Promise<void> {
    const target = this.path(name);
    const failure = await unmountFilesystem(target);
    if (failure && (await isMountPoint(target))) {
      throw internal(`error while unmounting volume path '${target}': ${failure.stderr.split('\n')[0] ?? ''}`);
    }
  }

  isMounted(name: string): Promise<boolean> {
    return isMountPoint(this.path(name));
  }

  async listStored(): Promise<string[]> {
    let entries;
    try {
      entries = await fsp.readdir(this.root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    // Files beside the volumes (metadata.json, its temporaries) are not volumes.
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  }
}

function hidePassword(message: string): string {
  return message.replace(/password=[^,\s]*/g, 'password=********');
}
