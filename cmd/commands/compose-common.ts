/**
 * What Compose's verbs share: loading the project from the user's files and environment, the
 * Manager client on the daemon's socket, and Compose v2's progress lines
 * (` ✔ Container proj-web-1  Started`) on stderr.
 */
import { isKind } from '../../common/errors';
import type { ProgressEvent, ProjectContainer } from '../../common/rpc/manager-types';
import { loadProject, NoConfigurationFileError, checkProjectName, projectOptionsFromFlags } from '../../manager/compose/index';
import type { LoadedProject, ProjectOptions } from '../../manager/compose/index';
import { engine, ExitError, getGlobals } from '../cli';
import { connectManager, type EngineClient } from '../client';

let managerClient: EngineClient | undefined;

/** The Manager service on the daemon's socket (the daemon is started first when none answers). */
export async function manager(): Promise<EngineClient> {
  if (managerClient) return managerClient;
  managerClient = await connectManager({ host: getGlobals().host }, await engine());
  return managerClient;
}

export function closeManager(): void {
  managerClient?.close();
  managerClient = undefined;
}

/** Loads the project the way `config` does, printing the loader's warnings. */
export async function loadComposeProject(extra: Partial<ProjectOptions> = {}): Promise<LoadedProject> {
  const opts = projectOptionsFromFlags(getGlobals(), extra);
  if (opts.files?.includes('-')) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    opts.stdinContent = Buffer.concat(chunks).toString('utf8');
  }
  const project = await loadProject(opts);
  for (const w of project.warnings) process.stderr.write(`WARN[0000] ${w}\n`);
  return project;
}

export interface ProjectRef {
  name: string;
  /** Absent when no Compose file was found and `-p` named the project. */
  loaded?: LoadedProject;
}

/**
 * The project a verb acts on: from the Compose files when there are some, else from `-p` (or
 * COMPOSE_PROJECT_NAME), as Compose lets `down`, `ps`, `logs`… work without the files. The
 * `services` named on the command line activate their profiles, as Compose's do.
 */
/**
 * Services named on the command line must be the files' (Compose's "no such service"); a project
 * known by name alone has no list to check them against.
 */
export function checkKnownServices(ref: ProjectRef, services: readonly string[]): void {
  if (ref.loaded) for (const s of services) if (!ref.loaded.model.services[s]) throw new ExitError(1, `no such service: ${s}`);
}

export async function resolveProjectRef(services: string[] = []): Promise<ProjectRef> {
  const g = getGlobals();
  try {
    const loaded = await loadComposeProject({ servicesEnabled: services });
    return { name: loaded.projectName, loaded };
  } catch (err) {
    const byName = g.projectName ?? process.env['COMPOSE_PROJECT_NAME'];
    if (byName && err instanceof NoConfigurationFileError && !(g.file && g.file.length > 0)) return { name: checkProjectName(byName) };
    throw err;
  }
}

const TICK = '✔';
const CROSS = '✘';

/** Prints progress events as Compose v2 does; `--progress quiet` prints nothing. */
export function progressPrinter(out: NodeJS.WritableStream = process.stderr): (e: ProgressEvent) => void {
  const mode = (getGlobals() as { progress?: string }).progress ?? 'auto';
  return (e) => {
    if (e.warning) {
      out.write(`WARN[0000] ${e.warning}\n`);
      return;
    }
    if (mode === 'quiet') return;
    const what = e.resource ? `${e.resource} ${e.name}` : e.name;
    const mark = e.state === 'done' ? ` ${TICK} ` : e.state === 'error' ? ` ${CROSS} ` : ' ';
    out.write(`${mark}${what}  ${e.status}\n`);
  };
}

/** A service's pull lines (`Pulling`, `Pulled`), which `--quiet-pull` hides. */
export const isPullLine = (e: ProgressEvent): boolean => e.resource === '' && (e.status === 'Pulling' || e.status === 'Pulled');

/**
 * Runs a progress-streaming Manager call to its end; a failure becomes exit 1 with its message.
 * `hide` leaves out the lines a verb's flags ask to (warnings are always shown).
 */
export async function runWithProgress(method: string, req: unknown, signal?: AbortSignal, hide?: (e: ProgressEvent) => boolean): Promise<void> {
  const client = await manager();
  const show = progressPrinter();
  try {
    for await (const e of client.stream<ProgressEvent>(method, req, signal)) if (e.warning || !hide?.(e)) show(e);
  } catch (err) {
    throw new ExitError(1, connectionLost(err) ?? (err instanceof Error ? err.message : String(err)));
  }
}

/**
 * grpc-js's words for a daemon that went away mid-call ("Connection dropped", "No connection
 * established. Last error: …") say nothing of what the user can do about it.
 */
function connectionLost(err: unknown): string | undefined {
  if (!isKind(err, 'Unavailable')) return undefined;
  const m = /^(Connection dropped|No connection established)/.exec((err as Error).message);
  if (!m) return undefined;
  return `lost the connection to the daemon (${m[1]?.toLowerCase()}): it stopped or crashed; run the command again (it starts one) and see its log under the data root`;
}

export async function projectContainers(project: string, opts: { all?: boolean; services?: string[]; oneoff?: boolean } = {}): Promise<ProjectContainer[]> {
  const client = await manager();
  const r = await client.call<{ containers: ProjectContainer[] }>('ProjectPs', {
    project_name: project,
    all: opts.all ?? false,
    services: opts.services ?? [],
    oneoff: opts.oneoff ?? false,
  });
  return r.containers;
}

/** `-t, --timeout` as the API wants it: -1 when not given. */
export function timeoutOf(value: string | undefined): number {
  if (value === undefined) return -1;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ExitError(1, `invalid argument "${value}" for "-t, --timeout" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
  return n;
}

/** The container of a service to act on (`exec`, `port`): replica `index`, running. */
export async function serviceContainer(project: string, service: string, index = 1): Promise<ProjectContainer> {
  const list = await projectContainers(project, { services: [service] });
  if (list.length === 0) throw new ExitError(1, `service "${service}" is not running`);
  const c = list.find((x) => x.number === index);
  if (!c) throw new ExitError(1, `service "${service}" is not running container #${index}`);
  return c;
}
