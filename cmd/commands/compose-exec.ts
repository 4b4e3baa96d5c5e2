/** `exec` in a service's container and `run` of a one-off container of a service. */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { emptyProjectUpRequest } from '../../common/rpc/manager-types';
import { emptyMountSpec, runToEndExecSpec, type MountSpec, type ProcessSpec } from '../../common/rpc/engine-types';
import { containerSpecOf } from '../../manager/project/container-spec';
import { dependenciesOf, dependsOnLabel } from '../../manager/project/graph';
import { containerLabels, oneoffContainerName } from '../../manager/project/naming';
import { hooksOf } from '../../manager/project/hooks';
import { unsupportedAttributes } from '../../manager/project/unsupported';
import { serviceConfigHash } from '../../manager/compose/index';
import { engine, ExitError, println } from '../cli';
import type { EngineClient } from '../client';
import { containerExec, containerStart } from './container-run';
import { containerCp, splitCopyArg } from './container-io';
import { isPullLine, loadComposeProject, projectContainers, resolveProjectRef, runWithProgress, serviceContainer } from './compose-common';
import { prepareUpImages } from './compose-build';
import { selectServices } from './compose-images';

export interface ComposeExecFlags {
  detach?: boolean;
  tty?: boolean; // -T → false
  env?: string[];
  user?: string;
  workdir?: string;
  index?: string;
  privileged?: boolean;
}

export async function composeExec(service: string, command: string[], flags: ComposeExecFlags): Promise<number> {
  const ref = await resolveProjectRef([service]);
  if (ref.loaded && !ref.loaded.model.services[service]) throw new ExitError(1, `no such service: ${service}`);
  const c = await serviceContainer(ref.name, service, flags.index ? Number(flags.index) : 1);
  if (command.length === 0) throw new ExitError(1, 'exec requires at least 1 argument: a command to run');
  const tty = flags.tty !== false && process.stdin.isTTY === true && process.stdout.isTTY === true;
  return containerExec(c.id, command, {
    detach: flags.detach,
    interactive: !flags.detach,
    tty,
    env: flags.env,
    user: flags.user,
    workdir: flags.workdir,
    privileged: flags.privileged,
  });
}

export interface ComposeRunFlags {
  rm?: boolean;
  env?: string[];
  entrypoint?: string;
  deps?: boolean; // --no-deps → false
  publish?: string[];
  servicePorts?: boolean;
  volume?: string[];
  detach?: boolean;
  name?: string;
  tty?: boolean; // -T → false
  user?: string;
  workdir?: string;
  label?: string[];
  capAdd?: string[];
  capDrop?: string[];
  /** -i: accepted as Compose's; a one-off container's stdin is open unless detached. */
  interactive?: boolean;
  useAliases?: boolean;
  removeOrphans?: boolean;
  quiet?: boolean;
  quietPull?: boolean;
  build?: boolean;
  pull?: string;
}

export async function composeRun(service: string, command: string[], flags: ComposeRunFlags): Promise<number> {
  if (flags.pull !== undefined && !['always', 'missing', 'never'].includes(flags.pull)) {
    throw new ExitError(1, `invalid --pull option ${JSON.stringify(flags.pull)}: expected always, missing, never`);
  }
  const loaded = await loadComposeProject({ servicesEnabled: [service] });
  const project = loaded.model;
  const svc = project.services[service];
  if (!svc) throw new ExitError(1, `no such service: ${service}`);
  // As `up` does for the services it runs (the manager names those of the dependencies).
  for (const w of unsupportedAttributes(svc)) process.stderr.write(`WARN[0000] ${w}\n`);

  // Images to build (and pulls of services that build) first, here where the contexts are, as
  // `up` does: the service's own and, unless --no-deps, its dependencies'.
  const quietPull = !!flags.quiet || !!flags.quietPull;
  const scope = selectServices(project, [service], flags.deps !== false);
  await prepareUpImages(loaded, scope, { build: flags.build, pull: flags.pull, quietPull, quietBuild: !!flags.quiet });

  // The service's networks, volumes, image and (unless --no-deps) dependencies, by the manager.
  const req = emptyProjectUpRequest(project.name, JSON.stringify(project));
  req.services = [service];
  req.dependencies_only = true;
  req.no_deps = flags.deps === false;
  req.remove_orphans = !!flags.removeOrphans;
  req.pull = flags.pull ?? '';
  req.config_files = loaded.files;
  req.working_dir = loaded.projectDir;
  // -q silences Compose's progress (the command's own output is untouched); --quiet-pull the pulls.
  await runWithProgress('ProjectUp', req, undefined, flags.quiet ? () => true : quietPull ? isPullLine : undefined);

  const name = flags.name ?? oneoffContainerName(project.name, service, randomBytes(6).toString('hex'));
  const labels = containerLabels({
    project: project.name,
    workingDir: loaded.projectDir,
    configFiles: loaded.files,
    service,
    number: 1,
    configHash: serviceConfigHash(svc),
    oneoff: true,
    dependsOn: dependsOnLabel(dependenciesOf(svc)),
  });
  for (const l of flags.label ?? []) {
    const i = l.indexOf('=');
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  const spec = containerSpecOf({ project, service: svc, number: 1, labels, name });
  if (command.length > 0) {
    spec.cmd = command;
    spec.cmd_set = true;
  }
  if (flags.entrypoint !== undefined) {
    spec.entrypoint = flags.entrypoint === '' ? [] : [flags.entrypoint];
    spec.entrypoint_set = true;
    // As Compose: a new entrypoint drops the service's command unless one is given.
    if (command.length === 0) {
      spec.cmd = [];
      spec.cmd_set = true;
    }
  }
  spec.cap_add = [...spec.cap_add, ...(flags.capAdd ?? [])];
  spec.cap_drop = [...spec.cap_drop, ...(flags.capDrop ?? [])];
  // As Compose: a one-off container answers to the service's names only with --use-aliases, so
  // that by default the service's traffic never reaches it.
  if (!flags.useAliases) for (const n of spec.networks) n.aliases = [];
  for (const e of flags.env ?? []) spec.env.push(e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`);
  if (flags.user !== undefined) spec.user = flags.user;
  if (flags.workdir !== undefined) spec.working_dir = flags.workdir;
  // A one-off container publishes the service's ports only when asked (--service-ports).
  if (!flags.servicePorts) spec.ports = [];
  for (const p of flags.publish ?? []) spec.ports.push(parsePublish(p));
  for (const v of flags.volume ?? []) spec.mounts.push(parseVolume(v, project.volumes));
  spec.restart_policy = { name: 'no', max_retries: 0 };
  spec.auto_remove = !!flags.rm;
  spec.tty = !flags.detach && flags.tty !== false && process.stdin.isTTY === true;
  spec.open_stdin = !flags.detach;
  spec.stdin_once = !flags.detach;

  const client = await engine();
  const { id } = await client.call<{ id: string }>('ContainerCreate', spec);
  const postStart = hooksOf(spec.labels).postStart;
  if (flags.detach) {
    await client.call('ContainerStart', { id });
    await runPostStartHooks(client, id, service, postStart);
    println(id);
    return 0;
  }
  if (postStart.length === 0) return containerStart([id], { attach: true, interactive: true });
  // As Compose: start and attach are one step, so the hooks run once the start is seen.
  const watching = new AbortController();
  const hooks = (async () => {
    const filters = [
      { key: 'type', values: ['container'] },
      { key: 'container', values: [id] },
      { key: 'event', values: ['start'] },
    ];
    for await (const _started of client.stream('Events', { since: Date.now() - 1000, until: 0, filters }, watching.signal)) {
      await runPostStartHooks(client, id, service, postStart);
      return;
    }
  })().catch((err: unknown) => (watching.signal.aborted ? undefined : err));
  const code = await containerStart([id], { attach: true, interactive: true });
  watching.abort();
  const failure = await hooks;
  if (failure) throw failure;
  return code;
}

/**
 * Compose's post_start hooks of a one-off container, in order; the first failure is the error.
 * A one-off command may be done before its hooks get their turn (`run --rm app cat x`): with no
 * process left to hook into, the hooks are skipped. (Compose fails the run then, at random.)
 */
async function runPostStartHooks(client: EngineClient, id: string, service: string, hooks: ProcessSpec[]): Promise<void> {
  const runningNow = async () => {
    const [doc] = (await client.call<{ json: string[] }>('ContainerInspect', { names: [id], ignore_missing: true, size: false })).json;
    return doc !== undefined && (JSON.parse(doc) as { State?: { Running?: boolean } }).State?.Running === true;
  };
  // A hook that failed because the process just ended fails before the engine has seen the end:
  // give it a moment to.
  const running = async () => {
    for (let i = 0; i < 10; i++) {
      if (!(await runningNow())) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  };
  for (const h of hooks) {
    let exitCode: number;
    try {
      exitCode = (await client.call<{ exit_code: number }>('ContainerExecRun', { id, exec: runToEndExecSpec(h) })).exit_code;
    } catch (err) {
      if (!(await running())) return;
      throw err;
    }
    if (exitCode !== 0) {
      if (!(await running())) return;
      throw new ExitError(1, `${service} hook exited with status ${exitCode}`);
    }
  }
}

function parsePublish(p: string): { container_port: number; protocol: string; host_ip: string; host_port: number } {
  const [spec, protocol = 'tcp'] = p.split('/');
  const parts = (spec ?? '').split(':');
  const container = Number(parts.pop());
  const host = parts.length > 0 ? Number(parts.pop()) : 0;
  const ip = parts.join(':');
  if (!Number.isInteger(container) || !Number.isInteger(host)) throw new ExitError(1, `invalid publish option ${JSON.stringify(p)}`);
  return { container_port: container, protocol, host_ip: ip, host_port: host };
}

function parseVolume(v: string, volumes: Record<string, { name: string }>): MountSpec {
  const [source = '', target, mode] = v.split(':');
  if (!target) throw new ExitError(1, `invalid volume ${JSON.stringify(v)}: expected SOURCE:TARGET[:ro]`);
  const bind = source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
  return {
    ...emptyMountSpec(bind ? 'bind' : 'volume', target),
    source: bind ? path.resolve(source) : (volumes[source]?.name ?? source),
    read_only: mode === 'ro',
    create_host_path: bind,
  };

}

export interface ComposeCpFlags {
  index?: string;
  all?: boolean;
  archive?: boolean;
  followLink?: boolean;
}

/**
 * `cp SERVICE:SRC DEST` copies from the service's container (`--index`, else the first);
 * `cp SRC SERVICE:DEST` copies into each of its containers, or the `--index` one.
 */
export async function composeCp(source: string, destination: string, flags: ComposeCpFlags): Promise<number> {
  const src = splitCopyArg(source);
  const dst = splitCopyArg(destination);
  const service = src.container ?? dst.container;
  if (src.container && dst.container) throw new ExitError(1, 'copying between services is not supported');
  if (!service) throw new ExitError(1, 'must specify at least one service: SERVICE:PATH');
  const ref = await resolveProjectRef([service]);
  if (ref.loaded && !ref.loaded.model.services[service]) throw new ExitError(1, `no such service: ${service}`);
  const index = flags.index !== undefined ? Number(flags.index) : 0;
  if (!Number.isInteger(index) || index < 0) throw new ExitError(1, `invalid --index ${JSON.stringify(flags.index)}`);
  let list = (await projectContainers(ref.name, { all: true, services: [service], oneoff: !!flags.all })).sort((a, b) => a.number - b.number);
  if (index > 0) list = list.filter((c) => c.number === index);
  if (list.length === 0) throw new ExitError(1, index > 0 ? `service "${service}" is not running container #${index}` : `no container found for service "${service}"`);
  const opts = { archive: flags.archive, followLink: flags.followLink, quiet: true };
  if (src.container) return containerCp(`${list[0]!.id}:${src.path}`, destination, opts);
  for (const c of list) {
    const code = await containerCp(source, `${c.id}:${dst.path}`, opts);
    if (code !== 0) return code;
  }
  return 0;
}
