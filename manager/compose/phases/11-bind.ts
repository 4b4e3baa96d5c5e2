/**
 * Phase 11 — bind the canonical tree to the typed model (`model.ts`). The canonical tree already
 * has the model's shape; binding adds names, moves `x-` fields into `extensions`, and converts the
 * durations listed in `DURATION_PATHS` from their canonical text (`1m30s`) to nanoseconds.
 */
import { PathTable } from '../pathtable';
import { clone, isMap } from '../tree';
import type { Tree, TreeMap, TreePath } from '../tree';
import { parseDuration } from '../units';
import type { Project, ServiceConfig } from '../model';

const toNs = (v: Tree): Tree => (v === null ? null : parseDuration(v));

export const DURATION_PATHS = new PathTable<(v: Tree) => Tree>({
  'healthcheck.interval': toNs,
  'healthcheck.timeout': toNs,
  'healthcheck.start_period': toNs,
  'healthcheck.start_interval': toNs,
  stop_grace_period: toNs,
  'deploy.restart_policy.delay': toNs,
  'deploy.restart_policy.window': toNs,
  'deploy.update_config.delay': toNs,
  'deploy.update_config.monitor': toNs,
  'deploy.rollback_config.delay': toNs,
  'deploy.rollback_config.monitor': toNs,
});

function convert(v: Tree, path: TreePath): Tree {
  const f = DURATION_PATHS.get(path);
  if (f) return f(v);
  if (!DURATION_PATHS.hasBelow(path) || !isMap(v)) return v;
  for (const k of Object.keys(v)) v[k] = convert(v[k] as Tree, [...path, k]);
  return v;
}

function splitExtensions<T>(m: TreeMap, extra: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...extra };
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k.startsWith('x-')) extensions[k] = v;
    else out[k] = v;
  }
  out.extensions = extensions;
  return out as T;
}

export interface BindInput {
  canonical: TreeMap;
  workingDir: string;
  disabled: string[];
  profiles: string[];
  files: string[];
  environment: Record<string, string>;
  /** False for un-normalised trees, whose durations may still be short syntax or templates. */
  convertUnits?: boolean;
}

export function bindModel(input: BindInput): Project {
  const tree = input.canonical;
  const section = (k: string): TreeMap => (isMap(tree[k]) ? (tree[k] as TreeMap) : {});
  const services: Record<string, ServiceConfig> = {};
  for (const [name, raw] of Object.entries(section('services'))) {
    if (!isMap(raw)) continue;
    const typed = (input.convertUnits === false ? clone(raw) : convert(clone(raw), [])) as TreeMap;
    services[name] = splitExtensions<ServiceConfig>(typed, { name, canonical: raw });
  }
  const resources = <T>(k: string): Record<string, T> => {
    const out: Record<string, T> = {};
    for (const [key, r] of Object.entries(section(k))) out[key] = splitExtensions<T>(isMap(r) ? clone(r) : {}, {});
    return out;
  };
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree)) if (k.startsWith('x-')) extensions[k] = v;
  return {
    name: String(tree.name),
    working_dir: input.workingDir,
    services,
    networks: resources('networks'),
    volumes: resources('volumes'),
    secrets: resources('secrets'),
    configs: resources('configs'),
    models: resources('models'),
    disabled_services: input.disabled,
    profiles: input.profiles,
    compose_files: input.files,
    environment: input.environment,
    extensions,
  };
}
