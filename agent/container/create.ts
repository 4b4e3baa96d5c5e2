/**
 * Turning a ContainerSpec into a ContainerRecord: what Docker fixes at `create` time. The image's
 * config is merged in, the network mode and mounts are resolved and checked, and volumes are
 * created (and seeded from the image) so a later start only has to run things.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { alreadyExists, conflict, invalidArgument, notFound } from '../../common/errors';
import { isTmpfsOption } from '../../common/tmpfs-options';
import type { ContainerSpec } from '../../common/rpc/engine-types';
import type { ImageConfig } from '../image/oci';
import type { ImageRecord } from '../image/store';
import { validatePolicy } from './restart';
import { mergeEnv } from './setup';
import type { ContainerRecord, ResolvedConfig, ResolvedMount } from './record';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkName(name: string): string {
  const n = name.replace(/^\//, '');
  if (!NAME_RE.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return n;
}

export function nameConflict(name: string, holder: string): Error {
  return conflict(
    `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}

/** Docker's process resolution: ENTRYPOINT + CMD, where a new entrypoint drops the image's CMD. */
export function resolveConfig(spec: ContainerSpec, image: ImageConfig, id: string): ResolvedConfig {
  const ic = image.config ?? {};
  let entrypoint = ic.Entrypoint ?? [];
  let cmd = ic.Cmd ?? [];
  if (spec.entrypoint_set) {
    entrypoint = spec.entrypoint;
    if (!spec.cmd_set) cmd = [];
  }
  if (spec.cmd_set) cmd = spec.cmd;
  let healthcheck: ResolvedConfig['healthcheck'];
  const hs = spec.healthcheck;
  const test = hs.test.length > 0 ? hs.test : (ic.Healthcheck?.Test ?? []);
  if (test.length > 0 && test[0] !== 'NONE') {
    healthcheck = {
      test,
      interval: hs.interval || ic.Healthcheck?.Interval || 0,
      timeout: hs.timeout || ic.Healthcheck?.Timeout || 0,
      retries: hs.retries || ic.Healthcheck?.Retries || 0,
      startPeriod: hs.start_period || ic.Healthcheck?.StartPeriod || 0,
      startInterval: hs.start_interval || ic.Healthcheck?.StartInterval || 0,
    };
  }
  const exposed = new Set(Object.keys(ic.ExposedPorts ?? {}));
  for (const e of spec.expose) exposed.add(e.includes('/') ? e : `${e}/tcp`);
  for (const p of spec.ports) exposed.add(`${p.container_port}/${p.protocol || 'tcp'}`);
  return {
    entrypoint,
    cmd,
    env: mergeEnv(ic.Env ?? [], spec.env),
    workingDir: spec.working_dir || ic.WorkingDir || '',
    user: spec.user || ic.User || '',
    stopSignal: spec.stop_signal || ic.StopSignal || 'SIGTERM',
    healthcheck,
    exposedPorts: [...exposed],
    imageVolumes: Object.keys(ic.Volumes ?? {}),
    labels: { ...(ic.Labels ?? {}), ...spec.labels },
    // In the host's UTS or network namespace, the host's name (Docker's initializeNetworking).
    hostname: spec.hostname || (spec.uts_mode === 'host' || spec.network_mode === 'host' ? os.hostname() : id.slice(0, 12)),
  };
}

export interface NetworkChoice {
  networkMode: ContainerRecord['networkMode'];
  networks: string[];
}

/** `--network` as Docker reads it, plus the extra attachments of a compose service. */
export function resolveNetworkMode(spec: ContainerSpec): NetworkChoice {
  const mode = spec.network_mode || 'bridge';
  if (mode === 'host') return { networkMode: 'host', networks: [] };
  if (mode === 'none') return { networkMode: 'none', networks: [] };
  if (mode.startsWith('container:')) {
    if (mode.length === 10) throw invalidArgument('invalid network mode: container: needs a container name');
    return { networkMode: 'container', networks: [] };
  }
  const primary = mode === 'default' ? 'bridge' : mode;
  const rest = spec.networks.map((n) => n.network).filter((n) => n && n !== primary);
  return { networkMode: 'bridge', networks: [primary, ...new Set(rest)] };
}

/** Mounts from `-v`, `--mount`, `--tmpfs`, plus anonymous volumes for the image's VOLUMEs. */
export async function resolveMounts(
  spec: ContainerSpec,
  config: ResolvedConfig,
  volumesFrom: ResolvedMount[],
): Promise<{ mounts: ResolvedMount[]; anonymous: string[]; named: Array<{ name: string; labels: Record<string, string>; driver: string; options: Record<string, string> }> }> {
  const mounts: ResolvedMount[] = [];
  const anonymous: string[] = [];
  const named: Array<{ name: string; labels: Record<string, string>; driver: string; options: Record<string, string> }> = [];
  const targets = new Set<string>();
  const addTarget = (t: string) => {
    const clean = path.posix.normalize(t);
    if (!path.posix.isAbsolute(clean)) throw invalidArgument(`invalid mount config: mount path must be absolute: ${t}`);
    if (targets.has(clean)) throw invalidArgument(`Duplicate mount point: ${clean}`);
    targets.add(clean);
    return clean;
  };
  for (const m of spec.mounts) {
    const target = addTarget(m.target);
    if (m.type === 'bind') {
      if (!path.isAbsolute(m.source)) throw invalidArgument(`invalid mount config for type "bind": invalid mount path: '${m.source}' mount path must be absolute`);
      try {
        await fsp.stat(m.source);
      } catch {
        if (!m.create_host_path) throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
        await fsp.mkdir(m.source, { recursive: true });
      }
      mounts.push({ type: 'bind', source: m.source, target, readOnly: m.read_only, propagation: m.propagation || undefined });
    } else if (m.type === 'volume') {
      if (m.source) {
        named.push({ name: m.source, labels: m.volume_labels, driver: m.volume_driver, options: m.volume_options });
        mounts.push({ type: 'volume', source: m.source, target, readOnly: m.read_only, ...(m.subpath && { subpath: volumeSubpath(m.subpath) }) });
      } else {
        if (m.subpath) throw invalidArgument(`invalid mount config for type "volume": a subpath needs a named volume (${target})`);
        anonymous.push(target);
        mounts.push({ type: 'volume', source: '', target, readOnly: m.read_only });
      }
    } else if (m.type === 'tmpfs') {
      const bad = (m.tmpfs_options ?? []).find((o) => !isTmpfsOption(o));
      if (bad !== undefined) throw invalidArgument(`invalid mount config for type "tmpfs": invalid option ${JSON.stringify(bad)} (${target})`);
      mounts.push({
        type: 'tmpfs',
        source: '',
        target,
        readOnly: m.read_only,
        tmpfsSize: m.tmpfs_size || undefined,
        tmpfsMode: m.tmpfs_mode || undefined,
        ...(m.tmpfs_options?.length ? { tmpfsOptions: [...m.tmpfs_options] } : {}),
      });
    } else {
      throw invalidArgument(`invalid mount type: ${m.type}`);
    }
  }
  for (const m of volumesFrom) {
    if (targets.has(m.target)) continue;
    targets.add(m.target);
    mounts.push({ ...m });
  }
  for (const v of config.imageVolumes) {
    const t = path.posix.normalize(v);
    if (targets.has(t)) continue;
    targets.add(t);
    anonymous.push(t);
    mounts.push({ type: 'volume', source: '', target: t, readOnly: false });
  }
  return { mounts, anonymous, named };
}

/** A subpath must stay inside its volume: relative, without `..` (Docker's own check). */
function volumeSubpath(subpath: string): string {
  const clean = path.posix.normalize(subpath);
  if (path.posix.isAbsolute(clean) || clean === '..' || clean.startsWith('../')) {
    throw invalidArgument(`invalid mount config for type "volume": subpath must be a relative path within the volume: ${subpath}`);
  }
  return clean;
}

export function imageRef(img: ImageRecord): string {
  return img.id;
}

export { alreadyExists, notFound };
