/**
 * COPY/ADD sources in the build context: glob expansion as Docker does it, symlink resolution that
 * cannot leave the context, and a stable checksum of the selected files for the step's cache key.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { dockerfileError } from '../dockerfile/errors';
import { cleanPath, PatternMatcher } from './ignore';
import type { ReceivedContext } from './received';
import { walkContext, walkEntries, type ContextEntry } from './walk';

/** The filtered build context held in memory: what a COPY can see. */
export class ContextIndex {
  readonly entries = new Map<string, ContextEntry>();
  private readonly children = new Map<string, string[]>();
  private readonly contentHashes = new Map<string, Promise<string>>();

  private constructor(
    readonly root: string,
    /** A received context not unpacked yet: its files are on disk once `materialize()` resolves. */
    private readonly received?: ReceivedContext,
  ) {
    this.children.set('', []);
  }

  /**
   * Walks `contextDir` once, applying the ignore patterns. `within` limits the walk to these
   * relative trees (and the directories leading to them), for reading a few paths of a big tree.
   */
  static async build(contextDir: string, ignore?: PatternMatcher | readonly string[], within?: readonly string[]): Promise<ContextIndex> {
    const index = new ContextIndex(path.resolve(contextDir));
    for await (const entry of walkContext(contextDir, ignore, within)) index.add(entry);
    return index;
  }

  /** The index of a received context, from what its archive said, without unpacking it. */
  static async fromReceived(received: ReceivedContext, ignore?: PatternMatcher | readonly string[]): Promise<ContextIndex> {
    const index = new ContextIndex(path.resolve(received.dir), received);
    for await (const entry of walkEntries(received.entries, ignore)) index.add(entry);
    return index;
  }

  /** Makes the files readable under `root` (a received context is unpacked on first need). */
  async materialize(): Promise<void> {
    await this.received?.materialize();
  }

  private add(entry: ContextEntry): void {
    this.entries.set(entry.path, entry);
    const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
    let siblings = this.children.get(parent);
    if (!siblings) {
      siblings = [];
      this.children.set(parent, siblings);
    }
    siblings.push(entry.path);
    if (entry.type === 'dir') this.children.set(entry.path, this.children.get(entry.path) ?? []);
  }

  childrenOf(dir: string): readonly string[] {
    return this.children.get(dir) ?? [];
  }

  /** Every entry under `dir` (excluded), depth first in lexical order. */
  *descendants(dir: string): Generator<ContextEntry> {
    for (const child of this.childrenOf(dir)) {
      const entry = this.entries.get(child);
      if (!entry) continue;
      yield entry;
      if (entry.type === 'dir') yield* this.descendants(child);
    }
  }

  /**
   * Follows symlinks along `rel` the way a chroot would: absolute targets are relative to the
   * context root and `..` stops at the root, so resolution never leaves the context.
   */
  resolve(rel: string, followFinal: boolean): ContextEntry | undefined {
    let hops = 0;
    const pending = cleanPath('/' + rel).split('/').filter((p) => p !== '');
    const resolved: string[] = [];
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = [...resolved, part].join('/');
      const entry = this.entries.get(candidate);
      if (!entry) return undefined;
      if (entry.type === 'symlink' && (pending.length > 0 || followFinal)) {
        if (++hops > 255) return undefined;
        const target = entry.linkTarget ?? '';
        if (target.startsWith('/')) resolved.length = 0;
        pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
        continue;
      }
      resolved.push(part);
    }
    if (resolved.length === 0) return { path: '', type: 'dir', mode: 0o755, size: 0, uid: 0, gid: 0, mtimeMs: 0, dev: 0, ino: 0 };
    return this.entries.get(resolved.join('/'));
  }

  /** sha256 of a regular file's bytes, cached per file identity and modification. */
  contentHash(entry: ContextEntry): Promise<string> {
    const received = this.received?.hashes.get(entry.path);
    if (received !== undefined) return Promise.resolve(received);
    const key = `${entry.path}\0${entry.dev}:${entry.ino}:${entry.size}:${entry.mtimeMs}`;
    let pending = this.contentHashes.get(key);
    if (!pending) {
      pending = new Promise<string>((resolve, reject) => {
        const hash = createHash('sha256');
        createReadStream(path.join(this.root, entry.path))
          .on('data', (chunk) => hash.update(chunk))
          .on('error', reject)
          .on('end', () => resolve(hash.digest('hex')));
      });
      this.contentHashes.set(key, pending);
    }
    return pending;
  }
}

/** Go's filepath.Match wildcard characters (an escaped one does not count). */
/**
 * The trees COPY sources can reach without following a symlink: each source up to its first
 * wildcard component. An index of just these trees answers the COPY unless a symlink leads out
 * of them, which shows as a source not found (see `ContextIndex.build`'s `within`).
 */
export function sourceTrees(sources: readonly string[]): string[] {
  return sources.map((source) => {
    const parts = cleanRel(source.replace('/./', '/')).split('/');
    const first = parts.findIndex(containsWildcards);
    return (first < 0 ? parts : parts.slice(0, first)).join('/');
  });
}

export function containsWildcards(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/**
 * A COPY source glob as a regular expression over context paths. Without `--parents` this is
 * Go's filepath.Match: `*` and `?` never cross `/`, so `**` is just `*`. With `--parents`, `**`
 * matches any number of directories, including none.
 */
function sourceGlob(pattern: string, doubleStar: boolean): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (doubleStar && pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:[^/]+/)*';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error(`syntax error in pattern: ${pattern}`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = '^' + body.slice(1);
      re += '[' + body.replace(/[\\/]/g, (c) => '\\' + c) + ']';
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) {
      re += escapeChar(pattern[++i] as string);
    } else {
      re += escapeChar(ch);
    }
  }
  return new RegExp(re + '$', 'u');
}

const escapeChar = (ch: string): string => (/[.+()|{}$^*?[\]\\/]/.test(ch) ? '\\' + ch : ch);

export interface SelectedEntry {
  /** The COPY argument this entry came from. */
  source: string;
  /** The entry in the context (after following a top-level symlink). */
  entry: ContextEntry;
  /** Where it lands, relative to the destination directory; '' for a directory whose contents land there. */
  copyPath: string;
  /** A source argument (or one of its wildcard's matches) itself, rather than something under it. */
  match: boolean;
  /**
   * Which source tree it belongs to: one per source argument, or per wildcard match. Docker copies
   * each tree on its own, so hard links are kept within a tree and not across trees.
   */
  tree: number;
}

/**
 * For each entry, the copy path of an earlier regular file of its tree that it is a hard link of
 * (same `dev` and `ino`); undefined for the first of a group and everything else.
 */
export function hardlinkSources(entries: readonly Pick<SelectedEntry, 'entry' | 'copyPath' | 'tree'>[]): Array<string | undefined> {
  const first = new Map<string, string>();
  return entries.map(({ entry, copyPath, tree }) => {
    if (entry.type !== 'file') return undefined;
    const key = `${tree}:${entry.dev}:${entry.ino}`;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, copyPath);
    return earlier;
  });
}

export interface ChecksumOptions {
  /** `.dockerignore` rules, when `context` is a directory that still has to be indexed. */
  ignore?: PatternMatcher | readonly string[];
  /** `COPY --exclude` patterns, matched against each entry's path under the destination. */
  excludes?: readonly string[];
  /** `COPY --parents`: keep source parent directories (after an optional `/./` pivot). */
  parents?: boolean;
  /** Include uid/gid in the checksum (irrelevant when COPY resets ownership); default true. */
  ownership?: boolean;
  /** For error messages. */
  dockerfile?: string;
  line?: number;
  instruction?: 'COPY' | 'ADD';
}

export interface ChecksumResult {
  /** `sha256:<hex>` over paths, types, modes, ownership, sizes, link targets and contents. */
  digest: string;
  entries: SelectedEntry[];
}

function splitPivot(source: string): { pivot: string; pattern: string } {
  const withoutDot = source.startsWith('./') ? source.slice(2) : source;
  const at = withoutDot.indexOf('/./');
  if (at < 0) return { pivot: '', pattern: cleanRel(withoutDot) };
  const pivot = cleanRel(withoutDot.slice(0, at));
  return { pivot, pattern: cleanRel(withoutDot.slice(0, at) + '/' + withoutDot.slice(at + 3)) };
}

/** Context-relative form of a source: leading `/` and `..` cannot climb out of the context. */
function cleanRel(source: string): string {
  return cleanPath('/' + source).slice(1);
}

function relativeTo(base: string, p: string): string {
  if (base === '') return p;
  return p === base ? '' : p.slice(base.length + 1);
}

/**
 * Expands COPY sources against the context: plain paths (following a top-level symlink inside the
 * context), globs (a matching directory is taken whole), `--parents` with `**` and `/./` pivots.
 * A plain path that does not exist, or was excluded by .dockerignore, is an error; a glob that
 * matches nothing is not (buildkit allows empty wildcards).
 */
export function selectSources(index: ContextIndex, sources: readonly string[], opts: ChecksumOptions = {}): SelectedEntry[] {
  const selected: SelectedEntry[] = [];
  const excludes = opts.excludes && opts.excludes.length > 0 ? new PatternMatcher(opts.excludes) : undefined;
  let tree = -1;
  const push = (source: string, entry: ContextEntry, copyPath: string, match = false): void => {
    if (excludes && copyPath !== '' && excludes.matches(copyPath)) return;
    selected.push({ source, entry, copyPath, match, tree });
  };
  const addTree = (source: string, root: ContextEntry, rootCopyPath: string, realRoot: string): void => {
    tree++;
    if (root.type !== 'dir') {
      push(source, root, rootCopyPath === '' ? path.posix.basename(root.path) : rootCopyPath, true);
      return;
    }
    // Kept even when only its contents are copied: the destination is then a directory, however
    // few (or no) entries it has.
    push(source, root, rootCopyPath, true);
    for (const entry of index.descendants(realRoot)) {
      const below = relativeTo(realRoot, entry.path);
      push(source, entry, rootCopyPath === '' ? below : `${rootCopyPath}/${below}`);
    }
  };

  for (const source of sources) {
    const { pivot, pattern } = opts.parents ? splitPivot(source) : { pivot: '', pattern: cleanRel(source) };
    if (!containsWildcards(pattern)) {
      const resolved = index.resolve(pattern, true);
      if (!resolved) {
        const problem = `${opts.instruction ?? 'COPY'} failed: file not found in build context or excluded by .dockerignore: stat ${pattern || '.'}: file does not exist`;
        throw dockerfileError(opts.dockerfile ?? 'Dockerfile', opts.line, problem, 'NotFound');
      }
      const copyPath = opts.parents ? relativeTo(pivot, pattern) : resolved.type === 'dir' ? '' : path.posix.basename(pattern);
      addTree(source, resolved, copyPath, resolved.path);
      continue;
    }
    const matcher = sourceGlob(pattern, opts.parents ?? false);
    const walk = (dir: string): void => {
      for (const child of index.childrenOf(dir)) {
        const entry = index.entries.get(child);
        if (!entry) continue;
        if (matcher.test(child)) {
          const target = index.resolve(child, true) ?? entry;
          const copyPath = opts.parents ? relativeTo(pivot, child) : target.type === 'dir' ? '' : path.posix.basename(child);
          addTree(source, target, copyPath, target.path);
          continue;
        }
        if (entry.type === 'dir') walk(child);
      }
    };
    walk('');
  }
  return selected;
}

/**
 * Checksum of what a COPY/ADD would take from the context, stable across machines and runs:
 * entries are hashed by their path under the destination, not their location on disk, and
 * modification times are left out.
 */
export async function checksumPaths(
  context: ContextIndex | string,
  sources: readonly string[],
  opts: ChecksumOptions = {},
): Promise<ChecksumResult> {
  const index = typeof context === 'string' ? await ContextIndex.build(context, opts.ignore) : context;
  const entries = selectSources(index, sources, opts);
  const hash = createHash('sha256');
  const ownership = opts.ownership ?? true;
  const linked = hardlinkSources(entries);
  for (const [i, { source, entry, copyPath }] of entries.entries()) {
    const hardlink = linked[i];
    const record = {
      path: copyPath,
      type: entry.type,
      mode: entry.mode,
      ...(ownership ? { uid: entry.uid, gid: entry.gid } : {}),
      size: entry.size,
      link: entry.linkTarget ?? null,
      content: entry.type === 'file' ? await index.contentHash(entry) : null,
      // Only when there is one, so the checksums of trees without hard links stay what they were.
      ...(hardlink !== undefined ? { hardlink } : {}),
    };
    hash.update(JSON.stringify(record) + '\n');
  }
  return { digest: `sha256:${hash.digest('hex')}`, entries };
}
