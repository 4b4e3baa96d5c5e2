/**
 * `up`: the CLI loads the project (the files and environment are the user's), the manager
 * converges it and streams progress. Detached (`-d`, `--wait`) it ends there; attached it shows
 * every container's log until they all stop, or Ctrl-C stops the project.
 */
import { emptyProjectUpRequest } from '../../common/rpc/manager-types';
import { ExitError, eprintln } from '../cli';
import { loadComposeProject, manager, progressPrinter, projectContainers, runWithProgress, timeoutOf } from './compose-common';
import { LogPrinter, streamLogs } from './compose-logs';
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
  if (flags.pull !== undefined && !['always', 'missing', 'never', 'policy'].includes(flags.pull)) {
    throw new ExitError(1, `invalid --pull option ${JSON.stringify(flags.pull)}: expected always, missing, never`);
  }
  const waitTimeout = flags.waitTimeout !== undefined ? Number(flags.waitTimeout) : 0;
  if (!Number.isFinite(waitTimeout) || waitTimeout < 0) throw new ExitError(1, `invalid --wait-timeout ${JSON.stringify(flags.waitTimeout)}`);

  const project = await loadComposeProject();
  for (const s of [...(flags.exitCodeFrom !== undefined ? [flags.exitCodeFrom] : []), ...(flags.attach ?? []), ...(flags.noAttach ?? [])]) {
    if (!project.model.services[s]) throw new ExitError(1, `no such service: ${s}`);
  }
  // Builds (and the pulls of services that build) happen here, where the contexts are.
  const scope = selectServices(project.model, services, flags.deps !== false);
  await prepareUpImages(project, scope, { build: flags.build, pull: flags.pull === 'policy' ? undefined : flags.pull, quietPull: flags.quietPull });

  const req = emptyProjectUpRequest(project.projectName, JSON.stringify(project.model));
  req.services = services;
  req.scale = parseScale(flags.scale);
  req.no_deps = flags.deps === false;
  req.force_recreate = !!flags.forceRecreate;
  req.no_recreate = flags.recreate === false;
  req.remove_orphans = !!flags.removeOrphans || isTruthy(process.env['COMPOSE_REMOVE_ORPHANS']);
  req.no_start = flags.start === false;
  req.wait = !!flags.wait;
  req.wait_timeout_seconds = Math.ceil(waitTimeout);
  req.timeout_seconds = timeoutOf(flags.timeout);
  req.pull = flags.pull === 'policy' ? '' : (flags.pull ?? '');
  req.config_files = project.files;
  req.working_dir = project.projectDir;

  // Ctrl-C during convergence cancels it; the manager stops where it is.
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once('SIGINT', onInterrupt);
  try {
    await runWithProgress('ProjectUp', req, abort.signal);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  if (abort.signal.aborted) return 130;
  if (detach || req.no_start) return 0;
  return attach(project.projectName, scope, services, flags, req.timeout_seconds);
}

/** `create`: `up --no-start`, as Compose defines it. */
export const composeCreate = (services: string[], flags: UpFlags) => composeUp(services, { ...flags, detach: true, start: false });

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.toLowerCase());
}

/**
 * The attached view: logs of the project's containers until they all stop. Ctrl-C stops the
 * project (a second one kills it); `--abort-on-container-exit` stops it when any container stops.
 */
async function attach(project: string, scope: string[], services: string[], flags: UpFlags, timeout: number): Promise<number> {
  // Every container `up` started is followed (its exit counts), only the attached ones are shown.
  const containers = await projectContainers(project, { all: true, services: scope });
  const shown = flags.attach ?? (services.length > 0 && !flags.attachDependencies ? services : undefined);
  const hidden = new Set(containers.filter((c) => (shown !== undefined && !shown.includes(c.service)) || flags.noAttach?.includes(c.service)).map((c) => c.id));
  const printer = new LogPrinter({
    prefix: flags.logPrefix !== false,
    color: flags.color !== false && process.stdout.isTTY === true,
    timestamps: !!flags.timestamps,
  });
  const logs = new AbortController();
  let stopping: Promise<void> | undefined;
  let interrupted = false;
  let exitCode = 0;
  let exitCodeFrom = flags.exitCodeFrom;
  const stopProject = (action: 'stop' | 'kill') => {
    stopping ??= (async () => {
      const m = await manager();
      const show = progressPrinter();
      try {
        for await (const e of m.stream<ProgressEvent>('ProjectAction', {
          project_name: project,
          action,
          services: [],
          timeout_seconds: timeout,
          signal: '',
          force: false,
          volumes: false,
          all: false,
        })) {
          show(e);
        }
      } catch (err) {
        eprintln(err instanceof Error ? err.message : String(err));
      }
    })();
    return stopping;
  };
  const onInterrupt = () => {
    if (interrupted) {
      eprintln('Killing...');
      stopping = undefined;
      void stopProject('kill');
      return;
    }
    interrupted = true;
    eprintln('Gracefully stopping... (press Ctrl+C again to force)');
    void stopProject('stop').then(() => logs.abort());
  };
  process.on('SIGINT', onInterrupt);
  try {
    await streamLogs(printer, project, containers, {
      follow: true,
      tail: -1,
      since: 0,
      until: 0,
      signal: logs.signal,
      hidden,
      onEnd: (c, name) => {
        // As Compose: the code is --exit-code-from's service's, else the first to exit's.
        if (flags.abortOnContainerExit) exitCodeFrom ??= c.service;
        void (async () => {
          const [now] = await projectContainers(project, { all: true, services: [c.service] }).then((l) => l.filter((x) => x.id === c.id));
          const code = now?.exit_code ?? 0;
          if (!hidden.has(c.id)) printer.note(name, `exited with code ${code}`);
          if (flags.abortOnContainerExit && c.service === exitCodeFrom) exitCode = code;
          if (flags.abortOnContainerExit && !stopping) {
            eprintln('Aborting on container exit...');
            await stopProject('stop');
            logs.abort();
          }
        })();
      },
    });
    if (stopping) await stopping;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  if (interrupted) return 130;
  // The deciding service may have been stopped by the abort after the logs were closed: its
  // container's state has the code.
  if (flags.abortOnContainerExit && exitCodeFrom !== undefined) {
    const [first] = (await projectContainers(project, { all: true, services: [exitCodeFrom] })).sort((a, b) => a.number - b.number);
    if (first && first.state === 'exited') return first.exit_code;
  }
  return exitCode;
}

