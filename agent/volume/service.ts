/**
 * Named volumes on this host, as Docker's volume service: names, labels and options in one
 * metadata document, storage by a driver (`local` unless plugins are added), users counted so
 * that `rm` and `prune` refuse volumes in use and mount-backed volumes are mounted only while
 * a container holds them.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TsError, conflict, internal, notFound } from '../../common/errors';
import { KeyedMutex } from '../../common/mutex';
import { JsonStateFile } from '../../common/statefile';
import type { EventLog } from '../events';
import type { VolumeDriver } from './driver';
import {
  LIST_FILTERS,
  PRUNE_FILTERS,
  checkFilterKeys,
  matchesLabel,
  matchesPattern,
  parseFilterBool,
  valuesOf,
  type VolumeFilter,
} from './filters';
import { LOCAL_DRIVER, LocalDriver } from './local';
import { ANONYMOUS_LABEL, checkVolumeName, randomVolumeName } from './names';
import { copyImageContent, emptyDirectory, isEmptyDirectory, seedSource } from './seed';
import { directorySize } from './usage';
import { goMap } from '../../common/gomap';

/** What `<root>/metadata.json` holds for one volume. */
export interface VolumeRecord {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** ISO 8601, milliseconds. */
  createdAt: string;
  scope: 'local' | 'global';
  /** Made without a name (by `create` or for a container's `VOLUME`); `prune` without `--all` takes only these. */
  anonymous: boolean;
  /** Containers holding the volume through `acquire`, oldest first. */
  users: string[];
  /** Set while a copy-up runs; found at start-up, it means the half-done copy must be emptied. */
  seeding?: boolean;
}

interface VolumeState {
  volumes: Record<string, VolumeRecord>;
}

export interface CreateVolumeRequest {
  /** Omitted: an anonymous volume with a 64-hex random name. */
  name?: string;
  /** Omitted or empty: `local`. */
  driver?: string;
  labels?: Record<string, string>;
  /** Driver options (`--opt`); for `local`: `type`, `device`, `o`. */
  options?: Record<string, string>;
}

/** Docker's `volume.Volume` JSON, as `volume inspect` prints it. */
export interface VolumeView {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: 'local' | 'global';
  UsageData?: VolumeUsage;
}

/** Docker's `UsageData`: bytes on disk and how many containers use the volume. */
export interface VolumeUsage {
  Size: number;
  RefCount: number;
}

/** A container that uses a volume without holding it mounted (a stopped container, say). */
export interface VolumeReference {
  containerId: string;
  volume: string;
}

export type VolumeEventSink = Pick<EventLog, 'emit'>;

export interface VolumeServiceOptions {
  /** Directory holding `metadata.json` and the local driver's `<name>/_data` directories. */
  root: string;
  events?: VolumeEventSink;
  /** Drivers beside `local`, by their names. */
  drivers?: VolumeDriver[];
}

export interface PruneResult {
  deleted: string[];
  reclaimed: number;
}

export class VolumeService {
  readonly root: string;
  private readonly state: JsonStateFile<VolumeState>;
  private readonly drivers = new Map<string, VolumeDriver>();
  private readonly locks = new KeyedMutex();
  private readonly events: VolumeEventSink | undefined;

  /**
   * Containers that reference volumes, supplied by the container runtime: Docker refuses to
   * remove or prune a volume a stopped container still names, not only one that is mounted.
   */
  containerReferences: () => Iterable<VolumeReference> = () => [];

  constructor(options: VolumeServiceOptions) {
    this.root = options.root;
    this.events = options.events;
    this.state = new JsonStateFile<VolumeState>(path.join(this.root, 'metadata.json'), () => ({ volumes: {} }));
    const local = new LocalDriver(this.root);
    this.drivers.set(local.name, local);
    for (const d of options.drivers ?? []) this.drivers.set(d.name, d);
  }

  /**
   * Loads the metadata and makes the host agree with it: storage no committed volume owns (a
   * create or remove cut short) is destroyed, half-done copy-ups are emptied, and mount-backed
   * volumes are mounted exactly when they have users.
   */
  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o701 });
    await this.state.load();
    const volumes = this.state.state.volumes;
    for (const driver of this.drivers.values()) {
      for (const name of await driver.listStored()) {
        if (volumes[name]?.driver !== driver.name) await driver.remove(name);
      }
    }
    for (const rec of Object.values(volumes)) {
      const driver = this.drivers.get(rec.driver);
      if (!driver) continue;
      await fsp.access(driver.path(rec.name)).catch(() => driver.create(rec.name, rec.options));
      if (rec.seeding) await this.undoSeeding(rec, driver);
      if (!driver.needsMount(rec.options)) continue;
      const mounted = await driver.isMounted(rec.name);
      // A failed mount is left for the next `acquire` to retry and report.
      if (rec.users.length > 0 && !mounted) await driver.mount(rec.name, rec.options).catch(() => undefined);
      if (rec.users.length === 0 && mounted) await driver.unmount(rec.name);
    }
  }

  async create(req: CreateVolumeRequest = {}): Promise<VolumeView> {
    const anonymous = !req.name;
    const name = req.name || randomVolumeName();
    const driverName = req.driver || LOCAL_DRIVER;
    return this.locks.run(name, async () => {
      try {
        const driver = this.driverNamed(driverName);
        const existing = this.state.state.volumes[name];
        if (existing) {
          // Docker returns the existing volume whatever labels or options were asked for.
          if (existing.driver !== driver.name) {
            throw conflict(`driver '${existing.driver}' already has volume '${name}': volume name must be unique`);
          }
          return this.view(existing);
        }
        checkVolumeName(name);
        const options = { ...(req.options ?? {}) };
        driver.validateOptions(options);
        const labels = { ...(req.labels ?? {}) };
        if (anonymous) labels[ANONYMOUS_LABEL] = '';
        const rec: VolumeRecord = {
          name,
          driver: driver.name,
          labels,
          options,
          createdAt: new Date().toISOString(),
          scope: driver.scope,
          anonymous,
          users: [],
        };
        // Storage first, metadata second: until the commit the volume does not exist, and
        // storage left by a crash here is removed by `init`.
        await driver.create(name, options);
        await this.state.update((draft) => {
          draft.volumes[name] = rec;
        });
        this.events?.emit('volume', 'create', name, { driver: driver.name });
        return this.view(rec);
      } catch (err) {
        throw withRoom(err, `create ${name}`);
      }
    });
  }

  /** The record of a volume; NotFound `No such volume: x` otherwise. */
  get(name: string): VolumeRecord {
    const rec = this.state.state.volumes[name];
    if (!rec) throw notFound(`No such volume: ${name}`);
    return structuredClone(rec);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.state.state.volumes, name);
  }

  /** Docker's `volume inspect` document; with `usage`, `UsageData` is measured as well. */
  async inspect(name: string, opts: { usage?: boolean } = {}): Promise<VolumeView> {
    const rec = this.get(name);
    const view = this.view(rec);
    if (opts.usage) view.UsageData = await this.measure(rec);
    return view;
  }

  /** `volume ls`: filters `dangling`, `driver`, `label`, `name`; sorted by name. */
  async list(opts: { filters?: VolumeFilter[] } = {}): Promise<VolumeView[]> {
    const filters = opts.filters ?? [];
    checkFilterKeys(filters, LIST_FILTERS);
    const dangling = valuesOf(filters, 'dangling').map((v) => parseFilterBool('dangling', v));
    const drivers = valuesOf(filters, 'driver');
    const names = valuesOf(filters, 'name');
    const labels = valuesOf(filters, 'label');
    const inUse = this.usersByVolume();
    return Object.values(this.state.state.volumes)
      .filter((rec) => {
        if (dangling.length > 0 && !dangling.includes(!inUse.has(rec.name))) return false;
        if (drivers.length > 0 && !drivers.some((d) => matchesPattern(d, rec.driver))) return false;
        if (names.length > 0 && !names.some((n) => matchesPattern(n, rec.name))) return false;
        return labels.every((l) => matchesLabel(rec.labels, l));
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((rec) => this.view(rec));
  }

  /**
   * `volume rm`. A volume in use is refused even with `force`, as Docker does; `force` only
   * makes a missing volume (or a missing driver) not an error.
   */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.locks.run(name, async () => {
      const rec = this.state.state.volumes[name];
      if (!rec) {
        if (opts.force) return;
        // Docker's words for a removal (inspect says `No such volume: x`).
        throw notFound(`get ${name}: no such volume`);
      }
      const users = this.users(name);
      if (users.length > 0) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      await this.destroy(rec, opts.force ?? false);
    });
  }

  /**
   * `volume prune`: unused anonymous volumes, or every unused volume with `all` (Docker 23+).
   * Filters `label`, `label!` and `all`. A volume that cannot be removed is skipped.
   */
  async prune(opts: { filters?: VolumeFilter[]; all?: boolean } = {}): Promise<PruneResult> {
    const filters = opts.filters ?? [];
    checkFilterKeys(filters, PRUNE_FILTERS);
    const all = (opts.all ?? false) || valuesOf(filters, 'all').some((v) => parseFilterBool('all', v));
    const labels = valuesOf(filters, 'label');
    const notLabels = valuesOf(filters, 'label!');
    const candidates = Object.values(this.state.state.volumes).filter((rec) => {
      if (!all && !rec.anonymous) return false;
      if (this.drivers.get(rec.driver)?.scope !== 'local') return false;
      if (!labels.every((l) => matchesLabel(rec.labels, l))) return false;
      return notLabels.length === 0 || !notLabels.every((l) => matchesLabel(rec.labels, l));
    });
    const result: PruneResult = { deleted: [], reclaimed: 0 };
    for (const candidate of candidates) {
      await this.locks.run(candidate.name, async () => {
        const rec = this.state.state.volumes[candidate.name];
        if (!rec || this.users(rec.name).length > 0) return;
        const driver = this.drivers.get(rec.driver);
        const size = driver ? await directorySize(driver.path(rec.name)) : 0;
        try {
          await this.destroy(rec, false);
        } catch {
          return;
        }
        result.deleted.push(rec.name);
        result.reclaimed += size;
      });
    }
    this.events?.emit('volume', 'prune', '', { reclaimed: String(result.reclaimed) });
    return result;
  }

  /** Bytes on disk (a du-like walk of the mount point) and how many containers use the volume. */
  async usage(name: string): Promise<{ size: number; refCount: number }> {
    const u = await this.measure(this.get(name));
    return { size: u.Size, refCount: u.RefCount };
  }

  /** Containers using the volume: holders first, then other references, each once. */
  users(name: string): string[] {
    return this.usersByVolume().get(name) ?? [];
  }

  /**
   * A container starts using the volume: the first user mounts a mount-backed volume. The
   * user is persisted, so after a daemon restart the volume stays mounted for it. Holding
   * twice is holding once. Returns the host path to bind into the container.
   */
  async acquire(name: string, containerId: string): Promise<string> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      const driver = this.driverNamed(rec.driver);
      if (driver.needsMount(rec.options) && !(await driver.isMounted(name))) {
        await driver.mount(name, rec.options);
      }
      if (!rec.users.includes(containerId)) {
        await this.state.update((draft) => {
          draft.volumes[name]?.users.push(containerId);
        });
        this.events?.emit('volume', 'mount', name, { container: containerId, driver: rec.driver });
      }
      return driver.path(name);
    });
  }

  /** The container stops using the volume; after the last one a mount-backed volume is unmounted. */
  async release(name: string, containerId: string): Promise<void> {
    await this.locks.run(name, async () => {
      const rec = this.state.state.volumes[name];
      if (!rec?.users.includes(containerId)) return;
      // The user goes first: if unmounting fails the container is gone all the same, and the
      // stray mount is undone by the next `init`.
      await this.state.update((draft) => {
        const r = draft.volumes[name];
        if (r) r.users = r.users.filter((u) => u !== containerId);
      });
      this.events?.emit('volume', 'unmount', name, { container: containerId, driver: rec.driver });
      const driver = this.drivers.get(rec.driver);
      const left = rec.users.filter((u) => u !== containerId);
      if (driver && left.length === 0 && driver.needsMount(rec.options) && (await driver.isMounted(name))) {
        try {
          await driver.unmount(name);
        } catch (err) {
          throw withRoom(err, `release ${name}`);
        }
      }
    });
  }

  /** After a restart: releases every holder that is not among the containers still alive. */
  async releaseUsersExcept(liveContainerIds: Iterable<string>): Promise<void> {
    const live = new Set(liveContainerIds);
    for (const rec of Object.values(this.state.state.volumes)) {
      for (const user of rec.users) if (!live.has(user)) await this.release(rec.name, user);
    }
  }

  /**
   * Docker's copy-up: fills an empty volume with what the image has at the mount path, keeping
   * owners, modes, links and xattrs, and gives the volume root the image directory's owner and
   * mode. Does nothing (returns false) when the volume has content or the image has no such
   * directory. A mount-backed volume without users is mounted for the copy and unmounted after
   * (a tmpfs then loses it, as in Docker), so seed after `acquire` to keep it.
   */
  async seedFromImage(name: string, imageDir: string): Promise<boolean> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      const driver = this.driverNamed(rec.driver);
      const source = await seedSource(imageDir);
      if (!source) return false;
      return this.withStorageReachable(rec, driver, async (dir) => {
        if (!(await isEmptyDirectory(dir))) return false;
        await this.setSeeding(name, true);
        try {
          await copyImageContent(imageDir, source, dir);
        } catch (err) {
          await emptyDirectory(dir);
          await this.setSeeding(name, false);
          throw internal(`volume ${name}: ${(err as Error).message}`, err);
        }
        await this.setSeeding(name, false);
        return true;
      });
    });
  }

  private async undoSeeding(rec: VolumeRecord, driver: VolumeDriver): Promise<void> {
    // The volume was empty when the copy began, so empty is the state before it.
    await this.withStorageReachable(rec, driver, (dir) => emptyDirectory(dir));
    await this.setSeeding(rec.name, false);
  }

  private async setSeeding(name: string, on: boolean): Promise<void> {
    await this.state.update((draft) => {
      const r = draft.volumes[name];
      if (!r) return;
      if (on) r.seeding = true;
      else delete r.seeding;
    });
  }

  /** Runs `fn` on the data directory, mounting a mount-backed volume around it when nobody has. */
  private async withStorageReachable<T>(rec: VolumeRecord, driver: VolumeDriver, fn: (dir: string) => Promise<T>): Promise<T> {
    const mountHere = driver.needsMount(rec.options) && !(await driver.isMounted(rec.name));
    if (mountHere) await driver.mount(rec.name, rec.options);
    try {
      return await fn(driver.path(rec.name));
    } finally {
      if (mountHere) await driver.unmount(rec.name);
    }
  }

  /** Removes metadata then storage; storage a crash leaves behind is destroyed by `init`. */
  private async destroy(rec: VolumeRecord, force: boolean): Promise<void> {
    const driver = this.drivers.get(rec.driver);
    if (!driver && !force) throw withRoom(this.lookupError(rec.driver), `remove ${rec.name}`);
    try {
      // Unmount while the volume still exists, so a failure leaves it whole and visible.
      if (driver && (await driver.isMounted(rec.name))) await driver.unmount(rec.name);
      await this.state.update((draft) => {
        delete draft.volumes[rec.name];
      });
      await driver?.remove(rec.name);
    } catch (err) {
      throw withRoom(err, `remove ${rec.name}`);
    }
    this.events?.emit('volume', 'destroy', rec.name, { driver: rec.driver });
  }

  private usersByVolume(): Map<string, string[]> {
    const byVolume = new Map<string, string[]>();
    const add = (volume: string, id: string) => {
      const list = byVolume.get(volume);
      if (!list) byVolume.set(volume, [id]);
      else if (!list.includes(id)) list.push(id);
    };
    for (const rec of Object.values(this.state.state.volumes)) for (const u of rec.users) add(rec.name, u);
    for (const ref of this.containerReferences()) {
      if (this.has(ref.volume)) add(ref.volume, ref.containerId);
    }
    return byVolume;
  }

  private async measure(rec: VolumeRecord): Promise<VolumeUsage> {
    const driver = this.drivers.get(rec.driver);
    const size = driver && driver.scope === 'local' ? await directorySize(driver.path(rec.name)) : -1;
    return { Size: size, RefCount: this.users(rec.name).length };
  }

  private driverNamed(name: string): VolumeDriver {
    const driver = this.drivers.get(name);
    if (!driver) throw this.lookupError(name);
    return driver;
  }

  private lookupError(name: string): TsError {
    return notFound(`error looking up volume plugin ${name}: plugin "${name}" not found`);
  }

  private view(rec: VolumeRecord): VolumeView {
    const driver = this.drivers.get(rec.driver);
    return {
      CreatedAt: formatRfc3339(new Date(rec.createdAt)),
      Driver: rec.driver,
      Labels: goMap(rec.labels),
      Mountpoint: driver ? driver.path(rec.name) : '',
      Name: rec.name,
      Options: goMap(rec.options),
      Scope: rec.scope,
    };
  }
}

/** Go's `time.RFC3339` in the host's time zone, as Docker prints `CreatedAt`. */
export function formatRfc3339(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const offsetMin = -date.getTimezoneOffset();
  const zone =
    offsetMin === 0
      ? 'Z'
      : `${offsetMin > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offsetMin) / 60))}:${pad(Math.abs(offsetMin) % 60)}`;
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`
  );
}

/** Docker's `op name: message` form, keeping the error's kind. */
function withRoom(err: unknown, room: string): TsError {
  if (err instanceof TsError) return new TsError(err.kind, `${room}: ${err.message}`, { cause: err });
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return internal(`${room}: ${message}`, err);
}
