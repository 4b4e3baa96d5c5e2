/**
 * `docker pull`: resolve the reference to a platform's manifest, then fetch the config and the
 * layers concurrently into the content store, handing each layer to the caller's `unpack` as
 * soon as it is verified and the layer below it was handed over, so extraction overlaps the
 * downloads still running. Verified blobs stay in the store when a pull fails, and partial
 * downloads stay as ingests, so the next try only fetches what is missing.
 */
import { cancelled, failedPrecondition, invalidArgument, TsError } from '../../common/errors';
import { putBlob, type ContentStore, type Descriptor, type Platform } from '../image/content';
import { formatPlatform, type ImageConfig, type ImageIndex, type ImageManifest } from '../image/oci';
import type { BlobProgress, RegistryClient } from './client';
import { processBlobFetches, type BlobFetchGroup } from './inflight';
import { createLimiter } from './limit';
import { PullStatus, shortId, throttledProgress, type ProgressListener } from './progress';
import { parseReference, withDefaultTag, familiarString, type Reference } from './reference';
import { processBlobSources, type BlobSources } from './sources';
import { BlobTap } from './tap';

export interface UnpackContext {
  /** The layer's position, 0 being the base layer. */
  index: number;
  /** Settles when the layer below was unpacked; a caller that stacks layers awaits it. */
  parentDone: Promise<void>;
  /** Whether the blob was in the store before this pull. */
  alreadyExisted: boolean;
  signal: AbortSignal;
  /** Settles when the blob is verified in the store (at once when it was there). */
  blobReady: Promise<void>;
  /**
   * With `streamLayers`, for a blob being downloaded: its bytes as they arrive. Nothing made of
   * them may be kept before `blobReady` resolved; when the tap is `abandoned`, the blob is to be
   * read from the store once `blobReady` resolved.
   */
  stream?: BlobTap;
}

export interface PullRequest {
  ref: Reference | string;
  /** Platform to pick from an index; the host's when absent. */
  platform?: Platform;
  store: ContentStore;
  client: RegistryClient;
  /** Layers downloaded at once (Docker's max-concurrent-downloads). */
  concurrency?: number;
  /**
   * Called once per layer, in layer order, when the layer's blob is in the store; with
   * `streamLayers`, as soon as its download starts instead (and at once for a blob already here).
   */
  unpack?: (layer: Descriptor, ctx: UnpackContext) => Promise<void>;
  /** Hands each layer to `unpack` while it downloads (`ctx.stream`), not after. */
  streamLayers?: boolean;
  /**
   * Whether a layer whose blob is not in the store is held here in another form (the plain
   * layer a push compressed into this blob, say): it is not downloaded, and shows as `Already exists`.
   */
  layerHeld?: (layer: Descriptor, index: number, manifest: ImageManifest) => Promise<boolean>;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /** Shares downloads with other pulls; the process-wide group by default. */
  fetches?: BlobFetchGroup;
  sources?: BlobSources;
}

export interface PullResult {
  ref: Reference;
  manifestDigest: string;
  manifestMediaType: string;
  manifest: ImageManifest;
  configDigest: string;
  config: ImageConfig;
  /** Set when the reference named an index. */
  indexDigest?: string;
  index?: ImageIndex;
  /** Layers that were not in the store before. */
  downloadedLayers: number;
}

export const DEFAULT_PULL_CONCURRENCY = 3;

export async function pullImage(req: PullRequest): Promise<PullResult> {
  try {
    return await pullImageSteps(req);
  } catch (err) {
    // After an abort, whatever stream noticed it first may throw Node's own AbortError: the
    // caller is told the same thing every time.
    if (req.signal?.aborted && !(err instanceof TsError && err.kind === 'Cancelled')) throw cancelled('context canceled', err);
    throw err;
  }
}

async function pullImageSteps(req: PullRequest): Promise<PullResult> {
  const ref = withDefaultTag(typeof req.ref === 'string' ? parseReference(req.ref) : req.ref);
  const emit: ProgressListener = req.onProgress ?? (() => undefined);
  const fetches = req.fetches ?? processBlobFetches;
  const sources = req.sources ?? processBlobSources;
  const { store, client } = req;
  // One failing layer stops the others; the caller's signal stops everything.
  const controller = new AbortController();
  const stop = () => controller.abort();
  req.signal?.addEventListener('abort', stop, { once: true });
  const signal = controller.signal;
  if (req.signal?.aborted) stop();

  try {
    emit({ id: ref.digest ?? ref.tag, status: `Pulling from ${ref.path}` });
    const resolved = await client.resolve(ref, req.platform, { signal });
    const { manifest } = resolved;
    for (const d of [manifest.config, ...manifest.layers]) checkSupportedMediaType(d.mediaType);
    await putBlob(store, resolved.manifestBytes);
    if (resolved.index) await putBlob(store, resolved.index.bytes);

    const fetchInto = (desc: Descriptor, onProgress?: (p: BlobProgress) => void, tap?: BlobTap) =>
      fetches.fetch(
        store,
        desc.digest,
        (s, p) => client.fetchBlob(ref, desc, store, { signal: s, onProgress: p, ...(tap && { tap }) }),
        { signal, ...(onProgress && { onProgress }) },
      );

    const failures: unknown[] = [];
    const track = <T>(p: Promise<T>): Promise<T> => {
      p.catch((err: unknown) => {
        failures.push(err);
        stop();
      });
      return p;
    };

    const configHere = await store.has(manifest.config.digest);
    const configDone = track(fetchInto(manifest.config));
    const layers = manifest.layers;
    const present = await Promise.all(
      layers.map(async (l, i) => (await store.has(l.digest)) || (await req.layerHeld?.(l, i, manifest)) === true),
    );
    // An image that is all here already gets no line per layer, as in Docker: only its digest
    // and "Image is up to date". Layers shared with another image do say "Already exists".
    if (!configHere || !present.every(Boolean)) {
      layers.forEach((l, i) =>
        emit({ id: shortId(l.digest), status: present[i] ? PullStatus.AlreadyExists : PullStatus.PullingFsLayer }),
      );
    }

    const limiter = createLimiter(req.concurrency ?? DEFAULT_PULL_CONCURRENCY);
    const streaming = req.streamLayers === true && req.unpack !== undefined;
    const taps = layers.map((_, i) => (streaming && !present[i] ? new BlobTap() : undefined));
    const downloadStarted = layers.map(() => deferred());
    const remembered: Promise<void>[] = [];
    const downloads = layers.map((layer, i) => {
      if (present[i]) return Promise.resolve();
      const id = shortId(layer.digest);
      const bytes = throttledProgress(emit, id, PullStatus.Downloading);
      const tap = taps[i];
      const download = track(
        (async () => {
          let fetching: Promise<unknown> = Promise.resolve();
          // A slot is held while the bytes come in: verifying and storing the blob (an fsync)
          // and recording where it came from need no connection, and the next layer's download
          // should not wait for them.
          await limiter.run(
            async () => {
              if (signal.aborted) throw cancelled('context canceled');
              downloadStarted[i]!.resolve();
              const transferred = deferred();
              fetching = fetchInto(
                layer,
                (p) => {
                  if (p.phase === 'downloading') bytes(p.current, p.total);
                  else {
                    emit({ id, status: PullStatus.VerifyingChecksum });
                    transferred.resolve();
                  }
                },
                tap,
              );
              await Promise.race([fetching, transferred.promise]);
            },
            () => emit({ id, status: PullStatus.Waiting }),
          );
          await fetching;
          emit({ id, status: PullStatus.DownloadComplete });
          // The unpack of a streamed layer finishes the bytes it was given meanwhile.
          if (tap && !tap.abandoned) emit({ id, status: PullStatus.Extracting });
        })(),
      );
      // Where the blob came from is bookkeeping for later pushes: the layer need not wait for it.
      remembered.push(track(download.then(() => sources.remember(layer.digest, ref), () => undefined)));
      if (tap) {
        // A tap the download never fed (a fetch another pull runs, a complete ingest) has
        // nothing for its reader; one the pull stopped must not keep its reader waiting.
        download.then(
          () => tap.abandon('the blob came from the store'),
          (err: unknown) => tap.fail(err instanceof Error ? err : cancelled('context canceled')),
        );
        signal.addEventListener('abort', () => tap.fail(cancelled('context canceled')), { once: true });
      }
      return download;
    });

    const unpacks: Promise<void>[] = [];
    let belowStarted: Promise<unknown> = Promise.resolve();
    let belowDone: Promise<void> = Promise.resolve();
    layers.forEach((layer, index) => {
      // A streamed layer is unpacked while it downloads: its reader must be there from the first
      // byte, or the download would wait for it. The others wait for their blob, in layer order.
      const started = taps[index]
        ? Promise.race([downloadStarted[index]!.promise, downloads[index]])
        : Promise.all([downloads[index], belowStarted]);
      const parentDone = belowDone;
      const blobReady = downloads[index]!;
      const done = track(
        started.then(async () => {
          const tap = taps[index];
          try {
            if (signal.aborted) throw cancelled('context canceled');
            const id = shortId(layer.digest);
            const alreadyExisted = present[index] === true;
            if (!alreadyExisted && req.unpack && !tap) emit({ id, status: PullStatus.Extracting });
            await req.unpack?.(layer, { index, parentDone, alreadyExisted, signal, blobReady, ...(tap && { stream: tap }) });
            // An unpack that returned reads no more (or never read: the layer was already
            // unpacked here). The download must not wait for a reader that isn't coming.
            tap?.close();
            await blobReady;
            if (!alreadyExisted) emit({ id, status: PullStatus.PullComplete });
          } finally {
            tap?.close();
          }
        }),
      );
      started.catch(() => undefined);
      blobReady.catch(() => undefined);
      if (!taps[index]) belowStarted = started;
      belowDone = done;
      unpacks.push(done);
    });

    await Promise.allSettled([configDone, ...downloads, ...unpacks, ...remembered]);
    if (req.signal?.aborted) throw cancelled('context canceled');
    if (failures.length) throw firstMeaningful(failures);

    const configBytes = await store.readAll(manifest.config.digest);
    let config: ImageConfig;
    try {
      config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    } catch {
      throw failedPrecondition(`registry: image config ${manifest.config.digest} is not valid JSON`);
    }
    if (req.platform && !resolved.index) checkPlatform(ref, config, req.platform);

    const result: PullResult = {
      ref,
      manifestDigest: resolved.manifestDigest,
      manifestMediaType: resolved.manifestMediaType,
      manifest,
      configDigest: manifest.config.digest,
      config,
      downloadedLayers: present.filter((p) => !p).length,
    };
    if (resolved.index) {
      result.indexDigest = resolved.index.digest;
      result.index = resolved.index.parsed;
    }
    return result;
  } finally {
    req.signal?.removeEventListener('abort', stop);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The error that caused the failure, not the cancellations it caused in the other layers. */
function firstMeaningful(failures: unknown[]): unknown {
  return failures.find((e) => !(e instanceof TsError && e.kind === 'Cancelled')) ?? failures[0];
}

function checkPlatform(ref: Reference, config: ImageConfig, want: Platform): void {
  if (config.os === want.os && config.architecture === want.architecture) return;
  const actual = formatPlatform({ os: config.os, architecture: config.architecture, ...(config.variant && { variant: config.variant }) });
  throw invalidArgument(
    `image with reference ${familiarString(ref)} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${actual}`,
  );
}

/** The families of media types an image's config and layers may have: OCI's image types and Docker's. */
const SUPPORTED_MEDIA_TYPE_FAMILIES = ['application/vnd.oci.image', 'application/vnd.docker'];

/**
 * Refuses what is no image (a Helm chart's config, an artifact's layers) before anything is
 * fetched, as Docker does and in its words; a descriptor without a media type is let through.
 */
export function checkSupportedMediaType(mediaType: string | undefined): void {
  if (!mediaType) return;
  const lower = mediaType.toLowerCase();
  if (SUPPORTED_MEDIA_TYPE_FAMILIES.some((family) => lower.startsWith(`${family}.`))) return;
  throw failedPrecondition(`unsupported media type ${mediaType}`);
}
