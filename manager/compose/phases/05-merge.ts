/**
 * Phase 5 — merge. Folds the Compose files, in order, into one tree following the spec's merge
 * rules: mappings merge key by key, sequences append, and the exceptions below — declared as a
 * table keyed by path — replace, de-duplicate or merge entries by their unique key. `!reset`
 * drops the inherited value, `!override` replaces it without merging. The extends phase uses the
 * same rules to lay a service over its base.
 */
import { PathTable } from '../pathtable';
import { parseDeviceShort, parsePortShort, portKey, splitAssignment, volumeTargetOf } from '../syntax';
import { Tagged, clone, isMap, stableStringify, stripTags } from '../tree';
import type { Tree, TreeMap, TreePath } from '../tree';

type MergeRule = (base: Tree, over: Tree, path: TreePath) => Tree;

/** Most rules work on untagged values. */
const untagged =
  (rule: MergeRule): MergeRule =>
  (base, over, path) =>
    rule(base, stripTags(over) ?? null, path);

const replace: MergeRule = untagged((_base, over) => over);

const asList = (v: Tree): Tree[] => (Array.isArray(v) ? v : v === null ? [] : [v]);

/** Sequences whose entries are unique values: append only what is new. */
const unique: MergeRule = untagged((base, over) => {
  const out = [...asList(base)];
  const seen = new Set(out.map((x) => stableStringify(x)));
  for (const x of asList(over)) {
    const k = stableStringify(x);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(x);
    }
  }
  return out;
});

/** Sequences of entries identified by a key: later entries replace (or merge into) earlier ones. */
function byKey(keyOf: (entry: Tree) => string | undefined): MergeRule {
  return untagged((base, over, path) => {
    const out: Tree[] = [];
    const index = new Map<string, number>();
    const add = (entry: Tree, i: number): void => {
      const key = keyOf(entry);
      const at = key === undefined ? undefined : index.get(key);
      if (at === undefined) {
        if (key !== undefined) index.set(key, out.length);
        out.push(entry);
      } else {
        const prev = out[at] as Tree;
        out[at] = isMap(prev) && isMap(entry) ? mergeTrees(prev, entry, [...path, i]) : entry;
      }
    };
    asList(base).forEach(add);
    asList(over).forEach(add);
    return out;
  });
}

/** `KEY=VALUE` lists and mappings: merged as mappings, keyed by name. */
function keyValue(sep: string): MergeRule {
  return (base, over) => {
    const out = toMap(base, sep);
    const o = toMap(over, sep);
    for (const k of Object.keys(o)) {
      const v = o[k] as Tree;
      if (v instanceof Tagged) {
        if (v.tag === 'reset') delete out[k];
        else out[k] = stripTags(v.value) ?? null;
      } else out[k] = v;
    }
    return out;
  };
}

function toMap(v: Tree, sep: string): TreeMap {
  if (isMap(v)) return { ...v };
  const out: TreeMap = {};
  for (const e of asList(v)) {
    if (typeof e !== 'string') continue;
    const [k, val] = splitAssignment(e, sep);
    out[k] = val;
  }
  return out;
}

/** Lists of names (`networks: [a]`, `depends_on: [a]`) merge with their mapping form by name. */
function namedEntries(listValue: (name: string) => Tree): MergeRule {
  return (base, over, path) => {
    if (Array.isArray(base) && Array.isArray(over)) return unique(base, over, path);
    const toNamed = (v: Tree): TreeMap => {
      if (isMap(v)) return v;
      const out: TreeMap = {};
      for (const n of asList(v)) if (typeof n === 'string') out[n] = listValue(n);
      return out;
    };
    return mergeDefault(toNamed(base), toNamed(over), path);
  };
}

/** `build: ./dir` merges with a long-syntax build as its context. */
const build: MergeRule = (base, over, path) => {
  const long = (v: Tree): Tree => (typeof v === 'string' ? { context: v } : v);
  return mergeDefault(long(base), long(over), path);
};

/** A different logging driver invalidates the inherited driver options. */
const logging: MergeRule = (base, over, path) => {
  if (isMap(base) && isMap(over) && over.driver !== undefined && base.driver !== undefined && over.driver !== base.driver) {
    return stripTags(over) ?? null;
  }
  return mergeDefault(base, over, path);
};

const shortOrLong = (parseShort: (s: string) => TreeMap[], key: (e: TreeMap) => string) => (entry: Tree): string | undefined => {
  try {
    if (typeof entry === 'string' || typeof entry === 'number') return parseShort(String(entry)).map(key).join(',');
    if (isMap(entry)) return key(entry);
  } catch {
    // An invalid entry has no key; validation reports it with its position.
  }
  return undefined;
};

const secretKey = (entry: Tree): string | undefined => {
  if (typeof entry === 'string') return entry;
  if (isMap(entry)) return String(entry.target ?? entry.source ?? '');
  return undefined;
};

const portEntryKey = (entry: Tree): string | undefined =>
  isMap(entry)
    ? portKey({ ...entry, target: Number(entry.target), published: entry.published === undefined ? '' : String(entry.published) } as TreeMap)
    : shortOrLong(parsePortShort, portKey)(entry);

export const MERGE_RULES = new PathTable<MergeRule>({
  'services.*.command': replace,
  'services.*.entrypoint': replace,
  'services.*.healthcheck.test': replace,
  'services.*.develop.watch.*.exec.command': replace,
  'services.*.post_start.*.command': replace,
  'services.*.pre_stop.*.command': replace,
  'services.*.ports': byKey(portEntryKey),
  'services.*.volumes': byKey(volumeTargetOf),
  'services.*.devices': byKey(shortOrLong((s) => [parseDeviceShort(s)], (e) => String(e.target ?? e.source))),
  'services.*.secrets': byKey(secretKey),
  'services.*.configs': byKey(secretKey),
  'services.*.build.secrets': byKey(secretKey),
  'services.*.expose': unique,
  'services.*.dns': unique,
  'services.*.dns_search': unique,
  'services.*.dns_opt': unique,
  'services.*.tmpfs': unique,
  'services.*.external_links': unique,
  'services.*.links': unique,
  'services.*.cap_add': unique,
  'services.*.cap_drop': unique,
  'services.*.group_add': unique,
  'services.*.security_opt': unique,
  'services.*.profiles': unique,
  'services.*.volumes_from': unique,
  'services.*.device_cgroup_rules': unique,
  'services.*.env_file': untagged((b, o) => [...asList(b), ...asList(o)]),
  'services.*.label_file': untagged((b, o) => [...asList(b), ...asList(o)]),
  'services.*.environment': keyValue('='),
  'services.*.labels': keyValue('='),
  'services.*.annotations': keyValue('='),
  'services.*.sysctls': keyValue('='),
  'services.*.extra_hosts': keyValue('='),
  'services.*.build': build,
  'services.*.build.args': keyValue('='),
  'services.*.build.labels': keyValue('='),
  'services.*.build.additional_contexts': keyValue('='),
  'services.*.build.extra_hosts': keyValue('='),
  'services.*.build.tags': unique,
  'services.*.build.cache_from': unique,
  'services.*.build.cache_to': unique,
  'services.*.build.platforms': unique,
  'services.*.deploy.labels': keyValue('='),
  'services.*.deploy.placement.constraints': unique,
  'services.*.logging': logging,
  'services.*.ulimits.*': replace,
  'services.*.networks': namedEntries(() => null),
  'services.*.depends_on': namedEntries(() => ({ condition: 'service_started' })),
  'services.*.extends': replace,
  'networks.*.labels': keyValue('='),
  'volumes.*.labels': keyValue('='),
  'secrets.*.labels': keyValue('='),
  'configs.*.labels': keyValue('='),
});

/**
 * Lays `over` on `base` (neither is modified). Tags in `over` are applied, tags left in `base`
 * are stripped (a tag only means something relative to an earlier file).
 */
export function mergeTrees(base: Tree, over: Tree, path: TreePath = []): Tree {
  if (over instanceof Tagged) return over.tag === 'reset' ? (undefined as unknown as Tree) : (stripTags(clone(over.value)) ?? null);
  if (base instanceof Tagged) base = stripTags(clone(base)) ?? null;
  const rule = MERGE_RULES.get(path);
  // Rules see `over` with its tags: key/value rules honour `!reset` on single entries.
  if (rule && base !== undefined && base !== null) return rule(base, over, path);
  return mergeDefault(base, over, path);
}

/** Mappings merge key by key (children by their own rules), sequences append, scalars replace. */
function mergeDefault(base: Tree, over: Tree, path: TreePath): Tree {
  if (isMap(base) && isMap(over)) {
    const out: TreeMap = { ...base };
    for (const k of Object.keys(over)) {
      const o = over[k] as Tree;
      if (!Object.hasOwn(out, k)) {
        const s = stripTags(clone(o));
        if (s !== undefined) out[k] = s;
        continue;
      }
      const merged = mergeTrees(out[k] as Tree, o, [...path, k]);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...(stripTags(over) as Tree[])];
  return stripTags(over) ?? null;
}

/** Merges whole Compose files, first to last. */
export function mergeFiles(trees: TreeMap[]): TreeMap {
  // One file merges onto nothing: its own tree, tags stripped (the caller hands it over).
  if (trees.length === 1) return stripTags(trees[0] as TreeMap) as TreeMap;
  let out: Tree = {};
  for (const t of trees) out = mergeTrees(out, t, []);
  return stripTags(out) as TreeMap;
}
