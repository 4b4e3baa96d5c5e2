/**
 * A build context as it arrives from the client: a tar (plain or compressed), indexed as it
 * streams in (each entry's metadata, each file's sha256) and kept as received, in memory or, past
 * a budget, in a file of the build's scratch directory. It is unpacked to disk only when a step
 * needs its files (a COPY that missed the cache, a RUN bind mount): a fully cached rebuild never
 * writes, walks or re-reads the context. Nothing outlives the build: the bytes are dropped and the
 * scratch directory removed with it, as the unpacked context always was.
 *
 * The in-memory index is only trusted for archives whose unpacking is plain: regular files,
 * directories, symlinks and hard links to an earlier regular file, each once, each after its
 * parent directory, no whiteout names, no name leaving the root. What the client sends is always
 * such an archive; anything else (a `tar` piped to `build -` with devices, implicit parents…) is
 * unpacked at once and walked on disk, as before, so the index never differs from what the
 * unpacked tree would show. Files get made-up identities (`dev` 0, `ino` counting up), shared by
 * a file's hard links as inodes would be.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { AUFS_META_PREFIX, WHITEOUT_PREFIX } from '../../image/overlay-whiteout';
import { ByteSource, TarReader } from '../../image/tar-format';
import { decompress, describeFailure, unpackLayer } from '../../image/unpack';
import type { ContextEntry } from './walk';

/** Received bytes kept in memory up to this much per context; the rest goes to a scratch file. */
const MEMORY_BUDGET = 32 << 20;

/** A file's content the builder reads itself (Dockerfile, `.dockerignore`) is kept up to this size. */
const WANTED_MAX = 4 << 20;

export class ReceivedContext {
  /** Entries by path, in archive order; meaningful only when `plain`. */
  readonly entries = new Map<string, ContextEntry>();
  /** sha256 (hex) of each regular file's bytes. */
  readonly hashes = new Map<string, string>();
  /** Whether `entries` is exactly what unpacking would leave on disk (see the module comment). */
  plain = true;
  private readonly contents = new Map<string, Buffer>();
  private readonly stream = new PassThrough();
  private readonly parsed: Promise<void>;
  private raw: Buffer[] = [];
  private rawSize = 0;
  private spill: FileHandle | undefined;
  private spilled = false;
  private unpacked: Promise<void> | undefined;
  /** The last made-up inode number given to a file. */
  private lastIno = 0;

  /**
   * @param dir where the context is unpacked when needed (absent until then)
   * @param label how messages name it ("the build context")
   * @param wanted paths whose content the builder reads (Dockerfile, ignore files)
   */
  constructor(
    readonly dir: string,
    private readonly label: string,
    private readonly wanted: ReadonlySet<string>,
  ) {
    this.parsed = this.parse();
    // Failures surface from end(); until then they must not be unhandled.
    this.parsed.catch(() => undefined);
  }

  /** The scratch file that holds the bytes past the memory budget. */
  private get spillFile(): string {
    return `${this.dir}.tar`;
  }

  /** Takes the next received bytes (in order); resolves when they may be followed by more. */
  async write(data: Buffer): Promise<void> {
    if (this.spilled) {
      await this.writeSpill(data);
    } else {
      this.raw.push(data);
      this.rawSize += data.length;
      if (this.rawSize > MEMORY_BUDGET) {
        await fsp.mkdir(path.dirname(this.spillFile), { recursive: true });
        this.spill = await fsp.open(this.spillFile, 'wx', 0o600);
        this.spilled = true;
        const pending = this.raw;
        this.raw = [];
        for (const chunk of pending) await this.writeSpill(chunk);
      }
    }
    if (!this.stream.write(data)) await Promise.race([once(this.stream, 'drain'), this.parsed]);
  }

  private async writeSpill(chunk: Buffer): Promise<void> {
    const fh = this.spill as FileHandle;
    for (let done = 0; done < chunk.length; ) done += (await fh.write(chunk, done, chunk.length - done, null)).bytesWritten;
  }

  /** The end of the context's bytes; resolves once they are indexed. */
  async end(): Promise<void> {
    this.stream.end();
    try {
      await this.parsed;
    } finally {
      await this.spill?.close();
      this.spill = undefined;
    }
  }

  /** Stops receiving after a failure elsewhere. */
  destroy(): void {
    this.stream.destroy();
    void this.spill?.close().catch(() => undefined);
    this.spill = undefined;
  }

  /** A file's content when it is in `wanted`; undefined when the context has no such file. */
  read(rel: string): Buffer | undefined {
    return this.contents.get(rel);
  }

  /** Unpacks the context into `dir` (once); the received bytes are released then. */
  materialize(): Promise<void> {
    this.unpacked ??= (async () => {
      const source: AsyncIterable<Uint8Array> = this.spilled ? createReadStream(this.spillFile) : bufferedChunks(this.raw);
      await unpackLayer(source, this.dir, { layer: this.label, compressedDigest: false });
      this.raw = [];
      if (this.spilled) await fsp.rm(this.spillFile, { force: true });
    })();
    return this.unpacked;
  }

  /**
   * Reading a wanted file from disk follows symlinks on its way and fails on a directory: the
   * contents kept here answer only for a regular file (or none) reached without a symlink.
   */
  private wantedArePlainFiles(): boolean {
    for (const rel of this.wanted) {
      const parts = rel.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const entry = this.entries.get(parts.slice(0, i).join('/'));
        if (entry === undefined) break;
        if (i === parts.length ? entry.type !== 'file' : entry.type !== 'dir') return false;
      }
    }
    return true;
  }

  private async parse(): Promise<void> {
    const decoded = await decompress(this.stream, this.label, false);
    const src = new ByteSource(decoded.chunks, () => undefined);
    const reader = new TarReader(src);
    let current: string | undefined;
    try {
      for (;;) {
        const header = await reader.next();
        if (!header) break;
        current = header.name;
        if (!this.plain) continue;
        const rel = plainName(header.name);
        if (rel === undefined) {
          this.plain = false;
          continue;
        }
        // The archive's root: unpacking leaves the directory as it is.
        if (rel === '') {
          if (header.type !== 'directory') this.plain = false;
          continue;
        }
        const slash = rel.lastIndexOf('/');
        const parent = slash < 0 ? undefined : this.entries.get(rel.slice(0, slash));
        if (header.type === 'hardlink') {
          // Unpacking links the earlier file: same inode, so its metadata and content. A wanted
          // file's content is kept only from a regular file's body.
          const target = plainName(header.linkname);
          const of = target === undefined ? undefined : this.entries.get(target);
          if (of?.type !== 'file' || this.entries.has(rel) || (slash >= 0 && parent?.type !== 'dir') || this.wanted.has(rel)) {
            this.plain = false;
            continue;
          }
          this.entries.set(rel, { ...of, path: rel });
          this.hashes.set(rel, this.hashes.get(of.path) as string);
          continue;
        }
        const type = header.type === 'directory' ? 'dir' : header.type === 'file' || header.type === 'symlink' ? header.type : undefined;
        if (type === undefined || this.entries.has(rel) || (slash >= 0 && parent?.type !== 'dir') || (type === 'symlink' && header.linkname === '')) {
          this.plain = false;
          continue;
        }
        const entry: ContextEntry = {
          path: rel,
          type,
          // What lstat shows after unpacking: a symlink's own mode is always 0777 on Linux.
          mode: type === 'symlink' ? 0o777 : header.mode & 0o7777,
          size: type === 'file' ? header.size : 0,
          uid: header.uid,
          gid: header.gid,
          mtimeMs: header.mtime * 1000,
          dev: 0,
          ino: type === 'file' ? ++this.lastIno : 0,
        };
        if (type === 'symlink') entry.linkTarget = header.linkname;
        this.entries.set(rel, entry);
        if (type !== 'file') continue;
        const hash = createHash('sha256');
        const keep = this.wanted.has(rel) && header.size <= WANTED_MAX ? ([] as Buffer[]) : undefined;
        for await (const chunk of reader.body()) {
          hash.update(chunk);
          keep?.push(Buffer.from(chunk));
        }
        this.hashes.set(rel, hash.digest('hex'));
        if (keep) this.contents.set(rel, Buffer.concat(keep));
        else if (this.wanted.has(rel)) this.plain = false;
      }
      current = undefined;
      await src.drain();
      if (this.plain && !this.wantedArePlainFiles()) this.plain = false;
    } catch (err) {
      await src.close().catch(() => undefined);
      throw describeFailure(err, this.label, current);
    }
  }
}

/**
 * A tar name as a clean relative path, or undefined when unpacking would not simply create it
 * (it leaves the root, or is whiteout bookkeeping that unpacking turns into something else).
 */
function plainName(name: string): string | undefined {
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') return undefined;
    if (c.startsWith(WHITEOUT_PREFIX) || c.startsWith(AUFS_META_PREFIX)) return undefined;
    parts.push(c);
  }
  return parts.join('/');
}

async function* bufferedChunks(chunks: readonly Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}
