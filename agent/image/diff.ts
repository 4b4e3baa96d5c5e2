/**
 * Directory → layer tar: the inverse of unpack.ts.
 *
 * `diffDirectory` reads an overlayfs UPPER directory (a container's or build step's writable
 * layer) and writes the OCI layer it stands for: whiteout devices become `.wh.NAME` entries and
 * opaque directories get a `.wh..wh..opq` entry. `tarDirectory` archives a whole tree as it is
 * (export, image import). Both walk in byte order of names, depth first, and write only what the
 * tree holds (no uname/gname, no atime), so the same tree always yields the same bytes and diffID.
 *
 * An upper directory with `trusted.overlay.redirect` or `trusted.overlay.metacopy` depends on the
 * lower layers' content and is refused: the snapshotter mounts with redirect_dir=off,metacopy=off.
 * Sockets are skipped (tar cannot hold them); `security.selinux` labels are host-specific and left out.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { TsError, failedPrecondition, kindOf, messageOf } from '../../common/errors';
import { encodeHeader, endOfArchive, padding } from './tar-format';
import type { TarEntryType, TarHeader } from './tar-format';
import { OPAQUE_MARKER, OPAQUE_XATTR, OVERLAY_DEPENDENT_XATTRS, OVERLAY_XATTR_PREFIX, WHITEOUT_PREFIX, readXattrsRecursive } from './overlay-whiteout';

/** The OCI layer tar (uncompressed) for an overlayfs upper directory. */
export function diffDirectory(upperDir: string): Readable {
  return Readable.from(generateTar(upperDir, 'overlay-upper'), { objectMode: false, highWaterMark: 1 << 20 });
}

/** A tar of every file under rootDir (root itself excluded), device nodes kept as they are. */
export function tarDirectory(rootDir: string): Readable {
  return Readable.from(generateTar(rootDir, 'plain'), { objectMode: false, highWaterMark: 1 << 20 });
}

export interface LayerBlob {
  /** `sha256:` of the uncompressed tar. */
  diffId: string;
  /** Uncompressed bytes. */
  size: number;
  /** `sha256:` of what was written to `out` (equals diffId when not compressed). */
  digest: string;
  /** Bytes written to `out`. */
  blobSize: number;
  compression: 'none' | 'gzip';
}

/** Writes a layer tar to out, gzip-compressed if asked, and reports both digests. */
export async function writeLayer(
  tar: AsyncIterable<Uint8Array> | Readable,
  out: Writable,
  opts: { compression?: 'none' | 'gzip'; gzipLevel?: number } = {},
): Promise<LayerBlob> {
  const compression = opts.compression ?? 'none';
  const diffHash = createHash('sha256');
  let size = 0;
  const blobHash = createHash('sha256');
  let blobSize = 0;
  const tapUncompressed = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      diffHash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const source = tar instanceof Readable ? tar : Readable.from(tar, { objectMode: false });
  if (compression === 'gzip') {
    const tapCompressed = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        blobHash.update(chunk);
        blobSize += chunk.length;
        cb(null, chunk);
      },
    });
    const gzip = zlib.createGzip({ level: opts.gzipLevel ?? zlib.constants.Z_DEFAULT_COMPRESSION });
    await pipeline(source, tapUncompressed, gzip, tapCompressed, out);
    return { diffId: `sha256:${diffHash.digest('hex')}`, size, digest: `sha256:${blobHash.digest('hex')}`, blobSize, compression };
  }
  await pipeline(source, tapUncompressed, out);
  const diffId = `sha256:${diffHash.digest('hex')}`;
  return { diffId, size, digest: diffId, blobSize: size, compression };
}

// ---------------------------------------------------------------- walking

type Mode = 'overlay-upper' | 'plain';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const READ_CHUNK = 1 << 20;
const READ_AHEAD_FILES = 16;
const READ_AHEAD_MAX_SIZE = 256 * 1024;

interface WalkState {
  root: string;
  mode: Mode;
  xattrs: Map<string, Map<string, Buffer>>;
  /** dev:ino → the first path written for a multiply-linked file. */
  links: Map<string, string>;
  /** The root's device: a directory on another one is a mount point, maybe of a kernel fs. */
  rootDev: number;
}

/**
 * statfs(2) magic numbers of the file systems the kernel fills (proc, sysfs, cgroup v1 and v2,
 * devpts, mqueue): a running container's root, reached through /proc/<pid>/root, has them
 * mounted, and their content is no file of the container's. Their mount point is kept, empty.
 */
const KERNEL_FILE_SYSTEMS = new Set([0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x1cd1, 0x19800202]);

async function onKernelFileSystem(abs: string): Promise<boolean> {
  const fs = await fsp.statfs(abs).catch(() => undefined);
  return fs !== undefined && KERNEL_FILE_SYSTEMS.has(fs.type);
}

async function* generateTar(rootDir: string, mode: Mode): AsyncGenerator<Buffer> {
  const root = rootDir.replace(/\/+$/, '') || '/';
  try {
    // The root may be a link to a directory (/proc/<pid>/root of a running container); what is
    // below it is read without following links.
    const st = await fsp.stat(root);
    if (!st.isDirectory()) throw failedPrecondition(`image store: diff ${root}: not a directory`);
    const state: WalkState = { root, mode, xattrs: await readXattrsRecursive(root), links: new Map(), rootDev: st.dev };
    yield* walk(state, '');
    yield endOfArchive();
  } catch (err) {
    if (err instanceof TsError) throw err;
    throw new TsError(kindOf(err), `image store: diff ${root}: ${messageOf(err)}`, { cause: err });
  }
}

function decodeName(raw: Buffer, where: string): string {
  try {
    return utf8Strict.decode(raw);
  } catch {
    throw failedPrecondition(`image store: diff: ${where}: name ${JSON.stringify(raw.toString('latin1'))} is not valid UTF-8`);
  }
}

async function* walk(state: WalkState, relDir: string): AsyncGenerator<Buffer> {
  const absDir = relDir === '' ? state.root : `${state.root}/${relDir}`;
  const raw = await fsp.readdir(absDir, { encoding: 'buffer' });
  raw.sort(Buffer.compare);
  const names = raw.map((n) => decodeName(n, absDir));
  const stats = await Promise.all(names.map((n) => fsp.lstat(`${absDir}/${n}`)));
  // Small files ahead are read while earlier entries are being consumed: per-file latency, not
  // bandwidth, is what bounds a tree of many small files.
  const ahead = new Map<number, Promise<Buffer>>();
  let scheduled = 0;
  for (let i = 0; i < names.length; i++) {
    for (; scheduled < names.length && scheduled <= i + READ_AHEAD_FILES; scheduled++) {
      const st = stats[scheduled]!;
      if (!st.isFile() || st.size > READ_AHEAD_MAX_SIZE) continue;
      const read = readWhole(`${absDir}/${names[scheduled]!}`, st);
      read.catch(() => undefined); // awaited (and reported) when its turn comes
      ahead.set(scheduled, read);
    }
    const rel = relDir === '' ? names[i]! : `${relDir}/${names[i]!}`;
    const st = stats[i]!;
    const content = ahead.get(i);
    ahead.delete(i);
    yield* entry(state, rel, st, content);
    if (st.isDirectory() && !(st.dev !== state.rootDev && (await onKernelFileSystem(`${absDir}/${names[i]!}`)))) yield* walk(state, rel);
  }
}

class ChangedWhileReading extends Error {}

/** A small file's content, which must still be what lstat saw. */
async function readWhole(abs: string, st: Stats): Promise<Buffer> {
  const fh = await fsp.open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(buf, off, st.size - off, null);
      if (bytesRead === 0) throw new ChangedWhileReading();
      off += bytesRead;
    }
    const after = await fh.stat();
    if (after.size !== st.size || after.ino !== st.ino) throw new ChangedWhileReading();
    return buf;
  } finally {
    await fh.close();
  }
}

/** Linux dev_t as tar's major/minor numbers (glibc's encoding). */
export function splitDev(rdev: number): { devmajor: number; devminor: number } {
  const lo = rdev % 2 ** 32;
  const hi = Math.floor(rdev / 2 ** 32);
  return {
    devmajor: ((lo >>> 8) & 0xfff) | ((hi & ~0xfff) >>> 0),
    devminor: (lo & 0xff) | ((lo >>> 12) & 0xfff00),
  };
}

/** The tar entry type of a file, or undefined for sockets and the like. */
export function typeOf(st: Stats): TarEntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

function keptXattrs(state: WalkState, rel: string): Map<string, Buffer> {
  const all = state.xattrs.get(rel);
  const kept = new Map<string, Buffer>();
  if (!all) return kept;
  for (const [name, value] of all) {
    if (state.mode === 'overlay-upper' && OVERLAY_DEPENDENT_XATTRS.includes(name)) {
      throw failedPrecondition(
        `image store: diff ${state.root}: ${JSON.stringify(rel)} has ${name}; mount overlays with redirect_dir=off,metacopy=off`,
      );
    }
    if (name.startsWith(OVERLAY_XATTR_PREFIX) || name === 'security.selinux') continue;
    kept.set(name, value);
  }
  return kept;
}

async function* entry(state: WalkState, rel: string, st: Stats, content?: Promise<Buffer>): AsyncGenerator<Buffer> {
  const type = typeOf(st);
  if (!type) return; // sockets
  const base: TarHeader = {
    name: rel,
    type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
  };

  if (state.mode === 'overlay-upper' && type === 'char' && st.rdev === 0) {
    const slash = rel.lastIndexOf('/');
    const name = `${rel.slice(0, slash + 1)}${WHITEOUT_PREFIX}${rel.slice(slash + 1)}`;
    yield encodeHeader({ ...base, name, type: 'file', mode: 0o600 });
    return;
  }

  base.xattrs = keptXattrs(state, rel);
  switch (type) {
    case 'directory': {
      yield encodeHeader(base);
      const opaque = state.mode === 'overlay-upper' && state.xattrs.get(rel)?.get(OPAQUE_XATTR)?.toString() === 'y';
      if (opaque) {
        yield encodeHeader({ ...base, name: `${rel}/${OPAQUE_MARKER}`, type: 'file', mode: base.mode & 0o777, xattrs: new Map() });
      }
      return;
    }
    case 'symlink': {
      const target = await fsp.readlink(`${state.root}/${rel}`, { encoding: 'buffer' });
      yield encodeHeader({ ...base, linkname: decodeName(target, rel) });
      return;
    }
    case 'char':
    case 'block':
      yield encodeHeader({ ...base, ...splitDev(st.rdev) });
      return;
    case 'fifo':
      yield encodeHeader(base);
      return;
    case 'file': {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = state.links.get(key);
        if (first !== undefined) {
          yield encodeHeader({ ...base, type: 'hardlink', linkname: first, xattrs: new Map() });
          return;
        }
        state.links.set(key, rel);
      }
      yield* fileEntry(state, { ...base, size: st.size }, st, content);
    }
  }
}

async function* fileEntry(state: WalkState, h: TarHeader, st: Stats, content?: Promise<Buffer>): AsyncGenerator<Buffer> {
  const changed = (): TsError => failedPrecondition(`image store: diff ${state.root}: ${JSON.stringify(h.name)} changed while being read`);
  const header = encodeHeader(h);
  const pad = padding(h.size);
  if (content) {
    try {
      yield Buffer.concat([header, await content, Buffer.alloc(pad)]);
    } catch (err) {
      throw err instanceof ChangedWhileReading ? changed() : err;
    }
    return;
  }
  const fh = await fsp.open(`${state.root}/${h.name}`, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    yield header;
    let left = h.size;
    while (left > 0) {
      const chunk = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
      let filled = 0;
      while (filled < chunk.length) {
        const { bytesRead } = await fh.read(chunk, filled, chunk.length - filled, null);
        if (bytesRead === 0) throw changed();
        filled += bytesRead;
      }
      left -= chunk.length;
      yield chunk;
    }
    if (pad > 0) yield Buffer.alloc(pad);
    const after = await fh.stat();
    if (after.size !== st.size || after.ino !== st.ino) throw changed();
  } finally {
    await fh.close();
  }
}
