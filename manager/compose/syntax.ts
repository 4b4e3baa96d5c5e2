/**
 * Short syntaxes of service attributes → long syntax maps (canonical field order).
 * Used by normalisation, and by merging to find the unique key of a sequence entry.
 */
import { ValueError, parseInteger } from './units';
import type { TreeMap } from './tree';

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

function portRange(s: string, what: string, raw: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new ValueError(`invalid ${what} ${JSON.stringify(s)} in port ${JSON.stringify(raw)}; expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) throw new ValueError(`invalid ${what} range ${JSON.stringify(s)} in port ${JSON.stringify(raw)}; ports are 0-65535, start ≤ end`);
  return [start, end];
}

/** `[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]` → one long entry per container port. */
export function parsePortShort(raw: string | number): TreeMap[] {
  const spec = String(raw).trim();
  let rest = spec;
  let protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash !== -1) {
    protocol = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (!PROTOCOLS.has(protocol)) throw new ValueError(`invalid protocol ${JSON.stringify(protocol)} in port ${JSON.stringify(spec)}; expected tcp, udp or sctp`);
  }
  let hostIp = '';
  let published = '';
  let container = rest;
  const last = rest.lastIndexOf(':');
  if (last !== -1) {
    container = rest.slice(last + 1);
    const host = rest.slice(0, last);
    if (host.startsWith('[')) {
      const close = host.indexOf(']');
      if (close === -1) throw new ValueError(`invalid host IP in port ${JSON.stringify(spec)}; missing "]"`);
      hostIp = host.slice(1, close);
      const after = host.slice(close + 1);
      if (after !== '' && !after.startsWith(':')) throw new ValueError(`invalid port ${JSON.stringify(spec)}`);
      published = after.slice(1);
    } else {
      const second = host.lastIndexOf(':');
      if (second === -1) published = host;
      else {
        hostIp = host.slice(0, second);
        published = host.slice(second + 1);
      }
    }
  }
  const [cStart, cEnd] = portRange(container, 'container port', spec);
  const pub = published === '' ? undefined : portRange(published, 'host port', spec);
  const count = cEnd - cStart + 1;
  const entries: TreeMap[] = [];
  for (let i = 0; i < count; i++) {
    const e: TreeMap = { mode: 'ingress' };
    if (hostIp !== '') e.host_ip = hostIp;
    e.target = cStart + i;
    if (pub) {
      const pubCount = pub[1] - pub[0] + 1;
      if (count === 1) e.published = pubCount === 1 ? String(pub[0]) : `${pub[0]}-${pub[1]}`;
      else if (pubCount === count) e.published = String(pub[0] + i);
      else throw new ValueError(`port ranges in ${JSON.stringify(spec)} differ in length; expected as many host ports as container ports`);
    }
    e.protocol = protocol;
    entries.push(e);
  }
  return entries;
}

export function portKey(entry: TreeMap): string {
  return `${entry.host_ip ?? ''}|${entry.published ?? ''}|${entry.target}|${entry.protocol ?? 'tcp'}`;
}

const VOLUME_MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'consistent', 'cached', 'delegated']);

export function isHostPath(source: string): boolean {
  return source.startsWith('/') || source.startsWith('.') || source.startsWith('~') || /^[A-Za-z]:[\\/]/.test(source) || source.startsWith('\\\\');
}

/** `[SOURCE:]TARGET[:MODE]` → long syntax. Bind sources keep their spelling; paths resolve later. */
export function parseVolumeShort(raw: string): TreeMap {
  const spec = raw.trim();
  if (spec === '') throw new ValueError('empty volume specification; expected [SOURCE:]TARGET[:MODE]');
  const parts = splitVolume(spec);
  if (parts.length > 3) throw new ValueError(`invalid volume ${JSON.stringify(spec)}; expected [SOURCE:]TARGET[:MODE]`);
  let source = '';
  let target: string;
  let modes: string[] = [];
  if (parts.length === 1) target = parts[0] as string;
  else {
    source = parts[0] as string;
    target = parts[1] as string;
    if (parts.length === 3) modes = (parts[2] as string).split(',').filter((m) => m !== '');
  }
  if (target === '') throw new ValueError(`invalid volume ${JSON.stringify(spec)}; the container path is empty`);
  for (const m of modes) {
    if (!VOLUME_MODES.has(m)) throw new ValueError(`invalid mode ${JSON.stringify(m)} in volume ${JSON.stringify(spec)}; expected ro, rw, z, Z, nocopy or a propagation mode`);
  }
  const isBind = source !== '' && isHostPath(source);
  const out: TreeMap = { type: source === '' ? 'volume' : isBind ? 'bind' : 'volume' };
  if (source !== '') out.source = source;
  out.target = target;
  if (modes.includes('ro')) out.read_only = true;
  const consistency = modes.find((m) => m === 'consistent' || m === 'cached' || m === 'delegated');
  if (consistency) out.consistency = consistency;
  if (isBind) {
    const bind: TreeMap = { create_host_path: true };
    const propagation = modes.find((m) => /^r?(shared|slave|private)$/.test(m));
    if (propagation) bind.propagation = propagation;
    const selinux = modes.find((m) => m === 'z' || m === 'Z');
    if (selinux) bind.selinux = selinux;
    out.bind = bind;
  } else if (out.type === 'volume') {
    const volume: TreeMap = {};
    if (modes.includes('nocopy')) volume.nocopy = true;
    out.volume = volume;
  }
  return out;
}

/** Splits on `:` but keeps Windows drive letters (`C:\x`) inside their part. */
function splitVolume(spec: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i] as string;
    if (c === ':' && !(cur.length === 1 && /[A-Za-z]/.test(cur) && /[\\/]/.test(spec[i + 1] ?? ''))) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** The merge key of a service volume, short or long: its container path. */
export function volumeTargetOf(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const parts = splitVolume(v.trim());
    return parts.length === 1 ? parts[0] : parts[1];
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) return String((v as TreeMap).target ?? '');
  return undefined;
}

/** `SOURCE[:TARGET[:PERMISSIONS]]` device mapping. */
export function parseDeviceShort(raw: string): TreeMap {
  const parts = raw.split(':');
  if (parts.length > 3 || parts[0] === '') throw new ValueError(`invalid device ${JSON.stringify(raw)}; expected SOURCE[:TARGET[:PERMISSIONS]]`);
  const out: TreeMap = { source: parts[0] as string, target: parts[1] ?? (parts[0] as string) };
  if (parts.length === 2 && /^[rwm]+$/.test(parts[1] as string)) {
    out.target = parts[0] as string;
    out.permissions = parts[1] as string;
  } else out.permissions = parts[2] ?? 'rwm';
  return out;
}

/** `NAME=VALUE` / `NAME` list entries as used by environment, labels, args, sysctls… */
export function splitAssignment(entry: string, sep = '='): [string, string | null] {
  const i = entry.indexOf(sep);
  if (i === -1) return [entry, null];
  return [entry.slice(0, i), entry.slice(i + sep.length)];
}

/** `host=ip`, `host:ip` (IPv6 may hold colons; the host name may not). */
export function splitExtraHost(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  const colon = entry.indexOf(':');
  const i = eq !== -1 ? eq : colon;
  if (i <= 0) throw new ValueError(`invalid extra host ${JSON.stringify(entry)}; expected HOST=IP or HOST:IP`);
  let ip = entry.slice(i + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  return [entry.slice(0, i), ip];
}

export function expectPort(v: unknown): number {
  const n = parseInteger(v);
  if (n < 0 || n > 65535) throw new ValueError(`port ${n} is out of range 0-65535`);
  return n;
}
