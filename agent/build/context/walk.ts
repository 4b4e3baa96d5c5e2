/**
 * The build context as the builder sees it: a walk of the context directory that applies
 * `.dockerignore`, never follows symlinks, and reports each entry's metadata.
 */
import { lstatSync, promises as fsp, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { type ParentMatches, PatternMatcher } from './ignore';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface ContextEntry {
  /** Slash-separated path relative to the context root, never `.`-prefixed. */
  path: string;
  type: EntryType;
  /** Permission bits plus setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  size: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /**
   * Identity for content-hash caching and hard links: the entries of one file share it. A context
   * indexed from its archive has made-up identities (dev 0), one per file.
   */
  dev: number;
  ino: number;
  /** Symlinks only: the target exactly as stored (never resolved). */
  linkTarget?: string;
}

/** Above this, the builder warns that sending the context will be slow. */
export const CONTEXT_SIZE_WARNING_BYTES = 500 * 1024 * 1024;

function entryType(stats: Stats): EntryType | undefined {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  // Sockets, FIFOs and devices cannot be meaningfully sent as build context.
  return undefined;
}

function toEntry(root: string, rel: string, stats: Stats, readlink: (p: string) => string): ContextEntry | undefined;
function toEntry(root: string, rel: string, stats: Stats, readlink: (p: string) => Promise<string>): Promise<ContextEntry | undefined>;
function toEntry(root: string, rel: string, stats: Stats, readlink: (p: string) => string | Promise<string>): ContextEntry | undefined | Promise<ContextEntry | undefined> {
  const type = entryType(stats);
  if (type === undefined) return undefined;
  const entry: ContextEntry = {
    path: rel,
    type,
    mode: stats.mode & 0o7777,
    size: type === 'file' ? stats.size : 0,
    uid: stats.uid,
    gid: stats.gid,
    mtimeMs: stats.mtimeMs,
    dev: stats.dev,
    ino: stats.ino,
  };
  if (type !== 'symlink') return entry;
  const target = readlink(path.join(root, rel));
  if (typeof target === 'string') {
    entry.linkTarget = target;
    return entry;
  }
  return target.then((t) => {
    entry.linkTarget = t;
    return entry;
  });
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Walks the context in lexical order, depth first, yielding entries not excluded by `ignore`.
 * An excluded directory is skipped entirely unless some `!` pattern may re-include something in
 * it; then it is walked and yielded only if something inside is kept.
 */
export async function* walkContext(
  contextDir: string,
  ignore?: PatternMatcher | readonly string[],
  within?: readonly string[],
): AsyncGenerator<ContextEntry> {
  const root = path.resolve(contextDir);
  const rootStats = await fsp.stat(root);
  if (!rootStats.isDirectory()) throw new Error(`build context ${contextDir} is not a directory`);
  const tree: Tree = {
    list: async (dirRel) => (await fsp.readdir(path.join(root, dirRel))).sort(byteOrder),
    entry: async (rel) => {
      let stats: Stats;
      try {
        stats = await fsp.lstat(path.join(root, rel));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      return toEntry(root, rel, stats, (p) => fsp.readlink(p));
    },
  };
  yield* walkTree(tree, ignore, within);
}

/**
 * `walkContext` with synchronous file system calls, for the CLI: a walk that has nothing else to
 * overlap with costs a thread-pool round trip per entry otherwise, which is most of a small
 * context's walk. The daemon keeps the asynchronous walk.
 */
export async function* walkContextSync(contextDir: string, ignore?: PatternMatcher | readonly string[]): AsyncGenerator<ContextEntry> {
  const root = path.resolve(contextDir);
  if (!statSync(root).isDirectory()) throw new Error(`build context ${contextDir} is not a directory`);
  const tree: Tree = {
    list: (dirRel) => Promise.resolve(readdirSync(path.join(root, dirRel)).sort(byteOrder)),
    entry: (rel) => {
      const stats = lstatSync(path.join(root, rel), { throwIfNoEntry: false });
      return Promise.resolve(stats === undefined ? undefined : toEntry(root, rel, stats, (p) => readlinkSync(p)));
    },
  };
  yield* walkTree(tree, ignore);
}

/**
 * The same walk over entries already known (a context received as a tar and not unpacked):
 * `entries` must hold every directory leading to an entry.
 */
export async function* walkEntries(entries: ReadonlyMap<string, ContextEntry>, ignore?: PatternMatcher | readonly string[]): AsyncGenerator<ContextEntry> {
  const children = new Map<string, string[]>();
  for (const rel of entries.keys()) {
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    let names = children.get(parent);
    if (!names) children.set(parent, (names = []));
    names.push(slash < 0 ? rel : rel.slice(slash + 1));
  }
  const tree: Tree = {
    list: (dirRel) => Promise.resolve((children.get(dirRel) ?? []).sort(byteOrder)),
    entry: (rel) => Promise.resolve(entries.get(rel)),
  };
  yield* walkTree(tree, ignore);
}

/** What a walk reads: a directory's names in byte order, and an entry's metadata (none when gone or of another type). */
interface Tree {
  list(dirRel: string): Promise<string[]>;
  entry(rel: string): Promise<ContextEntry | undefined>;
}

function walkTree(tree: Tree, ignore?: PatternMatcher | readonly string[], within?: readonly string[]): AsyncGenerator<ContextEntry> {
  const matcher = ignore === undefined ? undefined : ignore instanceof PatternMatcher ? ignore : new PatternMatcher(ignore);
  const scope = within === undefined || within.includes('') ? undefined : within;
  return walkDir(tree, '', matcher, undefined, [], scope);
}

/**
 * Whether `rel` is worth visiting when only the trees `within` are wanted: it is one of them,
 * below one, or a directory on the way to one.
 */
function inScope(rel: string, within: readonly string[] | undefined): boolean {
  if (within === undefined) return true;
  return within.some((p) => rel === p || rel.startsWith(p + '/') || p.startsWith(rel + '/'));
}

async function* walkDir(
  tree: Tree,
  dirRel: string,
  matcher: PatternMatcher | undefined,
  parentMatches: ParentMatches | undefined,
  pendingParents: ContextEntry[],
  within?: readonly string[],
): AsyncGenerator<ContextEntry> {
  const names = await tree.list(dirRel);
  for (const name of names) {
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    if (!inScope(rel, within)) continue;
    const entry = await tree.entry(rel);
    if (!entry) continue;
    let excluded = false;
    let info: ParentMatches | undefined;
    if (matcher && !matcher.isEmpty) {
      const result = matcher.matchesWithParents(rel, parentMatches);
      excluded = result.matched;
      info = result.info;
    }
    if (entry.type === 'dir') {
      if (excluded && !matcher?.hasExclusions) continue;
      if (excluded) {
        // Held back until something below is re-included by a `!` pattern.
        yield* walkDir(tree, rel, matcher, info, [...pendingParents, entry], within);
      } else {
        yield* pendingParents.splice(0);
        yield entry;
        yield* walkDir(tree, rel, matcher, info, [], within);
      }
      continue;
    }
    if (excluded) continue;
    yield* pendingParents.splice(0);
    yield entry;
  }
}

/**
 * The warning for a context that has grown past CONTEXT_SIZE_WARNING_BYTES while being sent:
 * every build sends it whole, so a forgotten `.dockerignore` slows each one.
 */
export function contextSizeWarning(context: string, sentBytes: number): string | undefined {
  if (sentBytes <= CONTEXT_SIZE_WARNING_BYTES) return undefined;
  return `WARNING: build context ${context} is over ${CONTEXT_SIZE_WARNING_BYTES / 1024 / 1024} MB; consider a .dockerignore to leave out what the build does not need`;
}

/**
 * How stdin (`tscompose build -`) should be read, from its first bytes: a tar archive (plain or
 * compressed) is a whole context; anything else is a lone Dockerfile with an empty context. The
 * lead's existing tar extractor unpacks the archive into a temporary directory that is then
 * walked like any other context.
 */
export function detectStdinContext(head: Uint8Array): 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'dockerfile' {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  const magic = String.fromCharCode(...head.subarray(257, 262));
  if (magic === 'ustar') return 'tar';
  return 'dockerfile';
}
