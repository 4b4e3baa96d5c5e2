/**
 * Layers a push compresses on the fly: locally created layers (import, build, commit) are kept
 * as plain tars, and go out as gzip, as Docker sends them. Which compressed blob a layer became
 * is remembered (Docker's v2 metadata), so the next push finds it in the registry by digest
 * instead of compressing again.
 */
import { createGzip, constants as zlibConstants } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Descriptor } from '../image/content';
import { MediaType } from '../image/oci';

/**
 * zlib's fastest level: for typical layer contents it compresses 4-6× faster than the default (6)
 * for blobs ~5 % bigger, and a push is bound by this step, not by the bytes it sends.
 */
export const PUSH_GZIP_LEVEL = zlibConstants.Z_BEST_SPEED;

/** Output buffers of 128 KB rather than zlib's 16 KB: fewer hand-offs from the thread pool. */
const GZIP_CHUNK = 128 << 10;

/** The uncompressed layer media types a push compresses. */
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
export function isUncompressedLayer(mediaType: string): boolean {
  return mediaType === MediaType.OciLayer || mediaType === DOCKER_LAYER_TAR;
}

/** The gzip layer type that goes with a manifest type: Docker's for Docker manifests, else OCI's. */
export function gzipLayerTypeFor(manifestMediaType: string): string {
  return manifestMediaType === MediaType.DockerManifest ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip;
}

/** A tar stream gzip-compressed as it is read. */
export function gzipStream(source: Readable): Readable {
  const gz = createGzip({ level: PUSH_GZIP_LEVEL, chunkSize: GZIP_CHUNK });
  source.on('error', (err) => gz.destroy(err));
  return source.pipe(gz);
}

/** Which compressed blobs hold an uncompressed layer (by its diff ID). */
export interface CompressedLayers {
  /** Known compressed forms of `diffId`, most recent first. */
  compressedForms(diffId: string): Descriptor[];
  rememberCompressed(diffId: string, compressed: Descriptor): void | Promise<void>;
}

const MAX_FORMS_PER_LAYER = 4;

/** In-memory; the daemon persists its own (see agent/image/distribution.ts). */
export class MemoryCompressedLayers implements CompressedLayers {
  private readonly byDiffId = new Map<string, Descriptor[]>();

  compressedForms(diffId: string): Descriptor[] {
    return this.byDiffId.get(diffId) ?? [];
  }

  rememberCompressed(diffId: string, compressed: Descriptor): void {
    this.byDiffId.set(diffId, rememberedForms(this.compressedForms(diffId), compressed));
  }
}

/** `known` with `compressed` first, once, bounded. */
export function rememberedForms(known: Descriptor[], compressed: Descriptor): Descriptor[] {
  const entry: Descriptor = { mediaType: compressed.mediaType, digest: compressed.digest, size: compressed.size };
  return [entry, ...known.filter((d) => d.digest !== compressed.digest)].slice(0, MAX_FORMS_PER_LAYER);
}

/** The process-wide record pushes share unless given their own. */
export const processCompressedLayers: CompressedLayers = new MemoryCompressedLayers();
