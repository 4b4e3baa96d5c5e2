/**
 * `image pull` into this host's stores: the registry's `pullImage` fetches blobs into the content
 * store and hands each layer over as soon as it is verified; here it is unpacked through the
 * snapshotter (while later layers still download), and once every layer is in place the image
 * record and its tag are committed in one step. Until then nothing is visible.
 *
 * A failed or cancelled pull removes the layers it unpacked that no image uses. The blobs it
 * verified stay in the content store and partial downloads stay as ingests, so a retry in the
 * same daemon fetches only what is missing; they are not referenced by any image, so the next
 * garbage collection (an `image rm`/`prune`, or the daemon's start) deletes them. Keeping them
 * across restarts would need a persisted root set, and a re-fetch is the cheaper trade.
 */
import { Transform, pipeline, type Readable } from 'node:stream';
import { cancelled, failedPrecondition, internal, invalidArgument } from '../../common/errors';
import {
  PullStatus,
  familiarName,
  familiarString,
  fullName,
  parseReference,
  processBlobFetches,
  pullImage,
  referenceString,
  shortId,
  withDefaultTag,
  type ProgressListener,
  type BlobTap,
  type Reference,
  type RegistryClient,
  type ResolvedImage,
  type UnpackContext,
} from '../registry';
import { throttledProgress } from '../registry/progress';
import type { Descriptor } from './content';
import { parsePlatform, type ImageConfig } from './oci';
import type { ImageService } from './service';
import type { ImageRecord, LayerRef } from './store';

export interface PullOptions {
  /** What the user typed: `busybox`, `localhost:5000/app:1.0`, `app@sha256:…`. */
  reference: string;
  /** Every tag of the repository (`docker pull -a`). */
  allTags?: boolean;
  /** `os/arch[/variant]`; this host's when absent. */
  platform?: string;
  /** Layers downloaded at once. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

/**
 * Pulls an image (or every tag of a repository) and reports Docker's progress, ending with the
 * `Digest:` and `Status:` lines.
 */
export async function pullIntoStore(images: ImageService, client: RegistryClient, opts: PullOptions): Promise<void> {
  const emit: ProgressListener = opts.onProgress ?? (() => undefined);
  const parsed = parseReference(opts.reference);
  const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
  const each = { images, client, emit, platform, concurrency: opts.concurrency, signal: opts.signal };

  if (!opts.allTags) {
    const ref = withDefaultTag(parsed);
    const { digest, isNew } = await pullOne(ref, each);
    emit({ status: `Digest: ${digest}` });
    emit({ status: statusLine(isNew, familiarString(ref)) });
    return;
  }
  if (parsed.tag !== undefined || parsed.digest !== undefined)
    throw invalidArgument("tag can't be used with --all-tags/-a");
  const tags = await client.listTags(parsed, opts.signal);
  if (tags.length === 0) throw failedPrecondition(`repository ${familiarName(parsed)} has no tags`);
  let anyNew = false;
  for (const tag of tags) {
    const { digest, isNew } = await pullOne({ domain: parsed.domain, path: parsed.path, tag }, each);
    emit({ status: `Digest: ${digest}` });
    anyNew ||= isNew;
  }
  emit({ status: statusLine(anyNew, familiarName(parsed)) });
}

function statusLine(isNew: boolean, shown: string): string {
  return isNew ? `Status: Downloaded newer image for ${shown}` : `Status: Image is up to date for ${shown}`;
}

interface PullContext {
  images: ImageService;
  client: RegistryClient;
  emit: ProgressListener;
  platform: ReturnType<typeof parsePlatform> | undefined;
  concurrency: number | undefined;
  signal: AbortSignal | undefined;
}

/** Pulls one tag or digest; returns the digest the registry named it by and whether it was new here. */
async function pullOne(ref: Reference, ctx: PullContext): Promise<{ digest: string; isNew: boolean }> {
  const { images, client, emit } = ctx;
  const store = images.content;
  const leases = new Leases(images);
  const unpacked = new Set<string>();
  let resolved: ResolvedImage | undefined;
  let config: Promise<ImageConfig> | undefined;
  const layerSizes: number[] = [];

  const loadConfig = (signal: AbortSignal): Promise<ImageConfig> => {
    if (!resolved) return Promise.reject(internal('image pull: a layer arrived before its manifest'));
    const desc = resolved.manifest.config;
    // Joins the download pullImage started for the config, or reads it when already stored.
    config ??= processBlobFetches
      .fetch(store, desc.digest, (s, p) => client.fetchBlob(ref, desc, store, { signal: s, onProgress: p }), { signal })
      .then(async () => parseConfig(await store.readAll(desc.digest), desc.digest));
    return config;
  };

  const unpack = async (layer: Descriptor, u: UnpackContext): Promise<void> => {
    const cfg = await loadConfig(u.signal);
    const diffId = cfg.rootfs?.diff_ids?.[u.index];
    if (!diffId) throw failedPrecondition(`image pull: config ${resolved?.manifest.config.digest} lists no diff ID for layer ${u.index}`);
    leases.hold(diffId);
    if (!(await images.snapshots.hasLayer(diffId))) {
      const streamed = u.stream ? await unpackStreamed(u.stream, diffId, layer, u) : false;
      if (!streamed) {
        await u.blobReady;
        // A layer shown as `Already exists` (its blob was here) keeps that line while it unpacks.
        const report = u.alreadyExisted ? () => undefined : throttledProgress(emit, shortId(layer.digest), PullStatus.Extracting);
        const input = countedRead(store.readStream(layer.digest), u.signal, report, layer.size);
        await images.snapshots.applyLayer(input, diffId, layer.digest);
      }
      unpacked.add(diffId);
    }
    layerSizes[u.index] = (await images.snapshots.layerInfo(diffId)).size;
  };

  /** Unpacks a layer from its download; false when the bytes must be read from the store instead. */
  const unpackStreamed = async (tap: BlobTap, diffId: string, layer: Descriptor, u: UnpackContext): Promise<boolean> => {
    try {
      await images.snapshots.applyLayer(tap, diffId, layer.digest, { beforePublish: () => u.blobReady });
      return true;
    } catch (err) {
      // A blob that failed its verification explains whatever the unpack made of its bytes.
      await u.blobReady;
      if (tap.abandoned) return false;
      throw err;
    }
  };

  /**
   * A layer pushed from here as a plain tar went to the registry as the gzip blob the push made
   * of it: pulling that image back (by the digest the push printed, say) needs nothing downloaded.
   * Only an image already here counts, so that its record, whose blobs are all in the store, stays.
   */
  const held = new Set<number>();
  const layerHeld = async (layer: Descriptor, index: number, manifest: { config: Descriptor; layers: Descriptor[] }): Promise<boolean> => {
    const existing = images.store.get(manifest.config.digest);
    const diffId = existing?.layers.length === manifest.layers.length ? existing.layers[index]?.diffId : undefined;
    if (!diffId || !images.distribution.compressedForms(diffId).some((f) => f.digest === layer.digest)) return false;
    if (!(await images.snapshots.hasLayer(diffId))) return false;
    held.add(index);
    return true;
  };

  // Seeing the resolved manifest before any download starts lets every blob be leased up front.
  const observed = Object.create(client) as RegistryClient;
  observed.resolve = async (...args) => {
    const r = await client.resolve(...args);
    resolved = r;
    leases.hold(r.manifestDigest, r.manifest.config.digest, ...r.manifest.layers.map((l) => l.digest));
    if (r.index) leases.hold(r.index.digest);
    return r;
  };

  try {
    const result = await pullImage({
      ref,
      store,
      client: observed,
      unpack,
      streamLayers: true,
      layerHeld,
      onProgress: emit,
      sources: images.distribution,
      ...(ctx.platform !== undefined && { platform: ctx.platform }),
      ...(ctx.concurrency !== undefined && { concurrency: ctx.concurrency }),
      ...(ctx.signal !== undefined && { signal: ctx.signal }),
    });
    const diffIds = result.config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== result.manifest.layers.length)
      throw failedPrecondition(
        `image pull: config ${result.configDigest} lists ${diffIds.length} layers but the manifest ${result.manifest.layers.length}`,
      );
    const layers: LayerRef[] = result.manifest.layers.map((l, i) => ({
      diffId: diffIds[i]!,
      blobDigest: l.digest,
      blobSize: l.size,
      mediaType: l.mediaType,
    }));
    const digest = result.indexDigest ?? result.manifestDigest;
    const record: ImageRecord = {
      id: result.configDigest,
      manifestDigest: result.manifestDigest,
      manifestMediaType: result.manifestMediaType,
      repoDigests: [`${fullName(ref)}@${digest}`],
      created: result.config.created ? Date.parse(result.config.created) || 0 : 0,
      layers,
      size: layerSizes.reduce((a, b) => a + (b ?? 0), 0),
    };
    const tag = ref.digest === undefined ? referenceString(ref) : undefined;
    const isNew = await images.locks.run('images', async () => {
      const before = tag ? images.store.allTags()[tag] : images.store.tryResolve(referenceString(ref))?.id;
      if (held.size > 0) {
        // The image as we hold it (its manifest and blobs) stays; it gains the digest and the tag.
        const existing = images.store.get(record.id);
        if (!existing) throw failedPrecondition(`image pull: image ${record.id} was removed while it was pulled; pull it again`);
        await images.store.put({ ...existing, repoDigests: record.repoDigests }, tag ? [tag] : []);
        return before !== record.id;
      }
      await images.store.put(record, tag ? [tag] : []);
      return before !== record.id;
    });
    await images.refreshLayerSizes();
    const shown = familiarString(ref);
    images.events.emit('image', 'pull', shown, { name: shown });
    return { digest, isNew };
  } catch (err) {
    leases.release();
    await removeUnusedLayers(images, unpacked);
    throw ctx.signal?.aborted ? cancelled('context canceled', err) : err;
  } finally {
    leases.release();
  }
}

function parseConfig(bytes: Buffer, digest: string): ImageConfig {
  try {
    return JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw failedPrecondition(`image pull: image config ${digest} is not valid JSON`);
  }
}

/** The blob's bytes with extraction progress reported, stopped when the pull is. */
function countedRead(
  source: Readable,
  signal: AbortSignal,
  report: (current: number, total: number) => void,
  total: number,
): Readable {
  let read = 0;
  const counted = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, done) {
      read += chunk.length;
      report(read, total);
      done(null, chunk);
    },
  });
  const stop = () => source.destroy(cancelled('context canceled'));
  signal.addEventListener('abort', stop, { once: true });
  pipeline(source, counted, () => signal.removeEventListener('abort', stop));
  return counted;
}

async function removeUnusedLayers(images: ImageService, diffIds: Set<string>): Promise<void> {
  if (diffIds.size === 0) return;
  const used = new Set(images.store.images().flatMap((i) => i.layers.map((l) => l.diffId)));
  for (const d of diffIds) if (!used.has(d) && !images.leases.has(d)) await images.snapshots.removeLayer(d);
}

const holdCounts = new WeakMap<ImageService, Map<string, number>>();

/**
 * Holds on digests in `images.leases`, counted per image service so that two operations holding
 * the same blob or layer do not free it for each other.
 */
export class Leases {
  private readonly held: string[] = [];
  private readonly counts: Map<string, number>;

  constructor(private readonly images: ImageService) {
    let counts = holdCounts.get(images);
    if (!counts) {
      counts = new Map();
      holdCounts.set(images, counts);
    }
    this.counts = counts;
  }

  hold(...digests: string[]): void {
    for (const d of digests) {
      this.counts.set(d, (this.counts.get(d) ?? 0) + 1);
      this.images.leases.add(d);
      this.held.push(d);
    }
  }

  release(): void {
    for (const d of this.held.splice(0)) {
      const left = (this.counts.get(d) ?? 1) - 1;
      if (left > 0) this.counts.set(d, left);
      else {
        this.counts.delete(d);
        this.images.leases.delete(d);
      }
    }
  }
}
