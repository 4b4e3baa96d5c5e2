/**
 * `up`: the CLI loads the project (the files and environment are the user's), the manager
 * converges it and streams progress. Detached (`-d`, `--wait`) it ends there; attached it shows
 * every container's log until they all stop, or Ctrl-C stops the project.
 */
import { isKind } from '../../common/errors';
import { emptyProjectUpRequest } from '../../common/rpc/manager-types';
import { ExitError, eprintln } from '../cli';
import { isPullLine, loadComposeProject, manager, progressPrinter, projectContainers, runWithProgress, timeoutOf } from './compose-common';
import { displayName, logColor, LogPrinter, streamLogs } from './compose-logs';
import { prepareUpImages } from './compose-build';
import { selectServices } from './compose-images';
import type { ProgressEvent } from '../../common/rpc/manager-types';

export interface UpFlags {
  detach?: boolean;
  wait?: boolean;
  waitTimeout?: string;
  scale?: string[];
  deps?: boolean; // --no-deps → false
  forceRecreate?: boolean;
  renewAnonVolumes?: boolean;
  alwaysRecreateDeps?: boolean;
  recreate?: boolean; // --no-recreate → false
  removeOrphans?: boolean;
  start?: boolean; // --no-start → false
  abortOnContainerExit?: boolean;
  exitCodeFrom?: string;
  timeout?: string;
  pull?: string;
  build?: boolean; // --build → true, --no-build → false
  color?: boolean;
  logPrefix?: boolean;
  timestamps?: boolean;
  attachDependencies?: boolean;
  attach?: string[];
  noAttach?: string[];
  quietPull?: boolean;
  /** Not a flag of `up`: `watch --quiet` hides the output of the builds it runs. */
  quietBuild?: boolean;
}

export function parseScale(values: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(v);
    if (!m) throw new ExitError(1, `invalid --scale value ${JSON.stringify(v)}: expected SERVICE=NUM`);
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

export async function composeUp(services: string[], flags: UpFlags): Promise<number> {
  const detach = !!flags.detach || !!flags.wait;
  if (flags.exitCodeFrom !== undefined) flags.abortOnContainerExit = true;
  if (detach && flags.abortOnContainerExit) throw new ExitError(1, '--abort-on-container-exit and --detach are incompatible options');
  if (flags.forceRecreate && flags.recreate === false) throw new ExitError(1, '--force-recreate and --no-recreate are incompatible');
  if (flags.alwaysRecreateDeps && flags.recreate === false) throw new ExitError(1, '--always-recreate-deps and --no-recreate are incompatible');
  if (flags.pull !== undefined && !['always', 'missing', 'never', 'policy'].includes(flags.pull)) {
    throw new ExitError(1, `invalid --pull option ${JSON.stringify(flags.pull)}: expected always, missing, never`);
  }
  const waitTimeout = flags.waitTimeout !== undefined ? Number(flags.waitTimeout) : 0;
  if (!Number.isFinite(waitTimeout) || waitTimeout < 0) throw new ExitError(1, `invalid --wait-timeout ${JSON.stringify(flags.waitTimeout)}`);

  const project = await loadComposeProject({ servicesEnabled: services });
  for (const s of [flags.exitCodeFrom, ...(flags.attach ?? []), ...(flags.noAttach ?? [])]) {
    if (s !== undefined && !project.model.services[s]) throw new ExitError(1, `no such service: ${s}`);
  }
  // Builds (and the pulls of services that build) happen here, where the contexts are.
  const scope = selectServices(project.model, services, flags.deps !== false);
  await prepareUpImages(project, scope, { build: flags.build, pull: flags.pull === 'policy' ? undefined : flags.pull, quietPull: flags.quietPull, quietBuild: flags.quietBuild });

  const req = emptyProjectUpRequest(project.projectName, JSON.stringify(project.model));
  req.services = services;
  req.scale = parseScale(flags.scale);
  req.no_deps = flags.deps === false;
  req.force_recreate = !!flags.forceRecreate;
  req.no_recreate = flags.recreate === false;
  req.renew_anon_volumes = !!flags.renewAnonVolumes;
  req.always_recreate_deps = !!flags.alwaysRecreateDeps;
  req.remove_orphans = !!flags.removeOrphans || isTruthy(process.env['COMPOSE_REMOVE_ORPHANS']);
  req.no_start = flags.start === false;
  req.wait = !!flags.wait;
  req.wait_timeout_seconds = Math.ceil(waitTimeout);
  req.timeout_seconds = timeoutOf(flags.timeout);
  req.pull = flags.pull === 'policy' ? '' : (flags.pull ?? '');
  req.config_files = project.files;
  req.working_dir = project.projectDir;

  // Ctrl-C during convergence cancels it: the manager stops where it is. Detached, that is all;
  // attached, what was started is then stopped gracefully (a second Ctrl-C kills it), as later.
  const abort = new AbortController();
  const graceful = detach || req.no_start ? undefined : new GracefulStop(project.projectName, req.timeout_seconds);
  const onInterrupt = () => {
    abort.abort();
    graceful?.interrupt();
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  // The attached view shows this run's output only, as Compose's attach does, not the logs
  // containers kept or restarted from an earlier `up` already have.
  const upStartedMs = Date.now();
  try {
    try {
      await runWithProgress('ProjectUp', req, abort.signal, flags.quietPull ? isPullLine : undefined);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
    if (abort.signal.aborted) {
      await graceful?.settled();
      return 130;
    }
    if (!graceful) return 0;
    const unattached = Object.values(project.model.services).filter((s) => s.attach === false).map((s) => s.name);
    return await attach(project.projectName, scope, services, flags, graceful, upStartedMs, unattached);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}

/** `create`: `up --no-start`, as Compose defines it. */
export const composeCreate = (services: string[], flags: UpFlags) => composeUp(services, { ...flags, detach: true, start: false });

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.toLowerCase());
}

/**
 * Ctrl-C (or SIGTERM) of an attached `up`, as Compose: the first stops the project gracefully,
 * the second kills its containers; `up` then exits 130.
 */
const LOG_DRAIN_MS = 500;

class GracefulStop {
  interrupted = false;
  /** Aborted once the project is stopped: the log view ends. */
  readonly stopped = new AbortController();
  private stopping: Promise<void> | undefined;
  private killing: Promise<void> | undefined;

  constructor(
    private readonly project: string,
    private readonly timeout: number,
  ) {}

  interrupt(): void {
    if (this.interrupted) {
      this.killing ??= projectAction(this.project, 'kill', this.timeout);
      return;
    }
    this.interrupted = true;
    eprintln('Gracefully stopping... (press Ctrl+C again to force)');
    void this.stop();
  }

  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  stop(): Promise<void> {
    // The log streams of the containers just stopped end by themselves, reporting their exit
    // codes; a moment later the view ends anyway (a container that never started has no end).
    this.stopping ??= projectAction(this.project, 'stop', this.timeout).then(() => {
      setTimeout(() => this.stopped.abort(), LOG_DRAIN_MS);
    });
    return this.stopping;
  }

  async settled(): Promise<void> {
    await this.stopping;
    await this.killing;
  }
}

/** `stop` or `kill` of the whole project, its progress shown; a failure is printed, not thrown. */
async function projectAction(project: string, action: 'stop' | 'kill', timeout: number): Promise<void> {
  const m = await manager();
  const show = progressPrinter();
  try {
    const req = { project_name: project, action, services: [], timeout_seconds: timeout, signal: '', force: false, volumes: false, all: false };
    for await (const e of m.stream<ProgressEvent>('ProjectAction', req)) show(e);
  } catch (err) {
    // The graceful stop may have finished first: nothing left to kill is no failure.
    if (!(action === 'kill' && isKind(err, 'FailedPrecondition'))) eprintln(err instanceof Error ? err.message : String(err));
  }
}

/**
 * The attached view: logs of the project's containers until they all stop, or Ctrl-C stops the
 * project. Every container `up` started is followed (its exit counts); only the attached ones are
 * shown. `--abort-on-container-exit` stops the project when any container stops. Lines written
 * before `sinceMs` are left out. Services with `attach: false` (`unattached`) are not shown
 * unless `--attach` names them.
 */
async function attach(
  project: string,
  scope: string[],
  services: string[],
  flags: UpFlags,
  graceful: GracefulStop,
  sinceMs: number,
  unattached: string[],
): Promise<number> {
  const containers = await projectContainers(project, { all: true, services: scope });
  const shown = flags.attach ?? (services.length > 0 && !flags.attachDependencies ? services : undefined);
  const notAttached = (service: string) => flags.attach === undefined && unattached.includes(service);
  const hidden = new Set(
    containers.filter((c) => (shown !== undefined && !shown.includes(c.service)) || flags.noAttach?.includes(c.service) || notAttached(c.service)).map((c) => c.id),
  );
  const printer = new LogPrinter({ prefix: flags.logPrefix !== false, color: logColor(flags.color), timestamps: !!flags.timestamps });
  process.stdout.write(`Attaching to ${containers.filter((c) => !hidden.has(c.id)).map((c) => displayName(c, project)).join(', ')}\n`);

  let exitCode = 0;
  // As Compose: the code is --exit-code-from's service's, else (aborting) the first to exit's.
  let exitCodeFrom = flags.exitCodeFrom;
  const notes: Array<Promise<void>> = [];
  await streamLogs(printer, project, containers, {
    follow: true,
    tail: -1,
    since: sinceMs,
    until: 0,
    attach: true,
    signal: graceful.stopped.signal,
    hidden,
    // As Compose: a run that ends is noted even when the restart policy starts another, whose
    // lines follow under the same prefix; it counts as an exit for --abort-on-container-exit.
    onRestart: (c, name, code) => {
      if (!hidden.has(c.id)) printer.note(name, `exited with code ${code}`);
      if (flags.abortOnContainerExit) {
        exitCodeFrom ??= c.service;
        if (c.service === exitCodeFrom) exitCode = code;
        if (!graceful.stopRequested) {
          eprintln('Aborting on container exit...');
          notes.push(graceful.stop().catch((err: unknown) => eprintln(err instanceof Error ? err.message : String(err))));
        }
      }
    },
    onEnd: (c, name) => {
      if (flags.abortOnContainerExit) exitCodeFrom ??= c.service;
      const note = (async () => {
        const [now] = (await projectContainers(project, { all: true, services: [c.service] })).filter((x) => x.id === c.id);
        const code = now?.exit_code ?? 0;
        if (!hidden.has(c.id)) printer.note(name, `exited with code ${code}`);
        if (c.service === exitCodeFrom) exitCode = code;
        if (flags.abortOnContainerExit && !graceful.stopRequested) {
          eprintln('Aborting on container exit...');
          await graceful.stop();
        }
      })();
      notes.push(note.catch((err: unknown) => eprintln(err instanceof Error ? err.message : String(err))));
    },
  });
  await Promise.all(notes);
  await graceful.settled();
  if (graceful.interrupted) return 130;
  // The deciding service may have been stopped by the abort after the logs were closed: its
  // container's state has the code.
  if (flags.abortOnContainerExit && exitCodeFrom !== undefined) {
    const [first] = (await projectContainers(project, { all: true, services: [exitCodeFrom] })).sort((a, b) => a.number - b.number);
    if (first && first.state === 'exited') return first.exit_code;
  }
  return exitCode;
}
