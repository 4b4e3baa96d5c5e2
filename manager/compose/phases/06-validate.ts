/**
 * Phase 6 — validate the merged tree against `schemas/compose.schema.json`. ajv is imported only
 * here, lazily; the standalone validator the build precompiled is preferred when bundled. The first,
 * most specific schema error becomes a ComposeError naming file, line, column and YAML path,
 * with a "did you mean" for unknown keys.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { importGenerated } from '../../../common/generated';
import { didYouMean } from '../errors';
import type { Reporter } from '../errors';
import type { ComposeValidateFunction, SchemaErrorObject } from '../schema';
import { describe } from '../units';
import { getIn, isMap } from '../tree';
import type { Tree, TreeMap } from '../tree';

let validatorPromise: Promise<ComposeValidateFunction> | undefined;

/**
 * The file holding the validator in use, whose identity keys ValidatedCache; null when the
 * validator is compiled at run time (code run from source).
 */
function validatorFile(): string | null {
  const fromEnv = process.env.TSCOMPOSE_COMPOSE_VALIDATOR;
  if (fromEnv) return fromEnv;
  // In a bundle (scripts/build.mjs) import.meta.url is the bundle's own file, which holds it.
  const here = import.meta.url;
  return here.startsWith('file:') && here.endsWith('.cjs') ? fileURLToPath(here) : null;
}

export function getValidator(): Promise<ComposeValidateFunction> {
  validatorPromise ??= (async () => {
    const fromEnv = process.env.TSCOMPOSE_COMPOSE_VALIDATOR;
    const mod = fromEnv
      ? ((await import(pathToFileURL(fromEnv).href)) as { default: ComposeValidateFunction })
      : await importGenerated<{ default: ComposeValidateFunction }>(() => import('tscompose-generated:compose-validator'));
    if (typeof mod?.default === 'function') return mod.default;
    const { compileValidator } = await import('../schema');
    return compileValidator();
  })();
  return validatorPromise;
}

export async function validateTree(tree: TreeMap, rep: Reporter): Promise<void> {
  const known = ValidatedCache.open(tree);
  if (known?.has()) return;
  const validate = await getValidator();
  if (validate(tree)) {
    known?.add();
    return;
  }
  const errors = validate.errors ?? [];
  const { composeSchema } = await import('../schema');
  throw explain(errors, tree, rep, composeSchema as unknown as TreeMap);
}

/**
 * Documents this validator has accepted, by hash, in the user's cache: every verb of a project
 * (`ps`, `down`, an unchanged `up`) validates the same document, and importing the validator and
 * running it cold costs a CLI more than the rest of loading. A hit is the same document (what the
 * validator sees is its JSON) under the same validator file (path, size, mtime: the bundle that
 * holds it), so it would pass again; only successes are kept, the last 64. Without a precompiled
 * validator, or a writable cache directory, every document is validated.
 */
class ValidatedCache {
  private static readonly KEEP = 64;

  private constructor(
    private readonly file: string,
    private readonly key: string,
  ) {}

  static open(tree: TreeMap): ValidatedCache | undefined {
    const validator = validatorFile();
    const base = process.env['XDG_CACHE_HOME'] || (homedir() ? join(homedir(), '.cache') : '');
    if (!validator || !base) return undefined;
    try {
      const st = statSync(validator);
      const key = murmur3x128(Buffer.from(`${validator}\0${st.size}\0${st.mtimeMs}\0${JSON.stringify(tree)}`, 'utf8'));
      return new ValidatedCache(join(base, 'tscompose', 'compose-validated'), key);
    } catch {
      return undefined;
    }
  }

  private known: string[] | undefined;

  /** The file's keys, read once: `has` then `add` on a miss. */
  private entries(): string[] {
    if (this.known) return this.known;
    try {
      this.known = readFileSync(this.file, 'utf8').split('\n').filter(Boolean);
    } catch {
      this.known = [];
    }
    return this.known;
  }

  has(): boolean {
    return this.entries().includes(this.key);
  }

  /** Best effort: a cache that can't be written only means validating again next time. */
  add(): void {
    try {
      const keep = [...this.entries().filter((k) => k !== this.key), this.key].slice(-ValidatedCache.KEEP);
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}`;
      writeFileSync(tmp, `${keep.join('\n')}\n`, { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // read-only home, full disk: validation stays correct, only slower
    }
  }
}

/**
 * MurmurHash3 (x86, 128-bit) of `data`, as 32 hex digits: ValidatedCache's key. Not sha256:
 * loading node:crypto costs a `ps` more than the rest of validating from the cache. A key only
 * lets a document that validated before skip validation; 128 bits make an accidental collision
 * negligible, and the cache is the user's own file, so collisions by design are not a concern.
 */
export function murmur3x128(data: Uint8Array): string {
  const C1 = 0x239b961b;
  const C2 = 0xab0e9789;
  const C3 = 0x38b34ae5;
  const C4 = 0xa1e38b93;
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  const word = (i: number) => (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
  const fmix = (h: number) => {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  const len = data.length;
  const blocks = len - (len % 16);
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let h4 = 0;
  for (let i = 0; i < blocks; i += 16) {
    h1 ^= Math.imul(rotl(Math.imul(word(i), C1), 15), C2);
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    h2 ^= Math.imul(rotl(Math.imul(word(i + 4), C2), 16), C3);
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    h3 ^= Math.imul(rotl(Math.imul(word(i + 8), C3), 17), C4);
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    h4 ^= Math.imul(rotl(Math.imul(word(i + 12), C4), 18), C1);
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  // The tail: up to 15 bytes, little-endian into up to four lanes.
  const k = [0, 0, 0, 0];
  for (let i = blocks; i < len; i++) k[(i - blocks) >> 2]! |= data[i]! << (((i - blocks) & 3) * 8);
  if (len > blocks) {
    h4 ^= Math.imul(rotl(Math.imul(k[3]!, C4), 18), C1);
    h3 ^= Math.imul(rotl(Math.imul(k[2]!, C3), 17), C4);
    h2 ^= Math.imul(rotl(Math.imul(k[1]!, C2), 16), C3);
    h1 ^= Math.imul(rotl(Math.imul(k[0]!, C1), 15), C2);
  }
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  return [h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, '0')).join('');
}

const PRIORITY: Record<string, number> = { uniqueItems: 7, additionalProperties: 6, required: 5, enum: 4, pattern: 3, type: 2 };

function explain(errors: SchemaErrorObject[], tree: TreeMap, rep: Reporter, schema: TreeMap): Error {
  const relevant = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const pool = relevant.length > 0 ? relevant : errors;
  const depth = (e: SchemaErrorObject): number =>
    (e.instancePath === '' ? 0 : e.instancePath.split('/').length) + (e.keyword === 'additionalProperties' ? 1 : 0);
  let best = pool[0] as SchemaErrorObject;
  for (const e of pool) {
    const d = depth(e) - depth(best);
    if (d > 0 || (d === 0 && (PRIORITY[e.keyword] ?? 0) > (PRIORITY[best.keyword] ?? 0))) best = e;
  }
  const path = pointerToPath(best.instancePath, tree);
  const value = getIn(tree, path);
  switch (best.keyword) {
    case 'additionalProperties': {
      const key = String(best.params.additionalProperty);
      const parents = schemasAt(schema, path).filter((s) => s.additionalProperties === false);
      const props = parents.flatMap((p) => (isMap(p.properties) ? Object.keys(p.properties) : []));
      if (props.length === 0 && parents.some((p) => p.patternProperties)) {
        return rep.invalid([...path, key], `invalid name ${JSON.stringify(key)}; names may contain only letters, digits, ".", "_" and "-"`);
      }
      return rep.invalid([...path, key], `unknown key${didYouMean(key, props)}`);
    }
    case 'required':
      return rep.invalid(path, `missing required key ${JSON.stringify(best.params.missingProperty)}`);
    case 'enum': {
      const allowed = (best.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return rep.invalid(path, `expected one of ${allowed}; got ${describe(value)}`);
    }
    case 'uniqueItems':
      // Compose's own wording: "services.web.ports contains non-unique items".
      return rep.invalid(path, `contains non-unique items (entries ${Number(best.params.j) + 1} and ${Number(best.params.i) + 1} are the same)`);
    case 'pattern':
      return rep.invalid(path, `invalid value ${describe(value)}; expected a value matching ${String(best.params.pattern)}`);
    case 'type': {
      const types = new Set<string>();
      for (const e of pool) if (e.keyword === 'type' && e.instancePath === best.instancePath) for (const t of [e.params.type].flat()) types.add(String(t));
      return rep.invalid(path, `expected ${describeTypes([...types])}; got ${describe(value)}`);
    }
    default:
      return rep.invalid(path, best.message ?? 'invalid value');
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function describeTypes(types: string[]): string {
  const words = types.map((t) => TYPE_WORDS[t] ?? t);
  if (words.length <= 1) return words[0] ?? 'another type';
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function pointerToPath(pointer: string, tree: TreeMap): (string | number)[] {
  if (pointer === '') return [];
  const out: (string | number)[] = [];
  let cur: Tree | undefined = tree;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key: string | number = Array.isArray(cur) ? Number(seg) : seg;
    out.push(key);
    cur = getIn(cur, [key]);
  }
  return out;
}

/** The object subschemas that apply at `path`, following $ref, anyOf/oneOf branches and items. */
function schemasAt(root: TreeMap, path: (string | number)[]): TreeMap[] {
  const expand = (s: unknown, out: TreeMap[], seen = 0): TreeMap[] => {
    if (!isMap(s) || seen > 20) return out;
    if (typeof s.$ref === 'string') return expand(resolvePointer(root, s.$ref), out, seen + 1);
    for (const k of ['anyOf', 'oneOf'] as const) {
      const branches = s[k];
      if (Array.isArray(branches)) for (const b of branches) expand(b, out, seen + 1);
    }
    out.push(s);
    return out;
  };
  let current = expand(root, []);
  for (const seg of path) {
    const next: TreeMap[] = [];
    for (const s of current) {
      if (typeof seg === 'number') {
        if (s.items !== undefined) expand(s.items, next);
        continue;
      }
      const props = s.properties;
      if (isMap(props) && Object.hasOwn(props, seg)) {
        expand(props[seg], next);
        continue;
      }
      const patterns = s.patternProperties;
      let matched = false;
      if (isMap(patterns)) {
        for (const [re, sub] of Object.entries(patterns)) {
          if (new RegExp(re, 'u').test(seg)) {
            expand(sub, next);
            matched = true;
          }
        }
      }
      if (!matched && isMap(s.additionalProperties)) expand(s.additionalProperties, next);
    }
    current = next;
  }
  return current;
}

function resolvePointer(root: TreeMap, ref: string): unknown {
  let cur: unknown = root;
  for (const raw of ref.replace(/^#\/?/, '').split('/')) {
    if (raw === '') continue;
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}
