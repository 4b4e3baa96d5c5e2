/**
 * The build cache: what each step produced, by cache key, kept in `<dataRoot>/build-cache/` so it
 * outlives the daemon. A key chains the parent step's key, the instruction text after
 * substitution and what else the step depends on (COPY sources' checksum, ARG values), so a
 * change anywhere invalidates that step and every step after it.
 *
 * A record remembers the step's layer (none for metadata steps and empty changes) and when the
 * step first ran: reusing that time keeps history and image ID identical on a fully cached build.
 * The layers it names are GC roots of the image service, so GC never takes them; a record whose
 * layer is gone anyway (a GC that ran before the cache registered) is simply a miss.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { JsonStateFile } from '../../../common/statefile';
import type { ImageService } from '../../image/service';
import type { CopySourceKind } from './config';

export interface CachedLayer {
  diffId: string;
  /** Bytes of the uncompressed layer tar (its blob in the content store). */
  size: number;
}

export interface CacheRecord {
  /** ISO time the step first ran. */
  created: string;
  layer?: CachedLayer;
  /** COPY/ADD: what the sources were (one file, a directory, several), for the history line. */
  copySource?: CopySourceKind;
  /** ms since epoch the record was last used, for pruning by age. */
  lastUsed: number;
}

interface CacheDocument {
  records: Record<string, CacheRecord>;
}

export function cacheKey(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part.length}:${part}\n`);
  return `sha256:${hash.digest('hex')}`;
}

const CACHE_FILE = 'cache.json';
const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000;

export class BuildCache {
  private readonly doc: JsonStateFile<CacheDocument>;
  private loaded?: Promise<unknown>;
  private readonly pending = new Map<string, CacheRecord>();

  constructor(
    readonly root: string,
    private readonly images: ImageService,
  ) {
    this.doc = new JsonStateFile<CacheDocument>(path.join(root, CACHE_FILE), () => ({ records: {} }));
  }

  /** `<dataRoot>/build-cache` */
  static rootFor(dataRoot: string): string {
    return path.join(dataRoot, 'build-cache');
  }

  load(): Promise<unknown> {
    this.loaded ??= this.doc.load();
    return this.loaded;
  }

  /** A record whose layer still exists, or undefined. */
  async lookup(key: string): Promise<CacheRecord | undefined> {
    await this.load();
    const record = this.pending.get(key) ?? this.doc.state.records[key];
    if (!record) return undefined;
    if (record.layer) {
      const { diffId } = record.layer;
      if (!(await this.images.snapshots.hasLayer(diffId)) || !(await this.images.content.has(diffId))) return undefined;
    }
    // A hit counts as a use (for `builder prune --filter until=`), written with the build's
    // records; to the hour, so that a build made of hits rarely rewrites the file.
    const now = Date.now();
    if (now - record.lastUsed > LAST_USED_RESOLUTION_MS) this.pending.set(key, { ...record, lastUsed: now });
    return record;
  }

  /**
   * Records a step. It is written to disk by `flush`, once per build rather than once per step:
   * each write is a copy, a rewrite and an fsync of the whole file. Until then the build's leases
   * keep the layers; a crash before the flush only loses cache hits.
   */
  async store(key: string, record: Omit<CacheRecord, 'lastUsed'>): Promise<void> {
    await this.load();
    this.pending.set(key, { ...record, lastUsed: Date.now() });
  }

  /** The records written so far (a running build's are not yet), by key. */
  async entries(): Promise<Array<[string, CacheRecord]>> {
    await this.load();
    return Object.entries(this.doc.state.records);
  }

  /**
   * Forgets records, as `builder prune`: of those `selected` (its filters), every one with `all`,
   * else the dangling ones, whose layer no image shares (the only records holding space of their
   * own). Returns the keys forgotten; the layers they held go at the image service's next GC.
   */
  async prune(opts: { all: boolean; sharedLayer: (diffId: string) => boolean; selected: (record: CacheRecord) => boolean }): Promise<string[]> {
    await this.load();
    return this.doc.update((d) => {
      const removed: string[] = [];
      for (const [key, record] of Object.entries(d.records)) {
        if (!opts.selected(record)) continue;
        if (!opts.all && (!record.layer || opts.sharedLayer(record.layer.diffId))) continue;
        delete d.records[key];
        removed.push(key);
      }
      return removed;
    });
  }

  /** Writes the records stored since the last flush (before the build releases its leases). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const records = [...this.pending];
    await this.doc.update((d) => {
      for (const [key, record] of records) d.records[key] = record;
    });
    for (const [key, record] of records) if (this.pending.get(key) === record) this.pending.delete(key);
  }
}

/**
 * Makes the image service's GC keep what the build cache holds. Reads the cache file itself,
 * synchronously, so it also works when installed before the cache is first used (ideally before
 * `images.init()`, whose GC would otherwise drop cached layers no image uses).
 */
export function installBuildCacheRoots(images: ImageService, dataRoot: string): void {
  const file = path.join(BuildCache.rootFor(dataRoot), CACHE_FILE);
  const previous = images.extraRoots;
  if ((previous as { buildCache?: boolean }).buildCache) return;
  const roots = Object.assign(
    (): Iterable<string> => {
      const own: string[] = [];
      try {
        const doc = JSON.parse(readFileSync(file, 'utf8')) as CacheDocument;
        for (const record of Object.values(doc.records ?? {})) if (record.layer) own.push(record.layer.diffId);
      } catch {
        // no cache yet, or a file being replaced: an atomic rename leaves the old one readable
      }
      return [...previous(), ...own];
    },
    { buildCache: true },
  );
  images.extraRoots = roots;
}
