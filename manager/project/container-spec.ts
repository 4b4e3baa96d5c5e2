/**
 * A compose service as the engine's ContainerSpec: the same message `container run` builds from
 * flags, so a service's replica and a hand-run container start through one code path. Units
 * change here (nanoseconds → seconds for stop timeouts; CPUs → nano CPUs), nothing else.
 */
import { invalidArgument } from '../../common/errors';
import { emptyContainerSpec, emptyMountSpec } from '../../common/rpc/engine-types';
import type { ContainerSpec, MountSpec, NetworkAttachment, PortBinding } from '../../common/rpc/engine-types';
import type { Project, ServiceConfig } from '../compose/index';
import { containerName } from './naming';

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
  spec.labels = { ...(s.labels ?? {}), ...ctx.labels };
  spec.tty = s.tty ?? false;
  spec.open_stdin = s.stdin_open ?? false;
  spec.ports = portsOf(s);
  spec.expose = (s.expose ?? []).map((p) => (p.includes('/') ? p : `${p}/tcp`));
  applyNetworks(spec, project, s);
  spec.mounts = mountsOf(project, s);
  spec.read_only = s.read_only ?? false;
  spec.restart_policy = restartPolicyOf(s.restart);
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
  spec.ulimits = Object.entries(s.ulimits ?? {}).map(([name, l]) => ({ name, soft: l.soft, hard: l.hard }));
  spec.volumes_from = (s.volumes_from ?? []).map((v) => volumesFromOf(project, v));
  spec.platform = s.platform ?? '';
  spec.ipc_mode = serviceReference(project, s.ipc ?? '');
  spec.pid_mode = serviceReference(project, s.pid ?? '');
  spec.oom_score_adj = s.oom_score_adj ?? 0;
  spec.group_add = s.group_add ?? [];
  spec.security_opt = s.security_opt ?? [];
  spec.mac_address = s.mac_address ?? '';
  spec.devices = (s.devices ?? []).map((d) => `${d.source}:${d.target}:${d.permissions}`);
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
      aliases: [...new Set([s.name, ...(cfg?.aliases ?? [])])],
      ipv4_address: cfg?.ipv4_address ?? '',
      mac_address: cfg?.mac_address ?? '',
      driver_opts: cfg?.driver_opts ?? {},
    };
  });
  spec.network_mode = attachments[0]?.network ?? 'none';
  spec.networks = attachments;
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
      m.create_host_path = v.bind?.create_host_path ?? true;
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
      const [k, val] = o.split('=');
      if (k === 'size' && val) m.tmpfs_size = Number(val) || 0;
      if (k === 'mode' && val) m.tmpfs_mode = parseInt(val, 8) || 0;
    }
    mounts.push(m);
  }
  return mounts;
}


function restartPolicyOf(restart: string | undefined): ContainerSpec['restart_policy'] {
  if (!restart) return { name: '', max_retries: 0 };
  const [name, retries] = restart.split(':');
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
}
