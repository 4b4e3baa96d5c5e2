/**
 * What a volume driver does, in the terms of Docker's volume plugin protocol (Create, Remove,
 * Path, Mount, Unmount, List). The service owns names, labels, users and persistence; a driver
 * owns only the storage behind a name. Options are given on every call, so a driver keeps no
 * state of its own that could disagree with the service's after a crash.
 */
export interface VolumeDriver {
  /** The name users give with `--driver`, e.g. `local`. */
  readonly name: string;
  /** `local`: the volume exists on this host only; `global`: the same volume on every node. */
  readonly scope: 'local' | 'global';

  /** Rejects options this driver does not understand, before anything is made. */
  validateOptions(options: Readonly<Record<string, string>>): void;

  /** Makes the volume's storage. Making it again for a name that has it changes nothing. */
  create(name: string, options: Readonly<Record<string, string>>): Promise<void>;

  /** Destroys the storage and its data; never reaches through a mount into what is mounted. */
  remove(name: string): Promise<void>;

  /** Where containers find the data: Docker's `Mountpoint`. */
  path(name: string): string;

  /** True when the data is only reachable at `path` after `mount` (a tmpfs, a bind, NFS…). */
  needsMount(options: Readonly<Record<string, string>>): boolean;

  /** Makes the data reachable at `path(name)`. Called once for the first user. */
  mount(name: string, options: Readonly<Record<string, string>>): Promise<void>;

  /** Undoes `mount`. Called once after the last user has gone. */
  unmount(name: string): Promise<void>;

  /** Whether something is mounted at `path(name)` right now. */
  isMounted(name: string): Promise<boolean>;

  /** Names that have storage, so start-up can drop storage that no committed volume owns. */
  listStored(): Promise<string[]>;
}
