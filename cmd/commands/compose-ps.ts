/** `ps`, `ls`, `images`, `top`, `port`: what a project runs, as Compose prints it. */
import type { ProjectContainer, ProjectListReply } from '../../common/rpc/manager-types';
import type { PortView } from '../../common/rpc/engine-types';
import { engine, ExitError, out, println } from '../cli';
import { containerStatus, goTime, humanSize, quoteGo, renderList, tabwrite, timeAgo, type ContainerStateName, type HealthStatus } from '../format';
import { displayablePorts, ellipsis, shortId } from './container-format';
import { checkKnownServices, manager, projectContainers, resolveProjectRef, serviceContainer } from './compose-common';

const portViews = (c: ProjectContainer): PortView[] =>
  c.ports.map((p) => ({ ip: p.url, private_port: p.target_port, public_port: p.published_port, type: p.protocol }));

export interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  services?: boolean;
  status?: string[];
  filter?: string[];
  format?: string;
  trunc?: boolean; // --no-trunc → false
  orphans?: boolean;
}

const STATES = ['paused', 'restarting', 'removing', 'running', 'dead', 'created', 'exited'];

export async function composePs(services: string[], flags: PsFlags): Promise<number> {
  const ref = await resolveProjectRef(services);
  const statuses = [...(flags.status ?? [])];
  for (const f of flags.filter ?? []) {
    const m = /^status=(.+)$/.exec(f);
    if (!m) throw new ExitError(1, `invalid filter ${JSON.stringify(f)}: only status=… is supported`);
    statuses.push(m[1] as string);
  }
  for (const s of statuses) if (!STATES.includes(s)) throw new ExitError(1, `invalid filter 'status=${s}'`);
  checkKnownServices(ref, services);
  let list = await projectContainers(ref.name, { all: !!flags.all || statuses.length > 0, services, oneoff: true });
  if (statuses.length > 0) list = list.filter((c) => statuses.includes(c.state));
  // Orphans (containers of services the files no longer have) are shown unless --orphans=false.
  const model = ref.loaded?.model;
  if (flags.orphans === false && model) list = list.filter((c) => model.services[c.service] !== undefined);
  if (flags.services) {
    for (const s of [...new Set(list.map((c) => c.service))].sort()) println(s);
    return 0;
  }
  if (flags.quiet) {
    for (const c of list) println(flags.trunc === false ? c.id : c.id);
    return 0;
  }
  const format = flags.format ?? 'table';
  if (format === 'json') {
    for (const c of list) println(JSON.stringify(psJson(c)));
    return 0;
  }
  if (format !== 'table') {
    // A Go template (`{{.Name}}`, `table {{.Service}}\t{{.State}}`) over the json fields, as Compose's.
    out(renderList(list.map(psJson), { format, defaultTable: '', headers: { RunningFor: 'CREATED' } }));
    return 0;
  }
  const now = Date.now();
  const rows = ['NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS'];
  for (const c of list) {
    const command = quoteGo(flags.trunc === false ? c.command : ellipsis(c.command, 20));
    rows.push([c.name, c.image, command, c.service, timeAgo(c.created, now), statusOf(c, now), displayablePorts(portViews(c))].join('\t'));
  }
  out(tabwrite(rows.join('\n') + '\n'));
  return 0;
}

/** The engine's status text, or the same computed from the container's state. */
export function statusOf(c: ProjectContainer, now = Date.now()): string {
  return (
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
    )
  );
}

/** Compose's `ps --format json` object (one per line). */
function psJson(c: ProjectContainer): Record<string, unknown> {
  return {
    Command: quoteGo(c.command),
    CreatedAt: goTime(c.created),
    ExitCode: c.exit_code,
    Health: c.health,
    ID: c.id,
    Image: c.image,
    Labels: Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(','),
    Name: c.name,
    Names: c.name,
    Project: c.labels['com.docker.compose.project'] ?? '',
    Publishers: c.ports.map((p) => ({ URL: p.url, TargetPort: p.target_port, PublishedPort: p.published_port, Protocol: p.protocol })),
    RunningFor: timeAgo(c.created),
    Service: c.service,
    State: c.state,
    Status: statusOf(c),
    Ports: displayablePorts(portViews(c)),
  };
}

export async function composeLs(flags: { all?: boolean; quiet?: boolean; format?: string; filter?: string[] }): Promise<number> {
  const client = await manager();
  const reply = await client.call<ProjectListReply>('ProjectList', { all: !!flags.all });
  let projects = reply.projects;
  for (const f of flags.filter ?? []) {
    const m = /^name=(.*)$/.exec(f);
    if (!m) throw new ExitError(1, `invalid filter ${JSON.stringify(f)}: only name=… is supported`);
    projects = projects.filter((p) => p.name.includes(m[1] as string));
  }
  if (flags.quiet) {
    for (const p of projects) println(p.name);
    return 0;
  }
  if (flags.format === 'json') {
    println(JSON.stringify(projects.map((p) => ({ Name: p.name, Status: p.status, ConfigFiles: p.config_files.join(',') }))));
    return 0;
  }
  const rows = ['NAME\tSTATUS\tCONFIG FILES', ...projects.map((p) => `${p.name}\t${p.status}\t${p.config_files.join(',')}`)];
  out(tabwrite(rows.join('\n') + '\n'));
  return 0;
}

export async function composeImages(services: string[], flags: { quiet?: boolean; format?: string }): Promise<number> {
  const ref = await resolveProjectRef(services);
  const list = await projectContainers(ref.name, { all: true, services });
  const client = await engine();
  const rows = ['CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE'];
  const json: unknown[] = [];
  const ids = new Set<string>();
  for (const c of list) {
    const [doc] = (await client.call<{ json: string[] }>('ImageInspect', { names: [c.image], ignore_missing: true, size: false })).json;
    const info = doc ? (JSON.parse(doc) as { Id: string; Size: number }) : { Id: '', Size: 0 };
    const at = c.image.lastIndexOf(':');
    const [repo, tag] = at > c.image.lastIndexOf('/') ? [c.image.slice(0, at), c.image.slice(at + 1)] : [c.image, 'latest'];
    ids.add(info.Id.slice(info.Id.indexOf(':') + 1));
    rows.push([c.name, repo, tag, shortId(info.Id), humanSize(info.Size)].join('\t'));
    json.push({ ContainerName: c.name, Repository: repo, Tag: tag, ID: info.Id, Size: info.Size });
  }
  if (flags.quiet) {
    for (const id of ids) println(id);
    return 0;
  }
  if (flags.format === 'json') {
    println(JSON.stringify(json));
    return 0;
  }
  out(tabwrite(rows.join('\n') + '\n'));
  return 0;
}

/**
 * Compose's `top`: one table for the project, SERVICE and replica number (#) first, then the
 * processes' columns with CMD last, containers in name order.
 */
export async function composeTop(services: string[]): Promise<number> {
  const ref = await resolveProjectRef(services);
  const list = (await projectContainers(ref.name, { services })).sort((a, b) => a.name.localeCompare(b.name));
  const client = await engine();
  const titles = ['SERVICE', '#'];
  const rows: Array<Record<string, string>> = [];
  for (const c of list) {
    const r = await client.call<{ titles: string[]; processes: Array<{ columns: string[] }> }>('ContainerTop', { id: c.id, ps_args: [] });
    for (const t of r.titles) if (!titles.includes(t)) titles.push(t);
    for (const p of r.processes) rows.push({ SERVICE: c.service, '#': String(c.number), ...Object.fromEntries(r.titles.map((t, i) => [t, p.columns[i] ?? ''])) });
  }
  if (rows.length === 0) return 0;
  const cmd = titles.indexOf('CMD');
  if (cmd >= 0) titles.push(...titles.splice(cmd, 1));
  const text = [titles.join('\t'), ...rows.map((r) => titles.map((t) => r[t] ?? '-').join('\t'))].join('\n') + '\n';
  out(tabwrite(text, { minWidth: 4, padding: 2, padChar: ' ' }));
  return 0;
}

export async function composePort(service: string, privatePort: string, flags: { protocol?: string; index?: string }): Promise<number> {
  const ref = await resolveProjectRef([service]);
  const c = await serviceContainer(ref.name, service, flags.index ? Number(flags.index) : 1);
  const protocol = flags.protocol ?? 'tcp';
  const p = c.ports.find((x) => String(x.target_port) === privatePort && x.protocol === protocol && x.published_port > 0);
  if (!p) throw new ExitError(1, `no port ${privatePort}/${protocol} for container ${c.name}: not published`);
  println(`${p.url || '0.0.0.0'}:${p.published_port}`);
  return 0;
}
