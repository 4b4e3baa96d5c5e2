/**
 * `docker push`: upload an image's blobs (concurrently; each one skipped when the repository has
 * it, or mounted from another repository of the same registry known to hold it), then its
 * manifest under the tag. An index is pushed with every platform manifest it lists, which must
 * all be in the store. `docker push -a` (all tags) is the caller's loop over tags.
 */
import { cancelled, failedPrecondition, invalidArgument, notFound, TsError } from '../../common/errors';
import { sha256Of, type ContentStore, type Descriptor } from '../image/content';
import { isIndexMediaType, type ImageIndex, type ImageManifest } from '../image/oci';
import { decodeManifest, type RegistryClient } from './client';
import { createLimiter } from './limit';
import { PushStatus, shortId, throttledProgress, type ProgressListener } from './progress';
import { fullName, parseReference, withDefaultTag, type Reference } from './reference';
import { processBlobSources, type BlobSources } from './sources';

export interface PushRequest {
  /** Where to push: `localhost:5000/app:1.0`; `:latest` when no tag. */
  ref: Reference | string;
  /** The manifest (or index) to push, read from the store... */
  manifestDigest?: string;
  /** ...or given as its bytes. */
  manifest?: { bytes: Buffer; mediaType?: string };
  store: ContentStore;
  client: RegistryClient;
  /** Blobs uploaded at once (Docker's max-concurrent-uploads). */
  concurrency?: number;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  sources?: BlobSources;
}

export interface PushResult {
  digest: string;
  size: number;
  mediaType: string;
}

export const DEFAULT_PUSH_CONCURRENCY = 5;

interface LoadedManifest {
  digest: string;
  bytes: Buffer;
  mediaType: string;
  parsed: ImageManifest | ImageIndex;
}

export async function pushImage(req: PushRequest): Promise<PushResult> {
  const ref = withDefaultTag(typeof req.ref === 'string' ? parseReference(req.ref) : req.ref);
  if (ref.tag === undefined) throw invalidArgument('registry: push needs a tag, not only a digest');
  const tag = ref.tag;
  const emit: ProgressListener = req.onProgress ?? (() => undefined);
  const sources = req.sources ?? processBlobSources;
  const { store, client } = req;
  const controller = new AbortController();
  const stop = () => controller.abort();
  req.signal?.addEventListener('abort', stop, { once: true });
  if (req.signal?.aborted) stop();
  const signal = controller.signal;

  try {
    emit({ status: `The push refers to repository [${fullName(ref)}]` });
    const top = await loadTop(req);
    const images: LoadedManifest[] = [];
    if (isIndexMediaType(top.mediaType)) {
      for (const child of (top.parsed as ImageIndex).manifests) images.push(await loadFromStore(store, child, true));
    } else images.push(top);

    // Every distinct blob once: layers shown to the user (top layer first, as Docker does), configs silently.
    const layers = new Map<string, Descriptor>();
    const configs = new Map<string, Descriptor>();
    for (const img of images) {
      const m = img.parsed as ImageManifest;
      for (const l of [...m.layers].reverse()) if (!layers.has(l.digest)) layers.set(l.digest, l);
      configs.set(m.config.digest, m.config);
    }
    for (const l of layers.values()) emit({ id: shortId(l.digest), status: PushStatus.Preparing });

    const limiter = createLimiter(req.concurrency ?? DEFAULT_PUSH_CONCURRENCY);
    const failures: unknown[] = [];
    const pushOne = (desc: Descriptor, shown: boolean) =>
      limiter
        .run(
          async () => {
            if (signal.aborted) throw cancelled('context canceled');
            const id = shortId(desc.digest);
            const bytes = throttledProgress(emit, id, PushStatus.Pushing);
            if (!(await store.has(desc.digest)))
              throw notFound(`registry: blob ${desc.digest} of ${fullName(ref)} is not in the content store`);
            const result = await client.pushBlob(ref, desc, store, {
              mountFrom: sources.candidates(desc.digest, ref.domain),
              signal,
              ...(shown && { onProgress: bytes }),
            });
            sources.remember(desc.digest, ref);
            if (!shown) return;
            if (result.kind === 'exists') emit({ id, status: PushStatus.LayerAlreadyExists });
            else if (result.kind === 'mounted') emit({ id, status: `${PushStatus.MountedFrom} ${result.from}` });
            else emit({ id, status: PushStatus.Pushed });
          },
          () => shown && emit({ id: shortId(desc.digest), status: PushStatus.Waiting }),
        )
        .catch((err: unknown) => {
          failures.push(err);
          stop();
        });
    await Promise.all([
      ...[...layers.values()].map((l) => pushOne(l, true)),
      ...[...configs.values()].filter((c) => !layers.has(c.digest)).map((c) => pushOne(c, false)),
    ]);
    if (req.signal?.aborted) throw cancelled('context canceled');
    if (failures.length)
      throw failures.find((e) => !(e instanceof TsError && e.kind === 'Cancelled')) ?? failures[0];

    if (images[0] !== top)
      for (const img of images) await client.putManifest(ref, img.digest, img.mediaType, img.bytes, signal);
    const digest = await client.putManifest(ref, tag, top.mediaType, top.bytes, signal);
    emit({ id: tag, status: `digest: ${digest} size: ${top.bytes.length}` });
    return { digest, size: top.bytes.length, mediaType: top.mediaType };
  } finally {
    req.signal?.removeEventListener('abort', stop);
  }
}

async function loadTop(req: PushRequest): Promise<LoadedManifest> {
  if (req.manifest) {
    const { mediaType, parsed } = decodeManifest(req.manifest.bytes, req.manifest.mediaType);
    return { digest: sha256Of(req.manifest.bytes), bytes: req.manifest.bytes, mediaType, parsed };
  }
  if (!req.manifestDigest) throw invalidArgument('registry: push needs a manifest or a manifest digest');
  return loadFromStore(req.store, { digest: req.manifestDigest, mediaType: '', size: 0 }, false);
}

async function loadFromStore(store: ContentStore, desc: Descriptor, inIndex: boolean): Promise<LoadedManifest> {
  if (!(await store.has(desc.digest)))
    throw notFound(`registry: manifest ${desc.digest} is not in the content store`);
  const bytes = await store.readAll(desc.digest);
  const { mediaType, parsed } = decodeManifest(bytes, desc.mediaType || undefined);
  if (isIndexMediaType(mediaType) && inIndex)
    throw failedPrecondition(`registry: nested index ${desc.digest} cannot be pushed`);
  return { digest: desc.digest, bytes, mediaType, parsed };
}
