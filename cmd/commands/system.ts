/** `version`, `info`, `events`, `system df|prune`, `builder prune` and the generic `inspect`. */
import { engine, parseFilters, println, eprintln, ExitError } from '../cli';
import {
  compileTemplate,
  goTime,
  renderList,
  resolveListFormat,
  humanSize,
  timeAgo,
  parseTimestamp,
  timestampToDate,
  GO_STRUCT_TYPE,
  type Template,
} from '../format';
import { confirmPrune, printPruneReport } from './container-common';
import { ContainerRow } from './container-format';
import { confirm, printInspect } from './image';

const CLIENT_VERSION = process.env['TSCOMPOSE_VERSION'] ?? '0.1.0';

export async function version(opts: { format?: string }): Promise<number> {
  const clientInfo = {
    Version: CLIENT_VERSION,
    ApiVersion: '1',
    NodeVersion: process.version,
    Os: process.platform,
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
  };
  let server: Record<string, unknown> | null = null;
  let serverError: string | undefined;
  try {
    const client = await engine();
    const v = await client.call('Version');
    server = {
      Version: v.version,
      ApiVersion: v.api_version,
      NodeVersion: v.node_version,
      Os: v.os,
      Arch: v.arch === 'x64' ? 'amd64' : v.arch,
      KernelVersion: v.kernel_version,
      DataRoot: v.data_root,
      Pid: v.pid,
      Components: [
        { Name: 'Engine', Version: v.version },
        ...(v.components ?? []).map((c: { name: string; version: string; commit: string }) => ({ Name: c.name, Version: c.version, Details: { GitCommit: c.commit } })),
      ],
    };
  } catch (err) {
    serverError = (err as Error).message;
  }
  if (opts.format) {
    // `--format json` is Docker's `{{json .}}`.
    println(opts.format === 'json' ? JSON.stringify({ Client: clientInfo, Server: server }) : compileTemplate(opts.format).execute({ Client: clientInfo, Server: server }));
  } else {
    println('Client:');
    println(` Version:           ${clientInfo.Version}`);
    println(` API version:       ${clientInfo.ApiVersion}`);
    println(` Node version:      ${clientInfo.NodeVersion}`);
    println(` OS/Arch:           ${clientInfo.Os}/${clientInfo.Arch}`);
    if (server) {
      println('');
      println('Server:');
      println(' Engine:');
      println(`  Version:          ${server['Version']}`);
      println(`  API version:      ${server['ApiVersion']}`);
      println(`  Node version:     ${server['NodeVersion']}`);
      println(`  OS/Arch:          ${server['Os']}/${server['Arch']}`);
      println(`  Kernel version:   ${server['KernelVersion']}`);
      println(`  Data root:        ${server['DataRoot']}`);
      for (const c of (server['Components'] as Array<{ Name: string; Version: string; Details?: { GitCommit: string } }>).slice(1)) {
        println(` ${c.Name}:`);
        println(`  Version:          ${c.Version || 'unknown'}`);
        if (c.Details?.GitCommit) println(`  GitCommit:        ${c.Details.GitCommit}`);
      }
    }
  }
  if (serverError) {
    eprintln(serverError);
    return 1;
  }
  return 0;
}

export async function info(opts: { format?: string }): Promise<number> {
  const client = await engine();
  const doc = JSON.parse((await client.call<{ json: string }>('Info')).json) as Record<string, any>;
  if (opts.format) {
    // Docker's CLI formats the server's info with its own beside it.
    const full = { ...doc, ClientInfo: { Debug: false, Context: 'default', Plugins: [], Warnings: null } };
    println(opts.format === 'json' ? JSON.stringify(full) : compileTemplate(opts.format).execute(full));
    return 0;
  }
  const lines = [
    'Client:',
    ` Version:    ${CLIENT_VERSION}`,
    ' Context:    default',
    ` Debug Mode: false`,
    '',
    'Server:',
    ` Containers: ${doc['Containers']}`,
    `  Running: ${doc['ContainersRunning']}`,
    `  Paused: ${doc['ContainersPaused']}`,
    `  Stopped: ${doc['ContainersStopped']}`,
    ` Images: ${doc['Images']}`,
    ` Server Version: ${doc['ServerVersion']}`,
    ` Storage Driver: ${doc['Driver']}`,
    ` Logging Driver: ${doc['LoggingDriver']}`,
    ` Cgroup Driver: ${doc['CgroupDriver']}`,
    ` Cgroup Version: ${doc['CgroupVersion']}`,
    ' Plugins:',
    `  Volume: ${(doc['Plugins']?.Volume ?? []).join(' ')}`,
    `  Network: ${(doc['Plugins']?.Network ?? []).join(' ')}`,
    `  Log: ${(doc['Plugins']?.Log ?? []).join(' ')}`,
    ` Swarm: ${doc['Swarm']?.LocalNodeState ?? 'inactive'}`,
    ` Runtimes: ${Object.keys(doc['Runtimes'] ?? {}).join(' ')}`,
    ` Default Runtime: ${doc['DefaultRuntime']}`,
    ` Kernel Version: ${doc['KernelVersion']}`,
    ` Operating System: ${doc['OperatingSystem']}`,
    ` OSType: ${doc['OSType']}`,
    ` Architecture: ${doc['Architecture']}`,
    ` CPUs: ${doc['NCPU']}`,
    ` Total Memory: ${bytesSizeBinary(doc['MemTotal'] as number)}`,
    ` Name: ${doc['Name']}`,
    ` ID: ${doc['ID']}`,
    ` Docker Root Dir: ${doc['DockerRootDir']}`,
    ` Debug Mode: false`,
    ` Registry: ${doc['IndexServerAddress'] ?? 'https://index.docker.io/v1/'}`,
    ` Experimental: false`,
    ` Insecure Registries:`,
    ...((doc['RegistryConfig']?.InsecureRegistryCIDRs ?? []) as string[]).map((c) => `  ${c}`),
  ];
  const mirrors = (doc['RegistryConfig']?.Mirrors ?? []) as string[];
  if (mirrors.length > 0) lines.push(' Registry Mirrors:', ...mirrors.map((m) => `  ${m}`));
  lines.push(' Live Restore Enabled: true');
  println(lines.join('\n'));
  return 0;
}

function bytesSizeBinary(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(2).replace(/\.?0+$/, '')}${units[i]}`;
}

interface EventMessage {
  type: string;
  action: string;
  actor_id: string;
  attributes: Record<string, string>;
  scope: string;
  time_nano: number;
}

/** Docker's `2006-01-02T15:04:05.999999999Z`. The daemon's times are whole microseconds, which
 *  survive a double where nanoseconds don't: round to them before splitting off the seconds. */
function formatEventTime(nano: number): string {
  const micros = Math.round(nano / 1000);
  const iso = new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19);
  return `${iso}.${String((micros % 1_000_000) * 1000).padStart(9, '0')}Z`;
}

export async function events(opts: { filter?: string[]; format?: string; since?: string; until?: string }): Promise<number> {
  const now = Date.now();
  const since = opts.since ? timestampToDate(parseTimestamp(opts.since, now)).getTime() : 0;
  const until = opts.until ? timestampToDate(parseTimestamp(opts.until, now)).getTime() : 0;
  const client = await engine();
  const tpl = opts.format && opts.format !== 'json' ? compileTemplate(opts.format) : undefined;
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  for await (const e of client.stream<EventMessage>('Events', { since, until, filters: parseFilters(opts.filter) }, ac.signal)) {
    const time = Math.floor(e.time_nano / 1e9);
    // The daemon's times are whole microseconds; a double holds them, not the nanoseconds.
    const timeNano = BigInt(Math.round(e.time_nano / 1000)) * 1000n;
    const actor = { ID: e.actor_id, Attributes: e.attributes };
    // Docker fills its deprecated status, id and from for containers and images only (from: a
    // container's image), and leaves them out of the JSON when empty.
    const legacy = e.type === 'container' || e.type === 'image';
    const status = legacy ? e.action : '';
    const id = legacy ? e.actor_id : '';
    const from = e.type === 'container' ? (e.attributes['image'] ?? '') : '';
    // Docker's events.Message: templates see its Go field names, `json` its JSON tags.
    const wire = {
      ...(status ? { status } : {}),
      ...(id ? { id } : {}),
      ...(from ? { from } : {}),
      Type: e.type,
      Action: e.action,
      Actor: actor,
      scope: e.scope,
      time,
      timeNano: e.time_nano,
    };
    const message = { Status: status, ID: id, From: from, Type: e.type, Action: e.action, Actor: actor, Scope: e.scope, Time: time, TimeNano: timeNano, toJSON: () => wire };
    if (opts.format === 'json') println(JSON.stringify(wire));
    else if (tpl) println(tpl.execute(message));
    else {
      const attrs = Object.entries(e.attributes)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      println(`${formatEventTime(e.time_nano)} ${e.type} ${e.action} ${e.actor_id}${attrs ? ` (${attrs})` : ''}`);
    }
  }
  return 0;
}

interface DfImage {
  Id: string;
  RepoTags: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  UniqueSize: number;
  Containers: number;
}

interface DfContainer {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  State: string;
  StartedAt: number;
  FinishedAt: number;
  ExitCode: number;
  SizeRw: number;
  Labels?: Record<string, string>;
  Ports?: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }>;
  NetworkSettings?: { Networks?: Record<string, unknown> };
  Mounts: Array<{ Type: string; Name?: string; Source?: string }>;
}

interface DfVolume {
  Name: string;
  Driver?: string;
  Mountpoint?: string;
  Scope?: string;
  Labels?: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number };
}

interface DfBuildCache {
  ID: string;
  Parents?: string[];
  Type: string;
  Description?: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt?: string;
  UsageCount: number;
}

interface DfDocument {
  Images: DfImage[];
  Containers: DfContainer[];
  Volumes: DfVolume[];
  BuildCache: DfBuildCache[];
  LayersSize: number;
}

const sortedLabels = (labels: Record<string, string> | null | undefined): string =>
  Object.keys(labels ?? {})
    .sort()
    .map((k) => `${k}=${(labels as Record<string, string>)[k]}`)
    .join(',');

/** formatter.TruncateID: what follows a `sha256:`-style prefix, cut to 12 characters. */
const truncateId = (id: string): string => id.slice(id.indexOf(':') + 1).slice(0, 12);

/** Go's time.Time.String() of a time the CLI decoded from JSON: `2024-05-01 10:00:00.5 +0000 UTC`. */
function goTimeString(iso: string | undefined): string {
  const ms = iso === undefined ? NaN : Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const text = new Date(ms).toISOString();
  const fraction = text.slice(20, 23).replace(/0+$/, '');
  return `${text.slice(0, 10)} ${text.slice(11, 19)}${fraction ? `.${fraction}` : ''} +0000 UTC`;
}

/** A `system df` row: Docker's diskUsage*Context of its kind (a struct, so a missing field is an error). */
class DiskUsageRow {
  readonly [GO_STRUCT_TYPE]: string;

  constructor(
    goType: string,
    readonly Type: string,
    readonly TotalCount: string,
    readonly Active: string,
    readonly Size: string,
    readonly Reclaimable: string,
  ) {
    this[GO_STRUCT_TYPE] = `*formatter.${goType}`;
  }

  toJSON(): Record<string, string> {
    const { Active, Reclaimable, Size, TotalCount, Type } = this;
    return { Active, Reclaimable, Size, TotalCount, Type };
  }
}

/** An image of `system df -v` (Docker's imageContext): its first tag only, IDs cut in tables. */
class DfImageRow {
  readonly [GO_STRUCT_TYPE] = '*formatter.imageContext';
  /** df has no digest to show: Docker's context leaves it empty. */
  readonly Digest = '';

  constructor(
    private readonly i: DfImage,
    readonly Repository: string,
    readonly Tag: string,
    private readonly trunc: boolean,
    private readonly now: number,
  ) {}

  get ID(): string {
    return this.trunc ? truncateId(this.i.Id) : this.i.Id;
  }
  get CreatedAt(): string {
    return goTime(this.i.Created * 1000);
  }
  get CreatedSince(): string {
    return timeAgo(this.i.Created * 1000, this.now);
  }
  get Size(): string {
    return humanSize(this.i.Size);
  }
  get VirtualSize(): string {
    return humanSize(this.i.Size, 4);
  }
  get SharedSize(): string {
    return this.i.SharedSize === -1 ? 'N/A' : humanSize(this.i.SharedSize, 4);
  }
  get UniqueSize(): string {
    return this.i.SharedSize === -1 ? 'N/A' : humanSize(this.i.Size - this.i.SharedSize, 4);
  }
  get Containers(): string {
    return this.i.Containers === -1 ? 'N/A' : String(this.i.Containers);
  }

  toJSON(): Record<string, string> {
    const { Containers, CreatedAt, CreatedSince, Digest, ID, Repository, SharedSize, Size, Tag, UniqueSize, VirtualSize } = this;
    return { Containers, CreatedAt, CreatedSince, Digest, ID, Repository, SharedSize, Size, Tag, UniqueSize, VirtualSize };
  }
}

/**
 * A container of `system df -v`: Docker's ContainerContext, as `container ls` shows it (the same
 * row), without the virtual size, and with the current CLI's Platform in its JSON.
 */
class DfContainerRow extends ContainerRow {
  /** The image manifest's platform, which this engine does not record. */
  readonly Platform = null;

  constructor(c: DfContainer, trunc: boolean, now: number) {
    super(
      {
        id: c.Id,
        names: c.Names,
        image: c.Image,
        image_id: c.ImageID,
        command: c.Command,
        created: c.Created * 1000,
        state: c.State,
        status: '',
        ports: (c.Ports ?? []).map((p) => ({ ip: p.IP ?? '', private_port: p.PrivatePort, public_port: p.PublicPort ?? 0, type: p.Type })),
        labels: c.Labels ?? {},
        size_rw: c.SizeRw,
        size_root_fs: 0,
        networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
        mounts: c.Mounts.filter((m) => m.Type !== 'tmpfs').map((m) => m.Name || m.Source || ''),
        health: '',
        exit_code: c.ExitCode,
        started_at: c.StartedAt,
        finished_at: c.FinishedAt,
      },
      trunc,
      now,
    );
  }

  override toJSON(): Record<string, string | null> {
    return Object.fromEntries(Object.entries({ ...super.toJSON(), Platform: this.Platform }).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** A volume of `system df -v` (Docker's volumeContext). */
class DfVolumeRow {
  readonly [GO_STRUCT_TYPE] = '*formatter.volumeContext';
  /** Cluster volume fields: a local engine has none. */
  readonly Availability = 'N/A';
  readonly Group = 'N/A';
  readonly Status = 'N/A';

  constructor(private readonly v: DfVolume) {}

  get Name(): string {
    return this.v.Name;
  }
  get Driver(): string {
    return this.v.Driver ?? 'local';
  }
  get Scope(): string {
    return this.v.Scope || 'local';
  }
  get Mountpoint(): string {
    return this.v.Mountpoint ?? '';
  }
  get Labels(): string {
    return sortedLabels(this.v.Labels);
  }
  get Links(): string {
    return this.v.UsageData ? String(this.v.UsageData.RefCount) : 'N/A';
  }
  get Size(): string {
    const size = this.v.UsageData?.Size ?? -1;
    return size < 0 ? 'N/A' : humanSize(size, 4);
  }
  Label(name: string): string {
    return this.v.Labels?.[name] ?? '';
  }

  toJSON(): Record<string, string> {
    const { Availability, Driver, Group, Labels, Links, Mountpoint, Name, Scope, Size, Status } = this;
    return { Availability, Driver, Group, Labels, Links, Mountpoint, Name, Scope, Size, Status };
  }
}

/** A build cache record of `system df -v` (Docker's buildCacheContext). */
class DfBuildCacheRow {
  readonly [GO_STRUCT_TYPE] = '*formatter.buildCacheContext';

  constructor(
    private readonly b: DfBuildCache,
    private readonly trunc: boolean,
    private readonly now: number,
  ) {}

  get ID(): string {
    return (this.trunc ? truncateId(this.b.ID) : this.b.ID) + (this.b.InUse ? '*' : '');
  }
  get Parent(): string {
    const parent = (this.b.Parents ?? []).join(', ');
    return this.trunc ? truncateId(parent) : parent;
  }
  get CacheType(): string {
    return this.b.Type;
  }
  get Description(): string {
    return this.b.Description ?? '';
  }
  get Size(): string {
    return humanSize(this.b.Size);
  }
  get CreatedAt(): string {
    return goTimeString(this.b.CreatedAt);
  }
  get CreatedSince(): string {
    return timeAgo(Date.parse(this.b.CreatedAt), this.now);
  }
  get LastUsedAt(): string {
    return goTimeString(this.b.LastUsedAt);
  }
  get LastUsedSince(): string {
    return this.b.LastUsedAt ? timeAgo(Date.parse(this.b.LastUsedAt), this.now) : '';
  }
  get UsageCount(): string {
    return String(this.b.UsageCount);
  }
  get InUse(): string {
    return String(this.b.InUse);
  }
  get Shared(): string {
    return String(this.b.Shared);
  }

  toJSON(): Record<string, string> {
    const { CacheType, CreatedAt, CreatedSince, Description, ID, InUse, LastUsedAt, LastUsedSince, Parent, Shared, Size, UsageCount } = this;
    return { CacheType, CreatedAt, CreatedSince, Description, ID, InUse, LastUsedAt, LastUsedSince, Parent, Shared, Size, UsageCount };
  }
}

/** Docker's order for df's build cache: least recently used first, then by ID. */
function compareCacheRecords(a: DfBuildCache, b: DfBuildCache): number {
  const au = a.LastUsedAt ? Date.parse(a.LastUsedAt) : undefined;
  const bu = b.LastUsedAt ? Date.parse(b.LastUsedAt) : undefined;
  if (au !== bu) {
    if (au === undefined) return -1;
    if (bu === undefined) return 1;
    return au - bu;
  }
  return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

/** What a `system df -v` template sees: Docker's diskUsageContext, IDs cut only for a table. */
function verboseData(doc: DfDocument, trunc: boolean, now: number) {
  return {
    [GO_STRUCT_TYPE]: '*formatter.diskUsageContext',
    Images: doc.Images.map((i) => {
      // As Docker: the first tag only, and <none> for an image without one.
      const first = i.RepoTags[0];
      const colon = first === undefined ? -1 : first.lastIndexOf(':');
      const tagged = first !== undefined && colon > first.lastIndexOf('/');
      return new DfImageRow(i, tagged ? first.slice(0, colon) : '<none>', tagged ? first.slice(colon + 1) : '<none>', trunc, now);
    }),
    Containers: doc.Containers.map((c) => new DfContainerRow(c, trunc, now)),
    Volumes: doc.Volumes.map((v) => new DfVolumeRow(v)),
    BuildCache: [...doc.BuildCache].sort(compareCacheRecords).map((b) => new DfBuildCacheRow(b, trunc, now)),
  };
}

/** A template error as Docker's CLI prints it: the message alone, status 1. */
function templateFailure(err: unknown, prefix = ''): ExitError {
  return new ExitError(1, `${prefix}${(err as Error).message}`);
}

export async function df(opts: { verbose?: boolean; format?: string }): Promise<number> {
  const client = await engine();
  const doc = JSON.parse((await client.call<{ json: string }>('SystemDf')).json) as DfDocument;
  const format = opts.format ?? '';
  if (opts.verbose) return dfVerbose(doc, format);
  const activeImages = doc.Images.filter((i) => i.Containers > 0);
  const imageSize = doc.LayersSize;
  const reclaimImages = doc.Images.filter((i) => i.Containers === 0).reduce((n, i) => n + i.UniqueSize, 0);
  const containerSize = doc.Containers.reduce((n, c) => n + c.SizeRw, 0);
  const runningContainers = doc.Containers.filter((c) => c.State === 'running');
  const reclaimContainers = doc.Containers.filter((c) => c.State !== 'running').reduce((n, c) => n + c.SizeRw, 0);
  const volumeSize = doc.Volumes.reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const activeVolumes = doc.Volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
  const reclaimVolumes = doc.Volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
  // As Docker: a record sharing its layer with an image takes no space of its own.
  const cacheSize = doc.BuildCache.filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
  const reclaimCache = doc.BuildCache.filter((b) => !b.Shared && !b.InUse).reduce((n, b) => n + b.Size, 0);
  // The summary's sizes have go-units' default four digits (`1.988MB`), not the lists' three.
  const size = (n: number) => humanSize(n, 4);
  const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.floor((part * 100) / whole)}%)` : '');
  const rows = [
    new DiskUsageRow('diskUsageImagesContext', 'Images', String(doc.Images.length), String(activeImages.length), size(imageSize), size(reclaimImages) + pct(reclaimImages, imageSize)),
    new DiskUsageRow('diskUsageContainersContext', 'Containers', String(doc.Containers.length), String(runningContainers.length), size(containerSize), size(reclaimContainers) + pct(reclaimContainers, containerSize)),
    new DiskUsageRow('diskUsageVolumesContext', 'Local Volumes', String(doc.Volumes.length), String(activeVolumes.length), size(volumeSize), size(reclaimVolumes) + pct(reclaimVolumes, volumeSize)),
    new DiskUsageRow('diskUsageBuilderContext', 'Build Cache', String(doc.BuildCache.length), String(doc.BuildCache.filter((b) => b.InUse).length), size(cacheSize), size(reclaimCache)),
  ];
  let text: string;
  try {
    text = renderList(rows, {
      format,
      defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
      headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
    });
  } catch (err) {
    throw templateFailure(err);
  }
  process.stdout.write(text);
  return 0;
}

/**
 * `system df -v`: with no format (or `table`), a table per kind; with any other, the template is
 * run once over all four lists (`json` is `{{json .}}`), as Docker's CLI does, and what it prints
 * ends where the template ends. A `table TEMPLATE` is run the same way, only with IDs cut.
 */
function dfVerbose(doc: DfDocument, format: string): number {
  const now = Date.now();
  if (format === '' || format === 'table') {
    const data = verboseData(doc, true, now);
    const section = (title: string, rows: object[], defaultTable: string, headers: Record<string, string>) => {
      process.stdout.write(title);
      process.stdout.write(renderList(rows, { defaultTable, headers }));
    };
    section('Images space usage:\n\n', data.Images, 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}', {
      Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS',
    });
    section('\nContainers space usage:\n\n', data.Containers, 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}', {
      ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES',
    });
    section('\nLocal Volumes space usage:\n\n', data.Volumes, 'table {{.Name}}\t{{.Links}}\t{{.Size}}', { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' });
    const cacheSize = doc.BuildCache.filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
    section(`\nBuild cache usage: ${humanSize(cacheSize, 4)}\n\n`, data.BuildCache, 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}', {
      ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
    });
    return 0;
  }
  const { template: source, table } = resolveListFormat({ format, defaultTable: '', headers: {} });
  let template: Template;
  try {
    template = compileTemplate(source);
  } catch (err) {
    throw templateFailure(err, 'template parsing error: ');
  }
  const data = verboseData(doc, table, now);
  let text: string;
  try {
    text = template.execute(data);
  } catch (err) {
    // Go's template has written what came before the failing action.
    process.stdout.write(template.execute(data, { ignoreErrors: true }));
    throw templateFailure(err);
  }
  process.stdout.write(text);
  return 0;
}

export async function prune(opts: { all?: boolean; volumes?: boolean; filter?: string[]; force?: boolean }): Promise<number> {
  if (!opts.force) {
    const lines = [
      'WARNING! This will remove:',
      '  - all stopped containers',
      '  - all networks not used by at least one container',
      ...(opts.volumes ? ['  - all anonymous volumes not used by at least one container'] : []),
      opts.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
      '  - unused build cache',
      '',
    ];
    if (!(await confirm(lines.join('\n')))) return 0;
  }
  // Docker's CLI sequence of prunes, each with the same filters, and one total.
  const client = await engine();
  const filters = parseFilters(opts.filter);
  const steps: Array<[title: string, method: string, all: boolean]> = [
    ['Deleted Containers', 'ContainerPrune', false],
    ['Deleted Networks', 'NetworkPrune', false],
    ...(opts.volumes ? [['Deleted Volumes', 'VolumePrune', false] as [string, string, boolean]] : []),
    ['Deleted Images', 'ImagePrune', !!opts.all],
    ['Deleted build cache objects', 'BuildCachePrune', !!opts.all],
  ];
  let reclaimed = 0;
  for (const [title, method, all] of steps) {
    const r = await client.call<{ deleted: string[]; space_reclaimed: number }>(method, { all, filters });
    reclaimed += r.space_reclaimed;
    printPruneReport(title, r, false);
  }
  println(`Total reclaimed space: ${humanSize(reclaimed, 4)}`);
  return 0;
}

export async function builderPrune(opts: { all?: boolean; filter?: string[]; force?: boolean }): Promise<number> {
  const warning = opts.all ? 'WARNING! This will remove all build cache.' : 'WARNING! This will remove all dangling build cache.';
  if (!(await confirmPrune(warning, opts.force))) return 0;
  const client = await engine();
  printPruneReport('Deleted build cache objects', await client.call('BuildCachePrune', { all: !!opts.all, filters: parseFilters(opts.filter) }));
  return 0;
}

/** `inspect` of any object: a container, image, network or volume, tried in that order as Docker does. */
export async function inspect(names: string[], opts: { format?: string; type?: string; size?: boolean }): Promise<number> {
  const client = await engine();
  const docs: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    const order = ['container', 'image', 'network', 'volume'];
    if (opts.type && !order.includes(opts.type)) throw new ExitError(1, `"${opts.type}" is not a valid value for --type`);
    const kinds = opts.type ? [opts.type] : order;
    const method: Record<string, string> = { container: 'ContainerInspect', image: 'ImageInspect', network: 'NetworkInspect', volume: 'VolumeInspect' };
    let found = false;
    for (const kind of kinds) {
      try {
        const r = await client.call<{ json: string[] }>(method[kind]!, { names: [name], size: !!opts.size });
        if (r.json[0] === undefined) continue;
        docs.push(JSON.parse(r.json[0]));
        found = true;
        break;
      } catch {
        // not an object of this kind: try the next one
      }
    }
    if (!found) errors.push(`Error: No such object: ${name}`);
  }
  printInspect(docs, opts.format);
  for (const e of errors) eprintln(e);
  return errors.length > 0 ? 1 : 0;
}

