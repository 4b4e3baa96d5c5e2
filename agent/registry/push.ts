/**
 * `docker push`: upload an image's blobs (concurrently; each one skipped when the repository has
 * it, or mounted from another repository of the same registry known to hold it), then its
 * manifest under the tag. An index is pushed with every platform manifest it lists, which must
 * all be in the store. `docker push -a` (all tags) is the caller's loop over tags.
 *
 * Uncompressed layers (what import, build and commit create) go out gzip-compressed while they
 * upload, as Docker sends them, and the manifest pushed names the compressed blobs; a layer
 * compressed before is looked up by its known compressed digest first (see compress.ts).
 */
import { cancelled, failedPrecondition, invalidArgument, notFound, TsError } from '../../common/errors';
import { sha256Of, type ContentStore, type Descriptor } from '../image/content';
import { MediaType, isIndexMediaType, type ImageIndex, type ImageManifest } from '../image/oci';
import { decodeManifest, type PushBlobResult, type RegistryClient } from './client';
import { gzipFile, gzipLayerTypeFor, isUncompressedLayer, processCompressedLayers, type CompressedLayers } from './compress';
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
  /** Compressed forms of uncompressed layers; the process-wide record by default. */
  compressed?: CompressedLayers;
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
  const compressed = req.compressed ?? processCompressedLayers;
  const { store, client } = req;
  const controller = new AbortController();
  const stop = () => controller.abort();
  req.signal?.addEventListener('abort', stop, { once: true });
  if (req.signal?.aborted) stop();
  const signal = controller.signal;

  /** An uncompressed layer: its compressed form in the repository, found, mounted or uploaded now. */
  const pushCompressing = async (desc: Descriptor, onProgress?: (current: number, total: number) => void) => {
    let session: URL | undefined;
    for (const form of compressed.compressedForms(desc.digest)) {
      const linked = await client.linkExisting(ref, form.digest, sources.candidates(form.digest, ref.domain), signal);
      if ('result' in linked) {
        await sources.remember(form.digest, ref);
        return { result: linked.result, blob: { digest: form.digest, size: form.size } };
      }
      if (linked.session) {
        session = linked.session;
        break;
      }
    }
    const open = () => gzipFile(store.pathOf(desc.digest), onProgress && ((read) => onProgress(Math.min(read, desc.size), desc.size)));
    const blob = await client.pushStream(ref, open, { signal, ...(session && { session }) });
    await compressed.rememberCompressed(desc.digest, { mediaType: MediaType.OciLayerGzip, ...blob });
    await sources.remember(blob.digest, ref);
    return { result: { kind: 'pushed' } as PushBlobResult, blob };
  };

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

    /** Uncompressed layer digest → the compressed blob that went out in its place. */
    const replaced = new Map<string, { digest: string; size: number }>();
    const limiter = createLimiter(req.concurrency ?? DEFAULT_PUSH_CONCURRENCY);
    const failures: unknown[] = [];
    const pushOne = (desc: Descriptor, shown: boolean) =>
      limiter
        .run(
          async () => {
            if (signal.aborted) throw cancelled('context canceled');
            const id = shortId(desc.digest);
            const bytes = shown ? throttledProgress(emit, id, PushStatus.Pushing) : undefined;
            if (!(await store.has(desc.digest)))
              throw notFound(`registry: blob ${desc.digest} of ${fullName(ref)} is not in the content store`);
            let result: PushBlobResult;
            if (shown && isUncompressedLayer(desc.mediaType)) {
              const out = await pushCompressing(desc, bytes);
              replaced.set(desc.digest, out.blob);
              result = out.result;
            } else {
              result = await client.pushBlob(ref, desc, store, {
                mountFrom: sources.candidates(desc.digest, ref.domain),
                signal,
                ...(bytes && { onProgress: bytes }),
              });
              await sources.remember(desc.digest, ref);
            }
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

    const sent = images.map((img) => withCompressedLayers(img, replaced));
    let topSent = sent[0]!;
    if (images[0] !== top) {
      for (const img of sent) await client.putManifest(ref, img.digest, img.mediaType, img.bytes, signal);
      topSent = withReplacedManifests(top, new Map(images.map((img, i) => [img.digest, sent[i]!])));
    }
    const digest = await client.putManifest(ref, tag, topSent.mediaType, topSent.bytes, signal);
    emit({ id: tag, status: `digest: ${digest} size: ${topSent.bytes.length}` });
    return { digest, size: topSent.bytes.length, mediaType: topSent.mediaType };
  } finally {
    req.signal?.removeEventListener('abort', stop);
  }
}

/** The manifest as pushed: its uncompressed layers replaced by the compressed blobs sent for them. */
function withCompressedLayers(img: LoadedManifest, replaced: Map<string, { digest: string; size: number }>): LoadedManifest {
  const m = img.parsed as ImageManifest;
  if (!m.layers.some((l) => replaced.has(l.digest))) return img;
  const gzipType = gzipLayerTypeFor(img.mediaType);
  const layers = m.layers.map((l) => {
    const blob = replaced.get(l.digest);
    return blob ? { ...l, mediaType: gzipType, digest: blob.digest, size: blob.size } : l;
  });
  return encoded({ ...m, layers }, img.mediaType);
}

/** An index whose manifests changed on the way out, pointing at them as sent. */
function withReplacedManifests(index: LoadedManifest, sent: Map<string, LoadedManifest>): LoadedManifest {
  const parsed = index.parsed as ImageIndex;
  if (parsed.manifests.every((d) => sent.get(d.digest)?.digest === d.digest)) return index;
  const manifests = parsed.manifests.map((d) => {
    const now = sent.get(d.digest);
    return now ? { ...d, digest: now.digest, size: now.bytes.length } : d;
  });
  return encoded({ ...parsed, manifests }, index.mediaType);
}

function encoded(parsed: ImageManifest | ImageIndex, mediaType: string): LoadedManifest {
  const bytes = Buffer.from(JSON.stringify(parsed));
  return { digest: sha256Of(bytes), bytes, mediaType, parsed };
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
