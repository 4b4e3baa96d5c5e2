/**
 * Printing the canonical tree: YAML (a Compose file that loads back to the same model) and JSON,
 * and the per-service configuration hash the runtime stores as a container label.
 */
import { emitYaml } from './yaml-emit';
import { isMap, stableStringify } from './tree';
import type { Tree, TreeMap } from './tree';
import type { ServiceConfig } from './model';
import type { LoadedProject } from './pipeline';

export interface PrintOptions {
  /**
   * Escape `$` as `$$` so that loading the output again (with interpolation) yields the same
   * values. Default true; pass false for trees loaded with `--no-interpolate`.
   */
  escapeDollars?: boolean;
}

function escapeDollars(v: Tree): Tree {
  if (typeof v === 'string') return v.includes('$') ? v.replaceAll('$', '$$$$') : v;
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (isMap(v)) {
    const out: TreeMap = {};
    for (const [k, x] of Object.entries(v)) out[k] = escapeDollars(x);
    return out;
  }
  return v;
}

function treeOf(input: LoadedProject | TreeMap): { tree: TreeMap; escape: boolean } {
  if ('canonical' in input && 'model' in input && isMap((input as LoadedProject).canonical)) {
    const lp = input as LoadedProject;
    return { tree: lp.canonical, escape: lp.interpolate };
  }
  return { tree: input as TreeMap, escape: true };
}

export function toYaml(input: LoadedProject | TreeMap, opts: PrintOptions = {}): string {
  const { tree, escape } = treeOf(input);
  return emitYaml(tree, { escapeDollars: opts.escapeDollars ?? escape });
}

export function toJson(input: LoadedProject | TreeMap, opts: PrintOptions = {}): string {
  const { tree, escape } = treeOf(input);
  const out = (opts.escapeDollars ?? escape) ? escapeDollars(tree) : tree;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/**
 * Attributes that do not change a running container: scaling, how the image is obtained, and
 * start-up ordering. Leaving them out keeps `up` from recreating containers when only they change.
 */
const NOT_HASHED = ['build', 'pull_policy', 'scale', 'depends_on', 'profiles'];

/** sha256 (hex) of a service's canonical configuration; used as the config-hash label. */
export function serviceConfigHash(service: ServiceConfig | TreeMap): string {
  const tree = (isMap((service as ServiceConfig).canonical) ? (service as ServiceConfig).canonical : service) as TreeMap;
  const copy: TreeMap = { ...tree };
  for (const k of NOT_HASHED) delete copy[k];
  if (isMap(copy.deploy)) {
    const deploy = { ...copy.deploy };
    delete deploy.replicas;
    copy.deploy = deploy;
  }
  // Loaded here, not imported: node:crypto's load is a noticeable part of the start-up of verbs
  // (`ps`, `down`) that load the project but hash nothing.
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256').update(stableStringify(copy)).digest('hex');
}
