/** `version`, `info`, `events`, `system df|prune`, `builder prune` and the generic `inspect`. */
import { engine, parseFilters, println, eprintln, ExitError } from '../cli';
import { compileTemplate, containerStatus, quoteGo, renderList, humanSize, timeAgo, parseTimestamp, timestampToDate, type ContainerStateName } from '../format';
import { confirmPrune, printPruneReport } from './container-common';
import { ellipsis } from './container-format';
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
    println(opts.format === 'json' ? JSON.stringify(doc) : compileTemplate(opts.format).execute(doc));
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
  Command: string;
  Created: number;
  State: string;
  StartedAt: number;
  FinishedAt: number;
  ExitCode: number;
  SizeRw: number;
  Mounts: Array<{ Type: string }>;
}

interface DfVolume {
  Name: string;
  UsageData?: { Size: number; RefCount: number };
}

interface DfBuildCache {
  ID: string;
  Type: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string;
  UsageCount: number;
}

export async function df(opts: { verbose?: boolean; format?: string }): Promise<number> {
  const client = await engine();
  const doc = JSON.parse((await client.call<{ json: string }>('SystemDf')).json) as {
    Images: DfImage[];
    Containers: DfContainer[];
    Volumes: DfVolume[];
    BuildCache: DfBuildCache[];
    LayersSize: number;
  };
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
  const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.floor((part * 100) / whole)}%)` : '');
  const rows = [
    { Type: 'Images', TotalCount: String(doc.Images.length), Active: String(activeImages.length), Size: humanSize(imageSize), Reclaimable: humanSize(reclaimImages) + pct(reclaimImages, imageSize) },
    { Type: 'Containers', TotalCount: String(doc.Containers.length), Active: String(runningContainers.length), Size: humanSize(containerSize), Reclaimable: humanSize(reclaimContainers) + pct(reclaimContainers, containerSize) },
    { Type: 'Local Volumes', TotalCount: String(doc.Volumes.length), Active: String(activeVolumes.length), Size: humanSize(volumeSize), Reclaimable: humanSize(reclaimVolumes) + pct(reclaimVolumes, volumeSize) },
    { Type: 'Build Cache', TotalCount: String(doc.BuildCache.length), Active: String(doc.BuildCache.filter((b) => b.InUse).length), Size: humanSize(cacheSize), Reclaimable: humanSize(reclaimCache) },
  ];
  if (!opts.verbose || opts.format) {
    process.stdout.write(
      renderList(rows, {
        format: opts.format,
        defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
        headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
      }),
    );
    return 0;
  }
  const now = Date.now();
  println('Images space usage:\n');
  const imageRows = doc.Images.flatMap((i) =>
    (i.RepoTags.length > 0 ? i.RepoTags : ['<none>:<none>']).map((t) => {
      const c = t.lastIndexOf(':');
      return {
        Repository: t.slice(0, c),
        Tag: t.slice(c + 1),
        ID: i.Id.slice(7, 19),
        CreatedSince: timeAgo(i.Created * 1000, now),
        Size: humanSize(i.Size),
        SharedSize: humanSize(i.SharedSize),
        UniqueSize: humanSize(i.UniqueSize),
        Containers: String(i.Containers),
      };
    }),
  );
  process.stdout.write(
    renderList(imageRows, {
      defaultTable: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
      headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' },
    }),
  );
  println('\nContainers space usage:\n');
  process.stdout.write(
    renderList(
      doc.Containers.map((c) => ({
        ID: c.Id.slice(0, 12),
        Image: c.Image,
        Command: quoteGo(ellipsis(c.Command, 20)),
        LocalVolumes: String(c.Mounts.filter((m) => m.Type === 'volume').length),
        Size: humanSize(c.SizeRw),
        CreatedSince: timeAgo(c.Created * 1000, now),
        Status: containerStatus({ state: c.State as ContainerStateName, startedAt: c.StartedAt || null, finishedAt: c.FinishedAt || null, exitCode: c.ExitCode }, now),
        Names: c.Names.map((n) => n.replace(/^\//, '')).join(','),
      })),
      {
        defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.CreatedSince}}\t{{.Status}}\t{{.Names}}',
        headers: { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', CreatedSince: 'CREATED', Status: 'STATUS', Names: 'NAMES' },
      },
    ),
  );
  println('\nLocal Volumes space usage:\n');
  process.stdout.write(
    renderList(
      doc.Volumes.map((v) => {
        const size = v.UsageData?.Size ?? -1;
        return { Name: v.Name, Links: String(v.UsageData?.RefCount ?? 0), Size: size < 0 ? 'N/A' : humanSize(size) };
      }),
      { defaultTable: 'table {{.Name}}\t{{.Links}}\t{{.Size}}', headers: { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' } },
    ),
  );
  println(`\nBuild cache usage: ${humanSize(cacheSize)}\n`);
  if (doc.BuildCache.length > 0) {
    process.stdout.write(
      renderList(
        doc.BuildCache.map((b) => ({
          ID: b.ID,
          CacheType: b.Type,
          Size: humanSize(b.Size),
          CreatedSince: timeAgo(Date.parse(b.CreatedAt), now),
          LastUsedSince: timeAgo(Date.parse(b.LastUsedAt), now),
          UsageCount: String(b.UsageCount),
          Shared: String(b.Shared),
        })),
        {
          defaultTable: 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}',
          headers: { ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED' },
        },
      ),
    );
  }
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

