/**
 * The content store: immutable blobs addressed by their digest (`sha256:<hex>`), as containerd's.
 *
 * Vocabulary:
 * - **blob**: bytes whose name is their own sha256; a manifest, an image config or a layer.
 * - **descriptor**: what points at a blob (media type, digest, size), as in the OCI image spec.
 * - **ingest**: a blob being written. It has a caller-chosen `ref` (e.g. `pull-<digest>`), lives
 *   under `ingest/` until committed, and can be resumed after a crash or a dropped connection
 *   from its current offset. Only `commit` makes it visible, and only after its size and digest
 *   were verified, so a reader never sees a partial blob.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors';
import { fsyncDir, writevFully } from '../../common/fsutil';
import { STREAM_CHUNK } from '../../common/transient';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface ContentInfo {
  digest: string;
  size: number;
  /** ms since epoch */
  createdAt: number;
}

export interface ContentReader {
  info(digest: string): Promise<ContentInfo>;
  has(digest: string): Promise<boolean>;
  /** The blob's bytes from `start`, in chunks of `chunkSize` (STREAM_CHUNK by default: see there). */
  readStream(digest: string, start?: number, chunkSize?: number): Readable;
  readAll(digest: string): Promise<Buffer>;
  /** The blob's file, for callers that hand it to another process (e.g. a tar reader). */
  pathOf(digest: string): string;
}

export interface ContentWriter {
  readonly ref: string;
  /** Bytes already written, which is where a resumed download continues from. */
  readonly offset: number;
  /**
   * Appends bytes. They may be written out later, with others (on `commit` and `close` at the
   * latest): the caller must not modify `chunk` afterwards.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Verifies and publishes the blob; `expected` digest/size are checked when given. */
  commit(expected?: { digest?: string; size?: number }): Promise<ContentInfo>;
  /** Drops the ingest. */
  abort(): Promise<void>;
  /** Writes out what is pending and closes the file, keeping the ingest to be resumed by the same ref. */
  close(): Promise<void>;
}

export interface ContentStore extends ContentReader {
  /**
   * Opens (or resumes) the ingest named `ref`. One writer per ref at a time: a second one waits
   * until the first has closed (committed, aborted or closed), then resumes from all it wrote.
   */
  writer(ref: string): Promise<ContentWriter>;
  delete(digest: string): Promise<void>;
  list(): Promise<ContentInfo[]>;
  /** Removes ingests not touched for `olderThanMs`; called at start to clear crashed writes. */
  cleanIngests(olderThanMs: number): Promise<void>;
}

/** Bytes a writer gathers before writing them out. */
const WRITE_BATCH = 1 << 20;

/** Bytes a writer writes between two background syncs. */
const SYNC_AHEAD = 8 << 20;

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

export function parseDigest(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m || m[1] === undefined) throw invalidArgument(`content store: invalid digest "${digest}"`);
  return m[1];
}

export function sha256Of(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** The content store on the local filesystem: `blobs/sha256/<hex>` and `ingest/<ref-hash>/`. */
export class LocalContentStore implements ContentStore {
  /** Ingest key → settles when its writer has closed its file. */
  private readonly openWriters = new Map<string, Promise<void>>();
  /**
   * The last fsync any writer started. They run one at a time: an fsync holds a thread of the
   * pool until the disk has the data, and three layers syncing at once would leave the downloads
   * and unpacks still running with one thread to write and inflate.
   */
  private syncing: Promise<void> = Promise.resolve();

  private syncInTurn(sync: () => Promise<void>): Promise<void> {
    const turn = this.syncing.then(sync);
    this.syncing = turn.catch(() => undefined);
    return turn;
  }

  constructor(readonly root: string) {}

  async init(): Promise<void> {
    await fsp.mkdir(path.join(this.root, 'blobs', 'sha256'), { recursive: true });
    await fsp.mkdir(path.join(this.root, 'ingest'), { recursive: true });
  }

  pathOf(digest: string): string {
    return path.join(this.root, 'blobs', 'sha256', parseDigest(digest));
  }

  async info(digest: string): Promise<ContentInfo> {
    try {
      const st = await fsp.stat(this.pathOf(digest));
      return { digest, size: st.size, createdAt: st.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content store: blob ${digest} not found`);
      throw err;
    }
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fsp.access(this.pathOf(digest));
      return true;
    } catch {
      return false;
    }
  }

  readStream(digest: string, start = 0, chunkSize = STREAM_CHUNK): Readable {
    return createReadStream(this.pathOf(digest), { start, highWaterMark: chunkSize });
  }

  async readAll(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.pathOf(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content store: blob ${digest} not found`);
      throw err;
    }
  }

  async delete(digest: string): Promise<void> {
    await fsp.rm(this.pathOf(digest), { force: true });
  }

  async list(): Promise<ContentInfo[]> {
    const dir = path.join(this.root, 'blobs', 'sha256');
    const names = await fsp.readdir(dir);
    const out: ContentInfo[] = [];
    for (const hex of names) {
      if (!/^[a-f0-9]{64}$/.test(hex)) continue;
      const st = await fsp.stat(path.join(dir, hex));
      out.push({ digest: `sha256:${hex}`, size: st.size, createdAt: st.mtimeMs });
    }
    return out;
  }

  async cleanIngests(olderThanMs: number): Promise<void> {
    const dir = path.join(this.root, 'ingest');
    const now = Date.now();
    for (const name of await fsp.readdir(dir)) {
      const p = path.join(dir, name);
      const st = await fsp.stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs >= olderThanMs) await fsp.rm(p, { recursive: true, force: true });
    }
  }

  async writer(ref: string): Promise<ContentWriter> {
    const key = createHash('sha256').update(ref).digest('hex').slice(0, 32);
    // The writer before us (a cancelled download still writing out its last batch, say) must
    // have closed its file: we resume from its size and hash all of it.
    for (let previous = this.openWriters.get(key); previous; previous = this.openWriters.get(key)) await previous;
    let markClosed!: () => void;
    const closedSignal = new Promise<void>((resolve) => (markClosed = resolve));
    this.openWriters.set(key, closedSignal);
    const release = () => {
      if (this.openWriters.get(key) === closedSignal) this.openWriters.delete(key);
      markClosed();
    };
    const dir = path.join(this.root, 'ingest', key);
    const dataPath = path.join(dir, 'data');
    const hash = createHash('sha256');
    let offset = 0;
    let fh: fsp.FileHandle;
    try {
      await fsp.mkdir(dir, { recursive: true });
      // A resumed ingest re-hashes what is already there: the digest must cover every byte.
      try {
        const st = await fsp.stat(dataPath);
        if (st.size > 0) {
          await pipeline(createReadStream(dataPath), new HashSink(hash));
          offset = st.size;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      fh = await fsp.open(dataPath, 'a');
    } catch (err) {
      release();
      throw err;
    }
    const store = this;
    let closed = false;
    // Writes are gathered into ~WRITE_BATCH bytes and written with one writev: a stream of 64 KB
    // chunks would otherwise cost a syscall round trip through the thread pool each. One batch is
    // written while the next one gathers, so that the caller (a download) never waits on the disk
    // unless it is a whole batch ahead.
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    let writing: Promise<void> = Promise.resolve();
    // The commit's fsync would otherwise find the whole blob still to write out, on the pull's
    // critical path: every SYNC_AHEAD bytes the data written so far goes to disk in the
    // background, so that only the last stretch is left for the commit.
    let unsynced = 0;
    let syncingAhead: Promise<void> | undefined;
    // Linux reports a failed writeback to one fsync only: the commit must not miss it.
    let syncFailure: unknown;
    const writeOut = async (bufs: Uint8Array[], total: number) => {
      await writevFully(fh, bufs);
      unsynced += total;
      if (unsynced >= SYNC_AHEAD && !syncingAhead) {
        unsynced = 0;
        syncingAhead = store.syncInTurn(() => fh.datasync()).then(
          () => {
            syncingAhead = undefined;
          },
          (err: unknown) => {
            syncFailure ??= err;
            syncingAhead = undefined;
          },
        );
      }
    };
    /** Starts writing the gathered batch once the one before is written; its failure surfaces at the next flush or `settle`. */
    const flush = async () => {
      await writing;
      if (batchBytes === 0) return;
      writing = writeOut(batch, batchBytes);
      writing.catch(() => undefined);
      batch = [];
      batchBytes = 0;
    };
    /** Everything accepted so far is in the file. */
    const settle = async () => {
      await flush();
      await writing;
    };
    let released = false;
    const closeHandle = async () => {
      if (closed) return;
      closed = true;
      await syncingAhead;
      await fh.close();
    };
    // The next writer of this ref may start once the file is closed and, after a commit or an
    // abort, the ingest dir is gone: it would otherwise resume from a file about to move.
    const closeFile = async () => {
      if (released) return;
      try {
        await closeHandle();
      } finally {
        released = true;
        release();
      }
    };
    return {
      ref,
      get offset() {
        return offset;
      },
      async write(chunk: Uint8Array) {
        hash.update(chunk);
        offset += chunk.length;
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= WRITE_BATCH) await flush();
      },
      async commit(expected) {
        try {
          await settle();
          await store.syncInTurn(() => fh.sync());
          await closeHandle();
          if (syncFailure !== undefined) throw syncFailure;
          const digest = 'sha256:' + hash.digest('hex');
          if (expected?.size !== undefined && expected.size !== offset) {
            await fsp.rm(dir, { recursive: true, force: true });
            const what = expected.digest ?? digest;
            if (offset < expected.size)
              throw failedPrecondition(`content store: blob ${what} truncated: got ${offset} of ${expected.size} bytes`);
            throw failedPrecondition(`content store: blob ${what} is ${offset} bytes, expected ${expected.size}`);
          }
          if (expected?.digest !== undefined && expected.digest !== digest) {
            await fsp.rm(dir, { recursive: true, force: true });
            throw failedPrecondition(`content store: digest mismatch: expected ${expected.digest}, got ${digest}`);
          }
          const target = store.pathOf(digest);
          await fsp.rename(dataPath, target);
          await fsyncDir(path.dirname(target));
          await fsp.rm(dir, { recursive: true, force: true });
          return { digest, size: offset, createdAt: Date.now() };
        } finally {
          await closeFile();
        }
      },
      async abort() {
        batch = [];
        batchBytes = 0;
        try {
          await writing.catch(() => undefined);
          await closeHandle();
          await fsp.rm(dir, { recursive: true, force: true });
        } finally {
          await closeFile();
        }
      },
      async close() {
        try {
          await settle();
        } finally {
          await writing.catch(() => undefined);
          await closeFile();
        }
      },
    };
  }
}

class HashSink extends Writable {
  constructor(private readonly hash: Hash) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    cb();
  }
}

/** Writes a whole stream into the store as one blob, verified against `expected` when given. */
export async function writeBlob(
  store: ContentStore,
  ref: string,
  input: Readable,
  expected?: { digest?: string; size?: number },
): Promise<ContentInfo> {
  if (expected?.digest && (await store.has(expected.digest))) {
    input.resume();
    return store.info(expected.digest);
  }
  const w = await store.writer(ref);
  try {
    for await (const chunk of input) await w.write(chunk as Uint8Array);
    return await w.commit(expected);
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** Stores an in-memory blob (manifests, configs). */
export async function putBlob(store: ContentStore, data: Uint8Array | string): Promise<ContentInfo> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const digest = sha256Of(buf);
  if (await store.has(digest)) return store.info(digest);
  const w = await store.writer(`put-${digest}-${process.pid}-${Math.random()}`);
  try {
    await w.write(buf);
    return await w.commit({ digest, size: buf.length });
  } catch (err) {
    await w.abort();
    throw err;
  }
}
