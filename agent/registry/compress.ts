/**
 * Layers a push compresses on the fly: locally created layers (import, build, commit) are kept
 * as plain tars, and go out as gzip, as Docker sends them. Which compressed blob a layer became
 * is remembered (Docker's v2 metadata), so the next push finds it in the registry by digest
 * instead of compressing again.
 */
import { crc32, deflateRaw, constants as zlibConstants } from 'node:zlib';
import { promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import type { Descriptor } from '../image/content';
import { MediaType } from '../image/oci';
import { releaseWhenSent } from './transport';

/** The uncompressed layer media types a push compresses. */
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
export function isUncompressedLayer(mediaType: string): boolean {
  return mediaType === MediaType.OciLayer || mediaType === DOCKER_LAYER_TAR;
}

/** The gzip layer type that goes with a manifest type: Docker's for Docker manifests, else OCI's. */
export function gzipLayerTypeFor(manifestMediaType: string): string {
  return manifestMediaType === MediaType.DockerManifest ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip;
}

/**
 * zlib's fastest level: for typical layer contents it compresses 4-6× faster than the default (6)
 * for blobs ~5-10 % bigger, and a push is bound by this step more than by the bytes it sends.
 */
export const PUSH_GZIP_LEVEL = zlibConstants.Z_BEST_SPEED;

/**
 * A layer file gzip-compressed as it is read, pigz-style: it is cut into pieces of PIECE bytes,
 * each deflated on its own in zlib's thread pool, several at once, and the pieces are joined in
 * order into one gzip member (each ends on a sync flush, so they concatenate). That uses every
 * core even for one layer.
 *
 * Data that does not shrink (already compressed, random) is sent as stored blocks, views of the
 * piece's bytes: after a piece failed to shrink, the pieces that follow are stored without trying
 * for a span that doubles (up to MAX_STORE_SPAN) while tries keep failing, and a try is first made
 * on a SAMPLE-byte slice of the piece. Once a piece shrinks, pieces are deflated without sampling.
 *
 * Pieces are read into a few Buffers that are filled again once nothing refers to their bytes:
 * once deflated, or once their stored blocks were sent (transport's releaseWhenSent). Fresh
 * Buffers for every read cost the daemon's main thread more than the rest of a push but hashing:
 * 1 MB ones are mapped anew by malloc and zero-filled a page at a time, and smaller ones take a
 * trip through the thread pool each (a 210 MB push: ~230 ms of reads in 120 KB pieces, plus their
 * collection).
 */
export function gzipFile(file: string, onRead?: (bytesRead: number) => void): Readable {
  return Readable.from(gzipPieces(pooledRead(file, onRead)), { objectMode: false, highWaterMark: 1 << 20 });
}

/** Input bytes deflated (or stored) as one piece. */
const PIECE = 1 << 20;
/** Pieces deflated at once per stream. */
const IN_FLIGHT = 3;
/** Read Buffers kept for reuse: the one being read, the pieces in flight, those being sent. */
const POOLED_READS = 6;
/** Bytes stored without trying after a piece that did not shrink: the first span, the longest. */
const MIN_STORE_SPAN = 1 << 20;
const MAX_STORE_SPAN = 32 << 20;
/** A piece counts as shrinking when deflate saves more than this share of it. */
const MIN_SAVING = 0.02;
/** What a try deflates of a piece before the whole of it. */
const SAMPLE = 64 << 10;
/** The longest stored block deflate allows. */
const MAX_STORED_BLOCK = 0xffff;

// ID1 ID2, deflate, no flags, no mtime, no extra flags, unknown OS (as Go writes it).
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
// A final, empty block with fixed Huffman codes: ends the deflate stream.
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** PIECE bytes of the file (fewer at its end), and what to call once nothing refers to them any more. */
interface Input {
  bytes: Buffer;
  release: () => void;
}

async function* pooledRead(file: string, onRead?: (bytesRead: number) => void): AsyncGenerator<Input> {
  // Buffers not given back (a request that failed) are left to the collector; a new one stands in.
  const free: Buffer[] = [];
  const fh = await fsp.open(file, 'r');
  try {
    for (let position = 0; ; ) {
      const buffer = free.pop() ?? Buffer.allocUnsafeSlow(PIECE);
      let filled = 0;
      // A read may return less than it was asked for before the end.
      while (filled < PIECE) {
        const { bytesRead } = await fh.read(buffer, filled, PIECE - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) return;
      position += filled;
      onRead?.(position);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (free.length < POOLED_READS) free.push(buffer);
      };
      yield { bytes: buffer.subarray(0, filled), release };
      if (filled < PIECE) return;
    }
  } finally {
    await fh.close();
  }
}

interface Piece {
  input: Input;
  /** The piece deflated, or undefined where it is to be stored. */
  deflated: Promise<Buffer | undefined>;
  /** False when the piece is stored without a try. */
  tried: boolean;
}

async function* gzipPieces(inputs: AsyncIterable<Input>): AsyncGenerator<Buffer> {
  yield GZIP_HEADER;
  let crc = 0;
  let size = 0;
  let storeUntil = 0;
  let storeSpan = MIN_STORE_SPAN;
  /** Whether the last piece settled shrank: the next ones are deflated without a try. */
  let shrinking = false;
  const queue: Piece[] = [];
  const settle = async ({ input, deflated, tried }: Piece): Promise<Buffer[]> => {
    const out = await deflated.catch((err: unknown) => {
      input.release();
      throw err;
    });
    if (out && shrinks(out.length, input.bytes.length)) {
      shrinking = true;
      storeSpan = MIN_STORE_SPAN;
      input.release();
      return [out];
    }
    if (tried) {
      // A try that failed: nothing more is tried for a while.
      shrinking = false;
      if (size >= storeUntil) {
        storeUntil = size + storeSpan;
        storeSpan = Math.min(storeSpan * 2, MAX_STORE_SPAN);
      }
    }
    return storedBlocks(input);
  };
  for await (const input of inputs) {
    crc = crc32(input.bytes, crc);
    const tried = size >= storeUntil;
    let deflated: Promise<Buffer | undefined>;
    if (!tried) deflated = Promise.resolve(undefined);
    else if (shrinking) deflated = deflateChunk(input.bytes);
    else deflated = tryDeflate(input.bytes);
    deflated.catch(() => undefined);
    size += input.bytes.length;
    queue.push({ input, deflated, tried });
    while (queue.length >= IN_FLIGHT) yield* await settle(queue.shift()!);
  }
  while (queue.length > 0) yield* await settle(queue.shift()!);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  yield Buffer.concat([FINAL_BLOCK, trailer]);
}

function shrinks(outLength: number, inLength: number): boolean {
  return outLength < inLength * (1 - MIN_SAVING);
}

/** The piece deflated if a slice of it shrinks, else undefined. */
async function tryDeflate(bytes: Buffer): Promise<Buffer | undefined> {
  if (bytes.length > 2 * SAMPLE) {
    const at = (bytes.length - SAMPLE) >> 1;
    const sample = await deflateChunk(bytes.subarray(at, at + SAMPLE));
    if (!shrinks(sample.length, SAMPLE)) return undefined;
  }
  return deflateChunk(bytes);
}

function deflateChunk(input: Buffer): Promise<Buffer> {
  // One output buffer that holds the worst case: one hand-off from the thread pool, not one per 16 KB.
  const chunkSize = Math.max(64 << 10, input.length + (input.length >> 6) + 4096);
  return new Promise((resolve, reject) =>
    deflateRaw(input, { level: PUSH_GZIP_LEVEL, finishFlush: zlibConstants.Z_SYNC_FLUSH, chunkSize }, (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );
}

/**
 * The piece as deflate stored blocks of at most MAX_STORED_BLOCK bytes, none of them final: each
 * block's 5-byte header, then a view of its bytes. The piece is released once every view was sent.
 */
function storedBlocks(input: Input): Buffer[] {
  const out: Buffer[] = [];
  const { bytes } = input;
  let unsent = 0;
  const sent = () => {
    if (--unsent === 0) input.release();
  };
  for (let at = 0; at < bytes.length; at += MAX_STORED_BLOCK) {
    const view = bytes.subarray(at, Math.min(at + MAX_STORED_BLOCK, bytes.length));
    const header = Buffer.alloc(5);
    header.writeUInt16LE(view.length, 1);
    header.writeUInt16LE(~view.length & 0xffff, 3);
    out.push(header, view);
    unsent++;
    releaseWhenSent(view, sent);
  }
  return out;
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
