/**
 * Layer tar → overlayfs lower directory.
 *
 * Glossary
 * - **layer tar**: an OCI image layer, a tar archive, maybe gzip-compressed. Deletions in it are
 *   spelled as OCI whiteouts: `dir/.wh.NAME` deletes NAME from the layers below, and
 *   `dir/.wh..wh..opq` makes `dir` opaque (nothing below shows through it).
 * - **diffID**: `sha256:` of the UNCOMPRESSED tar stream, every byte including padding after the
 *   end-of-archive marker. The image config's `rootfs.diff_ids` lists these.
 * - **blob digest**: `sha256:` of the bytes as stored/transferred (compressed); the manifest's.
 * - **layer directory**: one layer unpacked into its own directory, stacked by the snapshotter as
 *   `mount -t overlay -o lowerdir=L3:L2:L1`. Whiteouts become overlayfs ones (see
 *   overlay-whiteout.ts): a char device 0/0 named NAME, xattr `trusted.overlay.opaque=y`.
 * - **upper directory**: the writable layer of an overlay mount; diff.ts turns it back into a
 *   layer tar. Mount with `redirect_dir=off,metacopy=off` so that it never depends on the lowers.
 *
 * Contract of `unpackLayer`
 * - `destDir` must be empty or absent (it is created). Everything written is tracked in memory,
 *   which is how entries are checked for safety without trusting what is on disk.
 * - A hostile layer cannot write outside `destDir`: names are resolved lexically and never handed
 *   to the kernel with `..`; a name that climbs above the layer is refused (a leading `/` is
 *   dropped, as Docker does); no entry is created beneath a symlink the layer planted; files are
 *   opened with O_NOFOLLOW|O_EXCL; a hardlink must name a non-directory this layer already
 *   created, and not a symlink that leads out of the layer. Refusals are `InvalidArgument`
 *   errors naming the entry.
 * - Entries may come in any order: missing parents are created 0755. A later entry replaces an
 *   earlier one of the same path (a directory over a directory only updates its metadata).
 *   Directory modes and times are applied last, so read-only directories still get their content.
 * - Xattrs from PAX `SCHILY.xattr.*` records are restored (binary-safe), except
 *   `trusted.overlay.*`, which only this module's whiteout conversion may set.
 * - On failure the partially written `destDir` is left for the caller to delete, and the input
 *   stream is destroyed.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import * as zlib from 'node:zlib';
import { TsError, failedPrecondition, invalidArgument, kindOf, messageOf } from '../../common/errors';
import { writevFully } from '../../common/fsutil';
import { ByteSource, TarFormatError, TarReader } from './tar-format';
import type { TarEntryType, TarHeader } from './tar-format';
import {
  AUFS_META_PREFIX,
  OPAQUE_MARKER,
  OPAQUE_XATTR,
  OVERLAY_XATTR_PREFIX,
  WHITEOUT_PREFIX,
  makeWhiteout,
  mknod,
  setXattrs,
} from './overlay-whiteout';

export type LayerCompression = 'none' | 'gzip' | 'zstd';

export interface UnpackOptions {
  /** How the layer is named in messages, e.g. its blob digest. Defaults to destDir. */
  layer?: string;
  /** Called once per archive entry, before it is applied (progress reporting). */
  onEntry?: (entry: { name: string; type: TarEntryType; size: number }) => void;
  signal?: AbortSignal;
  /** Whether to hash the compressed input too (`compressedDigest`); true by default. */
  compressedDigest?: boolean;
}

export interface UnpackResult {
  /** `sha256:` of the uncompressed tar. */
  diffId: string;
  /** Bytes of uncompressed tar. */
  size: number;
  compression: LayerCompression;
  /**
   * `sha256:` of the input as given, when it was compressed (otherwise it equals diffId), unless
   * the caller said it knows it (`compressedDigest: false`).
   */
  compressedDigest?: string;
  compressedSize?: number;
  entries: number;
}

/** Unpacks one layer (plain, gzip, or zstd where Node has it) into an empty directory. */
export async function unpackLayer(
  input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  destDir: string,
  opts: UnpackOptions = {},
): Promise<UnpackResult> {
  const label = opts.layer ?? destDir;
  const root = path.resolve(destDir);
  const { inheritsGroup } = await prepareEmptyDir(root, label);

  const decoded = await decompress(input as AsyncIterable<Uint8Array>, label, opts.compressedDigest ?? true);
  const tarHash = createHash('sha256');
  let size = 0;
  const src = new ByteSource(decoded.chunks, (chunk) => {
    tarHash.update(chunk);
    size += chunk.length;
  });
  const reader = new TarReader(src);
  const writer = new LayerWriter(root, label, !inheritsGroup);
  let entries = 0;
  let current: string | undefined;
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      const header = await reader.next();
      if (!header) break;
      current = header.name;
      entries++;
      opts.onEntry?.({ name: header.name, type: header.type, size: header.size });
      await writer.apply(header, () => reader.body());
    }
    current = undefined;
    await src.drain();
    await writer.finish();
  } catch (err) {
    await src.close().catch(() => undefined);
    await writer.abandon();
    throw describeFailure(err, label, current);
  }
  const result: UnpackResult = {
    diffId: `sha256:${tarHash.digest('hex')}`,
    size,
    compression: decoded.compression,
    entries,
  };
  if (decoded.compression !== 'none' && (opts.compressedDigest ?? true)) {
    result.compressedDigest = decoded.digest();
    result.compressedSize = decoded.size();
  }
  return result;
}

/** Creates or checks the target; tells whether new entries there get our own uid/gid. */
async function prepareEmptyDir(root: string, label: string): Promise<{ inheritsGroup: boolean }> {
  await fsp.mkdir(root, { recursive: true });
  const st = await fsp.lstat(root);
  if (!st.isDirectory()) throw failedPrecondition(`image store: layer ${label}: ${root} is not a directory`);
  const existing = await fsp.readdir(root);
  if (existing.length > 0) {
    throw failedPrecondition(`image store: layer ${label}: unpack target ${root} is not empty`);
  }
  return { inheritsGroup: (st.mode & 0o2000) !== 0 };
}

export function describeFailure(err: unknown, label: string, entry: string | undefined): Error {
  if (err instanceof TsError) return err;
  const where = entry === undefined ? '' : ` in entry ${JSON.stringify(entry)}`;
  if (err instanceof TarFormatError) {
    if (err.truncated) return invalidArgument(`image store: layer ${label}: layer truncated (unexpected end of data${where})`, err);
    return invalidArgument(`image store: layer ${label}: ${err.message}`, err);
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'Z_BUF_ERROR') {
    return invalidArgument(`image store: layer ${label}: layer truncated (unexpected end of compressed data${where})`, err);
  }
  if (code === 'Z_DATA_ERROR' || code === 'ZSTD_error_corruption_detected') {
    return invalidArgument(`image store: layer ${label}: corrupt compressed data: ${messageOf(err)}`, err);
  }
  if ((err as Error | undefined)?.name === 'AbortError') {
    return new TsError('Cancelled', `image store: layer ${label}: unpack cancelled`, { cause: err });
  }
  return new TsError(kindOf(err), `image store: layer ${label}: ${messageOf(err)}`, { cause: err });
}

// ---------------------------------------------------------------- decompression

export interface DecodedStream {
  chunks: AsyncIterable<Uint8Array>;
  compression: LayerCompression;
  digest: () => string;
  size: () => number;
}

const startsWith = (head: Buffer, magic: number[]): boolean =>
  head.length >= magic.length && magic.every((b, i) => head[i] === b);

type ZstdFactory = (opts: { chunkSize: number }) => NodeJS.ReadWriteStream;

/**
 * Bytes a decoder produces per trip through the thread pool; the tar reader hands the file
 * writes views of them. A pull's tap feeds the decoder pieces of the same size.
 */
const DECODED_CHUNK = 1 << 20;

/**
 * An input whose chunks may be handed back once nothing refers to their bytes any more, to be
 * filled again (the registry's tap of a download).
 */
export interface RecyclingSource extends AsyncIterable<Uint8Array> {
  recycle(chunk: Buffer): void;
}

function isRecycling(input: AsyncIterable<Uint8Array>): input is RecyclingSource {
  return typeof (input as Partial<RecyclingSource>).recycle === 'function';
}

/** The same object when it is a Buffer already: a recycled chunk is known by its identity. */
const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/**
 * Writes the chunks into the decoder, holding back while it is full. A chunk is recycled once the
 * decoder's write of it completed: zlib consumed all of it by then and keeps no reference. Like
 * pipeline(), a failing source destroys the decoder (its reader sees the error) and a decoder
 * that goes away (its reader stopped) closes the source.
 */
async function feed(source: AsyncGenerator<Buffer>, decoder: Duplex, recycle: ((chunk: Buffer) => void) | undefined): Promise<void> {
  try {
    for await (const chunk of source) {
      if (decoder.destroyed) return;
      const more = decoder.write(chunk, (err) => {
        if (!err) recycle?.(chunk);
      });
      if (!more) await drainedOrClosed(decoder);
      if (decoder.destroyed) return;
    }
    if (!decoder.destroyed) decoder.end();
  } catch (err) {
    decoder.destroy(err as Error);
  }
}

function drainedOrClosed(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

export async function decompress(input: AsyncIterable<Uint8Array>, label: string, digestCompressed: boolean): Promise<DecodedStream> {
  const iterator = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  while (headLength < 6) {
    const r = await iterator.next();
    if (r.done) break;
    const chunk = asBuffer(r.value);
    head.push(chunk);
    headLength += chunk.length;
  }
  // Only the first bytes are joined: the first chunk alone may be a megabyte.
  const magic = Buffer.concat(head, Math.min(headLength, 6));
  const hash = createHash('sha256');
  let size = 0;
  // A plain tar's digest is its diffID, which the tar reader computes already.
  let hashRaw = digestCompressed;
  async function* raw(): AsyncGenerator<Buffer> {
    try {
      for (const chunk of head) {
        if (hashRaw) hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
      for (;;) {
        const r = await iterator.next();
        if (r.done) return;
        const chunk = asBuffer(r.value);
        if (hashRaw) hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    } finally {
      await iterator.return?.();
    }
  }
  const result = (chunks: AsyncIterable<Uint8Array>, compression: LayerCompression): DecodedStream => ({
    chunks,
    compression,
    digest: () => `sha256:${hash.digest('hex')}`,
    size: () => size,
  });
  const through = (decoder: NodeJS.ReadWriteStream, compression: LayerCompression): DecodedStream => {
    const recycle = isRecycling(input) ? (chunk: Buffer) => input.recycle(chunk) : undefined;
    void feed(raw(), decoder as Duplex, recycle);
    return result(decoder as unknown as AsyncIterable<Uint8Array>, compression);
  };

  if (startsWith(magic, [0x1f, 0x8b])) return through(zlib.createGunzip({ chunkSize: DECODED_CHUNK }), 'gzip');
  if (startsWith(magic, [0x28, 0xb5, 0x2f, 0xfd])) {
    const createZstd = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;
    if (!createZstd) {
      await iterator.return?.();
      throw invalidArgument(
        `image store: layer ${label}: zstd-compressed layers need Node.js 22.15 or later; this is ${process.version}`,
      );
    }
    return through(createZstd({ chunkSize: DECODED_CHUNK }), 'zstd');
  }
  if (startsWith(magic, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) || startsWith(magic, [0x42, 0x5a, 0x68])) {
    await iterator.return?.();
    throw invalidArgument(`image store: layer ${label}: xz and bzip2 layers are not supported (only gzip, zstd or plain tar)`);
  }
  hashRaw = false;
  return result(raw(), 'none');
}

// ---------------------------------------------------------------- applying entries

type NodeKind = 'dir' | 'file' | 'symlink' | 'device' | 'whiteout';

/** Splits a tar name into clean components; null when `..` climbs above the layer root. */
function normalizeName(name: string): string | null {
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(c);
  }
  return parts.join('/');
}

const parentOf = (rel: string): string => {
  const i = rel.lastIndexOf('/');
  return i === -1 ? '' : rel.slice(0, i);
};

const baseOf = (rel: string): string => rel.slice(rel.lastIndexOf('/') + 1);

/**
 * Runs file creation and finalisation behind the stream, so that the archive is read while the
 * thread pool writes. `add` resolves once the task is started, with `done`, a promise of its end (which
 * never rejects: the first failure is thrown by the next `add` or by `settle`).
 */
class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(private readonly limit: number) {}

  async add(task: () => Promise<void>): Promise<{ done: Promise<void> }> {
    this.rethrow();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p: Promise<void> = task()
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .then(() => {
        this.running.delete(p);
      });
    this.running.add(p);
    return { done: p };
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async settle(): Promise<void> {
    await Promise.all(this.running);
    this.rethrow();
  }

  async abandon(): Promise<void> {
    await Promise.allSettled(this.running);
  }
}

/** Files up to this size are created off the stream's critical path. */
const SMALL_FILE = 256 * 1024;
const FILE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/** Bytes of a large file gathered into one write. */
const FILE_WRITE_BATCH = 1 << 20;

/**
 * Writes a file's body in batches of ~FILE_WRITE_BATCH, each one written while the next is read:
 * the write of one batch (in the thread pool) overlaps the decompression of the next, and a trip
 * through the thread pool per 256 KB chunk would cost more than the copy it makes.
 */
async function writeBody(fh: FileHandle, body: AsyncIterable<Buffer>): Promise<void> {
  let position = 0;
  let batch: Buffer[] = [];
  let batched = 0;
  let inFlight: Promise<void> = Promise.resolve();
  try {
    for await (const chunk of body) {
      batch.push(chunk);
      batched += chunk.length;
      if (batched < FILE_WRITE_BATCH) continue;
      await inFlight;
      inFlight = writevFully(fh, batch, position);
      // Its failure is awaited below; until then it must not count as unhandled.
      inFlight.catch(() => undefined);
      position += batched;
      batch = [];
      batched = 0;
    }
  } finally {
    // A failed read still waits for the write it started: the caller closes the file next.
    await inFlight.catch(() => undefined);
  }
  await inFlight;
  if (batched > 0) await writevFully(fh, batch, position);
}

/** The state of one layer being written: what exists, and what must be done at the end. */
class LayerWriter {
  private readonly nodes = new Map<string, NodeKind>();
  private readonly symlinkTargets = new Map<string, string>();
  private readonly dirMeta = new Map<string, { mode: number; mtime: number }>();
  private readonly xattrs = new Map<string, Map<string, Buffer>>();
  private readonly opaqueDirs = new Set<string>();
  private readonly background = new BackgroundTasks(64);
  /** Paths whose creation is still running in the background. */
  private readonly pendingPaths = new Map<string, Promise<void>>();
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  /** A whiteout of this layer to hard-link new ones to, saving a mknod process each. */
  private whiteoutSource: string | undefined;
  /** The parent directory last proven to be a real directory of this layer. */
  private verifiedParent: string | undefined;

  constructor(
    private readonly root: string,
    private readonly label: string,
    /** False when a setgid target makes new entries inherit its group instead of ours. */
    private readonly freshEntriesAreOurs: boolean,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  private refuse(entry: string, reason: string): TsError {
    return invalidArgument(`image store: layer ${this.label}: entry ${JSON.stringify(entry)} ${reason}`);
  }

  async apply(h: TarHeader, body: () => AsyncIterable<Buffer>): Promise<void> {
    try {
      await this.applyEntry(h, body);
    } catch (err) {
      if (err instanceof TsError || err instanceof TarFormatError) throw err;
      const code: unknown = (err as NodeJS.ErrnoException | undefined)?.code;
      if (typeof code === 'string' && code.startsWith('Z_')) throw err; // the stream's failure, not the entry's
      throw new TsError(kindOf(err), `image store: layer ${this.label}: entry ${JSON.stringify(h.name)}: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }

  private async applyEntry(h: TarHeader, body: () => AsyncIterable<Buffer>): Promise<void> {
    const rel = normalizeName(h.name);
    if (rel === null) throw this.refuse(h.name, 'escapes the layer directory');
    const base = baseOf(rel);

    // AUFS bookkeeping at the top (`.wh..wh.plnk/…`, `.wh..wh.aufs`) is no content; Docker skips it too.
    if (rel.startsWith(AUFS_META_PREFIX) && rel !== OPAQUE_MARKER) return;
    if (base.startsWith(WHITEOUT_PREFIX)) return this.applyWhiteout(h.name, rel, base);

    if (rel === '') {
      // The layer root is the mount's business, not the layer's (Docker skips it too).
      if (h.type !== 'directory') throw this.refuse(h.name, 'replaces the layer root with a non-directory');
      return;
    }

    await this.ensureParentDirs(h.name, rel);
    const existing = this.nodes.get(rel);
    if (existing === 'dir' && h.type === 'directory') {
      await fsp.lchown(this.abs(rel), h.uid, h.gid);
      this.dirMeta.set(rel, { mode: h.mode, mtime: h.mtime });
      this.recordXattrs(rel, h.xattrs);
      return;
    }
    // A hardlink is validated before anything is removed, its target might be what goes.
    const linkTarget = h.type === 'hardlink' ? this.checkHardlink(h, rel) : undefined;
    if (existing) await this.remove(rel, existing);

    const abs = this.abs(rel);
    switch (h.type) {
      case 'directory':
        await fsp.mkdir(abs, 0o700);
        if (!this.ownedByUs(h)) await fsp.lchown(abs, h.uid, h.gid);
        this.nodes.set(rel, 'dir');
        this.dirMeta.set(rel, { mode: h.mode, mtime: h.mtime });
        break;
      case 'file':
        await this.writeFile(h, rel, body);
        this.nodes.set(rel, 'file');
        break;
      case 'symlink':
        if (h.linkname === '') throw this.refuse(h.name, 'is a symlink with an empty target');
        await fsp.symlink(h.linkname, abs);
        this.nodes.set(rel, 'symlink');
        this.symlinkTargets.set(rel, h.linkname);
        await Promise.all([fsp.lchown(abs, h.uid, h.gid), fsp.lutimes(abs, h.mtime, h.mtime)]);
        break;
      case 'hardlink': {
        const target = linkTarget!;
        const kind = this.nodes.get(target);
        if (!kind) throw this.refuse(h.name, `is a hardlink to ${JSON.stringify(h.linkname)}, which this entry replaced`);
        await this.settlePath(target);
        await fsp.link(this.abs(target), abs);
        this.nodes.set(rel, kind);
        const symlinkTarget = this.symlinkTargets.get(target);
        if (symlinkTarget !== undefined) this.symlinkTargets.set(rel, symlinkTarget);
        // Metadata and xattrs belong to the shared inode, which its first entry already set.
        return;
      }
      case 'char':
      case 'block':
      case 'fifo':
        await mknod(abs, h.type, h.devmajor, h.devminor);
        this.nodes.set(rel, 'device');
        await fsp.lchown(abs, h.uid, h.gid);
        // The node was just made by us beneath verified directories: chmod cannot be redirected.
        await Promise.all([fsp.chmod(abs, h.mode), fsp.lutimes(abs, h.mtime, h.mtime)]);
        break;
    }
    this.recordXattrs(rel, h.xattrs);
  }

  private async writeFile(h: TarHeader, rel: string, body: () => AsyncIterable<Buffer>): Promise<void> {
    const abs = this.abs(rel);
    const fail = (err: unknown): TsError =>
      err instanceof TsError
        ? err
        : new TsError(kindOf(err), `image store: layer ${this.label}: entry ${JSON.stringify(h.name)}: ${messageOf(err)}`, {
            cause: err,
          });
    const finalize = async (fh: FileHandle): Promise<void> => {
      try {
        // chown clears setuid/setgid, so the mode goes on after it.
        const owned = this.ownedByUs(h) ? Promise.resolve() : fh.chown(h.uid, h.gid);
        await Promise.all([owned.then(() => fh.chmod(h.mode)), fh.utimes(h.mtime, h.mtime)]);
      } catch (err) {
        throw fail(err);
      } finally {
        await fh.close();
      }
    };

    if (h.size <= SMALL_FILE) {
      // Small files are copied out of the stream and created entirely in the background; the
      // path stays pending until then, so that entries touching it wait (see settlePath).
      const parts: Buffer[] = [];
      for await (const chunk of body()) parts.push(chunk);
      const content = Buffer.concat(parts, h.size);
      const { done } = await this.background.add(async () => {
        let fh: FileHandle;
        try {
          fh = await fsp.open(abs, FILE_FLAGS, 0o600);
        } catch (err) {
          throw fail(err);
        }
        try {
          if (content.length > 0) await writevFully(fh, [content]);
        } catch (err) {
          await fh.close().catch(() => undefined);
          throw fail(err);
        }
        await finalize(fh);
      });
      this.pendingPaths.set(rel, done);
      void done.then(() => {
        if (this.pendingPaths.get(rel) === done) this.pendingPaths.delete(rel);
      });
      return;
    }

    const fh = await fsp.open(abs, FILE_FLAGS, 0o600);
    try {
      await writeBody(fh, body());
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    await this.background.add(() => finalize(fh));
  }

  /** Fresh files and directories already carry our uid/gid (no directory is setgid until the end). */
  private ownedByUs(h: Pick<TarHeader, 'uid' | 'gid'>): boolean {
    return this.freshEntriesAreOurs && h.uid === this.euid && h.gid === this.egid;
  }

  /** Waits until a background creation of rel, if any, is done. */
  private async settlePath(rel: string): Promise<void> {
    const pending = this.pendingPaths.get(rel);
    if (pending) await pending;
  }

  private async applyWhiteout(entry: string, rel: string, base: string): Promise<void> {
    const parent = parentOf(rel);
    if (base === OPAQUE_MARKER) {
      await this.ensureDirPath(entry, parent);
      this.opaqueDirs.add(parent);
      return;
    }
    if (base.startsWith(AUFS_META_PREFIX)) return;
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') throw this.refuse(entry, 'is a whiteout without a name');
    const target = parent === '' ? hidden : `${parent}/${hidden}`;
    await this.ensureParentDirs(entry, target);
    // A whiteout only hides lower layers; what this layer itself has at that path stays.
    if (this.nodes.has(target)) return;
    const abs = this.abs(target);
    if (this.whiteoutSource !== undefined) {
      try {
        await fsp.link(this.abs(this.whiteoutSource), abs);
        this.nodes.set(target, 'whiteout');
        return;
      } catch {
        this.whiteoutSource = undefined;
      }
    }
    await makeWhiteout(abs);
    this.nodes.set(target, 'whiteout');
    this.whiteoutSource = target;
  }

  /** Every directory above rel exists as a real directory of this layer (created 0755 if missing). */
  private async ensureParentDirs(entry: string, rel: string): Promise<void> {
    const parent = parentOf(rel);
    if (parent === '' || parent === this.verifiedParent) return;
    await this.ensureDirPath(entry, parent);
    this.verifiedParent = parent;
  }

  private async ensureDirPath(entry: string, dir: string): Promise<void> {
    if (dir === '') return;
    let prefix = '';
    for (const component of dir.split('/')) {
      prefix = prefix === '' ? component : `${prefix}/${component}`;
      const kind = this.nodes.get(prefix);
      if (kind === 'dir') continue;
      if (kind === 'symlink') {
        throw this.refuse(entry, `would be written through the symlink ${JSON.stringify(prefix)} planted by this layer`);
      }
      if (kind !== undefined) throw this.refuse(entry, `has a parent ${JSON.stringify(prefix)} that is not a directory`);
      const abs = this.abs(prefix);
      await fsp.mkdir(abs, 0o755);
      this.nodes.set(prefix, 'dir');
      // Implied directories belong to root, as in Docker, and carry no inherited setgid bit.
      if (!this.ownedByUs({ uid: 0, gid: 0 })) await fsp.lchown(abs, 0, 0);
      if (!this.freshEntriesAreOurs) await fsp.chmod(abs, 0o755);
    }
  }

  /** The normalised target of a hardlink entry, if it is safe to link to. */
  private checkHardlink(h: TarHeader, rel: string): string {
    const target = normalizeName(h.linkname);
    const what = `is a hardlink to ${JSON.stringify(h.linkname)}`;
    if (target === null) throw this.refuse(h.name, `${what}, which escapes the layer directory`);
    if (target === '' || target === rel || target.startsWith(`${rel}/`)) throw this.refuse(h.name, `${what}, which is itself or its content`);
    const kind = this.nodes.get(target);
    if (kind === undefined) throw this.refuse(h.name, `${what}, which does not exist in this layer`);
    if (kind === 'dir') throw this.refuse(h.name, `${what}, which is a directory`);
    if (kind === 'symlink' && this.symlinkLeavesLayer(target)) {
      throw this.refuse(h.name, `${what}, a symlink pointing outside the layer`);
    }
    return target;
  }

  /** Whether following the symlink at rel from the host would leave the layer directory. */
  private symlinkLeavesLayer(rel: string): boolean {
    const resolved = parentOf(rel) === '' ? [] : parentOf(rel).split('/');
    const first = this.symlinkTargets.get(rel)!;
    if (first.startsWith('/')) return true;
    let queue = first.split('/');
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (resolved.length === 0) return true;
        resolved.pop();
        continue;
      }
      resolved.push(c);
      const p = resolved.join('/');
      if (this.nodes.get(p) !== 'symlink') continue;
      const t = this.symlinkTargets.get(p)!;
      if (t.startsWith('/') || ++hops > 40) return true;
      resolved.pop();
      queue = [...t.split('/'), ...queue];
    }
    return false;
  }

  private recordXattrs(rel: string, xattrs: Map<string, Buffer>): void {
    if (xattrs.size === 0) return;
    const kept = new Map([...xattrs].filter(([name]) => !name.startsWith(OVERLAY_XATTR_PREFIX)));
    if (kept.size > 0) this.xattrs.set(rel, kept);
  }

  private async remove(rel: string, kind: NodeKind): Promise<void> {
    this.verifiedParent = undefined;
    const abs = this.abs(rel);
    if (kind === 'dir') {
      // Files below may still be being created.
      await this.background.settle();
      await fsp.rm(abs, { recursive: true, force: true });
      const inside = `${rel}/`;
      for (const map of [this.nodes, this.symlinkTargets, this.dirMeta, this.xattrs]) {
        for (const key of map.keys()) if (key.startsWith(inside)) map.delete(key);
      }
      for (const key of this.opaqueDirs) if (key === rel || key.startsWith(inside)) this.opaqueDirs.delete(key);
      if (this.whiteoutSource?.startsWith(inside)) this.whiteoutSource = undefined;
    } else {
      await this.settlePath(rel);
      await fsp.unlink(abs);
    }
    this.nodes.delete(rel);
    this.symlinkTargets.delete(rel);
    this.dirMeta.delete(rel);
    this.xattrs.delete(rel);
    if (this.whiteoutSource === rel) this.whiteoutSource = undefined;
  }

  async finish(): Promise<void> {
    await this.background.settle();
    const assignments = [...this.xattrs].map(([rel, xattrs]) => ({ path: this.abs(rel), xattrs }));
    for (const dir of this.opaqueDirs) {
      if (dir === '' || this.nodes.get(dir) === 'dir') {
        assignments.push({ path: this.abs(dir), xattrs: new Map([[OPAQUE_XATTR, Buffer.from('y')]]) });
      }
    }
    try {
      await setXattrs(assignments);
    } catch (err) {
      throw new TsError('Internal', `image store: layer ${this.label}: setting xattrs: ${messageOf(err)}`, { cause: err });
    }
    // Deepest first; a directory's mode and times are independent of its siblings'.
    const dirs = [...this.dirMeta].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (let i = 0; i < dirs.length; i += 64) {
      await Promise.all(
        dirs.slice(i, i + 64).map(async ([rel, meta]) => {
          const abs = this.abs(rel);
          await fsp.chmod(abs, meta.mode);
          await fsp.utimes(abs, meta.mtime, meta.mtime);
        }),
      );
    }
  }

  async abandon(): Promise<void> {
    await this.background.abandon();
  }
}

function depth(rel: string): number {
  let n = 0;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}
