/**
 * Layers a push compresses on the fly: locally created layers (import, build, commit) are kept
 * as plain tars, and go out as gzip, as Docker sends them. Which compressed blob a layer became
 * is remembered (Docker's v2 metadata), so the next push finds it in the registry by digest
 * instead of compressing again.
 */
import { crc32, deflateRaw, constants as zlibConstants } from 'node:zlib';
import { promises as fsp } from 'node:fs';
import { PassThrough, Readable, pipeline } from 'node:stream';
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
 * A tar stream gzip-compressed as it is read, pigz-style: the input is cut into pieces of
 * ~PIECE bytes, each deflated on its own in zlib's thread pool, several at once, and the pieces
 * are joined in order into one gzip member (each ends on a sync flush, so they concatenate). That
 * uses every core even for one layer. A piece gathers as many input chunks as it takes, and only
 * a piece that is deflated is copied into one Buffer.
 *
 * Data that does not shrink (already compressed, random) is sent as stored blocks, which refer to
 * the input's bytes without copying them: after a piece failed to shrink, the pieces that follow
 * are stored without trying for a span that doubles (up to MAX_STORE_SPAN) while tries keep
 * failing, and a try is first made on a SAMPLE-byte slice of the piece. Once a piece shrinks,
 * pieces are deflated without sampling.
 */
export function gzipStream(source: Readable): Readable {
  return Readable.from(gzipPieces(unpooled(source)), { objectMode: false, highWaterMark: 1 << 20 });
}

/**
 * A file gzip-compressed as gzipStream does, read a piece at a time into Buffers that are filled
 * again once nothing refers to their bytes: once deflated, or once their stored blocks were sent
 * (transport's releaseWhenSent). What a push of a plain layer reads. Fresh Buffers for every read
 * cost the daemon's main thread more than the rest of a push but hashing: 1 MB ones are mapped
 * anew by malloc and zero-filled a page at a time, and smaller ones take a trip through the
 * thread pool each (a 210 MB push: ~230 ms of reads in 120 KB pieces, plus their collection).
 */
export function gzipFile(file: string, onRead?: (bytesRead: number) => void): Readable {
  return Readable.from(gzipPieces(pooledRead(file, onRead)), { objectMode: false, highWaterMark: 1 << 20 });
}

/** Bytes of input, and what to call once nothing refers to them any more. */
interface Input {
  bytes: Buffer;
  release: () => void;
}

const noRelease = (): void => undefined;

/** A stream's chunks as inputs that need no release. */
async function* unpooled(source: Readable): AsyncGenerator<Input> {
  for await (const chunk of chunksOf(source)) {
    const bytes = chunk as Buffer;
    if (bytes.length > 0) yield { bytes, release: noRelease };
  }
}

/** Read Buffers a file's gzip keeps for reuse: the one being read, the pieces in flight, those being sent. */
const POOLED_READS = 6;

async function* pooledRead(file: string, onRead?: (bytesRead: number) => void): AsyncGenerator<Input> {
  // Buffers not given back (a request that failed) are left to the collector; a new one stands in.
  const free: Buffer[] = [];
  const fh = await fsp.open(file, 'r');
  try {
    for (let position = 0; ; ) {
      const buffer = free.pop() ?? Buffer.allocUnsafeSlow(PIECE);
      const { bytesRead } = await fh.read(buffer, 0, PIECE, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      onRead?.(position);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (free.length < POOLED_READS) free.push(buffer);
      };
      yield { bytes: buffer.subarray(0, bytesRead), release };
    }
  } finally {
    await fh.close();
  }
}

/** Input bytes deflated (or stored) as one piece. */
const PIECE = 1 << 20;
/** Pieces deflated at once per stream. */
const IN_FLIGHT = 3;
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

interface Piece {
  /** The inputs the piece is made of, in order. */
  parts: Input[];
  length: number;
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
  const settle = async (piece: Piece): Promise<Buffer[]> => {
    const out = await piece.deflated.catch((err: unknown) => {
      releaseAll(piece.parts);
      throw err;
    });
    if (out && shrinks(out.length, piece.length)) {
      shrinking = true;
      storeSpan = MIN_STORE_SPAN;
      releaseAll(piece.parts);
      return [out];
    }
    if (piece.tried) {
      // A try that failed: nothing more is tried for a while.
      shrinking = false;
      if (size >= storeUntil) {
        storeUntil = size + storeSpan;
        storeSpan = Math.min(storeSpan * 2, MAX_STORE_SPAN);
      }
    }
    return storedBlocks(piece.parts);
  };
  const makePiece = (parts: Input[], length: number): Piece => {
    const tried = size >= storeUntil;
    const bytes = parts.map((p) => p.bytes);
    let deflated: Promise<Buffer | undefined>;
    if (!tried) deflated = Promise.resolve(undefined);
    else if (shrinking) deflated = deflateChunk(joined(bytes, length));
    else deflated = tryDeflate(bytes, length);
    deflated.catch(() => undefined);
    size += length;
    return { parts, length, deflated, tried };
  };
  let parts: Input[] = [];
  let gathered = 0;
  for await (const input of inputs) {
    crc = crc32(input.bytes, crc);
    parts.push(input);
    gathered += input.bytes.length;
    if (gathered < PIECE) continue;
    queue.push(makePiece(parts, gathered));
    parts = [];
    gathered = 0;
    while (queue.length >= IN_FLIGHT) yield* await settle(queue.shift()!);
  }
  if (gathered > 0) queue.push(makePiece(parts, gathered));
  while (queue.length > 0) yield* await settle(queue.shift()!);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  yield Buffer.concat([FINAL_BLOCK, trailer]);
}

/**
 * The chunks of a byte stream one by one, as they were read. `for await` on the stream itself
 * calls read(), which joins whatever is buffered into one new Buffer: a copy of most of a layer,
 * in Buffers big enough for malloc to map each afresh.
 */
function chunksOf(source: Readable): Readable {
  const chunks = new PassThrough({ readableObjectMode: true, writableHighWaterMark: PIECE });
  pipeline(source, chunks, () => undefined);
  return chunks;
}

function shrinks(outLength: number, inLength: number): boolean {
  return outLength < inLength * (1 - MIN_SAVING);
}

/** The piece deflated if a slice of it shrinks, else undefined. */
async function tryDeflate(parts: Buffer[], length: number): Promise<Buffer | undefined> {
  if (length > 2 * SAMPLE) {
    const sample = await deflateChunk(bytesAt(parts, (length - SAMPLE) >> 1, SAMPLE));
    if (!shrinks(sample.length, SAMPLE)) return undefined;
  }
  return deflateChunk(joined(parts, length));
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

/** The parts as one Buffer: the only one when there is one, else a copy. */
function joined(parts: Buffer[], length: number): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
}

/** `length` bytes from `offset` of the parts taken end to end: a view when one part holds them. */
function bytesAt(parts: Buffer[], offset: number, length: number): Buffer {
  const views: Buffer[] = [];
  let skip = offset;
  let left = length;
  for (const p of parts) {
    if (left === 0) break;
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    const view = p.subarray(skip, skip + left);
    views.push(view);
    left -= view.length;
    skip = 0;
  }
  return views.length === 1 ? views[0]! : Buffer.concat(views);
}

/**
 * The parts, taken end to end, as deflate stored blocks of at most MAX_STORED_BLOCK bytes, none
 * of them final: each block's 5-byte header, then views of the parts it spans. A part is
 * released once all its views were sent.
 */
function storedBlocks(parts: Input[]): Buffer[] {
  const out: Buffer[] = [];
  let blockLeft = 0;
  let total = 0;
  for (const p of parts) total += p.bytes.length;
  for (const p of parts) {
    const views: Buffer[] = [];
    for (let at = 0; at < p.bytes.length; ) {
      if (blockLeft === 0) {
        blockLeft = Math.min(MAX_STORED_BLOCK, total);
        total -= blockLeft;
        const header = Buffer.alloc(5);
        header.writeUInt16LE(blockLeft, 1);
        header.writeUInt16LE(~blockLeft & 0xffff, 3);
        out.push(header);
      }
      const n = Math.min(blockLeft, p.bytes.length - at);
      const view = p.bytes.subarray(at, at + n);
      views.push(view);
      out.push(view);
      at += n;
      blockLeft -= n;
    }
    if (p.release === noRelease) continue;
    let unsent = views.length;
    for (const v of views)
      releaseWhenSent(v, () => {
        if (--unsent === 0) p.release();
      });
  }
  return out;
}

function releaseAll(parts: Input[]): void {
  for (const p of parts) p.release();
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
