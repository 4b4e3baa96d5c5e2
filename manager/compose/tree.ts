/**
 * Plain trees: what every loader phase reads and writes. A tree is JSON-like data (maps are plain
 * objects with a null prototype-free shape, sequences are arrays) plus one extra leaf type,
 * `Tagged`, which carries the `!reset` / `!override` YAML tags until the merge phase consumes them.
 */
export type Scalar = string | number | boolean | null;
export type Tree = Scalar | Tree[] | TreeMap | Tagged;
export interface TreeMap {
  [key: string]: Tree;
}

/** A YAML node tagged `!reset` (drop the inherited value) or `!override` (replace, do not merge). */
export class Tagged {
  constructor(
    readonly tag: 'reset' | 'override',
    readonly value: Tree,
  ) {}
}

/** A path inside a tree: map keys and sequence indices, e.g. ['services', 'web', 'ports', 0]. */
export type TreePath = readonly (string | number)[];

export function isMap(v: unknown): v is TreeMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tagged);
}

export function isSeq(v: unknown): v is Tree[] {
  return Array.isArray(v);
}

export function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

const SIMPLE_KEY = /^[A-Za-z0-9_-]+$/;

/** `services.web.ports[0]`, with keys that are not plain identifiers quoted: `labels["a.b"]`. */
export function formatPath(path: TreePath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (SIMPLE_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(root)' : out;
}

/** Deep copy; Tagged leaves are kept (their values copied). */
export function clone<T extends Tree>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => clone(x)) as T;
  if (v instanceof Tagged) return new Tagged(v.tag, clone(v.value)) as T;
  if (isMap(v)) {
    const out: TreeMap = {};
    for (const k of Object.keys(v)) out[k] = clone(v[k] as Tree);
    return out as T;
  }
  return v;
}

/** Removes leftover tags: `!reset` drops the entry, `!override` keeps its value. */
export function stripTags(v: Tree): Tree | undefined {
  if (v instanceof Tagged) return v.tag === 'reset' ? undefined : stripTags(v.value);
  if (Array.isArray(v)) {
    const out: Tree[] = [];
    for (const x of v) {
      const s = stripTags(x);
      if (s !== undefined) out.push(s);
    }
    return out;
  }
  if (isMap(v)) {
    for (const k of Object.keys(v)) {
      const s = stripTags(v[k] as Tree);
      if (s === undefined) delete v[k];
      else v[k] = s;
    }
    return v;
  }
  return v;
}

/** Stable JSON (keys sorted) for hashing and deep equality. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function deepEqual(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

export function getIn(v: Tree | undefined, path: TreePath): Tree | undefined {
  let cur: Tree | undefined = v;
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[seg];
    } else {
      if (!isMap(cur)) return undefined;
      cur = Object.hasOwn(cur, seg) ? cur[seg] : undefined;
    }
  }
  return cur;
}
