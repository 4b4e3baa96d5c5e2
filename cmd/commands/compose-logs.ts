/**
 * `logs`, and the log view of an attached `up`: every container's lines prefixed with its
 * service and number (`web-1  | …`), padded to one width and coloured per container on a
 * terminal, as Compose prints them.
 */
import type { LogEntry } from '../../common/rpc/engine-types';
import type { ProjectContainer } from '../../common/rpc/manager-types';
import { engine, ExitError, getGlobals } from '../cli';
import type { EngineClient } from '../client';
import { parseTimestamp } from '../format';
import { logTimestamp } from './container-io';
import { checkKnownServices, projectContainers, resolveProjectRef } from './compose-common';
import { NO_LOGS_MESSAGE } from '../../agent/container/log-config';

/** Compose's rotation: cyan, yellow, green, magenta, blue, then the same in bold. */
const COLORS = ['36', '33', '32', '35', '34', '36;1', '33;1', '32;1', '35;1', '34;1'];

/**
 * Whether log prefixes are coloured: never with `--no-color`, `--ansi never` or NO_COLOR set;
 * always with `--ansi always`; else when stdout is a terminal.
 */
export function logColor(flag: boolean | undefined): boolean {
  if (flag === false) return false;
  const ansi = (getGlobals() as { ansi?: string }).ansi ?? 'auto';
  if (ansi === 'never') return false;
  if (ansi === 'always') return true;
  if (process.env['NO_COLOR']) return false;
  return process.stdout.isTTY === true;
}

export interface LogView {
  prefix: boolean;
  color: boolean;
  timestamps: boolean;
}

/** `web-1` for proj-web-1; the container name when it is not Compose's (container_name). */
export function displayName(c: Pick<ProjectContainer, 'name' | 'service' | 'number'>, project: string): string {
  return c.name === `${project}-${c.service}-${c.number}` ? `${c.service}-${c.number}` : c.name;
}

export class LogPrinter {
  private width = 0;
  private readonly colors = new Map<string, string>();
  /** Partial lines per container and stream, kept until their newline. */
  private readonly partial = new Map<string, string>();

  constructor(private readonly view: LogView) {}

  register(names: string[]): void {
    for (const n of names) {
      this.width = Math.max(this.width, n.length);
      if (!this.colors.has(n)) this.colors.set(n, COLORS[this.colors.size % COLORS.length] as string);
    }
  }

  private prefix(name: string): string {
    if (!this.view.prefix) return '';
    const text = `${name.padEnd(this.width)}  | `;
    return this.paint(name, text);
  }

  write(name: string, entry: LogEntry): void {
    const key = `${name}\0${entry.stream}`;
    const text = (this.partial.get(key) ?? '') + entry.data.toString('utf8');
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    if (rest) this.partial.set(key, rest);
    else this.partial.delete(key);
    const stamp = this.view.timestamps ? `${logTimestamp(entry.time_nano)} ` : '';
    const out = entry.stream === 'stderr' && !this.view.prefix ? process.stderr : process.stdout;
    for (const line of lines) out.write(`${this.prefix(name)}${stamp}${line}\n`);
  }

  private paint(name: string, text: string): string {
    return this.view.color ? `\x1b[${this.colors.get(name) ?? '0'}m${text}\x1b[0m` : text;
  }

  /** A message about a container in the log view (`web-1 exited with code 0`), in its colour. */
  note(name: string, text: string): void {
    this.flush(name);
    process.stdout.write(`${this.paint(name, `${name} ${text}`)}\n`);
  }

  flush(name: string): void {
    for (const [key, rest] of this.partial) {
      if (!key.startsWith(`${name}\0`)) continue;
      process.stdout.write(`${this.prefix(name)}${rest}\n`);
      this.partial.delete(key);
    }
  }
}

export interface FollowOptions {
  follow: boolean;
  tail: number;
  since: number;
  until: number;
  signal: AbortSignal;
  /** The output is shown as attach shows it (`up`): also that of containers that keep no logs. */
  attach?: boolean;
  /** Called when a followed container's log ends (it stopped). */
  onEnd?: (c: ProjectContainer, name: string) => void;
  /**
   * Called between two runs of a container its restart policy restarts, with the code the first
   * exited with; the follow goes on with the next run's lines.
   */
  onRestart?: (c: ProjectContainer, name: string, exitCode: number) => void;
  /** Containers followed for their end only, their lines not shown (`up --no-attach`). */
  hidden?: Set<string>;
}

export async function streamLogs(printer: LogPrinter, project: string, containers: ProjectContainer[], opts: FollowOptions): Promise<void> {
  const client = await engine();
  printer.register(containers.filter((c) => !opts.hidden?.has(c.id)).map((c) => displayName(c, project)));
  await Promise.all(
    containers.map(async (c) => {
      const name = displayName(c, project);
      try {
        for await (const entry of client.stream<LogEntry>(
          'ContainerLogs',
          {
            id: c.id,
            follow: opts.follow,
            tail: opts.tail,
            since: opts.since,
            until: opts.until,
            stdout: true,
            stderr: true,
            attempts: !!opts.onRestart,
            attach: !!opts.attach,
          },
          opts.signal,
        )) {
          if (entry.exited) {
            printer.flush(name);
            opts.onRestart?.(c, name, entry.exit_code ?? 0);
          } else if (!opts.hidden?.has(c.id)) printer.write(name, entry);
        }
      } catch (err) {
        if (opts.signal.aborted) return;
        // As Compose: a container whose log driver keeps nothing (`none`) is passed over with a warning.
        const message = err instanceof Error ? err.message : String(err);
        if (!message.endsWith(NO_LOGS_MESSAGE)) throw err;
        process.stderr.write(`WARN[0000] Can't retrieve logs for ${JSON.stringify(c.name)}: ${message.replace(/^Error response from daemon: /, '')}\n`);
        return;
      }
      printer.flush(name);
      if (!opts.signal.aborted) opts.onEnd?.(c, name);
    }),
  );
}

export interface LogsFlags {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  color?: boolean;
  logPrefix?: boolean;
  since?: string;
  until?: string;
  index?: string;
}

function timeFlag(value: string | undefined): number {
  if (!value) return 0;
  const ts = parseTimestamp(value);
  return ts.seconds * 1000 + Math.floor(ts.nanos / 1e6);
}

export async function composeLogs(services: string[], flags: LogsFlags): Promise<number> {
  const ref = await resolveProjectRef(services);
  // As Compose, which selects the services when it loads the files: only a project known by
  // name alone lets an unknown service through, with nothing to show.
  checkKnownServices(ref, services);
  let tail = -1;
  if (flags.tail !== undefined && flags.tail !== 'all') {
    if (!/^\d+$/.test(flags.tail)) throw new ExitError(1, `invalid value for "tail": "${flags.tail}"`);
    tail = Number(flags.tail);
  }
  // Taken before the containers are listed: a start between the two is in the event history.
  const listedAt = Date.now();
  let containers = await projectContainers(ref.name, { all: true, services, oneoff: false });
  if (flags.index !== undefined) containers = containers.filter((c) => c.number === Number(flags.index));
  const printer = new LogPrinter({
    prefix: flags.logPrefix !== false,
    color: logColor(flags.color),
    timestamps: !!flags.timestamps,
  });
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once('SIGINT', onInterrupt);
  const opts = { follow: !!flags.follow, tail, since: timeFlag(flags.since), until: timeFlag(flags.until), signal: abort.signal };
  try {
    if (!opts.follow || flags.index !== undefined) await streamLogs(printer, ref.name, containers, opts);
    else await followProject(printer, ref.name, services, containers, listedAt, opts);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return 0;
}

/** When the container's current run started, in ms since 1970 (0 if unknown: from the start). */
async function startedAtMs(client: EngineClient, id: string): Promise<number> {
  const [doc] = (await client.call<{ json: string[] }>('ContainerInspect', { names: [id], ignore_missing: true, size: false })).json;
  const at = doc ? Date.parse((JSON.parse(doc) as { State?: { StartedAt?: string } }).State?.StartedAt ?? '') : NaN;
  return Number.isFinite(at) ? at : 0;
}

/**
 * `logs -f`, as Compose follows a project: the containers there are, and each one that starts
 * later (a new replica, a recreated or restarted container) from its start, until every log
 * followed has ended.
 */
async function followProject(printer: LogPrinter, project: string, services: string[], containers: ProjectContainer[], listedAt: number, opts: FollowOptions): Promise<void> {
  const client = await engine();
  const watching = new AbortController();
  opts.signal.addEventListener('abort', () => watching.abort(), { once: true });
  const active = new Set<string>();
  const known = new Set(containers.map((c) => c.id));
  const follows: Array<Promise<void>> = [];
  let settled: () => void = () => undefined;
  const allEnded = new Promise<void>((resolve) => (settled = resolve));
  const follow = (list: ProjectContainer[], from: FollowOptions) => {
    for (const c of list) active.add(c.id);
    follows.push(
      streamLogs(printer, project, list, from).finally(() => {
        for (const c of list) active.delete(c.id);
        if (active.size === 0) settled();
      }),
    );
  };
  const watch = (async () => {
    const filters = [
      { key: 'type', values: ['container'] },
      { key: 'event', values: ['start'] },
      { key: 'label', values: [`com.docker.compose.project=${project}`] },
    ];
    for await (const e of client.stream<{ actor_id: string; attributes: Record<string, string> }>('Events', { since: listedAt, until: 0, filters }, watching.signal)) {
      if (active.has(e.actor_id) || e.attributes['com.docker.compose.oneoff'] === 'True') continue;
      if (services.length > 0 && !services.includes(e.attributes['com.docker.compose.service'] ?? '')) continue;
      const started = (await projectContainers(project, { all: true, services, oneoff: false })).find((c) => c.id === e.actor_id);
      if (!started || active.has(started.id)) continue;
      // A container new since the listing is followed from its first line (the start event comes
      // after the process may have written some); one listed before, from this run's start.
      const since = known.has(started.id) ? await startedAtMs(client, started.id) : opts.since;
      follow([started], { ...opts, tail: -1, since });
    }
  })().catch((err: unknown) => {
    if (!watching.signal.aborted) throw err;
  });
  follow(containers, opts);
  if (containers.length === 0) settled();
  // Ctrl-C (opts.signal) ends every follow, and so this wait too.
  await allEnded;
  watching.abort();
  await Promise.all([watch, ...follows]);
}
