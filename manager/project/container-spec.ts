/**
 * A compose service as the engine's ContainerSpec: the same message `container run` builds from
 * flags, so a service's replica and a hand-run container start through one code path. Units
 * change here (nanoseconds → seconds for stop timeouts; CPUs → nano CPUs), nothing else.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../common/errors';
import { isTmpfsOption } from '../../common/tmpfs-options';
import { emptyContainerSpec, emptyMountSpec } from '../../common/rpc/engine-types';
import type { ContainerSpec, FileInjection, MountSpec, NetworkAttachment, PortBinding } from '../../common/rpc/engine-types';
import { parseBytes } from '../compose/index';
import type { ConfigObjConfig, Project, SecretConfig, ServiceConfig } from '../compose/index';
import { containerName } from './naming';
import { hooksLabel } from './hooks';

export interface ReplicaContext {
  project: Project;
  service: ServiceConfig;
  /** Replica number, from 1. */
  number: number;
  labels: Record<string, string>;
  /** Overrides the Compose name (one-off containers, `run --name`). */
  name?: string;
}

/** The image a service runs: its `image`, else the name `build` would tag (`proj-web`). */
export function serviceImage(project: Pick<Project, 'name'>, service: ServiceConfig): string {
  return service.image ?? `${project.name}-${service.name}`;
}

export function replicaName(project: Project, service: ServiceConfig, number: number): string {
  return service.container_name ?? containerName(project.name, service.name, number);
}

export function containerSpecOf(ctx: ReplicaContext): ContainerSpec {
  const { project, service: s } = ctx;
  const spec = emptyContainerSpec();
  spec.name = ctx.name ?? replicaName(project, s, ctx.number);
  spec.image = serviceImage(project, s);
  if (s.command !== undefined) {
    spec.cmd = s.command ?? [];
    spec.cmd_set = true;
  }
  if (s.entrypoint !== undefined) {
    spec.entrypoint = s.entrypoint ?? [];
    spec.entrypoint_set = true;
  }
  spec.env = Object.entries(s.environment ?? {})
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([k, v]) => `${k}=${v}`);
  spec.working_dir = s.working_dir ?? '';
  spec.user = s.user ?? '';
  spec.hostname = s.hostname ?? '';
  spec.domainname = s.domainname ?? '';
  spec.labels = { ...(s.labels ?? {}), ...hooksLabel(s), ...ctx.labels };
  spec.tty = s.tty ?? false;
  spec.open_stdin = s.stdin_open ?? false;
  spec.ports = portsOf(s);
  spec.expose = (s.expose ?? []).map((p) => (p.includes('/') ? p : `${p}/tcp`));
  applyNetworks(spec, project, s);
  spec.mounts = mountsOf(project, s);
  spec.files = filesOf(project, s);
  spec.read_only = s.read_only ?? false;
  spec.restart_policy = restartPolicyOf(s);
  applyResources(spec, s);
  spec.init = s.init ?? false;
  spec.cap_add = s.cap_add ?? [];
  spec.cap_drop = s.cap_drop ?? [];
  spec.privileged = s.privileged ?? false;
  spec.stop_signal = s.stop_signal ?? '';
  if (s.stop_grace_period !== undefined) spec.stop_timeout = Math.ceil(s.stop_grace_period / 1e9);
  if (s.healthcheck) {
    const h = s.healthcheck;
    spec.healthcheck = {
      test: h.disable ? ['NONE'] : (h.test ?? []),
      interval: h.interval ?? 0,
      timeout: h.timeout ?? 0,
      retries: h.retries ?? 0,
      start_period: h.start_period ?? 0,
      start_interval: h.start_interval ?? 0,
    };
  }
  spec.dns = s.dns ?? [];
  spec.dns_search = s.dns_search ?? [];
  spec.dns_options = s.dns_opt ?? [];
  spec.extra_hosts = Object.entries(s.extra_hosts ?? {}).flatMap(([host, ips]) => ips.map((ip) => `${host}:${ip}`));
  spec.sysctls = s.sysctls ?? {};
  spec.log_driver = s.logging?.driver ?? '';
  spec.log_options = { ...(s.logging?.options ?? {}) };
  spec.ulimits = Object.entries(s.ulimits ?? {}).map(([name, l]) => ({ name, soft: l.soft, hard: l.hard }));
  spec.volumes_from = (s.volumes_from ?? []).map((v) => volumesFromOf(project, v));
  // Containers outside the project, by their own names, as Docker's --link.
  spec.links = (s.external_links ?? []).map((l) => (l.includes(':') ? l : `${l}:${l}`));
  spec.platform = s.platform ?? '';
  spec.ipc_mode = serviceReference(project, s.ipc ?? '');
  spec.pid_mode = serviceReference(project, s.pid ?? '');
  spec.oom_score_adj = s.oom_score_adj ?? 0;
  spec.group_add = s.group_add ?? [];
  spec.security_opt = (s.security_opt ?? []).map((opt) => withSeccompProfile(opt, project.working_dir, s.name));
  spec.mac_address = s.mac_address ?? '';
  spec.devices = (s.devices ?? []).map((d) => `${d.source}:${d.target}:${d.permissions}`);
  spec.device_cgroup_rules = s.device_cgroup_rules ?? [];
  spec.cgroupns_mode = s.cgroup ?? '';
  spec.cgroup_parent = s.cgroup_parent ?? '';
  spec.uts_mode = s.uts ?? '';
  spec.annotations = s.annotations ?? {};
  return spec;
}

/**
 * Published ports. A host range (`8080-8082`) goes to the engine whole, as Compose passes it to
 * Docker: each replica's start takes the first free port of the range, so replicas get the next
 * free ones. A single host port binds once per host (the orchestrator refuses two replicas on it).
 */
function portsOf(s: ServiceConfig): PortBinding[] {
  return (s.ports ?? []).map((p) => {
    const binding: PortBinding = { container_port: p.target, protocol: p.protocol || 'tcp', host_ip: p.host_ip ?? '', host_port: 0 };
    if (p.published !== undefined && p.published !== '') {
      const [lo, hi] = p.published.split('-').map(Number);
      if (lo === undefined || !Number.isInteger(lo) || (hi !== undefined && (!Number.isInteger(hi) || hi < lo))) {
        throw invalidArgument(`service "${s.name}": invalid published port ${JSON.stringify(p.published)}`);
      }
      binding.host_port = lo;
      if (hi !== undefined && hi > lo) binding.host_port_end = hi;
    }
    return binding;
  });
}

/**
 * Networks in Compose's order: priority (highest first), then name, except that internal networks
 * come after the others: the first network is the container's primary one, the one its published
 * ports go out through, and an internal network has no way out.
 */
function orderedNetworks(project: Project, s: ServiceConfig): string[] {
  const internal = (key: string) => Number(project.networks[key]?.internal === true);
  return Object.entries(s.networks ?? {})
    .sort(([a, x], [b, y]) => (y?.priority ?? 0) - (x?.priority ?? 0) || internal(a) - internal(b) || a.localeCompare(b))
    .map(([k]) => k);
}

function applyNetworks(spec: ContainerSpec, project: Project, s: ServiceConfig): void {
  const mode = s.network_mode;
  if (mode !== undefined) {
    spec.network_mode = serviceReference(project, mode);
    return;
  }
  const keys = orderedNetworks(project, s);
  const attachments: NetworkAttachment[] = keys.map((key) => {
    const cfg = s.networks?.[key] ?? null;
    const engineName = project.networks[key]?.name ?? `${project.name}_${key}`;
    return {
      network: engineName,
      // Containers find each other by service name, as on Compose's networks.
      aliases: [...new Set([s.name, ...(cfg?.aliases ?? []), ...linkAliasesOf(project, s.name, key)])],
      ipv4_address: cfg?.ipv4_address ?? '',
      mac_address: cfg?.mac_address ?? '',
      driver_opts: cfg?.driver_opts ?? {},
    };
  });
  spec.network_mode = attachments[0]?.network ?? 'none';
  spec.networks = attachments;
}

/**
 * The names other services give this one with `links: ["db:database"]`, on a network they share.
 * Docker scopes such a name to the linking container; here the linked service answers to it on
 * that network, which the linking service finds the same way.
 */
function linkAliasesOf(project: Project, service: string, network: string): string[] {
  const out: string[] = [];
  for (const other of Object.values(project.services)) {
    if (!other.links?.length || other.name === service || !orderedNetworks(project, other).includes(network)) continue;
    for (const link of other.links) {
      const [target, alias] = link.split(':');
      if (target === service && alias && alias !== service) out.push(alias);
    }
  }
  return out;
}

/** `service:db` → `container:proj-db-1`; other modes pass through. */
function serviceReference(project: Project, mode: string): string {
  if (!mode.startsWith('service:')) return mode;
  const name = mode.slice('service:'.length);
  const target = project.services[name];
  return `container:${target ? replicaName(project, target, 1) : containerName(project.name, name, 1)}`;
}

function volumesFromOf(project: Project, entry: string): string {
  if (entry.startsWith('container:')) return entry.slice('container:'.length);
  const [name, mode] = entry.split(':');
  const target = project.services[name ?? ''];
  const container = target ? replicaName(project, target, 1) : containerName(project.name, name ?? '', 1);
  return mode ? `${container}:${mode}` : container;
}

/**
 * A service's secrets and configs as files for the engine. Their content is read here, when the
 * containers are made (from `file`, the project `environment`, or a config's inline `content`),
 * and travels in the spec, as Swarm sends secrets to a node: no bind mount of a host path that
 * another host wouldn't have. Secrets go to /run/secrets/<name>, configs to /<name>, by default.
 */
export function filesOf(project: Project, s: ServiceConfig): FileInjection[] {
  const refs = [
    ...(s.secrets ?? []).map((ref) => ({ kind: 'secret' as const, ref, def: project.secrets[ref.source] })),
    ...(s.configs ?? []).map((ref) => ({ kind: 'config' as const, ref, def: project.configs[ref.source] })),
  ];
  return refs.map(({ kind, ref, def }) => {
    const what = `service "${s.name}": ${kind} "${ref.source}"`;
    if (!def) throw invalidArgument(`${what} is not defined`);
    if (def.external) throw invalidArgument(`${what} is external: external ${kind}s need a swarm's store, not available to up`);
    const dir = kind === 'secret' ? '/run/secrets' : '/';
    const target = ref.target ?? ref.source;
    return {
      target: path.posix.isAbsolute(target) ? target : path.posix.join(dir, target),
      content: fileContent(what, def, project.environment),
      uid: numericId(what, 'uid', ref.uid),
      gid: numericId(what, 'gid', ref.gid),
      mode: ref.mode ?? 0o444,
    };
  });
}

/**
 * `seccomp=FILE` (or `seccomp:FILE`) with the profile's JSON in place of its path, as Compose and
 * Docker's CLI send it: the engine takes the profile itself. Relative paths are the project's.
 */
function withSeccompProfile(opt: string, projectDir: string, service: string): string {
  const m = /^seccomp[=:](.*)$/s.exec(opt);
  const file = m?.[1];
  if (file === undefined || file === 'unconfined' || file === 'builtin' || file === '' || file.trimStart().startsWith('{')) return opt;
  try {
    return `seccomp=${readFileSync(path.resolve(projectDir, file), 'utf8')}`;
  } catch (err) {
    throw invalidArgument(`service "${service}": security_opt: opening seccomp profile (${file}) failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function fileContent(what: string, def: SecretConfig | ConfigObjConfig, environment: Record<string, string>): Buffer {
  if (def.file !== undefined) {
    try {
      return readFileSync(def.file);
    } catch (err) {
      throw invalidArgument(`${what}: cannot read ${def.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (def.environment !== undefined) {
    const value = environment[def.environment];
    if (value === undefined) throw invalidArgument(`${what}: environment variable ${def.environment} is not set`);
    return Buffer.from(value);
  }
  if ('content' in def && def.content !== undefined) return Buffer.from(def.content);
  throw invalidArgument(`${what} has no file, environment or content`);
}

function numericId(what: string, field: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) throw invalidArgument(`${what}: ${field} must be a number, got "${value}"`);
  return Number(value);
}

function mountsOf(project: Project, s: ServiceConfig): MountSpec[] {
  const mounts: MountSpec[] = [];
  for (const v of s.volumes ?? []) {
    const m = emptyMountSpec(v.type, v.target);
    m.read_only = v.read_only ?? false;
    if (v.type === 'volume') {
      m.source = v.source !== undefined ? (project.volumes[v.source]?.name ?? v.source) : '';
      m.no_copy = v.volume?.nocopy ?? false;
      m.subpath = v.volume?.subpath ?? '';
      m.volume_labels = v.volume?.labels ?? {};
      const declared = v.source !== undefined ? project.volumes[v.source] : undefined;
      if (declared) {
        m.volume_driver = declared.driver ?? '';
        m.volume_options = declared.driver_opts ?? {};
      }
    } else if (v.type === 'bind') {
      m.source = v.source ?? '';
      // Only the short syntax implies create_host_path (the loader writes it there); the long one does not.
      m.create_host_path = v.bind?.create_host_path ?? false;
      m.propagation = v.bind?.propagation ?? '';
      m.selinux = v.bind?.selinux ?? '';
    } else if (v.type === 'tmpfs') {
      m.tmpfs_size = v.tmpfs?.size ?? 0;
      m.tmpfs_mode = v.tmpfs?.mode ?? 0;
    } else {
      throw invalidArgument(`service "${s.name}": volumes of type ${JSON.stringify(v.type)} are not supported`);
    }
    mounts.push(m);
  }
  for (const t of s.tmpfs ?? []) {
    const [target, ...opts] = t.split(':');
    const m = emptyMountSpec('tmpfs', target ?? t);
    for (const o of (opts.join(':') || '').split(',')) {
      if (o === '') continue;
      const [k, val] = o.split('=');
      if (k === 'size' && val) m.tmpfs_size = tmpfsSize(s, t, val);
      else if (k === 'mode' && val) m.tmpfs_mode = parseInt(val, 8) || 0;
      else if (k === 'ro' || k === 'rw') m.read_only = k === 'ro';
      else if (isTmpfsOption(o)) m.tmpfs_options.push(o);
      else throw invalidArgument(`service "${s.name}": tmpfs ${JSON.stringify(t)}: invalid option ${JSON.stringify(o)}`);
    }
    mounts.push(m);
  }
  return mounts;
}

/** `size=2m` of a `tmpfs:` entry: a byte size with Docker's units, as `--tmpfs` takes it. */
function tmpfsSize(s: ServiceConfig, entry: string, value: string): number {
  try {
    return parseBytes(value);
  } catch (err) {
    throw invalidArgument(`service "${s.name}": tmpfs ${JSON.stringify(entry)}: ${(err as Error).message}`);
  }
}

/** Swarm's restart conditions as the engine's policies, as Compose maps them outside a swarm. */
const RESTART_CONDITIONS: Record<string, string> = { none: 'no', no: 'no', 'on-failure': 'on-failure', 'unless-stopped': 'unless-stopped', any: 'always', always: 'always' };

/**
 * `restart`, or `deploy.restart_policy` when given (it wins, as in Compose). Its condition
 * defaults to `any`, as the Compose Specification says; `delay` and `window` belong to a swarm's
 * orchestrator, and the engine's own backoff applies instead.
 */
function restartPolicyOf(s: ServiceConfig): ContainerSpec['restart_policy'] {
  const policy = s.deploy?.restart_policy;
  if (policy) {
    const condition = policy.condition ?? 'any';
    const name = RESTART_CONDITIONS[condition];
    if (!name) throw invalidArgument(`service "${s.name}": invalid restart_policy condition "${condition}"`);
    // The engine counts retries for on-failure only (Docker refuses a count with the others).
    return { name, max_retries: name === 'on-failure' ? (policy.max_attempts ?? 0) : 0 };
  }
  if (!s.restart) return { name: '', max_retries: 0 };
  const [name, retries] = s.restart.split(':');
  return { name: name ?? '', max_retries: retries ? Number(retries) || 0 : 0 };
}

function applyResources(spec: ContainerSpec, s: ServiceConfig): void {
  const r = spec.resources;
  const limits = s.deploy?.resources?.limits;
  const reservations = s.deploy?.resources?.reservations;
  r.memory = s.mem_limit ?? limits?.memory ?? 0;
  r.memory_swap = s.memswap_limit ?? 0;
  r.memory_reservation = s.mem_reservation ?? reservations?.memory ?? 0;
  const cpus = s.cpus ?? limits?.cpus;
  r.nano_cpus = cpus !== undefined ? Math.round(cpus * 1e9) : 0;
  r.cpu_shares = s.cpu_shares ?? 0;
  r.cpu_quota = s.cpu_quota ?? 0;
  r.cpu_period = s.cpu_period ?? 0;
  r.cpuset_cpus = s.cpuset ?? '';
  r.pids_limit = s.pids_limit ?? limits?.pids ?? 0;
  r.shm_size = s.shm_size ?? 0;
  r.oom_kill_disable = s.oom_kill_disable ?? false;
  r.memory_swappiness = s.mem_swappiness ?? -1;
  const b = s.blkio_config;
  r.blkio_weight = b?.weight ?? 0;
  r.blkio_weight_device = (b?.weight_device ?? []).map((d) => ({ path: d.path, rate: d.weight }));
  r.device_read_bps = (b?.device_read_bps ?? []).map((d) => ({ path: d.path, rate: Number(d.rate) }));
  r.device_write_bps = (b?.device_write_bps ?? []).map((d) => ({ path: d.path, rate: Number(d.rate) }));
  r.device_read_iops = (b?.device_read_iops ?? []).map((d) => ({ path: d.path, rate: d.rate }));
  r.device_write_iops = (b?.device_write_iops ?? []).map((d) => ({ path: d.path, rate: d.rate }));
}
