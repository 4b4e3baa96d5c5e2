/**
 * Phase 8 — resolve paths. Relative host paths become absolute against the project directory
 * (`~` against the home directory). Which values are paths is declared in `PATH_RULES`, keyed by
 * path pattern; URLs and image references are left alone. Runs on canonical (normalised) trees.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { PathTable } from '../pathtable';
import { isMap } from '../tree';
import type { Tree, TreeMap, TreePath } from '../tree';

export interface PathContext {
  baseDir: string;
  home: string;
}

type PathRule = (v: Tree, ctx: PathContext) => Tree;

export function resolveHostPath(p: string, ctx: PathContext): string {
  if (p === '~') return ctx.home;
  if (p.startsWith('~/')) return join(ctx.home, p.slice(2));
  return isAbsolute(p) ? p : resolve(ctx.baseDir, p);
}

const REMOTE = /^(https?:\/\/|git:\/\/|git@|ssh:\/\/|github\.com\/|docker-image:\/\/|service:|oci-layout:\/\/|target:)/;

const hostPath: PathRule = (v, ctx) => (typeof v === 'string' && v !== '' ? resolveHostPath(v, ctx) : v);
const localOrRemote: PathRule = (v, ctx) => (typeof v === 'string' && !REMOTE.test(v) ? resolveHostPath(v, ctx) : v);

const bindSource: PathRule = (v, ctx) => {
  if (!isMap(v) || v.type !== 'bind' || typeof v.source !== 'string') return v;
  return { ...v, source: resolveHostPath(v.source, ctx) };
};

const mapValues =
  (rule: PathRule): PathRule =>
  (v, ctx) => {
    if (!isMap(v)) return v;
    const out: TreeMap = {};
    for (const [k, x] of Object.entries(v)) out[k] = rule(x, ctx);
    return out;
  };

export const PATH_RULES = new PathTable<PathRule>({
  'services.*.build.context': localOrRemote,
  'services.*.build.additional_contexts': mapValues(localOrRemote),
  'services.*.volumes.*': bindSource,
  'services.*.develop.watch.*.path': hostPath,
  'services.*.credential_spec.file': hostPath,
  'secrets.*.file': hostPath,
  'configs.*.file': hostPath,
});

export function resolvePathsAt(node: Tree, path: TreePath, ctx: PathContext): Tree {
  const rule = PATH_RULES.get(path);
  if (rule) return rule(node, ctx);
  if (!PATH_RULES.hasBelow(path)) return node;
  if (Array.isArray(node)) return node.map((x, i) => resolvePathsAt(x, [...path, i], ctx));
  if (isMap(node)) {
    for (const k of Object.keys(node)) node[k] = resolvePathsAt(node[k] as Tree, [...path, k], ctx);
  }
  return node;
}

export function resolveTreePaths(tree: TreeMap, ctx: PathContext): TreeMap {
  return resolvePathsAt(tree, [], ctx) as TreeMap;
}
