/**
 * The orchestrator reconciles a project's desired state with what its nodes run. `up` plans each
 * service (plan.ts), places new tasks (the scheduler), then acts in two passes, as Compose:
 * create/recreate in dependency order, then start in dependency order, each service once its
 * dependencies meet their `depends_on` conditions. `down` and the lifecycle actions go the other
 * way. Every change on a node goes through the dispatcher's AgentConnection.
 */
import { cancelled, failedPrecondition, invalidArgument, kindOf, messageOf, notFound, TsError } from '../../common/errors';
import { KeyedMutex } from '../../common/mutex';
import { emptyMountSpec, type ContainerSpec, type ProcessSpec } from '../../common/rpc/engine-types';
import { parseSignal } from '../../common/signals';
import type {
  ProjectActionRequest,
  ProjectContainer,
  ProjectDownRequest,
  ProjectListReply,
  ProjectPsRequest,
  ProjectUpRequest,
} from '../../common/rpc/manager-types';
import type { Project } from '../compose/index';
import type { AgentConnection, Dispatcher } from '../dispatcher/index';
import { desiredService, desiredTask, type DesiredService, type DesiredTask } from '../project/desired';
import { buildGraph, shutdownLevels, startupLevels, withDependencies, type Dependency, type DependencyGraph } from '../project/graph';
import { isOneoff, LABEL, numberOf, projectFilter } from '../project/naming';
import { nodesForGlobal, refusalMessage, schedule, type PendingTask, type PlacedTask } from '../scheduler/index';
import type { ProjectRecord, Store, TaskRecord } from '../store/index';
import { waitCompleted, waitHealthy, waitRunningOrHealthy, withTimeout } from './conditions';
import { parseModel } from './model';
import { planService, type ActualContainer, type ServicePlan, type SlotAction } from './plan';
import { hooksOf, serviceHooks } from '../project/hooks';
import { unsupportedAttributes, unsupportedProjectAttributes } from '../project/unsupported';
import { done, failed, warning, working, type Emit } from './progress';
import {
  checkExternals,
  ensureImages,
  ensureNetworks,
  ensureVolumes,
  networksInUse,
  removeProjectNetworks,
  removeProjectVolumes,
  volumesInUse,
} from './resources';

export interface OrchestratorDeps {
  store: Store;
  dispatcher: Dispatcher;
  now?: () => number;
}

const serviceOf = (c: ActualContainer) => c.labels[LABEL.service] ?? '';
const nameOf = (c: ActualContainer) => (c.names[0] ?? c.id).replace(/^\//, '');
const isRunning = (c: ActualContainer) => c.state === 'running' || c.state === 'restarting' || c.state === 'paused';

/** A slot after the create pass: where its container is. */
interface Placed {
  action: SlotAction;
  nodeId: string;
  containerId: string;
  name: string;
}

export class Orchestrator {
  private readonly locks = new KeyedMutex();
  private readonly now: () => number;

  constructor(private readonly deps: OrchestratorDeps) {
    this.now = deps.now ?? Date.now;
  }

  private agent(nodeId: string): Promise<AgentConnection> {
    return this.deps.dispatcher.agent(nodeId);
  }

  /** Every container of the project on every node (one-off ones included). */
  async containersOf(project: string, all = true): Promise<ActualContainer[]> {
    const out: ActualContainer[] = [];
    for (const nodeId of this.deps.dispatcher.nodeIds()) {
      const agent = await this.agent(nodeId);
      for (const c of await agent.listContainers([projectFilter(project)], all)) out.push({ ...c, nodeId });
    }
    return out;
  }

  // ----- up -----

  up(req: ProjectUpRequest, emit: Emit, signal?: AbortSignal): Promise<void> {
    const project = parseModel(req.model_json, req.project_name);
    return this.locks.run(project.name, () => this.upLocked(project, req, emit, signal));
  }

  private async upLocked(project: Project, req: ProjectUpRequest, emit: Emit, signal?: AbortSignal): Promise<void> {
    const identity = {
      project: project.name,
      workingDir: req.working_dir || project.working_dir,
      configFiles: req.config_files.length > 0 ? req.config_files : project.compose_files,
    };
    const graph = buildGraph(project.services);
    for (const name of [...req.services, ...Object.keys(req.scale)]) {
      if (!project.services[name]) throw notFound(`no such service: ${name}`);
    }
    if (req.force_recreate && req.no_recreate) throw invalidArgument('--force-recreate and --no-recreate are incompatible');
    if (req.always_recreate_deps && req.no_recreate) throw invalidArgument('--always-recreate-deps and --no-recreate are incompatible');
    const selected = req.services.length > 0 ? req.services : Object.keys(project.services);
    const scope = req.no_deps ? new Set(selected) : withDependencies(graph, selected);
    const desired = new Map<string, DesiredService>();
    for (const name of scope) desired.set(name, desiredService(project, project.services[name]!, req.scale));
    await this.countGlobalReplicas(desired);
    // `run` prepares the named services' surroundings and dependencies, and runs them itself.
    if (req.dependencies_only) for (const name of req.services) if (![...scope].some((s) => graph.get(s)?.some((d) => d.service === name))) scope.delete(name);
    const scopeGraph: DependencyGraph = new Map([...graph].filter(([name]) => scope.has(name)));
    const levels = startupLevels(scopeGraph);

    // Every container's spec first: a bad one (e.g. a secret that can't be read) fails `up`
    // before anything is created.
    const tasks = new Map<string, DesiredTask[]>();
    const notApplied: string[] = unsupportedProjectAttributes(project);
    for (const name of levels.flat()) {
      const svc = project.services[name]!;
      notApplied.push(...unsupportedAttributes(svc));
      tasks.set(name, Array.from({ length: desired.get(name)!.replicas }, (_, i) => desiredTask(project, identity, svc, i + 1)));
    }

    for (const w of notApplied) emit(warning(w));

    const actual = (await this.containersOf(project.name)).filter((c) => !isOneoff(c.labels));
    await this.handleOrphans(project, actual, req.remove_orphans, req.timeout_seconds, emit);

    const nodeIds = this.deps.dispatcher.nodeIds();
    const networkKeys = networksInUse(project, desired.keys());
    const volumeKeys = volumesInUse(project, desired.keys());
    for (const nodeId of nodeIds) await checkExternals(await this.agent(nodeId), project, networkKeys, volumeKeys);

    // Plans, in dependency order: a service whose containers point at a recreated one follows it.
    // They are made twice: for placement and ports first, then again once the images' IDs are
    // known. Only kept containers can turn into recreated ones then, which changes no placement.
    const planAll = (imageIds?: Map<string, Map<string, string>>) => {
      const plans = new Map<string, ServicePlan>();
      const recreated = new Set<string>();
      for (const name of levels.flat()) {
        const image = desired.get(name)!.image;
        const hard = hardDependencies(project, name);
        const plan = planService(name, tasks.get(name)!, actual.filter((c) => serviceOf(c) === name), {
          // As Compose: --force-recreate applies to the services named; their dependencies are
          // recreated only when they changed, or always with --always-recreate-deps.
          forceRecreate: req.services.length === 0 || req.services.includes(name) ? req.force_recreate : req.always_recreate_deps,
          noRecreate: req.no_recreate,
          dependencyRecreated: hard.some((d) => recreated.has(d)),
          imageIdOn: imageIds && ((nodeId) => imageIds.get(nodeId)?.get(image)),
        });
        if (plan.slots.some((s) => s.kind === 'recreate')) recreated.add(name);
        plans.set(name, plan);
      }
      return { plans, recreated };
    };

    // Whatever can refuse `up` (externals above, placement, ports, images) is settled before the
    // project's networks and volumes are made: a refused `up` leaves nothing to clean up. As in
    // Compose, images come first; what fails after (a container's create or start) stays for `down`.
    const first = planAll();
    const placement = await this.place(project.name, first.plans, desired, actual);
    checkFixedPorts([...first.plans.values()], placement);
    const imageIds = new Map<string, Map<string, string>>();
    for (const nodeId of nodeIds) imageIds.set(nodeId, await ensureImages(await this.agent(nodeId), [...desired.values()], req.pull, emit));
    const { plans, recreated } = planAll(imageIds);
    const networks: string[] = [];
    const volumes: string[] = [];
    for (const nodeId of nodeIds) {
      const agent = await this.agent(nodeId);
      networks.push(...(await ensureNetworks(agent, project, networkKeys, emit)));
      volumes.push(...(await ensureVolumes(agent, project, volumeKeys, emit)));
    }

    // Pass 1: create and recreate, level by level.
    const placed = new Map<string, Placed[]>();
    for (const level of levels) {
      stopIfCancelled(signal);
      await Promise.all(level.map(async (name) => placed.set(name, await this.converge(plans.get(name)!, placement, req.timeout_seconds, req.renew_anon_volumes, emit))));
    }
    await this.record(project, identity, new Map([...desired].filter(([name]) => scope.has(name))), placed, networks, volumes, req.no_start);
    if (req.no_start) return;

    // Pass 2: start, each service once its dependencies meet their conditions.
    const restarted = new Set<string>();
    const started = new Map<string, Promise<void>>();
    const waits = new Map<string, Promise<void>>();
    const waitFor = (dep: Dependency): Promise<void> => {
      const key = `${dep.service}\0${dep.condition}`;
      let p = waits.get(key);
      if (!p) {
        p = this.waitCondition(dep, placed.get(dep.service) ?? [], started.get(dep.service), emit, signal);
        waits.set(key, p);
      }
      return p;
    };
    for (const name of levels.flat()) {
      const deps = (scopeGraph.get(name) ?? []).filter((d) => scope.has(d.service));
      const run = async () => {
        for (const dep of deps) {
          try {
            await waitFor(dep);
          } catch (err) {
            if (dep.required) throw err;
            emit(warning(`optional dependency "${dep.service}" of service "${name}" failed to start: ${(err as Error).message}`));
          }
        }
        stopIfCancelled(signal);
        const restart = deps.some((d) => d.restart && (recreated.has(d.service) || restarted.has(d.service)));
        if (restart) restarted.add(name);
        await Promise.all((placed.get(name) ?? []).map((p) => this.startSlot(p, restart, req.timeout_seconds, emit)));
      };
      const p = run();
      // Failures are collected below; a dependent sees its dependency's failure through waitFor.
      p.catch(() => undefined);
      started.set(name, p);
    }
    const outcomes = await Promise.allSettled(started.values());
    const firstFailure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;

    if (req.wait) {
      const mayExit = completedByOthers(project);
      await withTimeout(
        req.wait_timeout_seconds,
        // Compose's words.
        `application not healthy after ${req.wait_timeout_seconds}s`,
        async (waitSignal) => {
          const all = [...placed.entries()].flatMap(([service, list]) => list.map((p) => ({ service, p })));
          await Promise.all(
            all.map(async ({ service, p }) => {
              emit(working('Container', p.name, 'Waiting'));
              const state = await waitRunningOrHealthy({ agent: await this.agent(p.nodeId), id: p.containerId, name: p.name }, mayExit.has(service), waitSignal);
              emit(done('Container', p.name, state));
            }),
          );
        },
        signal,
      );
    }
  }

  private async handleOrphans(project: Project, actual: ActualContainer[], remove: boolean, timeout: number, emit: Emit): Promise<void> {
    const known = new Set([...Object.keys(project.services), ...project.disabled_services]);
    const orphans = actual.filter((c) => !known.has(serviceOf(c)));
    if (orphans.length === 0) return;
    if (remove) {
      await Promise.all(orphans.map((c) => this.stopAndRemove(c, timeout, false, emit)));
      return;
    }
    emit(
      warning(
        `Found orphan containers ([${orphans.map(nameOf).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
      ),
    );
  }

  /** Nodes for the tasks that need a new container; recreated ones stay where they were. */
  private async place(
    project: string,
    plans: Map<string, ServicePlan>,
    desired: Map<string, DesiredService>,
    actual: ActualContainer[],
  ): Promise<Map<string, string>> {
    const pending: PendingTask[] = [];
    const names = new Map<string, string>();
    for (const plan of plans.values()) {
      const d = desired.get(plan.service)!;
      for (const slot of plan.slots) {
        if (slot.kind !== 'create') continue;
        names.set(slot.task.id, slot.task.containerName);
        pending.push({
          id: slot.task.id,
          serviceKey: `${project}/${plan.service}`,
          constraints: d.constraints,
          maxReplicasPerNode: d.maxReplicasPerNode,
          reservations: d.reservations,
          platform: slot.task.spec.platform,
        });
      }
    }
    const out = new Map<string, string>();
    if (pending.length === 0) return out;
    const removed = new Set([...plans.values()].flatMap((p) => p.remove.map((c) => c.id)));
    const placedTasks: PlacedTask[] = actual
      .filter((c) => isRunning(c) && !removed.has(c.id))
      .map((c) => ({
        id: c.id,
        nodeId: c.nodeId,
        serviceKey: `${project}/${serviceOf(c)}`,
        reservations: desired.get(serviceOf(c))?.reservations ?? { nanoCpus: 0, memoryBytes: 0 },
      }));
    const plan = schedule({ nodes: await this.deps.dispatcher.describeNodes(), tasks: placedTasks }, pending, this.now());
    const [refused] = plan.unplaced;
    if (refused) throw failedPrecondition(refusalMessage(names.get(refused.taskId) ?? refused.taskId, refused.reasons));
    for (const a of plan.assignments) out.set(a.taskId, a.nodeId);
    return out;
  }

  /** A global service gets one replica per node that accepts it (none: it runs nowhere, as in Swarm). */
  private async countGlobalReplicas(desired: Map<string, DesiredService>): Promise<void> {
    const globals = [...desired.values()].filter((d) => d.mode === 'global');
    if (globals.length === 0) return;
    const nodes = await this.deps.dispatcher.describeNodes();
    for (const d of globals) {
      d.replicas = nodesForGlobal(nodes, { id: d.name, serviceKey: d.name, constraints: d.constraints, maxReplicasPerNode: 1, reservations: d.reservations, platform: d.platform }).length;
    }
  }

  /** `renewAnonymous`: `up -V`, a recreated container's anonymous volumes go with it instead of being handed on. */
  private async converge(plan: ServicePlan, placement: Map<string, string>, timeout: number, renewAnonymous: boolean, emit: Emit): Promise<Placed[]> {
    const [someSlot] = plan.slots;
    const preStopNow = someSlot ? hooksOf(someSlot.task.spec.labels).preStop : undefined;
    await Promise.all(plan.remove.map((c) => this.stopAndRemove(c, timeout, false, emit, preStopNow)));
    return Promise.all(
      plan.slots.map(async (action): Promise<Placed> => {
        const name = action.task.containerName;
        switch (action.kind) {
          case 'keep':
            emit(done('Container', name, 'Running'));
            return { action, nodeId: action.container.nodeId, containerId: action.container.id, name };
          case 'start':
            return { action, nodeId: action.container.nodeId, containerId: action.container.id, name };
          case 'create': {
            const nodeId = placement.get(action.task.id) ?? '';
            const agent = await this.agent(nodeId);
            emit(working('Container', name, 'Creating'));
            const id = await this.create(agent, action.task, emit);
            emit(done('Container', name, 'Created'));
            return { action, nodeId, containerId: id, name };
          }
          case 'recreate': {
            const nodeId = action.container.nodeId;
            const agent = await this.agent(nodeId);
            emit(working('Container', name, 'Recreate'));
            const spec = renewAnonymous ? action.task.spec : inheritAnonymousVolumes(action.task.spec, await agent.containerVolumes(action.container.id));
            if (isRunning(action.container)) await this.stopWithHooks(agent, action.container, timeout, emit, hooksOf(action.task.spec.labels).preStop);
            await agent.removeContainer(action.container.id, { force: true, volumes: renewAnonymous });
            const id = await this.create(agent, { ...action.task, spec }, emit);
            emit(done('Container', name, 'Recreated'));
            return { action, nodeId, containerId: id, name };
          }
        }
      }),
    );
  }

  private async create(agent: AgentConnection, task: DesiredTask, emit: Emit): Promise<string> {
    try {
      return await agent.createContainer(task.spec, (w) => emit(warning(`${task.service} ${w}`)));
    } catch (err) {
      emit(failed('Container', task.containerName, 'Error'));
      throw serviceError(task.service, `container ${task.containerName} could not be created`, err);
    }
  }

  private async startSlot(p: Placed, restart: boolean, timeout: number, emit: Emit): Promise<void> {
    const agent = await this.agent(p.nodeId);
    const postStart = hooksOf(p.action.task.spec.labels).postStart;
    if (p.action.kind === 'keep') {
      if (!restart) return;
      emit(working('Container', p.name, 'Restarting'));
      await agent.restartContainer(p.containerId, timeout);
      await this.runHooks(agent, p.containerId, p.name, p.action.task.service, postStart, emit);
      emit(done('Container', p.name, 'Restarted'));
      return;
    }
    emit(working('Container', p.name, 'Starting'));
    try {
      await agent.startContainer(p.containerId);
      await this.runHooks(agent, p.containerId, p.name, p.action.task.service, postStart, emit);
    } catch (err) {
      emit(failed('Container', p.name, 'Error'));
      throw serviceError(p.action.task.service, `container ${p.name} failed to start`, err);
    }
    emit(done('Container', p.name, 'Started'));
  }

  /**
   * Compose's lifecycle hooks of one container, in order, each as an exec run to its end; the
   * first that fails stops the sequence with Compose's words ("web hook exited with status 3").
   */
  private async runHooks(agent: AgentConnection, containerId: string, name: string, service: string, hooks: ProcessSpec[], emit: Emit): Promise<void> {
    for (const hook of hooks) {
      const r = await agent.runInContainer(containerId, hook);
      if (r.exitCode !== 0) {
        const said = r.output.toString('utf8').trim().split('\n').at(-1);
        if (said) emit(warning(`${name} hook: ${said}`));
        throw failedPrecondition(`${service} hook exited with status ${r.exitCode}`);
      }
    }
  }

  /**
   * Stops a running container, its pre_stop hooks first (a failing one stops nothing, as
   * Compose). The hooks are the service's as loaded now when known, else the container's own.
   */
  private async stopWithHooks(agent: AgentConnection, c: ActualContainer, timeout: number, emit: Emit, preStop = hooksOf(c.labels).preStop): Promise<void> {
    if (c.state === 'running') await this.runHooks(agent, c.id, nameOf(c), serviceOf(c), preStop, emit);
    await agent.stopContainer(c.id, timeout);
  }

  private async waitCondition(dep: Dependency, containers: Placed[], started: Promise<void> | undefined, emit: Emit, signal?: AbortSignal): Promise<void> {
    await started;
    if (dep.condition === 'service_started') return;
    await Promise.all(
      containers.map(async (p) => {
        const target = { agent: await this.agent(p.nodeId), id: p.containerId, name: p.name };
        emit(working('Container', p.name, 'Waiting'));
        try {
          if (dep.condition === 'service_healthy') await waitHealthy(target, signal);
          else await waitCompleted(target, dep.service);
        } catch (err) {
          emit(failed('Container', p.name, 'Error'));
          throw err;
        }
        emit(done('Container', p.name, dep.condition === 'service_healthy' ? 'Healthy' : 'Exited'));
      }),
    );
  }

  private async record(
    project: Project,
    identity: { workingDir: string; configFiles: string[] },
    desired: Map<string, DesiredService>,
    placed: Map<string, Placed[]>,
    networks: string[],
    volumes: string[],
    noStart: boolean,
  ): Promise<void> {
    const now = this.now();
    await this.deps.store.update((state) => {
      const prev = state.projects[project.name];
      const rec: ProjectRecord = prev ?? {
        name: project.name,
        workingDir: identity.workingDir,
        configFiles: identity.configFiles,
        createdAt: now,
        updatedAt: now,
        services: {},
        tasks: {},
        networks: [],
        volumes: [],
      };
      rec.workingDir = identity.workingDir;
      rec.configFiles = identity.configFiles;
      rec.updatedAt = now;
      for (const [name, d] of desired) {
        rec.services[name] = { name, replicas: d.replicas, configHash: d.configHash, image: d.image, dependencies: d.dependencies };
        for (const id of Object.keys(rec.tasks)) if (rec.tasks[id]?.service === name) delete rec.tasks[id];
        for (const p of placed.get(name) ?? []) {
          const t: TaskRecord = {
            id: p.action.task.id,
            service: name,
            number: p.action.task.number,
            containerName: p.name,
            containerId: p.containerId,
            nodeId: p.nodeId,
            configHash: p.action.task.configHash,
            desiredState: noStart ? 'created' : 'running',
          };
          rec.tasks[t.id] = t;
        }
      }
      for (const name of Object.keys(rec.services)) if (!project.services[name]) delete rec.services[name];
      rec.networks = [...new Set([...rec.networks, ...networks])];
      rec.volumes = [...new Set([...rec.volumes, ...volumes])];
      state.projects[project.name] = rec;
    });
  }

  private async stopAndRemove(c: ActualContainer, timeout: number, volumes: boolean, emit: Emit, preStop?: ProcessSpec[]): Promise<void> {
    const agent = await this.agent(c.nodeId);
    const name = nameOf(c);
    if (isRunning(c)) {
      emit(working('Container', name, 'Stopping'));
      await this.stopWithHooks(agent, c, timeout, emit, preStop);
      emit(done('Container', name, 'Stopped'));
    }
    emit(working('Container', name, 'Removing'));
    await agent.removeContainer(c.id, { force: true, volumes });
    emit(done('Container', name, 'Removed'));
  }

  // ----- down -----

  down(req: ProjectDownRequest, emit: Emit): Promise<void> {
    if (!req.project_name) return Promise.reject(invalidArgument('down: no project name'));
    const model = req.model_json ? parseModel(req.model_json, req.project_name) : undefined;
    return this.locks.run(req.project_name, () => this.downLocked(req, model, emit));
  }

  private async downLocked(req: ProjectDownRequest, model: Project | undefined, emit: Emit): Promise<void> {
    const actual = await this.containersOf(req.project_name);
    let targets = actual;
    if (model && !req.remove_orphans) {
      const known = new Set([...Object.keys(model.services), ...model.disabled_services]);
      const orphans = actual.filter((c) => !isOneoff(c.labels) && !known.has(serviceOf(c)));
      if (orphans.length > 0) {
        emit(
          warning(
            `Found orphan containers ([${orphans.map(nameOf).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
          ),
        );
        targets = actual.filter((c) => !orphans.includes(c));
      }
    }
    // One-off containers depend on their service, so they go first.
    const oneoffs = targets.filter((c) => isOneoff(c.labels));
    await Promise.all(oneoffs.map((c) => this.stopAndRemove(c, req.timeout_seconds, true, emit)));
    const services = targets.filter((c) => !isOneoff(c.labels));
    for (const level of shutdownLevels(graphFromLabels(services))) {
      await Promise.all(
        services
          .filter((c) => level.includes(serviceOf(c)))
          .map((c) => {
            const written = model?.services[serviceOf(c)];
            return this.stopAndRemove(c, req.timeout_seconds, req.remove_volumes, emit, written ? serviceHooks(written).preStop : undefined);
          }),
      );
    }
    let removed = targets.length;
    for (const nodeId of this.deps.dispatcher.nodeIds()) {
      const agent = await this.agent(nodeId);
      removed += await removeProjectNetworks(agent, req.project_name, emit);
      if (req.remove_volumes) removed += await removeProjectVolumes(agent, req.project_name, emit);
      if (req.rmi === 'local' || req.rmi === 'all') removed += await this.removeImages(agent, req, model, actual, emit);
    }
    await this.deps.store.update((state) => {
      delete state.projects[req.project_name];
    });
    if (removed === 0) emit(warning(`No resource found to remove for project ${JSON.stringify(req.project_name)}.`));
  }

  private async removeImages(agent: AgentConnection, req: ProjectDownRequest, model: Project | undefined, actual: ActualContainer[], emit: Emit): Promise<number> {
    const images = new Set<string>();
    const rec = this.deps.store.project(req.project_name);
    const candidates = model
      ? Object.values(model.services).map((s) => ({ service: s.name, image: s.image ?? `${model.name}-${s.name}`, custom: s.image !== undefined }))
      : [
          ...Object.values(rec?.services ?? {}).map((s) => ({ service: s.name, image: s.image, custom: s.image !== `${req.project_name}-${s.name}` })),
          ...actual.map((c) => ({ service: serviceOf(c), image: c.image, custom: c.image !== `${req.project_name}-${serviceOf(c)}` })),
        ];
    for (const c of candidates) if (req.rmi === 'all' || !c.custom) images.add(c.image);
    let n = 0;
    for (const image of [...images].sort()) {
      if ((await agent.imageId(image)) === undefined) continue;
      emit(working('Image', image, 'Removing'));
      const r = await agent.removeImage(image);
      if (r.errors.length > 0) {
        emit(failed('Image', image, 'Error'));
        emit(warning(r.errors[0] as string));
        continue;
      }
      emit(done('Image', image, 'Removed'));
      n++;
    }
    return n;
  }

  // ----- start, stop, restart, kill, pause, unpause, rm -----

  action(req: ProjectActionRequest, emit: Emit): Promise<void> {
    // A kill must not queue behind a stop that waits out a grace period (the second Ctrl-C of
    // an attached `up`); each container's agent orders the two itself.
    if (req.action === 'kill') return this.actionLocked(req, emit);
    return this.locks.run(req.project_name, () => this.actionLocked(req, emit));
  }

  private async actionLocked(req: ProjectActionRequest, emit: Emit): Promise<void> {
    const known = new Set(req.known_services);
    const all = (await this.containersOf(req.project_name)).filter((c) => known.size === 0 || isOneoff(c.labels) || known.has(serviceOf(c)));
    // Compose's words when the project is known by name only (the CLI checks a loaded one's services).
    if (all.length === 0 && req.action !== 'rm') throw notFound(`no container found for project ${JSON.stringify(req.project_name)}: not found`);
    const present = new Set(all.map(serviceOf));
    for (const s of req.services) if (!present.has(s)) throw notFound(`no such service: ${s}`);
    // Restarting a service restarts the services that depend on it with `restart: true`, as Compose does.
    const services = req.action === 'restart' && !req.no_deps ? withRestartDependents(graphFromLabels(all.filter((c) => !isOneoff(c.labels))), req.services) : req.services;
    const chosen = all.filter((c) => (services.length === 0 || services.includes(serviceOf(c))) && (req.all || !isOneoff(c.labels)));
    const graph = graphFromLabels(chosen);
    const byLevel = async (levels: string[][], op: (c: ActualContainer) => Promise<void>) => {
      for (const level of levels) await Promise.all(chosen.filter((c) => level.includes(serviceOf(c))).map(op));
    };
    const step = async (c: ActualContainer, doing: string, did: string, fn: (agent: AgentConnection) => Promise<void>) => {
      const agent = await this.agent(c.nodeId);
      emit(working('Container', nameOf(c), doing));
      try {
        await fn(agent);
      } catch (err) {
        emit(failed('Container', nameOf(c), 'Error'));
        throw err;
      }
      emit(done('Container', nameOf(c), did));
    };
    switch (req.action) {
      case 'start':
        return byLevel(startupLevels(graph), async (c) => {
          if (!isRunning(c)) {
            await step(c, 'Starting', 'Started', async (a) => {
              await a.startContainer(c.id);
              await this.runHooks(a, c.id, nameOf(c), serviceOf(c), hooksOf(c.labels).postStart, emit);
            });
          }
        });
      case 'stop':
        return byLevel(shutdownLevels(graph), async (c) => {
          if (isRunning(c)) await step(c, 'Stopping', 'Stopped', (a) => this.stopWithHooks(a, c, req.timeout_seconds, emit));
        });
      case 'restart':
        return byLevel(startupLevels(graph), (c) =>
          step(c, 'Restarting', 'Started', async (a) => {
            await a.restartContainer(c.id, req.timeout_seconds);
            await this.runHooks(a, c.id, nameOf(c), serviceOf(c), hooksOf(c.labels).postStart, emit);
          }),
        );
      case 'kill': {
        const running = chosen.filter(isRunning);
        if (running.length === 0) throw failedPrecondition('no running containers to kill');
        // Checked once, before any container is told anything: the daemon's words, as Compose prints them.
        if (req.signal && parseSignal(req.signal) === undefined) throw invalidArgument(`Invalid signal: ${req.signal}`);
        await Promise.all(running.map((c) => step(c, 'Killing', 'Killed', (a) => a.killContainer(c.id, req.signal || 'SIGKILL'))));
        return;
      }
      case 'pause':
        await Promise.all(chosen.filter((c) => c.state === 'running').map((c) => step(c, 'Pausing', 'Paused', (a) => a.pauseContainer(c.id))));
        return;
      case 'unpause':
        await Promise.all(chosen.filter((c) => c.state === 'paused').map((c) => step(c, 'Unpausing', 'Unpaused', (a) => a.unpauseContainer(c.id))));
        return;
      case 'rm': {
        const targets = req.force ? chosen : chosen.filter((c) => !isRunning(c));
        if (targets.length === 0) {
          emit(warning('No stopped containers'));
          return;
        }
        await byLevel(shutdownLevels(graph), async (c) => {
          if (targets.includes(c)) await this.stopAndRemove(c, req.timeout_seconds, req.volumes, emit);
        });
        return;
      }
      default:
        throw invalidArgument(`unknown project action ${JSON.stringify(req.action)}`);
    }
  }

  // ----- ps, ls -----

  async ps(req: ProjectPsRequest): Promise<ProjectContainer[]> {
    const list = (await this.containersOf(req.project_name, req.all)).filter(
      (c) => (req.oneoff || !isOneoff(c.labels)) && (req.services.length === 0 || req.services.includes(serviceOf(c))),
    );
    return list
      .map((c) => ({
        id: c.id,
        name: nameOf(c),
        image: c.image,
        command: c.command,
        service: serviceOf(c),
        number: numberOf(c.labels),
        created: c.created,
        state: c.state,
        status: c.status,
        health: c.health,
        exit_code: c.exit_code,
        ports: c.ports.map((p) => ({ url: p.ip, target_port: p.private_port, published_port: p.public_port, protocol: p.type })),
        node_id: c.nodeId,
        labels: c.labels,
        started_at: c.started_at,
        finished_at: c.finished_at,
      }))
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  }

  async list(all: boolean): Promise<ProjectListReply> {
    const byProject = new Map<string, ActualContainer[]>();
    for (const nodeId of this.deps.dispatcher.nodeIds()) {
      const agent = await this.agent(nodeId);
      // As Compose's: without -a, only the containers Docker's ps lists (running, paused) count.
      for (const c of await agent.listContainers([{ key: 'label', values: [LABEL.project] }], all)) {
        const name = c.labels[LABEL.project] ?? '';
        const list = byProject.get(name) ?? [];
        list.push({ ...c, nodeId });
        byProject.set(name, list);
      }
    }
    const projects = [...byProject.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, cs]) => {
        const counts = new Map<string, number>();
        for (const c of cs) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
        const files = new Set(cs.flatMap((c) => (c.labels[LABEL.configFiles] ?? '').split(',').filter((f) => f !== '')));
        return {
          name,
          status: [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}(${n})`).join(', '),
          config_files: [...files],
          working_dir: cs[0]?.labels[LABEL.workingDir] ?? '',
        };
      });
    return { projects };
  }
}

/**
 * A fixed host port binds once per host, so two containers of the project on one node cannot
 * both publish it: two replicas of a service, or two services. Docker Compose starts the first
 * and fails on the second ("port is already allocated"); we refuse before touching anything and
 * say what to write instead. Checked here, for what `up` is about to run, rather than when the
 * file is loaded: a file edited into a clash must still let `ps` and `down` act on the project.
 */
function checkFixedPorts(plans: readonly ServicePlan[], placement: Map<string, string>): void {
  const nodeOf = (a: SlotAction) => (a.kind === 'create' ? (placement.get(a.task.id) ?? '') : a.container.nodeId);
  /** Node and port → who binds it, on which address; a wildcard address clashes with every other. */
  const seen = new Map<string, { hostIp: string; service: string; container: string }[]>();
  const wildcard = (ip: string) => ip === '0.0.0.0' || ip === '::';
  // Containers that exist come first: a clash then names the service being added, not the one running.
  const slots = plans.flatMap((plan) => plan.slots.map((slot) => ({ plan, slot })));
  slots.sort((a, b) => Number(a.slot.kind === 'create') - Number(b.slot.kind === 'create'));
  for (const { plan, slot } of slots) {
    {
      if (slot.task.spec.network_mode === 'host') continue;
      for (const p of slot.task.spec.ports) {
        if (p.host_port === 0 || (p.host_port_end ?? 0) > p.host_port) continue;
        const hostIp = p.host_ip || '0.0.0.0';
        const port = `${p.host_port}/${p.protocol || 'tcp'}`;
        const key = `${nodeOf(slot)}\0${port}`;
        const binders = seen.get(key) ?? [];
        const other = binders.find((b) => b.hostIp === hostIp || wildcard(b.hostIp) || wildcard(hostIp));
        if (other?.container === slot.task.containerName) {
          throw failedPrecondition(`service "${plan.service}": host port ${port} on ${hostIp} is published twice`);
        }
        if (other?.service === plan.service) {
          const replicas = plan.slots.length;
          throw failedPrecondition(
            `service "${plan.service}": ${replicas} replicas cannot all publish host port ${p.host_port} (${other.container} and ${slot.task.containerName} would both bind it); ` +
              `publish a range such as "${p.host_port}-${p.host_port + replicas - 1}:${p.container_port}", or let the engine choose with "${p.container_port}"`,
          );
        }
        if (other) throw failedPrecondition(`service "${plan.service}": host port ${port} on ${hostIp} is already published by service "${other.service}"`);
        binders.push({ hostIp, service: plan.service, container: slot.task.containerName });
        seen.set(key, binders);
      }
    }
  }
}

/** The client went away (Ctrl-C): `up` stops where it is; what it did so far stays, as `ps` shows. */
function stopIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled('up: cancelled');
}

/** A container's failure as the user reads it: the service first, the cause's kind kept. */
function serviceError(service: string, what: string, err: unknown): TsError {
  return new TsError(kindOf(err), `service "${service}": ${what}: ${messageOf(err)}`, { cause: err });
}

/** Services another service references by container (network_mode, volumes_from): recreated with it. */
function hardDependencies(project: Project, name: string): string[] {
  const s = project.services[name];
  if (!s) return [];
  const out: string[] = [];
  if (s.network_mode?.startsWith('service:')) out.push(s.network_mode.slice('service:'.length));
  for (const v of s.volumes_from ?? []) if (!v.startsWith('container:')) out.push(v.split(':')[0] ?? v);
  return out;
}

/** Services whose containers others wait to complete: they may exit 0 under `up --wait`. */
function completedByOthers(project: Project): Set<string> {
  const out = new Set<string>();
  for (const s of Object.values(project.services)) {
    for (const [dep, d] of Object.entries(s.depends_on ?? {})) if (d.condition === 'service_completed_successfully') out.add(dep);
  }
  return out;
}

/** The named services and, transitively, those depending on them with `restart: true`. */
function withRestartDependents(graph: DependencyGraph, services: string[]): string[] {
  const out = new Set(services);
  if (out.size === 0) return [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [service, deps] of graph) {
      if (!out.has(service) && deps.some((d) => d.restart && out.has(d.service))) {
        out.add(service);
        grew = true;
      }
    }
  }
  return [...out];
}

/** The dependency graph as recorded in the containers' depends_on labels (no model needed). */
export function graphFromLabels(containers: ActualContainer[]): DependencyGraph {
  const g: DependencyGraph = new Map();
  for (const c of containers) {
    const service = serviceOf(c);
    if (g.has(service)) continue;
    const deps: Dependency[] = [];
    for (const entry of (c.labels[LABEL.dependsOn] ?? '').split(',')) {
      const [dep, condition, restart] = entry.split(':');
      if (!dep) continue;
      deps.push({ service: dep, condition: (condition ?? 'service_started') as Dependency['condition'], required: true, restart: restart === 'true' });
    }
    g.set(service, deps);
  }
  return g;
}

/**
 * As Compose: a recreated container keeps its predecessor's anonymous volumes (the service's
 * source-less volumes and the image's VOLUMEs), so their data survives and they don't pile up.
 */
function inheritAnonymousVolumes(spec: ContainerSpec, old: Array<{ name: string; destination: string }>): ContainerSpec {
  const anonymous = old.filter((v) => /^[0-9a-f]{64}$/.test(v.name));
  if (anonymous.length === 0) return spec;
  const mounts = spec.mounts.map((m) => {
    const prev = m.type === 'volume' && m.source === '' ? anonymous.find((v) => v.destination === m.target) : undefined;
    return prev ? { ...m, source: prev.name } : m;
  });
  for (const v of anonymous) {
    if (!mounts.some((m) => m.target === v.destination)) mounts.push({ ...emptyMountSpec('volume', v.destination), source: v.name });
  }
  return { ...spec, mounts };
}
