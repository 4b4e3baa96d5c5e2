/**
 * The image service: everything the engine does with images on this host, over the content
 * store (blobs), the snapshotter (unpacked layers) and the image store (names and records).
 * Archive formats live in archive.ts, `image import` in import.ts.
 */
import { conflict, invalidArgument, notFound } from '../../common/errors';
import { KeyedMutex } from '../../common/mutex';
import type { EventLog } from '../events';
import { LocalContentStore } from './content';
import { DistributionMetadata } from './distribution';
import type { HistoryEntry, ImageConfig } from './oci';
import { OverlaySnapshotter } from './snapshotter';
import { ImageStore, familiarString, normalizeTag, parseReference, type ImageRecord } from './store';
import { directorySize } from '../volume/usage';
import * as path from 'node:path';
import { goMap } from '../../common/gomap';

/** Who uses an image: supplied by the container runtime so `rmi` can refuse as Docker does. */
export interface ContainerUsage {
  id: string;
  running: boolean;
  imageId: string;
}

export interface ImageFilter {
  key: string;
  values: string[];
}

export interface ImageSummaryView {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  created: number;
  size: number;
  sharedSize: number;
  uniqueSize: number;
  containers: number;
  labels: Record<string, string>;
  parentId: string;
}

export interface HistoryView {
  id: string;
  created: number;
  createdBy: string;
  size: number;
  comment: string;
  tags: string[];
  emptyLayer: boolean;
}

export class ImageService {
  readonly content: LocalContentStore;
  readonly snapshots: OverlaySnapshotter;
  readonly store: ImageStore;
  /** Which registry repositories hold our blobs, and what our plain layers were pushed as. */
  readonly distribution: DistributionMetadata;
  /** Blobs and layers that an operation in flight holds; GC leaves them alone. */
  readonly leases = new Set<string>();
  readonly locks = new KeyedMutex();
  private readonly configCache = new Map<string, ImageConfig>();
  containerUsage: () => ContainerUsage[] = () => [];

  constructor(
    readonly root: string,
    readonly events: EventLog,
  ) {
    this.content = new LocalContentStore(path.join(root, 'content'));
    this.snapshots = new OverlaySnapshotter(path.join(root, 'overlay'));
    this.store = new ImageStore(path.join(root, 'image'));
    this.distribution = new DistributionMetadata(path.join(root, 'image'));
  }

  async init(): Promise<void> {
    await this.content.init();
    await this.snapshots.init();
    await this.store.load();
    await this.distribution.load();
    // Ingests left by a crash are half-written blobs of an operation that never committed.
    await this.content.cleanIngests(0);
    await this.gc();
  }

  async config(id: string): Promise<ImageConfig> {
    let cfg = this.configCache.get(id);
    if (!cfg) {
      cfg = JSON.parse((await this.content.readAll(id)).toString('utf8')) as ImageConfig;
      this.configCache.set(id, cfg);
    }
    return cfg;
  }

  resolve(name: string): ImageRecord {
    return this.store.resolve(name);
  }

  /** Layers used by more than one image, for shared/unique sizes. */
  private layerUseCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const img of this.store.images()) {
      for (const l of new Set(img.layers.map((x) => x.diffId))) counts.set(l, (counts.get(l) ?? 0) + 1);
    }
    return counts;
  }

  private layerSizes(img: ImageRecord): Map<string, number> {
    return new Map(img.layers.map((l) => [l.diffId, this.layerSizeCache.get(l.diffId) ?? 0]));
  }

  private readonly layerSizeCache = new Map<string, number>();

  async refreshLayerSizes(): Promise<void> {
    for (const l of await this.snapshots.listLayers()) this.layerSizeCache.set(l.diffId, l.size);
  }

  /** Imports, loads and commits add layers without telling this cache; a miss re-reads it. */
  private async knowLayerSizes(images: readonly ImageRecord[]): Promise<void> {
    if (images.some((img) => img.layers.some((l) => !this.layerSizeCache.has(l.diffId)))) await this.refreshLayerSizes();
  }

  async list(opts: { all?: boolean; filters?: ImageFilter[]; reference?: string } = {}): Promise<ImageSummaryView[]> {
    const images = this.store.images();
    await this.knowLayerSizes(images);
    const counts = this.layerUseCounts();
    // Containers per image and tags per image, each in one pass (not one scan per image).
    const containersOf = new Map<string, number>();
    for (const u of this.containerUsage()) containersOf.set(u.imageId, (containersOf.get(u.imageId) ?? 0) + 1);
    const tagsOf = this.familiarTagIndex();
    const children = new Set(images.map((i) => i.parent).filter((p): p is string => !!p));
    const filters = opts.filters ?? [];
    const refFilters = [...(filters.find((f) => f.key === 'reference')?.values ?? [])];
    if (opts.reference) refFilters.push(opts.reference);
    const before = filters.find((f) => f.key === 'before')?.values.map((v) => this.resolve(v).created);
    const since = filters.find((f) => f.key === 'since')?.values.map((v) => this.resolve(v).created);
    for (const f of filters) {
      if (!['reference', 'dangling', 'before', 'since', 'label', 'until'].includes(f.key))
        throw invalidArgument(`invalid filter '${f.key}'`);
    }
    const danglingFilter = filters.find((f) => f.key === 'dangling');
    const labelFilter = filters.find((f) => f.key === 'label');
    const untilFilter = filters.find((f) => f.key === 'until');
    const out: ImageSummaryView[] = [];
    for (const img of images) {
      const tags = tagsOf.get(img.id) ?? [];
      const dangling = tags.length === 0;
      if (!opts.all && dangling && children.has(img.id)) continue; // intermediate image
      if (danglingFilter && !danglingFilter.values.some((v) => parseBool(v, 'dangling') === dangling)) continue;
      if (before && !before.every((t) => img.created < t)) continue;
      if (since && !since.every((t) => img.created > t)) continue;
      let shownTags = tags;
      if (refFilters.length > 0) {
        shownTags = tags.filter((t) => refFilters.some((p) => matchReference(p, t)));
        if (shownTags.length === 0) continue;
      }
      const labels = (this.configCache.get(img.id) ?? (await this.config(img.id))).config?.Labels ?? {};
      if (labelFilter && !labelFilter.values.every((v) => matchLabel(labels, v))) continue;
      if (untilFilter && !untilFilter.values.every((v) => img.created <= parseUntil(v))) continue;
      let shared = 0;
      for (const [diffId, size] of this.layerSizes(img)) if ((counts.get(diffId) ?? 0) > 1) shared += size;
      out.push({
        id: img.id,
        repoTags: shownTags,
        repoDigests: img.repoDigests.map(familiarOf),
        created: img.created,
        size: img.size,
        sharedSize: shared,
        uniqueSize: img.size - shared,
        containers: containersOf.get(img.id) ?? 0,
        labels,
        parentId: img.parent ?? '',
      });
    }
    out.sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return out;
  }

  /** Image ID → its tags in familiar form, sorted as `store.familiarTagsOf` sorts them. */
  private familiarTagIndex(): Map<string, string[]> {
    const full = new Map<string, string[]>();
    for (const [tag, id] of Object.entries(this.store.allTags())) {
      const list = full.get(id);
      if (list) list.push(tag);
      else full.set(id, [tag]);
    }
    const out = new Map<string, string[]>();
    for (const [id, tags] of full) out.set(id, tags.sort().map(familiarOf));
    return out;
  }

  async inspect(name: string): Promise<Record<string, unknown>> {
    const img = this.resolve(name);
    const cfg = await this.config(img.id);
    const c = cfg.config ?? {};
    const layers = img.layers.map((l) => this.snapshots.layerPath(l.diffId));
    const containerConfig = {
        Hostname: '',
        Domainname: '',
        User: c.User ?? '',
        AttachStdin: false,
        AttachStdout: false,
        AttachStderr: false,
        // Fields of Docker's container.Config marked omitempty are left out when empty.
        ExposedPorts: goMap(c.ExposedPorts),
        Tty: false,
        OpenStdin: false,
        StdinOnce: false,
        Env: c.Env ?? null,
        Cmd: c.Cmd ?? null,
        Healthcheck: c.Healthcheck,
        ArgsEscaped: c.ArgsEscaped || undefined,
        Image: '',
        Volumes: goMap(c.Volumes ?? null),
        WorkingDir: c.WorkingDir ?? '',
        Entrypoint: c.Entrypoint ?? null,
        OnBuild: c.OnBuild ?? null,
        Labels: goMap(c.Labels ?? null),
        StopSignal: c.StopSignal || undefined,
        Shell: c.Shell,
      };
    return {
      Id: img.id,
      RepoTags: this.store.familiarTagsOf(img.id),
      RepoDigests: img.repoDigests.map((d) => familiarString(parseReference(d))),
      Parent: img.parent ?? '',
      Comment: cfg.history?.at(-1)?.comment ?? '',
      Created: cfg.created ?? new Date(img.created).toISOString(),
      Container: '',
      // Docker 20.10 shows the building container's config too; seeds read .ContainerConfig.Env.
      ContainerConfig: containerConfig,
      DockerVersion: (cfg['docker_version'] as string | undefined) ?? '',
      Author: cfg.author ?? '',
      Config: containerConfig,
      Architecture: cfg.architecture,
      Variant: cfg.variant,
      Os: cfg.os,
      Size: img.size,
      VirtualSize: img.size,
      GraphDriver: {
        Name: 'overlay2',
        Data: {
          LowerDir: layers.slice(0, -1).reverse().join(':') || undefined,
          UpperDir: layers.at(-1),
        },
      },
      RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
      Metadata: { LastTagTime: img.lastTagTime ? new Date(img.lastTagTime).toISOString() : '0001-01-01T00:00:00Z' },
      Descriptor: { mediaType: img.manifestMediaType, digest: img.manifestDigest },
    };
  }

  async history(name: string): Promise<HistoryView[]> {
    const img = this.resolve(name);
    const cfg = await this.config(img.id);
    await this.knowLayerSizes([img]);
    const tags = this.store.familiarTagsOf(img.id);
    const entries: HistoryEntry[] = cfg.history && cfg.history.length > 0 ? cfg.history : img.layers.map(() => ({}));
    let layerIndex = 0;
    const out: HistoryView[] = entries.map((h) => {
      const empty = h.empty_layer === true;
      const layer = empty ? undefined : img.layers[layerIndex++];
      return {
        id: '<missing>',
        created: h.created ? Date.parse(h.created) : img.created,
        createdBy: h.created_by ?? '',
        size: layer ? (this.layerSizeCache.get(layer.diffId) ?? 0) : 0,
        comment: h.comment ?? '',
        tags: [],
        emptyLayer: empty,
      };
    });
    out.reverse();
    if (out[0]) {
      out[0].id = img.id;
      out[0].tags = tags;
    }
    return out;
  }

  async tag(source: string, target: string): Promise<void> {
    const img = this.resolve(source);
    const full = normalizeTag(target);
    await this.store.tag(img.id, full);
    this.events.emit('image', 'tag', img.id, { name: familiarString(parseReference(full)) });
  }

  /**
   * `docker rmi` for one name. Returns Docker's `Untagged:`/`Deleted:` lines. Rules (Docker's):
   * a name with sibling tags is only untagged; an ID referenced by several repositories needs -f;
   * an image used by a running container can't be removed; one used by a stopped container needs
   * -f and is then only untagged.
   */
  async remove(name: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<string[]> {
    return this.locks.run('images', async () => {
      const img = this.store.tryResolve(name);
      if (!img) throw notFound(`No such image: ${asTaggedName(name)}`);
      const tags = this.store.tagsOf(img.id);
      const asTag = this.tagNamed(name, img.id);
      const byDigest = !asTag && /@sha256:/.test(name);
      const byId = !asTag && !byDigest;
      const users = this.containerUsage().filter((u) => u.imageId === img.id);
      const short = img.id.slice(7, 19);
      const lines: string[] = [];
      let untag: string[];
      if (byId) {
        const repos = new Set(tags.map((t) => t.slice(0, t.lastIndexOf(':'))));
        if (repos.size > 1 && !opts.force)
          throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
        untag = tags;
      } else {
        untag = asTag ? [asTag] : [];
      }
      const running = users.find((u) => u.running);
      const remainingTags = tags.filter((t) => !untag.includes(t));
      // `rmi -f NAME` of an image a container uses: Docker removes the name and keeps the image.
      const willDelete = remainingTags.length === 0 && !(opts.force && !byId && users.length > 0);
      if (willDelete && running) {
        throw conflict(
          byId
            ? `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`
            : `conflict: unable to remove repository reference "${name}" (must force) - container ${running.id.slice(0, 12)} is using its referenced image ${short}`,
        );
      }
      const stopped = users[0];
      if (willDelete && stopped && !opts.force) {
        throw conflict(
          byId
            ? `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${stopped.id.slice(0, 12)}`
            : `conflict: unable to remove repository reference "${name}" (must force) - container ${stopped.id.slice(0, 12)} is using its referenced image ${short}`,
        );
      }
      const hasChildren = this.store.images().some((i) => i.parent === img.id);
      if (willDelete && hasChildren && byId)
        throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image has dependent child images`);
      const deleteIds = willDelete && users.length === 0 && !hasChildren ? [img.id] : [];
      await this.store.commitRemoval({ untag, deleteIds }, (doc) => {
        if (!doc.images[img.id]) throw notFound(`No such image: ${name}`);
        for (const t of untag) if (doc.tags[t] !== img.id) throw notFound(`No such image: ${name}`);
      });
      for (const t of untag) {
        const fam = familiarString(parseReference(t));
        lines.push(`Untagged: ${fam}`);
        this.events.emit('image', 'untag', img.id, { name: fam });
      }
      if (deleteIds.length > 0) {
        for (const d of img.repoDigests) lines.push(`Untagged: ${familiarString(parseReference(d))}`);
        lines.push(`Deleted: ${img.id}`);
        this.configCache.delete(img.id);
        this.events.emit('image', 'delete', img.id, { name: img.id });
        // Parents left dangling by this removal go too, unless --no-prune.
        if (!opts.noPrune && img.parent) {
          const parent = this.store.get(img.parent);
          if (parent && this.store.tagsOf(parent.id).length === 0 && !this.store.images().some((i) => i.parent === parent.id)) {
            await this.store.commitRemoval({ untag: [], deleteIds: [parent.id] });
            lines.push(`Deleted: ${parent.id}`);
            this.events.emit('image', 'delete', parent.id, { name: parent.id });
          }
        }
        lines.push(...(await this.gc()).map((d) => `Deleted: ${d}`));
      }
      return lines;
    });
  }

  async prune(opts: { all?: boolean; filters?: ImageFilter[] }): Promise<{ deleted: string[]; reclaimed: number }> {
    const filters = opts.filters ?? [];
    const selected = pruneSelector(filters, ['dangling']);
    const dangling = filters.find((f) => f.key === 'dangling');
    const all = opts.all || (dangling !== undefined && dangling.values.some((v) => !parseBool(v, 'dangling')));
    const usage = new Set(this.containerUsage().map((u) => u.imageId));
    const deleted: string[] = [];
    for (const img of this.store.images()) {
      if (usage.has(img.id)) continue;
      const tags = this.store.tagsOf(img.id);
      if (!all && tags.length > 0) continue;
      const cfg = await this.config(img.id);
      if (!selected(img.created, cfg.config?.Labels ?? {})) continue;
      if (this.store.images().some((i) => i.parent === img.id && this.store.get(i.id))) {
        if (!all) continue;
      }
      await this.store.commitRemoval({ untag: tags, deleteIds: [img.id] });
      for (const t of tags) deleted.push(`untagged: ${familiarString(parseReference(t))}`);
      deleted.push(`deleted: ${img.id}`);
      this.events.emit('image', 'delete', img.id, { name: img.id });
    }
    const { removed, reclaimed } = await this.gcMeasured();
    for (const l of removed) deleted.push(`deleted: ${l}`);
    return { deleted, reclaimed };
  }

  /**
   * Mark and sweep: blobs and layers that no image references and no operation holds are
   * deleted. Returns the diffIDs of the layers removed.
   */
  async gc(): Promise<string[]> {
    return (await this.sweep(false)).removed;
  }

  /**
   * `gc`, with the space it freed as Docker's prunes report it: the sum of the removed layers'
   * diff sizes (their files' apparent sizes, directories not counted, a hard-linked file once).
   * Blobs are not counted: Docker keeps no second copy of a layer beside the unpacked one.
   */
  async gcMeasured(): Promise<{ removed: string[]; reclaimed: number }> {
    return this.sweep(true);
  }

  private async sweep(measure: boolean): Promise<{ removed: string[]; reclaimed: number }> {
    const blobs = new Set<string>(this.leases);
    const layers = new Set<string>(this.leases);
    for (const img of this.store.images()) {
      blobs.add(img.id);
      blobs.add(img.manifestDigest);
      for (const l of img.layers) {
        blobs.add(l.blobDigest);
        layers.add(l.diffId);
      }
    }
    for (const extra of this.extraRoots()) {
      blobs.add(extra);
      layers.add(extra);
    }
    for (const b of await this.content.list()) if (!blobs.has(b.digest)) await this.content.delete(b.digest);
    const removed: string[] = [];
    let reclaimed = 0;
    for (const l of await this.snapshots.listLayers()) {
      if (!layers.has(l.diffId)) {
        if (measure) reclaimed += await directorySize(this.snapshots.layerPath(l.diffId));
        await this.snapshots.removeLayer(l.diffId);
        this.layerSizeCache.delete(l.diffId);
        removed.push(l.diffId);
      }
    }
    // Registry knowledge of blobs nothing here holds any more (a pushed layer's gzip form is
    // held through its layer).
    const held = new Set([...blobs, ...layers]);
    for (const l of layers) for (const form of this.distribution.compressedForms(l)) held.add(form.digest);
    await this.distribution.forget((d) => held.has(d));
    return { removed, reclaimed };
  }

  /** The fully qualified tag `name` stands for, when it is a tag pointing at `id`. */
  private tagNamed(name: string, id: string): string | undefined {
    try {
      const full = normalizeTag(name);
      return this.store.allTags()[full] === id ? full : undefined;
    } catch {
      return undefined;
    }
  }

  /** Other keepers of blobs and layers (the build cache), registered by their owners. */
  extraRoots: () => Iterable<string> = () => [];
}

/** `familiarString(parseReference(name))`, remembered: image lists convert the same names on every call. */
const familiarMemo = new Map<string, string>();
function familiarOf(name: string): string {
  let f = familiarMemo.get(name);
  if (f === undefined) {
    f = familiarString(parseReference(name));
    if (familiarMemo.size >= 10_000) familiarMemo.clear();
    familiarMemo.set(name, f);
  }
  return f;
}

export function parseBool(v: string, key: string): boolean {
  if (['true', '1'].includes(v.toLowerCase())) return true;
  if (['false', '0'].includes(v.toLowerCase())) return false;
  throw invalidArgument(`invalid filter '${key}=${v}'`);
}

export function matchLabel(labels: Record<string, string>, expr: string): boolean {
  const i = expr.indexOf('=');
  if (i === -1) return expr in labels;
  return labels[expr.slice(0, i)] === expr.slice(i + 1);
}

/**
 * Docker's prune filters, as containers, images, networks and the build cache share them: `until`
 * (made before), `label` (each matches) and `label!` (none matches). Keys other than these and
 * `extraKeys` are refused, and so is a malformed `until`, before anything is pruned.
 */
export function pruneSelector(filters: readonly ImageFilter[], extraKeys: readonly string[] = []): (createdMs: number, labels: Record<string, string>) => boolean {
  for (const f of filters) if (!['until', 'label', 'label!', ...extraKeys].includes(f.key)) throw invalidArgument(`invalid filter '${f.key}'`);
  const values = (key: string) => filters.filter((f) => f.key === key).flatMap((f) => f.values);
  const until = values('until').map((v) => parseUntil(v));
  const label = values('label');
  const notLabel = values('label!');
  return (createdMs, labels) => until.every((u) => createdMs < u) && label.every((v) => matchLabel(labels, v)) && !notLabel.some((v) => matchLabel(labels, v));
}

/** `until` accepts a timestamp or a duration before now (`48h`). */
export function parseUntil(v: string, now = Date.now()): number {
  const dur = /^(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)$/.exec(v);
  if (dur) {
    const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
    return now - Number(dur[1]) * mult[dur[2]!]!;
  }
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid filter 'until=${v}': not a timestamp or duration`);
  return t;
}

/** Docker's reference filter: a glob over `name[:tag]`, where the name pattern matches the familiar name. */
function matchReference(pattern: string, familiarTag: string): boolean {
  const colon = familiarTag.lastIndexOf(':');
  const name = familiarTag.slice(0, colon);
  const tag = familiarTag.slice(colon + 1);
  const pColon = pattern.lastIndexOf(':');
  const hasTag = pColon > pattern.lastIndexOf('/');
  const pName = hasTag ? pattern.slice(0, pColon) : pattern;
  const pTag = hasTag ? pattern.slice(pColon + 1) : undefined;
  return globMatch(pName, name) && (pTag === undefined || globMatch(pTag, tag));
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((ch) => (ch === '*' ? '[^/]*' : ch === '?' ? '[^/]' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
  );
  return re.test(s);
}

/** A name as Docker's daemon repeats it in "No such image": with its implied tag (`ubuntu:latest`). */
function asTaggedName(name: string): string {
  try {
    const ref = parseReference(name);
    if (ref.tag === undefined && ref.digest === undefined && !/^(sha256:)?[0-9a-f]{1,64}$/.test(name)) return `${name}:latest`;
  } catch {
    // Not a reference (an ID prefix, a malformed name): as given.
  }
  return name;
}
