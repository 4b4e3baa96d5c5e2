/**
 * The agent: one per host, owner of the host's images, containers, networks and volumes.
 * On a single host it runs inside the same daemon process as the manager.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerService } from './container/service';
import { BuildCache, installBuildCacheRoots } from './build/executor/cache';
import { EventLog } from './events';
import { ImageService } from './image/service';
import { NetworkManager, namesForTag } from './network';
import { execCapture } from './network/exec';
import { closeLauncher, useSpawnDir } from '../common/process';
import { DEFAULT_DATA_ROOT, type CompiledAgentOptions } from './options';
import type { CredentialStore, RegistryClient } from './registry';
import { RuncRuntime } from './runtime/runc';
import { VolumeService } from './volume';

export interface RegistryAccess {
  registry: RegistryClient;
  /** Registry credentials: `$TSCOMPOSE_CONFIG/config.json` (or `~/.tscompose`), then Docker's, read-only. */
  credentials: CredentialStore;
}

export class Agent {
  readonly events: EventLog;
  readonly images: ImageService;
  readonly runtime: RuncRuntime;
  /** The first 8 hex digits of the data root's sha256: names this daemon's host-wide things (/run dir, bridge, chains). */
  private readonly tag: string;
  readonly volumes: VolumeService;
  networks!: NetworkManager;
  containers!: ContainerService;
  buildCache!: BuildCache;
  readonly startedAt = Date.now();

  constructor(readonly options: CompiledAgentOptions) {
    this.events = new EventLog(path.join(options.dataRoot, 'events.jsonl'));
    this.images = new ImageService(options.dataRoot, this.events);
    // Runtime state lives under /run (gone at reboot, like the processes it describes), in a
    // directory per data root so daemons side by side never share it; short, because conmon's
    // attach socket paths must fit in 108 bytes.
    this.tag = createHash('sha256').update(options.dataRoot).digest('hex').slice(0, 8);
    this.runtime = new RuncRuntime({ root: path.join('/run/tscompose', this.tag) });
    this.volumes = new VolumeService({ root: path.join(options.dataRoot, 'volumes'), events: this.events });
  }

  private registryLoad: Promise<RegistryAccess> | undefined;

  /**
   * The registry client and the credentials it uses, loaded on first use (pull, push, login,
   * search, build): an idle daemon doesn't hold the registry code. Credentials come from
   * `$TSCOMPOSE_CONFIG/config.json` (or `~/.tscompose`), then Docker's, read-only.
   */
  registryAccess(): Promise<RegistryAccess> {
    this.registryLoad ??= import('./registry').then(({ CredentialStore, RegistryClient }) => {
      const credentials = new CredentialStore({ configDir: process.env['TSCOMPOSE_CONFIG'] ?? path.join(os.homedir(), '.tscompose') });
      const registry = new RegistryClient({
        options: {
          mirrors: [...this.options.registryMirrors],
          insecureRegistries: [...this.options.insecureRegistries],
          certsDirs: [...this.options.certsDirs],
        },
        credentials,
      });
      return { registry, credentials };
    });
    this.registryLoad.catch(() => (this.registryLoad = undefined));
    return this.registryLoad;
  }

  async start(): Promise<void> {
    // The spawn server's request files and FIFOs live beside the runtime state, in memory.
    await this.runtime.keepInMemory();
    useSpawnDir(path.join(this.runtime.root, 'spawn'));
    await this.events.load();
    // The build cache keeps layers no image uses; register it before the start-up GC runs.
    installBuildCacheRoots(this.images, this.options.dataRoot);
    this.buildCache = new BuildCache(BuildCache.rootFor(this.options.dataRoot), this.images);
    await this.images.init();
    await this.volumes.init();
    // Bridges and firewall chains are host-wide names: a daemon on another data root (tests,
    // several nodes on one machine) gets its own, derived from its data root.
    const own = this.options.dataRoot !== DEFAULT_DATA_ROOT;
    this.networks = await NetworkManager.open({
      root: path.join(this.options.dataRoot, 'network'),
      // Two spares cover containers started one after another (each take refills in the
      // background); a burst of starts beyond that makes its own sandboxes meanwhile.
      sandboxPool: 2,
      ...(own ? namesForTag(this.tag) : {}),
    });
    this.containers = new ContainerService({
      root: path.join(this.options.dataRoot, 'containers'),
      images: this.images,
      runtime: this.runtime,
      networks: this.networks,
      volumes: this.volumes,
      events: this.events,
    });
    await this.containers.init();
    await spreadChildren([
      path.join(this.options.dataRoot, 'containers'),
      path.join(this.images.snapshots.root, 'active'),
      path.join(this.images.snapshots.root, 'layers'),
      path.join(this.options.dataRoot, 'volumes'),
    ]);
  }

  /** Stops serving; containers keep running (they are supervised by conmon, not by us). */
  async stop(): Promise<void> {
    this.containers?.close();
    await this.networks?.close();
    if (this.registryLoad) (await this.registryLoad.catch(() => undefined))?.registry.close();
    await this.events.settle();
    await closeLauncher();
  }
}

/**
 * Marks the directories that hold one subtree per container, layer or volume as tops of
 * hierarchies (ext4's `chattr +T`), so that ext4 spreads their children over its block groups
 * instead of packing them into the parent's. Without a journal, ext4 skips every inode of a group
 * deleted in the last minute or more, one by one from the group's start, whenever it allocates
 * one: packed together, each container made just after others were removed paid a walk over all
 * of their inodes. Elsewhere (another filesystem, no chattr) nothing changes.
 */
async function spreadChildren(dirs: string[]): Promise<void> {
  await execCapture('chattr', ['+T', ...dirs]).catch(() => undefined);
}
