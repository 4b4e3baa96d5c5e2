/** `down`, `start`, `stop`, `restart`, `kill`, `pause`, `unpause`, `rm`, `wait`, `scale`. */
import type { ProjectActionName } from '../../common/rpc/manager-types';
import { engine, ExitError, println } from '../cli';
import { composeUp } from './compose-up';
import { buildGraph, startupLevels } from '../../manager/project/graph';
import { replicasOf } from '../../manager/project/desired';
import { checkKnownServices, projectContainers, resolveProjectRef, runWithProgress, timeoutOf, type ProjectRef } from './compose-common';
import { readAnswer } from '../terminal';

export interface DownFlags {
  volumes?: boolean;
  rmi?: string;
  removeOrphans?: boolean;
  timeout?: string;
}

export async function composeDown(flags: DownFlags): Promise<number> {
  if (flags.rmi !== undefined && flags.rmi !== 'local' && flags.rmi !== 'all') {
    throw new ExitError(1, `invalid --rmi option ${JSON.stringify(flags.rmi)}: expected local or all`);
  }
  const ref = await resolveProjectRef();
  await runWithProgress('ProjectDown', {
    project_name: ref.name,
    remove_volumes: !!flags.volumes,
    rmi: flags.rmi ?? '',
    remove_orphans: !!flags.removeOrphans,
    timeout_seconds: timeoutOf(flags.timeout),
    model_json: ref.loaded ? JSON.stringify(ref.loaded.model) : '',
  });
  return 0;
}

export interface ActionFlags {
  timeout?: string;
  signal?: string;
  force?: boolean;
  stop?: boolean;
  volumes?: boolean;
  /** kill: orphans (containers of services the files no longer have) are killed too. */
  removeOrphans?: boolean;
  /** restart --no-deps: commander's negation of `deps`. */
  deps?: boolean;
}

async function projectAction(action: ProjectActionName, services: string[], flags: ActionFlags, resolved?: ProjectRef): Promise<number> {
  const ref = resolved ?? (await resolveProjectRef(services));
  checkKnownServices(ref, services);
  await runWithProgress('ProjectAction', {
    project_name: ref.name,
    action,
    services,
    timeout_seconds: timeoutOf(flags.timeout),
    signal: flags.signal ?? '',
    force: action === 'rm' && !!flags.stop,
    volumes: !!flags.volumes,
    all: false,
    known_services: ref.loaded && !flags.removeOrphans ? [...Object.keys(ref.loaded.model.services), ...ref.loaded.model.disabled_services] : [],
    no_deps: flags.deps === false,
  });
  return 0;
}

/**
 * `start` only starts what `up`/`create` made: as Compose, a service of the files without a
 * container is an error naming it (the first in start-up order), and nothing is started.
 */
export async function composeStart(services: string[]): Promise<number> {
  const ref = await resolveProjectRef(services);
  if (ref.loaded) {
    const model = ref.loaded.model;
    for (const s of services) if (!model.services[s]) throw new ExitError(1, `no such service: ${s}`);
    const wanted = new Set(services.length > 0 ? services : Object.keys(model.services));
    const made = new Set((await projectContainers(ref.name, { all: true })).map((c) => c.service));
    const missing = startupLevels(buildGraph(model.services))
      .flat()
      .find((s) => wanted.has(s) && !made.has(s) && replicasOf(model.services[s]!, {}) > 0);
    if (missing !== undefined) throw new ExitError(1, `service ${JSON.stringify(missing)} has no container to start`);
  }
  return projectAction('start', services, {}, ref);
}
export const composeStop = (services: string[], flags: ActionFlags) => projectAction('stop', services, flags);
export const composeRestart = (services: string[], flags: ActionFlags) => projectAction('restart', services, flags);
export const composeKill = (services: string[], flags: ActionFlags) => projectAction('kill', services, flags);
export const composePause = (services: string[]) => projectAction('pause', services, {});
export const composeUnpause = (services: string[]) => projectAction('unpause', services, {});

export async function composeRm(services: string[], flags: ActionFlags): Promise<number> {
  const ref = await resolveProjectRef(services);
  checkKnownServices(ref, services);
  const stopped = (await projectContainers(ref.name, { all: true, services })).filter((c) => flags.stop || (c.state !== 'running' && c.state !== 'paused'));
  if (stopped.length === 0) {
    println('No stopped containers');
    return 0;
  }
  const message = `Going to remove ${stopped.map((c) => c.name).join(', ')}`;
  if (flags.force) println(message);
  else if (process.stdin.isTTY) {
    const { confirm } = await import('./image');
    if (!(await confirm(message))) return 0;
  } else if (!(await confirmFromPipe(message))) return 0;
  return projectAction('rm', services, flags, ref);
}

/**
 * Compose's prompt when stdin is not a terminal: the message, then one line of stdin decides.
 * Only a yes removes anything, so a script that gives no answer (or an empty stdin) removes
 * nothing: without -f, rm never deletes unasked.
 */
async function confirmFromPipe(message: string): Promise<boolean> {
  println(message);
  // Compose's answer parsing: strconv.ParseBool of the trimmed, lower-cased word, and "y"/"yes".
  const word = (await readAnswer()).split(/\s+/)[0]?.toLowerCase() ?? '';
  return ['y', 'yes', 'true', 't', '1'].includes(word);
}

/** `wait`: blocks until the services' containers stop; exits with the first one's code. */
export async function composeWait(services: string[], flags: { downProject?: boolean }): Promise<number> {
  const ref = await resolveProjectRef(services);
  const list = await projectContainers(ref.name, { all: true, services });
  if (list.length === 0) throw new ExitError(1, `no containers for services ${services.join(', ')}`);
  const client = await engine();
  const code = await Promise.race(list.map(async (c) => (await client.call<{ exit_code: number }>('ContainerWait', { id: c.id, condition: 'not-running' })).exit_code));
  if (flags.downProject) await composeDown({});
  return code;
}

/** `scale svc=N…`: `up -d --no-deps` of those services with the new replica counts. */
export async function composeScale(pairs: string[], flags: { deps?: boolean }): Promise<number> {
  const services = pairs.map((p) => p.split('=')[0] ?? p);
  return composeUp(services, { detach: true, scale: pairs, deps: flags.deps, recreate: false });
}
