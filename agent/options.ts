import * as path from 'node:path';
import { invalidArgument } from '../common/errors';

/** What a caller may set when starting an agent (from flags, env or daemon.json). */
export interface AgentOptions {
  dataRoot?: string;
  /** Docker's `registry-mirrors` (URLs), tried first for docker.io pulls. */
  registryMirrors?: string[];
  /** Registries that may use plain HTTP besides localhost. */
  insecureRegistries?: string[];
  /** Per-registry CAs and client certificates, laid out as Docker's certs.d, searched in order. */
  certsDirs?: string[];
  /** Layers fetched at once per image. */
  maxConcurrentDownloads?: number;
  maxConcurrentUploads?: number;
}

/** Every field set and checked: what the agent actually runs with. */
export interface CompiledAgentOptions {
  readonly dataRoot: string;
  readonly registryMirrors: readonly string[];
  readonly insecureRegistries: readonly string[];
  readonly certsDirs: readonly string[];
  readonly maxConcurrentDownloads: number;
  readonly maxConcurrentUploads: number;
}

export const DEFAULT_DATA_ROOT = '/var/lib/tscompose';
/** Ours first; Docker's after it, so that registries set up for Docker work as they are. */
export const DEFAULT_CERTS_DIRS: readonly string[] = ['/etc/tscompose/certs.d', '/etc/docker/certs.d'];

export function withDefaults(o: AgentOptions): CompiledAgentOptions {
  const dataRoot = path.resolve(o.dataRoot ?? DEFAULT_DATA_ROOT);
  const positive = (v: number | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < 1) throw invalidArgument(`agent options: ${name} must be a positive integer, got ${v}`);
    return v;
  };
  for (const m of o.registryMirrors ?? []) {
    if (!/^https?:\/\//.test(m)) throw invalidArgument(`agent options: registry mirror "${m}" must be an http(s) URL`);
  }
  return {
    dataRoot,
    registryMirrors: [...(o.registryMirrors ?? [])],
    insecureRegistries: [...(o.insecureRegistries ?? [])],
    certsDirs: (o.certsDirs ?? DEFAULT_CERTS_DIRS).map((d) => path.resolve(d)),
    maxConcurrentDownloads: positive(o.maxConcurrentDownloads, 'max-concurrent-downloads', 3),
    maxConcurrentUploads: positive(o.maxConcurrentUploads, 'max-concurrent-uploads', 5),
  };
}
