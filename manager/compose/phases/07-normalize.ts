/**
 * Phase 7 — normalise to the canonical long syntax. Each rule of the `NORMALIZE_RULES` table,
 * keyed by path pattern, turns one attribute's accepted spellings into its single canonical form
 * (`pre` runs before the walker descends into the value, `post` after). Normalising is
 * idempotent: canonical input comes out unchanged, which `config | config -f -` relies on.
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDotenv, DotenvError } from '../dotenv';
import type { Lookup } from '../interpolation';
import type { Reporter } from '../errors';
import { PathTable } from '../pathtable';
import { parseDeviceShort, parsePortShort, parseVolumeShort, splitAssignment, splitExtraHost, expectPort } from '../syntax';
import { isMap } from '../tree';
import type { Tree, TreeMap, TreePath } from '../tree';
import {
  ValueError,
  formatDuration,
  parseBool,
  parseBytes,
  parseDuration,
  parseFileMode,
  parseInteger,
  parseNumber,
  shellSplit,
} from '../units';

export interface NormalizeContext {
  rep: Reporter;
  projectName: string;
  /** Base for env_file and label_file paths, which must be read now. */
  projectDir: string;
  /** The project environment: resolves `environment` entries given without a value. */
  lookup: Lookup;
  readText(file: string): string | undefined;
  warnings: string[];
}

type Fn = (v: Tree, path: TreePath, ctx: NormalizeContext) => Tree | undefined;
interface Rule {
  pre?: Fn;
  post?: Fn;
}

/** Runs a value parser, turning its ValueError into a located ComposeError. */
function conv<T>(ctx: NormalizeContext, path: TreePath, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof ValueError) throw ctx.rep.invalid(path, err.message);
    throw err;
  }
}

const scalarRule =
  (parse: (v: unknown) => Tree): Fn =>
  (v, path, ctx) =>
    v === null ? v : conv(ctx, path, () => parse(v));

const bool = scalarRule(parseBool);
const int = scalarRule(parseInteger);
const num = scalarRule(parseNumber);
const bytes = scalarRule(parseBytes);
const duration = scalarRule((v) => formatDuration(parseDuration(v)));
const fileMode = scalarRule(parseFileMode);
const str = scalarRule((v) => String(v));
const pre = (f: Fn): Rule => ({ pre: f });

const list = (v: Tree | undefined): Tree[] => (Array.isArray(v) ? v : v === null || v === undefined ? [] : [v]);
const stringList: Fn = (v) => list(v).map((x) => String(x));
const emptyMap: Fn = (v) => (v === null ? {} : v);

/** list_or_dict → mapping of strings; `nullValue` decides what a bare `KEY` becomes. */
function dict(nullValue: (key: string, ctx: NormalizeContext) => Tree): Fn {
  return (v, path, ctx) => {
    const out: TreeMap = {};
    if (isMap(v)) {
      for (const [k, val] of Object.entries(v)) out[k] = val === null ? nullValue(k, ctx) : String(val);
    } else {
      for (const e of list(v)) {
        const [k, val] = splitAssignment(String(e));
        if (k === '') throw ctx.rep.invalid(path, `invalid entry ${JSON.stringify(e)}; expected KEY=VALUE`);
        out[k] = val === null ? nullValue(k, ctx) : val;
      }
    }
    return out;
  };
}
const keepNull = dict(() => null);
const emptyString = dict(() => '');

const command: Fn = (v, path, ctx) => (typeof v === 'string' ? conv(ctx, path, () => shellSplit(v)) : v === null ? null : list(v).map(String));

const extraHosts: Fn = (v, path, ctx) => {
  const out: TreeMap = {};
  const add = (host: string, ip: string): void => {
    const ips = (out[host] as string[] | undefined) ?? [];
    ips.push(ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip);
    out[host] = ips;
  };
  if (isMap(v)) for (const [h, ips] of Object.entries(v)) for (const ip of list(ips)) add(h, String(ip));
  else for (const e of list(v)) conv(ctx, path, () => add(...splitExtraHost(String(e))));
  return out;
};

const ports: Fn = (v, path, ctx) => {
  const out: Tree[] = [];
  list(v).forEach((p, i) => {
    const at = [...path, i];
    if (typeof p === 'string' || typeof p === 'number') {
      out.push(...conv(ctx, at, () => parsePortShort(p)));
      return;
    }
    if (!isMap(p)) throw ctx.rep.invalid(at, 'expected a port string or mapping');
    const e: TreeMap = {};
    if (p.name !== undefined) e.name = String(p.name);
    e.mode = String(p.mode ?? 'ingress');
    if (p.host_ip !== undefined && p.host_ip !== '') e.host_ip = String(p.host_ip);
    e.target = conv(ctx, [...at, 'target'], () => expectPort(p.target));
    if (p.published !== undefined && p.published !== null && p.published !== '') {
      const pub = String(p.published);
      if (!/^\d+(-\d+)?$/.test(pub)) throw ctx.rep.invalid([...at, 'published'], `invalid published port ${JSON.stringify(pub)}; expected a port or a range like 8000-8010`);
      e.published = pub;
    }
    e.protocol = String(p.protocol ?? 'tcp').toLowerCase();
    if (p.app_protocol !== undefined) e.app_protocol = String(p.app_protocol);
    for (const k of Object.keys(p)) if (k.startsWith('x-')) e[k] = p[k] as Tree;
    out.push(e);
  });
  return out;
};

const volumes: Fn = (v, path, ctx) =>
  list(v).map((e, i) => {
    const at = [...path, i];
    if (typeof e === 'string') return conv(ctx, at, () => parseVolumeShort(e));
    if (!isMap(e)) throw ctx.rep.invalid(at, 'expected a volume string or mapping');
    const out: TreeMap = { ...e };
    if (out.read_only !== undefined) out.read_only = conv(ctx, [...at, 'read_only'], () => parseBool(out.read_only));
    if (isMap(out.bind)) {
      const b = { ...out.bind };
      if (b.create_host_path !== undefined) b.create_host_path = conv(ctx, [...at, 'bind'], () => parseBool(b.create_host_path));
      out.bind = b;
    }
    if (out.type === 'volume') {
      const vol: TreeMap = isMap(out.volume) ? { ...out.volume } : {};
      if (vol.nocopy !== undefined) vol.nocopy = conv(ctx, [...at, 'volume', 'nocopy'], () => parseBool(vol.nocopy));
      if (vol.labels !== undefined) vol.labels = emptyString(vol.labels, [...at, 'volume', 'labels'], ctx) as Tree;
      out.volume = vol;
    }
    if (isMap(out.tmpfs)) {
      const t = { ...out.tmpfs };
      if (t.size !== undefined) t.size = conv(ctx, [...at, 'tmpfs', 'size'], () => parseBytes(t.size));
      if (t.mode !== undefined) t.mode = conv(ctx, [...at, 'tmpfs', 'mode'], () => parseFileMode(t.mode));
      out.tmpfs = t;
    }
    return out;
  });

const secretRefs: Fn = (v, path, ctx) =>
  list(v).map((e, i) => {
    if (typeof e === 'string') return { source: e };
    if (!isMap(e)) throw ctx.rep.invalid([...path, i], 'expected a name or a mapping with `source`');
    const out: TreeMap = { ...e };
    if (out.mode !== undefined && out.mode !== null) out.mode = conv(ctx, [...path, i, 'mode'], () => parseFileMode(out.mode));
    if (out.uid !== undefined) out.uid = String(out.uid);
    if (out.gid !== undefined) out.gid = String(out.gid);
    return out;
  });

const dependsOn: Fn = (v, path, ctx) => {
  const out: TreeMap = {};
  if (Array.isArray(v)) {
    for (const name of v) out[String(name)] = { condition: 'service_started', required: true };
    return out;
  }
  if (!isMap(v)) return v;
  for (const [name, d] of Object.entries(v)) {
    const e: TreeMap = isMap(d) ? { ...d } : {};
    e.condition = String(e.condition ?? 'service_started');
    e.required = e.required === undefined ? true : conv(ctx, [...path, name, 'required'], () => parseBool(e.required));
    if (e.restart !== undefined) e.restart = conv(ctx, [...path, name, 'restart'], () => parseBool(e.restart));
    out[name] = e;
  }
  return out;
};

const namesToMap: Fn = (v) => {
  if (!Array.isArray(v)) return v === null ? {} : v;
  const out: TreeMap = {};
  for (const n of v) out[String(n)] = null;
  return out;
};

const ulimit: Fn = (v, path, ctx) => {
  if (isMap(v)) return { soft: conv(ctx, path, () => parseInteger(v.soft)), hard: conv(ctx, path, () => parseInteger(v.hard)) };
  const n = conv(ctx, path, () => parseInteger(v));
  return { soft: n, hard: n };
};

const deviceRequest: Fn = (v, path, ctx) => {
  if (!isMap(v)) return v;
  const out: TreeMap = { ...v };
  if (out.count !== undefined) out.count = out.count === 'all' ? -1 : conv(ctx, [...path, 'count'], () => parseInteger(out.count));
  if (out.options !== undefined) out.options = emptyString(out.options, [...path, 'options'], ctx) as Tree;
  return out;
};

const build: Fn = (v) => {
  const b: TreeMap = typeof v === 'string' ? { context: v } : isMap(v) ? { ...v } : {};
  b.context ??= '.';
  if (b.dockerfile === undefined && b.dockerfile_inline === undefined) b.dockerfile = 'Dockerfile';
  return b;
};

const sshList: Fn = (v) => {
  if (isMap(v)) return Object.entries(v).map(([k, val]) => (val === null || val === '' ? k : `${k}=${String(val)}`));
  return list(v).map(String);
};

const healthcheckTest: Fn = (v) => (typeof v === 'string' ? (v === '' ? [] : ['CMD-SHELL', v]) : v);

const externalResource: Fn = (v, path, ctx) => {
  const r: TreeMap = isMap(v) ? { ...v } : {};
  const ext = r.external;
  if (isMap(ext)) {
    if (typeof ext.name === 'string') {
      if (r.name !== undefined && r.name !== ext.name) throw ctx.rep.invalid([...path, 'external', 'name'], 'conflicts with `name`; set only `name` (external.name is deprecated)');
      r.name = ext.name;
      ctx.warnings.push(`${path.join('.')}: external.name is deprecated; use name`);
    }
    r.external = true;
  } else if (ext !== undefined) r.external = conv(ctx, [...path, 'external'], () => parseBool(ext));
  if (r.external === false) delete r.external;
  return r;
};

const driverOpts: Fn = (v) => {
  if (!isMap(v)) return v;
  const out: TreeMap = {};
  for (const [k, val] of Object.entries(v)) out[k] = String(val);
  return out;
};

/** env_file entries → `{path, required, format?}`; read later by the service rule. */
const envFiles: Fn = (v, path, ctx) =>
  list(v).map((e, i) => {
    if (typeof e === 'string') return { path: e, required: true };
    if (!isMap(e)) throw ctx.rep.invalid([...path, i], 'expected a path or a mapping with `path`');
    const out: TreeMap = { path: String(e.path), required: e.required === undefined ? true : conv(ctx, [...path, i, 'required'], () => parseBool(e.required)) };
    if (e.format !== undefined) out.format = String(e.format);
    return out;
  });

function readEnvFiles(svc: TreeMap, path: TreePath, ctx: NormalizeContext): TreeMap {
  const merged: TreeMap = {};
  list(svc.env_file).forEach((e, i) => {
    if (!isMap(e)) return;
    const file = String(e.path);
    const abs = isAbsolute(file) ? file : resolve(ctx.projectDir, file);
    const text = ctx.readText(abs);
    if (text === undefined) {
      if (e.required === false) return;
      throw ctx.rep.notFound([...path, 'env_file', i], `env file ${abs} not found; create it or mark it \`required: false\``);
    }
    const format = e.format === undefined ? 'compose' : String(e.format);
    if (format !== 'compose' && format !== 'raw') throw ctx.rep.invalid([...path, 'env_file', i, 'format'], `unsupported env_file format ${JSON.stringify(format)}; expected "raw" or none`);
    try {
      // Later env files see the values of earlier ones, then the project environment.
      Object.assign(merged, parseDotenv(text, (k) => (Object.hasOwn(merged, k) ? (merged[k] as string) : ctx.lookup(k)), format));
    } catch (err) {
      if (err instanceof DotenvError) throw ctx.rep.invalid([...path, 'env_file', i], `${abs}: ${err.message}`);
      throw err;
    }
  });
  return merged;
}

function readLabelFiles(svc: TreeMap, path: TreePath, ctx: NormalizeContext): TreeMap {
  const merged: TreeMap = {};
  list(svc.label_file).forEach((f, i) => {
    const abs = isAbsolute(String(f)) ? String(f) : resolve(ctx.projectDir, String(f));
    const text = ctx.readText(abs);
    if (text === undefined) throw ctx.rep.notFound([...path, 'label_file', i], `label file ${abs} not found`);
    try {
      Object.assign(merged, parseDotenv(text, () => undefined, 'raw'));
    } catch (err) {
      if (err instanceof DotenvError) throw ctx.rep.invalid([...path, 'label_file', i], `${abs}: ${err.message}`);
      throw err;
    }
  });
  return merged;
}

/** `service:NAME` references in namespace modes. */
function serviceRef(v: Tree | undefined): string | undefined {
  return typeof v === 'string' && v.startsWith('service:') ? v.slice('service:'.length) : undefined;
}

/** Cross-attribute work once a service's attributes are canonical. */
const service: Rule = {
  pre: (v) => (v === null ? {} : v),
  post: (v, path, ctx) => {
    if (!isMap(v)) return v;
    const svc = v;
    if (svc.env_file !== undefined) {
      const fromFiles = readEnvFiles(svc, path, ctx);
      svc.environment = { ...fromFiles, ...(isMap(svc.environment) ? svc.environment : {}) };
      delete svc.env_file;
    }
    if (isMap(svc.environment)) {
      for (const [k, val] of Object.entries(svc.environment)) if (val === null) svc.environment[k] = ctx.lookup(k) ?? null;
    }
    if (svc.label_file !== undefined) {
      svc.labels = { ...readLabelFiles(svc, path, ctx), ...(isMap(svc.labels) ? svc.labels : {}) };
      delete svc.label_file;
    }
    if (isMap(svc.build) && isMap(svc.build.args)) {
      for (const [k, val] of Object.entries(svc.build.args)) if (val === null) svc.build.args[k] = ctx.lookup(k) ?? null;
    }
    if (svc.network_mode === undefined && (svc.networks === undefined || (isMap(svc.networks) && Object.keys(svc.networks).length === 0))) {
      svc.networks = { default: null };
    }
    if (svc.scale !== undefined && isMap(svc.deploy) && svc.deploy.replicas !== undefined && svc.deploy.replicas !== svc.scale) {
      throw ctx.rep.invalid([...path, 'scale'], `conflicts with deploy.replicas (${String(svc.deploy.replicas)}); set only one`);
    }
    // Compose starts the services a container shares namespaces or volumes with first.
    const implicit = new Set<string>();
    for (const attr of ['network_mode', 'ipc', 'pid']) {
      const ref = serviceRef(svc[attr]);
      if (ref) implicit.add(ref);
    }
    for (const l of list(svc.links)) implicit.add(String(l).split(':')[0] as string);
    for (const vf of list(svc.volumes_from)) {
      const s = String(vf);
      if (!s.startsWith('container:')) implicit.add(s.split(':')[0] as string);
    }
    if (implicit.size > 0) {
      const deps: TreeMap = isMap(svc.depends_on) ? svc.depends_on : {};
      for (const d of implicit) deps[d] ??= { condition: 'service_started', required: true };
      svc.depends_on = deps;
    }
    return svc;
  },
};

const root: Rule = {
  post: (v, _path, ctx) => {
    if (!isMap(v)) return v;
    const tree = v;
    delete tree.include;
    const services = isMap(tree.services) ? tree.services : {};
    const usesDefault = Object.values(services).some((s) => isMap(s) && isMap(s.networks) && Object.hasOwn(s.networks, 'default'));
    const networks: TreeMap = isMap(tree.networks) ? tree.networks : {};
    if (usesDefault && !Object.hasOwn(networks, 'default')) networks.default = {};
    for (const kind of ['networks', 'volumes', 'secrets', 'configs'] as const) {
      const coll = kind === 'networks' ? networks : tree[kind];
      if (!isMap(coll)) continue;
      for (const [key, r] of Object.entries(coll)) {
        if (!isMap(r)) continue;
        if (r.name === undefined) r.name = r.external === true ? key : `${ctx.projectName}_${key}`;
      }
    }
    const out: TreeMap = { name: ctx.projectName, services };
    if (Object.keys(networks).length > 0) out.networks = networks;
    for (const k of ['volumes', 'secrets', 'configs', 'models'] as const) if (tree[k] !== undefined) out[k] = tree[k] as Tree;
    for (const k of Object.keys(tree)) if (k.startsWith('x-')) out[k] = tree[k] as Tree;
    return out;
  },
};

const resourceLimits = {
  cpus: pre(num),
  memory: pre(bytes),
  pids: pre(int),
};

export const NORMALIZE_RULES = new PathTable<Rule>({
  '': root,
  services: pre(emptyMap),
  'services.*': service,
  'services.*.annotations': pre(emptyString),
  'services.*.attach': pre(bool),
  'services.*.blkio_config.device_read_bps.*.rate': pre(bytes),
  'services.*.blkio_config.device_write_bps.*.rate': pre(bytes),
  'services.*.blkio_config.device_read_iops.*.rate': pre(int),
  'services.*.blkio_config.device_write_iops.*.rate': pre(int),
  'services.*.blkio_config.weight': pre(int),
  'services.*.blkio_config.weight_device.*.weight': pre(int),
  'services.*.build': pre(build),
  'services.*.build.args': pre(keepNull),
  'services.*.build.labels': pre(emptyString),
  'services.*.build.additional_contexts': pre(emptyString),
  'services.*.build.ssh': pre(sshList),
  'services.*.build.extra_hosts': pre(extraHosts),
  'services.*.build.shm_size': pre(bytes),
  'services.*.build.no_cache': pre(bool),
  'services.*.build.pull': pre(bool),
  'services.*.build.privileged': pre(bool),
  'services.*.build.secrets': pre(secretRefs),
  'services.*.build.ulimits.*': pre(ulimit),
  'services.*.command': pre(command),
  'services.*.entrypoint': pre(command),
  'services.*.configs': pre(secretRefs),
  'services.*.secrets': pre(secretRefs),
  'services.*.cpu_count': pre(int),
  'services.*.cpu_percent': pre(int),
  'services.*.cpu_shares': pre(int),
  'services.*.cpu_quota': pre(int),
  'services.*.cpu_period': pre(int),
  'services.*.cpu_rt_period': pre(int),
  'services.*.cpu_rt_runtime': pre(int),
  'services.*.cpus': pre(num),
  'services.*.depends_on': pre(dependsOn),
  'services.*.deploy': pre((v) => (v === null ? undefined : v)),
  'services.*.deploy.replicas': pre(int),
  'services.*.deploy.labels': pre(emptyString),
  'services.*.deploy.resources.limits.cpus': resourceLimits.cpus,
  'services.*.deploy.resources.limits.memory': resourceLimits.memory,
  'services.*.deploy.resources.limits.pids': resourceLimits.pids,
  'services.*.deploy.resources.reservations.cpus': resourceLimits.cpus,
  'services.*.deploy.resources.reservations.memory': resourceLimits.memory,
  'services.*.deploy.resources.reservations.devices.*': pre(deviceRequest),
  'services.*.deploy.resources.reservations.generic_resources.*.discrete_resource_spec.value': pre(num),
  'services.*.deploy.restart_policy.delay': pre(duration),
  'services.*.deploy.restart_policy.window': pre(duration),
  'services.*.deploy.restart_policy.max_attempts': pre(int),
  'services.*.deploy.update_config.parallelism': pre(int),
  'services.*.deploy.update_config.delay': pre(duration),
  'services.*.deploy.update_config.monitor': pre(duration),
  'services.*.deploy.update_config.max_failure_ratio': pre(num),
  'services.*.deploy.rollback_config.parallelism': pre(int),
  'services.*.deploy.rollback_config.delay': pre(duration),
  'services.*.deploy.rollback_config.monitor': pre(duration),
  'services.*.deploy.rollback_config.max_failure_ratio': pre(num),
  'services.*.deploy.placement.max_replicas_per_node': pre(int),
  'services.*.develop.watch.*.ignore': pre(stringList),
  'services.*.develop.watch.*.include': pre(stringList),
  'services.*.develop.watch.*.initial_sync': pre(bool),
  'services.*.develop.watch.*.exec.command': pre(command),
  'services.*.develop.watch.*.exec.environment': pre(keepNull),
  'services.*.devices': pre((v, path, ctx) => list(v).map((d, i) => (typeof d === 'string' ? conv(ctx, [...path, i], () => parseDeviceShort(d)) : d))),
  'services.*.dns': pre(stringList),
  'services.*.dns_search': pre(stringList),
  'services.*.env_file': pre(envFiles),
  'services.*.environment': pre(keepNull),
  'services.*.expose': pre(stringList),
  'services.*.extra_hosts': pre(extraHosts),
  'services.*.gpus': pre((v) => (v === 'all' ? [{ count: -1 }] : v)),
  'services.*.gpus.*': pre(deviceRequest),
  'services.*.group_add': pre(stringList),
  'services.*.healthcheck.disable': pre(bool),
  'services.*.healthcheck.interval': pre(duration),
  'services.*.healthcheck.timeout': pre(duration),
  'services.*.healthcheck.start_period': pre(duration),
  'services.*.healthcheck.start_interval': pre(duration),
  'services.*.healthcheck.retries': pre(int),
  'services.*.healthcheck.test': pre(healthcheckTest),
  'services.*.init': pre(bool),
  'services.*.label_file': pre(stringList),
  'services.*.labels': pre(emptyString),
  'services.*.logging.options': pre(dict(() => '')),
  'services.*.mem_limit': pre(bytes),
  'services.*.mem_reservation': pre(bytes),
  'services.*.memswap_limit': pre(bytes),
  'services.*.mem_swappiness': pre(int),
  'services.*.models': pre(namesToMap),
  'services.*.networks': pre(namesToMap),
  'services.*.networks.*.driver_opts': pre(driverOpts),
  'services.*.oom_kill_disable': pre(bool),
  'services.*.oom_score_adj': pre(int),
  'services.*.pids_limit': pre(int),
  'services.*.ports': pre(ports),
  'services.*.post_start.*.command': pre(command),
  'services.*.post_start.*.environment': pre(keepNull),
  'services.*.post_start.*.privileged': pre(bool),
  'services.*.pre_stop.*.command': pre(command),
  'services.*.pre_stop.*.environment': pre(keepNull),
  'services.*.pre_stop.*.privileged': pre(bool),
  'services.*.privileged': pre(bool),
  'services.*.read_only': pre(bool),
  'services.*.scale': pre(int),
  'services.*.shm_size': pre(bytes),
  'services.*.stdin_open': pre(bool),
  'services.*.stop_grace_period': pre(duration),
  'services.*.sysctls': pre(emptyString),
  'services.*.tmpfs': pre(stringList),
  'services.*.tty': pre(bool),
  'services.*.ulimits.*': pre(ulimit),
  'services.*.use_api_socket': pre(bool),
  'services.*.user': pre(str),
  'services.*.volumes': pre(volumes),
  networks: pre(emptyMap),
  'networks.*': pre(externalResource),
  'networks.*.labels': pre(emptyString),
  'networks.*.driver_opts': pre(driverOpts),
  'networks.*.internal': pre(bool),
  'networks.*.attachable': pre(bool),
  'networks.*.enable_ipv4': pre(bool),
  'networks.*.enable_ipv6': pre(bool),
  volumes: pre(emptyMap),
  'volumes.*': pre(externalResource),
  'volumes.*.labels': pre(emptyString),
  'volumes.*.driver_opts': pre(driverOpts),
  secrets: pre(emptyMap),
  'secrets.*': pre(externalResource),
  'secrets.*.labels': pre(emptyString),
  'secrets.*.driver_opts': pre(driverOpts),
  configs: pre(emptyMap),
  'configs.*': pre(externalResource),
  'configs.*.labels': pre(emptyString),
});

/** Normalises `node` found at `path` (the whole tree with path []), returning the new value. */
export function normalizeAt(node: Tree, path: TreePath, ctx: NormalizeContext): Tree | undefined {
  const rule = NORMALIZE_RULES.get(path);
  let v: Tree | undefined = node;
  if (rule?.pre) v = rule.pre(v, path, ctx);
  if (v === undefined) return undefined;
  if (NORMALIZE_RULES.hasBelow(path)) {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const r = normalizeAt(v[i] as Tree, [...path, i], ctx);
        v[i] = r === undefined ? null : r;
      }
    } else if (isMap(v)) {
      for (const k of Object.keys(v)) {
        if (k.startsWith('x-')) continue;
        const r = normalizeAt(v[k] as Tree, [...path, k], ctx);
        if (r === undefined) delete v[k];
        else v[k] = r;
      }
    }
  }
  if (rule?.post) v = rule.post(v, path, ctx);
  return v;
}

export function normalizeTree(tree: TreeMap, ctx: NormalizeContext): TreeMap {
  return sortKeys(normalizeAt(tree, [], ctx) as TreeMap, true) as TreeMap;
}

/** Services normalised alone (extends rebasing); no project-level work. */
export function normalizeService(svc: Tree, name: string, ctx: NormalizeContext): Tree {
  return normalizeAt(svc, ['services', name], ctx) ?? {};
}

/**
 * Canonical key order: maps sorted by key, except the top level (fixed order) and mappings that
 * are list entries (their fields keep the canonical order the rules built).
 */
export function sortKeys(v: Tree, top = false): Tree {
  if (Array.isArray(v)) return v.map((x) => (isMap(x) ? sortEntry(x) : sortKeys(x)));
  if (!isMap(v)) return v;
  const keys = top ? Object.keys(v) : Object.keys(v).sort();
  const out: TreeMap = {};
  for (const k of keys) out[k] = sortKeys(v[k] as Tree);
  return out;
}

function sortEntry(m: TreeMap): TreeMap {
  const out: TreeMap = {};
  for (const k of Object.keys(m)) out[k] = sortKeys(m[k] as Tree);
  return out;
}
