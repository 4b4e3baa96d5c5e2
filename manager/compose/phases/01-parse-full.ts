/**
 * Phase 1, the full parser: the `yaml` library reads any YAML 1.2, keeping the document to locate
 * errors. Anchors, aliases and merge keys (`<<`) are expanded here; `!reset` and `!override`
 * become `Tagged` leaves for the merge phase. Loaded only for files the fast reader leaves to it.
 */
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, isPair, YAMLMap, YAMLSeq } from 'yaml';
import type { Document } from 'yaml';
import { ComposeError } from '../errors';
import type { SourcePosition } from '../errors';
import { Tagged } from '../tree';
import { keepIntegerText } from '../yaml-fast';
import type { Tree, TreeMap, TreePath } from '../tree';

/** One parsed Compose file. `locate` maps a tree path to the position of its entry in the text. */
export interface ParsedFile {
  file: string;
  tree: TreeMap;
  locate(path: TreePath): { pos: SourcePosition; depth: number };
}

const identity = <T>(v: T): T => v;
const SPECIAL_TAGS = ['!reset', '!override'].flatMap((tag) => [
  { tag, resolve: identity },
  { tag, collection: 'seq' as const, nodeClass: YAMLSeq, resolve: identity },
  { tag, collection: 'map' as const, nodeClass: YAMLMap, resolve: identity },
]);

/** Expansion budget: aliases can make a small file huge ("billion laughs"). */
const MAX_NODES = 2_000_000;
const MAX_DEPTH = 500;
const INTEGER = /^[-+]?[0-9]+$/;

/** The `yaml` library's parser: every YAML feature, positions for error messages. */
export function parseFull(file: string, text: string, warnings: string[] = []): ParsedFile {
  const lineCounter = new LineCounter();
  const posAt = (offset: number): SourcePosition => {
    const lp = lineCounter.linePos(offset);
    return { file, line: lp.line, col: lp.col };
  };
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, {
      lineCounter,
      merge: false,
      uniqueKeys: true,
      version: '1.2',
      prettyErrors: false,
      customTags: (tags) => [...tags, ...SPECIAL_TAGS],
    });
  } catch (err) {
    throw new ComposeError('InvalidArgument', `yaml: ${(err as Error).message}`, { pos: { file } });
  }
  const firstError = doc.errors[0];
  if (firstError) {
    const at = firstError.pos[0];
    const ch = text[at];
    const near = ch === undefined ? 'at end of input' : `at ${JSON.stringify(ch)}`;
    const msg = firstError.message.split(' at line')[0]?.split('\n')[0] ?? firstError.message;
    throw new ComposeError('InvalidArgument', `yaml: ${msg} (${near})`, { pos: posAt(at) });
  }
  for (const w of doc.warnings) {
    const msg = w.message.split(' at line')[0]?.split('\n')[0] ?? w.message;
    const p = posAt(w.pos[0]);
    warnings.push(`${file}:${p.line}:${p.col}: ${msg}`);
  }
  // A second document in the stream would be silently ignored by parseDocument.
  const contentEnd = doc.range[2];
  if (contentEnd < text.length && /^\s*---/m.test(text.slice(contentEnd))) {
    throw new ComposeError('InvalidArgument', 'yaml: a Compose file must hold a single YAML document', {
      pos: posAt(contentEnd),
    });
  }

  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new ComposeError('InvalidArgument', 'empty compose file; expected a mapping with at least `services`', {
      pos: { file, line: 1, col: 1 },
    });
  }
  let budget = MAX_NODES;
  const convert = (node: unknown, path: TreePath, depth: number): Tree => {
    if (--budget < 0) throw new ComposeError('InvalidArgument', 'yaml: document too large after alias expansion', { pos: { file }, path });
    if (depth > MAX_DEPTH) throw new ComposeError('InvalidArgument', 'yaml: nesting too deep (recursive alias?)', { pos: { file }, path });
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) throw new ComposeError('InvalidArgument', `yaml: unknown alias *${node.source}`, { pos: posOf(node), path });
      return convert(target, path, depth + 1);
    }
    let value: Tree;
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || v === undefined) value = null;
      else if (typeof v === 'number' && node.type === 'PLAIN' && typeof node.source === 'string' && INTEGER.test(node.source) && keepIntegerText(node.source, v)) {
        // `0440` (YAML 1.2 reads decimal 440) and integers a number would round keep their text.
        value = node.source;
      } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') value = v;
      else if (typeof v === 'bigint') value = Number(v);
      else value = String(v);
    } else if (isSeq(node)) {
      value = node.items.map((item, i) => convert(item, [...path, i], depth + 1));
    } else if (isMap(node)) {
      value = convertMap(node, path, depth);
    } else {
      throw new ComposeError('InvalidArgument', 'yaml: unsupported node', { pos: posOf(node), path });
    }
    const tag = (node as { tag?: string }).tag;
    if (tag === '!reset') return new Tagged('reset', value);
    if (tag === '!override') return new Tagged('override', value);
    return value;
  };
  const posOf = (node: unknown): SourcePosition => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? posAt(range[0]) : { file };
  };
  const keyOf = (key: unknown, path: TreePath): string => {
    if (isScalar(key)) return key.value === null ? 'null' : String(key.value);
    if (key === null || key === undefined) return 'null';
    throw new ComposeError('InvalidArgument', 'yaml: mapping keys must be scalars', { pos: posOf(key), path });
  };
  const convertMap = (node: YAMLMap, path: TreePath, depth: number): TreeMap => {
    const out: TreeMap = {};
    const mergeSources: unknown[] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = pair.key;
      if (isScalar(key) && key.value === '<<' && key.type === 'PLAIN') {
        const v = pair.value;
        if (isSeq(v)) mergeSources.push(...v.items);
        else mergeSources.push(v);
        continue;
      }
      const k = keyOf(key, path);
      out[k] = convert(pair.value, [...path, k], depth + 1);
    }
    // Explicit keys win over merged ones; among merge sources the first listed wins.
    for (const src of mergeSources) {
      const resolved = isAlias(src) ? src.resolve(doc) : src;
      const merged = convert(resolved, path, depth + 1);
      if (merged === null || typeof merged !== 'object' || Array.isArray(merged) || merged instanceof Tagged) {
        throw new ComposeError('InvalidArgument', 'yaml: merge key `<<` expects a mapping or a list of mappings', {
          pos: posOf(src),
          path,
        });
      }
      for (const k of Object.keys(merged)) if (!Object.hasOwn(out, k)) out[k] = merged[k] as Tree;
    }
    return out;
  };

  const tree = convert(root, [], 0);
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree) || tree instanceof Tagged) {
    throw new ComposeError('InvalidArgument', 'top-level object must be a mapping', { pos: posOf(root) });
  }

  const locate = (path: TreePath): { pos: SourcePosition; depth: number } => {
    let node: unknown = root;
    let pos = posOf(root);
    let depth = 0;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(doc);
      let next: { at: unknown; value: unknown } | undefined;
      if (typeof seg === 'number' && isSeq(node)) {
        const item = node.items[seg];
        if (item !== undefined) next = { at: item, value: item };
      } else if (typeof seg === 'string' && isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
        if (pair) next = { at: pair.key, value: pair.value };
      }
      if (!next) break;
      pos = posOf(next.at);
      node = next.value;
      depth++;
    }
    return { pos, depth };
  };
  return { file, tree, locate };
}
