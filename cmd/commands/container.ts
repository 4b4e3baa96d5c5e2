/**
 * `container …` commands that ask and answer: list, lifecycle by name, inspect, top, port,
 * wait, rename, commit, prune. Streaming ones live in container-run.ts (run, create, start,
 * attach, exec) and container-io.ts (logs, stats, cp, export).
 */
import { engine, ExitError, out, parseFilters, println, eprintln } from '../cli';
import { renderList, tabwrite } from '../format';
import type { ContainerSummary } from '../../common/rpc/engine-types';
import { confirmPrune, daemonMessage, forEachName, fromDaemon, inspectEach, printPruneReport } from './container-common';
import { parseUpdateFlags, type UpdateFlags } from '../parse/run-flags';
import { ContainerRow, CONTAINER_HEADERS, containerTable, portLines, type PortMap } from './container-format';

export interface ContainerLsFlags {
  all?: boolean;
  quiet?: boolean;
  last?: string;
  latest?: boolean;
  size?: boolean;
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

export async function containerLs(opts: ContainerLsFlags): Promise<number> {
  let last = -1;
  if (opts.last !== undefined) {
    if (!/^-?\d+$/.test(opts.last)) {
      throw new ExitError(125, `invalid argument "${opts.last}" for "-n, --last" flag: strconv.ParseInt: parsing "${opts.last}": invalid syntax`);
    }
    last = Number(opts.last);
  }
  if (opts.latest) last = 1;
  const filters = parseFilters(opts.filter);
  // A template that shows the size needs it computed, as Docker does.
  const size = !!opts.size || (!!opts.format && /\.Size\b/.test(opts.format));
  const client = await engine();
  let containers: ContainerSummary[];
  try {
    const reply = await client.call<{ containers: ContainerSummary[] }>('ContainerList', {
      all: !!opts.all || last !== -1,
      filters,
      limit: last > 0 ? last : 0,
      size,
    });
    containers = reply.containers;
  } catch (err) {
    throw fromDaemon(err);
  }
  const now = Date.now();
  const trunc = opts.trunc !== false;
  out(
    renderList(
      containers.map((c) => new ContainerRow(c, trunc, now)),
      {
        format: opts.format,
        defaultTable: containerTable(!!opts.size),
        headers: CONTAINER_HEADERS,
        quiet: opts.quiet,
        quietField: 'ID',
        errorPrefixes: { parse: 'failed to parse template: ', execute: 'failed to execute template: ' },
      },
    ),
  );
  return 0;
}

/** `-t` as Docker's int flag; undefined means the container's own stop timeout. */
function parseTimeout(value: string | undefined): number {
  if (value === undefined) return -1;
  if (!/^-?\d+$/.test(value)) {
    throw new ExitError(125, `invalid argument "${value}" for "-t, --timeout" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
  }
  return Number(value);
}

export interface StopFlags {
  time?: string;
  timeout?: string;
  signal?: string;
}

export async function containerStop(names: string[], opts: StopFlags): Promise<number> {
  const timeout = parseTimeout(opts.time ?? opts.timeout);
  const client = await engine();
  return forEachName(names, (id) => client.call('ContainerStop', { id, timeout_seconds: timeout, signal: opts.signal ?? '' }));
}

export async function containerRestart(names: string[], opts: StopFlags): Promise<number> {
  const timeout = parseTimeout(opts.time ?? opts.timeout);
  const client = await engine();
  return forEachName(names, (id) => client.call('ContainerRestart', { id, timeout_seconds: timeout, signal: opts.signal ?? '' }));
}

export async function containerKill(names: string[], opts: { signal?: string }): Promise<number> {
  const client = await engine();
  return forEachName(names, (id) => client.call('ContainerKill', { id, signal: opts.signal ?? '' }));
}

export async function containerRm(names: string[], opts: { force?: boolean; volumes?: boolean }): Promise<number> {
  const client = await engine();
  return forEachName(names, (id) => client.call('ContainerRemove', { id, force: !!opts.force, volumes: !!opts.volumes }));
}

export async function containerPause(names: string[]): Promise<number> {
  const client = await engine();
  return forEachName(names, (id) => client.call('ContainerPause', { id }));
}

export async function containerUnpause(names: string[]): Promise<number> {
  const client = await engine();
  return forEachName(names, (id) => client.call('ContainerUnpause', { id }));
}

/**
 * `update [OPTIONS] CONTAINER...`, one container after the other as Docker's CLI: each name
 * updated is printed, each failure follows on stderr, then the daemon's warnings; exit 1 if any failed.
 */
export async function containerUpdate(names: string[], flags: UpdateFlags): Promise<number> {
  const update = parseUpdateFlags(flags);
  const client = await engine();
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const id of names) {
    try {
      const reply = await client.call<{ warnings: string[] }>('ContainerUpdate', { id, ...update });
      println(id);
      warnings.push(...reply.warnings);
    } catch (err) {
      errors.push(daemonMessage(err));
    }
  }
  for (const w of warnings) println(w);
  for (const e of errors) eprintln(e);
  return errors.length > 0 ? 1 : 0;
}

export async function containerInspect(names: string[], opts: { format?: string; size?: boolean }): Promise<number> {
  const client = await engine();
  return inspectEach(client, 'ContainerInspect', 'container', names, opts);
}

/** `top CONTAINER [ps OPTIONS]`: the daemon's titles and rows, aligned as Docker's tabwriter. */
export async function containerTop(id: string, psArgs: string[]): Promise<number> {
  const client = await engine();
  let reply: { titles: string[]; processes: Array<{ columns: string[] }> };
  try {
    reply = await client.call('ContainerTop', { id, ps_args: psArgs });
  } catch (err) {
    throw fromDaemon(err);
  }
  const lines = [reply.titles.join('\t'), ...reply.processes.map((p) => p.columns.join('\t'))];
  process.stdout.write(tabwrite(lines.map((l) => `${l}\n`).join(''), { minWidth: 20, padding: 3, padChar: ' ' }));
  return 0;
}

export async function containerWait(names: string[]): Promise<number> {
  const client = await engine();
  const results = await Promise.allSettled(
    names.map((id) => client.call<{ exit_code: number; error: string }>('ContainerWait', { id, condition: 'not-running' })),
  );
  const errors: string[] = [];
  for (const r of results) {
    if (r.status === 'rejected') errors.push(daemonMessage(r.reason));
    else if (r.value.error) errors.push(daemonMessage(new Error(r.value.error)));
    else println(String(r.value.exit_code));
  }
  for (const e of errors) eprintln(e);
  return errors.length > 0 ? 1 : 0;
}

export async function containerPort(id: string, privatePort: string | undefined): Promise<number> {
  const client = await engine();
  let doc: { NetworkSettings?: { Ports?: PortMap | null } };
  try {
    const reply = await client.call<{ json: string[] }>('ContainerInspect', { names: [id] });
    doc = JSON.parse(reply.json[0] ?? '{}');
  } catch (err) {
    throw fromDaemon(err);
  }
  let lines: string[];
  try {
    lines = portLines(doc.NetworkSettings?.Ports ?? {}, id, privatePort);
  } catch (err) {
    throw new ExitError(1, (err as Error).message);
  }
  for (const l of lines) println(l);
  return 0;
}

export async function containerRename(id: string, newName: string): Promise<number> {
  const client = await engine();
  try {
    await client.call('ContainerRename', { id, new_name: newName });
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}

export async function containerCommit(
  id: string,
  reference: string | undefined,
  opts: { change?: string[]; message?: string; author?: string; pause?: boolean },
): Promise<number> {
  const client = await engine();
  try {
    const reply = await client.call<{ id: string }>('ContainerCommit', {
      id,
      reference: reference ?? '',
      changes: opts.change ?? [],
      message: opts.message ?? '',
      author: opts.author ?? '',
      pause: opts.pause !== false,
    });
    println(reply.id);
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}

/** `docker diff`: one line per change, `C`, `A` or `D` and the path. */
export async function containerDiff(id: string): Promise<number> {
  const client = await engine();
  try {
    const reply = await client.call<{ changes: Array<{ path: string; kind: number }> }>('ContainerDiff', { id });
    for (const ch of reply.changes) println(`${['C', 'A', 'D'][ch.kind] ?? '?'} ${ch.path}`);
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}

export async function containerPrune(opts: { force?: boolean; filter?: string[] }): Promise<number> {
  const filters = parseFilters(opts.filter);
  if (!(await confirmPrune('WARNING! This will remove all stopped containers.', opts.force))) return 0;
  const client = await engine();
  try {
    printPruneReport('Deleted Containers', await client.call('ContainerPrune', { all: false, filters }));
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}
