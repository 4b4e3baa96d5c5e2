/**
 * How Docker's CLI prints containers: the `ps` columns (cli/command/formatter/container.go),
 * `port` lines and `stats` columns. Pure functions of the engine's replies.
 */
import { bytesSize, containerStatus, goTime, GO_STRUCT_TYPE, humanSize, quoteGo, timeAgo, type ContainerStateName, type HealthStatus } from '../format';
import type { ContainerStatsEntry, ContainerSummary, PortView } from '../../common/rpc/engine-types';

export const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** formatter.Ellipsis: at most `max` characters, the last one `…` when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 0) return '';
  return chars.slice(0, max - 1).join('') + '…';
}

function comparePorts(a: PortView, b: PortView): number {
  if (a.private_port !== b.private_port) return a.private_port - b.private_port;
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  if (a.public_port !== b.public_port) return a.public_port - b.public_port;
  return a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
}

function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function formGroup(key: string, first: number, last: number): string {
  const parts = key.split('/');
  let ip = '';
  let type = parts[0] ?? '';
  if (parts.length > 1) {
    ip = parts[0] ?? '';
    type = parts[1] ?? '';
  }
  let group = String(first);
  if (first !== last) group = `${group}-${last}`;
  if (ip !== '') group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

/**
 * DisplayablePorts: `0.0.0.0:8080->80/tcp, 9000-9001/udp`. Consecutive ports published on the
 * same numbers (or not published) are grouped into ranges; other mappings follow one by one.
 */
export function displayablePorts(ports: readonly PortView[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const port of [...ports].sort(comparePorts)) {
    const current = port.private_port;
    let key = port.type;
    if (port.ip !== '') {
      if (port.public_port !== current) {
        hostMappings.push(`${joinHostPort(port.ip, port.public_port)}->${port.private_port}/${port.type}`);
        continue;
      }
      key = `${port.ip}/${port.type}`;
    }
    const group = groups.get(key);
    if (!group) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === group.last + 1) {
      group.last = current;
      continue;
    }
    result.push(formGroup(key, group.first, group.last));
    // Re-inserting keeps Go's order: keys in order of their first appearance.
    groups.set(key, { first: current, last: current });
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  result.push(...hostMappings);
  return result.join(', ');
}

const sortedPairs = (labels: Record<string, string>) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);

/** One `container ls` row; its fields are Docker's template fields, `.Label "k"` included. */
export class ContainerRow {
  /** Docker's row type: a field it does not have is an error, not `<no value>`. */
  readonly [GO_STRUCT_TYPE] = '*formatter.ContainerContext';
  readonly ID: string;
  readonly Image: string;
  readonly Command: string;
  readonly CreatedAt: string;
  readonly RunningFor: string;
  readonly Ports: string;
  readonly State: string;
  readonly Status: string;
  readonly Size: string;
  readonly Names: string;
  readonly Labels: string;
  readonly Mounts: string;
  readonly Networks: string;
  readonly LocalVolumes: string;

  constructor(
    private readonly c: ContainerSummary,
    trunc: boolean,
    now: number,
  ) {
    this.ID = trunc ? shortId(c.id) : c.id;
    // Docker's ContainerContext: a container whose image is gone by every name shows so.
    this.Image = c.image === '' && !c.image_id ? '<no image>' : displayImage(c.image, c.image_id, trunc);
    this.Command = quoteGo(trunc ? ellipsis(c.command, 20) : c.command);
    this.CreatedAt = goTime(c.created);
    this.RunningFor = timeAgo(c.created, now);
    this.Ports = displayablePorts(c.ports);
    this.State = c.state;
    this.Status =
      c.status ||
      containerStatus(
        {
          state: c.state as ContainerStateName,
          startedAt: c.started_at || null,
          finishedAt: c.finished_at || null,
          exitCode: c.exit_code,
          health: (c.health || null) as HealthStatus | null,
        },
        now,
      );
    const rw = humanSize(c.size_rw);
    this.Size = c.size_root_fs > 0 ? `${rw} (virtual ${humanSize(c.size_root_fs)})` : rw;
    this.Names = displayNames(c.names, trunc);
    this.Labels = sortedPairs(c.labels).join(',');
    this.Mounts = c.mounts.map((m) => (trunc ? ellipsis(m, 15) : m)).join(',');
    this.Networks = [...c.networks].sort().join(',');
    // Docker counts the mounts of the local volume driver. A volume shows by its name here, a
    // bind by its absolute source path, and a volume name never holds a slash.
    this.LocalVolumes = String(c.mounts.filter((m) => m !== '' && !m.startsWith('/')).length);
  }

  Label(name: string): string {
    return this.c.labels[name] ?? '';
  }

  toJSON(): Record<string, string | null> {
    const fields: Record<string, string> = {
      Command: this.Command,
      CreatedAt: this.CreatedAt,
      ID: this.ID,
      Image: this.Image,
      Labels: this.Labels,
      LocalVolumes: this.LocalVolumes,
      Mounts: this.Mounts,
      Names: this.Names,
      Networks: this.Networks,
      Ports: this.Ports,
      RunningFor: this.RunningFor,
      Size: this.Size,
      State: this.State,
      Status: this.Status,
    };
    return fields;
  }
}

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
};

export function containerTable(size: boolean): string {
  return `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${size ? '\t{{.Size}}' : ''}`;
}

/** Names without the leading slash: the first plain name, or with --no-trunc all (links too). */
export function displayNames(names: readonly string[], trunc: boolean): string {
  const stripped = names.map((n) => n.replace(/^\//, ''));
  if (trunc) {
    const plain = stripped.find((n) => !n.includes('/'));
    if (plain !== undefined) return plain;
  }
  return stripped.join(',');
}

/** An image shown by ID is shortened; a reference with a digest loses it unless --no-trunc. */
export function displayImage(image: string, imageId: string, trunc: boolean): string {
  if (!trunc) return image;
  if (image === '' && imageId) return shortId(imageId);
  if (/^sha256:[0-9a-f]{64}$/.test(image) || /^[0-9a-f]{64}$/.test(image)) return shortId(image);
  const at = image.indexOf('@');
  return at === -1 ? image : image.slice(0, at);
}

// ----- port -----

/** sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = BigInt(x);
      const ny = BigInt(y);
      if (nx !== ny) return nx < ny;
      return x.length < y.length;
    }
    return x < y;
  }
  return pa.length < pb.length;
}

export type PortMap = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;

/**
 * `container port` output from the inspect document's NetworkSettings.Ports: every binding as
 * `80/tcp -> 0.0.0.0:8080`, or for one port (`80`, `80/udp`) just `0.0.0.0:8080`.
 */
export function portLines(ports: PortMap, container: string, privatePort?: string): string[] {
  const out: string[] = [];
  if (privatePort !== undefined) {
    const slash = privatePort.indexOf('/');
    const port = slash === -1 ? privatePort : privatePort.slice(0, slash);
    const proto = slash === -1 ? 'tcp' : privatePort.slice(slash + 1) || 'tcp';
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      throw new Error(`Error: invalid port (${port}): strconv.ParseUint: parsing "${port}": invalid syntax`);
    }
    const frontends = ports[`${port}/${proto}`];
    if (!frontends || frontends.length === 0) throw new Error(`Error: No public port '${port}/${proto}' published for ${container}`);
    for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
  } else {
    for (const [from, frontends] of Object.entries(ports)) {
      for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
    }
  }
  return out.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
}

// ----- stats -----

const percent = (v: number) => `${(Number.isFinite(v) ? v : 0).toFixed(2)}%`;

/** One `stats` row: Docker's fields, `--` for a container that isn't running. */
export function statsRow(entry: ContainerStatsEntry, given: string, trunc: boolean): Record<string, string> {
  return {
    Container: given,
    ID: trunc ? shortId(entry.id) : entry.id,
    Name: entry.name.replace(/^\//, '') || '--',
    CPUPerc: percent(entry.cpu_percent),
    MemUsage: `${bytesSize(entry.memory_usage)} / ${bytesSize(entry.memory_limit)}`,
    MemPerc: percent(entry.memory_percent),
    NetIO: `${humanSize(entry.net_rx)} / ${humanSize(entry.net_tx)}`,
    BlockIO: `${humanSize(entry.block_read)} / ${humanSize(entry.block_write)}`,
    PIDs: String(entry.pids),
  };
}

export const STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

// ----- exit codes -----

/** Docker's status for a container that failed to start: 127 not found, 126 not runnable, else 125. */
export function startErrorStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied|is a directory/.test(message)) return 126;
  return 125;
}

/** `busybox` → `busybox:latest`, as Docker names an image it is about to pull. */
export function withDefaultTag(image: string): string {
  let name = image.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '').replace(/^index\.docker\.io\/library\//, '');
  if (name.includes('@')) return name;
  const lastSlash = name.lastIndexOf('/');
  if (name.lastIndexOf(':') <= lastSlash) name += ':latest';
  return name;
}
