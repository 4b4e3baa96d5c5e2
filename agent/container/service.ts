/**
 * The container service: every container command of the engine. Commands change a container's
 * desired state and then let `reconcile` drive the state machine (machine.ts) until nothing
 * changes; exits observed from the runtime and restart timers call `reconcile` too. So a
 * `container run`, a restart policy and (later) a manager's task all move containers the same way.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { conflict, failedPrecondition, invalidArgument, kindOf, messageOf, notFound, TsError } from '../../common/errors';
import { readKernelFile, writeFileAtomic } from '../../common/fsutil';
import { KeyedMutex } from '../../common/mutex';
import { emptyContainerSpec, type ContainerSpec, type ContainerUpdateRequest, type Resources } from '../../common/rpc/engine-types';
import { parseSignal, signalNumber } from '../../common/signals';
import type { EventLog } from '../events';
import { ANONYMOUS_LABEL } from '../volume/names';
import { formatPlatform, hostPlatform, parsePlatform, type ImageConfig } from '../image/oci';
import type { ImageService } from '../image/service';
import { HOST_NETWORK, NONE_NETWORK, type NetworkManager } from '../network';
import type { ExecSession, Runtime } from '../runtime/runtime';
import { blockDeviceRates, capabilitySet, mappedDevices, parseDeviceRule } from '../runtime/spec';
import { blockIOWeightSupported } from '../runtime/cgroups';
import { parseSecurityOptions } from '../runtime/security';
import type { VolumeService } from '../volume';
import { checkName, nameConflict, resolveConfig, resolveMounts, resolveNetworkMode } from './create';
import { checkLinks } from './links';
import { HealthMonitor } from './health';
import { advance, type Step } from './machine';
import { eventAttributes, initialState, isActive, type ContainerRecord, type ResolvedConfig } from './record';
import { logSizeLimit } from './log-config';
import { restartsWithDaemon, validatePolicy } from './restart';
import { traced, traceEnd, traceMark } from '../trace';
import { containerDir, endpointRecord, HostEnv, mountRootfs, resourceOptions, unmountRootfs, writeInjectedFiles, type HostDeps } from './setup';

export interface ContainerServiceDeps {
  root: string;
  images: ImageService;
  runtime: Runtime;
  networks: NetworkManager;
  volumes: VolumeService;
  events: EventLog;
}

const RECORD = 'container.json';

/** See `ContainerService.save`. */
const RUN_STATE = { durable: false };

export class ContainerService {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly locks = new KeyedMutex();
  /** Names claimed by creates in progress, with the id each will have. */
  private readonly namesBeingCreated = new Map<string, string>();
  private readonly env: HostEnv;
  private readonly hostDeps: HostDeps;
  private readonly watchers = new Map<string, AbortController>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters = new Set<() => void>();
  readonly health: HealthMonitor;
  private closed = false;
  /** Creates and reconciles in progress: the network manager fills its sandbox pool when none is. */
  private busy = 0;

  constructor(private readonly deps: ContainerServiceDeps) {
    this.hostDeps = {
      images: deps.images,
      runtime: deps.runtime,
      networks: deps.networks,
      volumes: deps.volumes,
      root: deps.root,
      lookup: (n) => this.tryResolve(n),
      hostResolvConf: () => fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => ''),
    };
    this.env = new HostEnv(this.hostDeps);
    deps.networks.deferPoolRefillWhile?.(() => this.busy > 0);
    this.health = new HealthMonitor({
      runtime: deps.runtime,
      events: deps.events,
      get: (id) => this.records.get(id),
      save: (c) => this.save(c),
      notify: () => this.notify(),
    });
    deps.images.containerUsage = () =>
      [...this.records.values()].map((c) => ({ id: c.id, running: isActive(c.state.status) || c.state.status === 'restarting', imageId: c.imageId }));
    deps.volumes.containerReferences = () =>
      [...this.records.values()].flatMap((c) =>
        c.mounts.filter((m) => m.type === 'volume').map((m) => ({ containerId: c.id, volume: m.source })),
      );
  }

  /**
   * Loads every container, re-adopts those whose process kept running while the daemon was
   * away, settles those that exited meanwhile (their restart policy applies), and removes
   * what a crash left half-created.
   */
  async init(): Promise<void> {
    await fsp.mkdir(this.deps.root, { recursive: true });
    for (const id of await fsp.readdir(this.deps.root)) {
      const file = path.join(this.deps.root, id, RECORD);
      let rec: ContainerRecord;
      try {
        rec = JSON.parse(await fsp.readFile(file, 'utf8')) as ContainerRecord;
      } catch {
        // No committed record: a create cut short. Nothing of it is visible; clear it.
        await unmountRootfs(this.hostDeps, { id } as ContainerRecord).catch(() => undefined);
        await fsp.rm(path.join(this.deps.root, id), { recursive: true, force: true });
        await this.deps.images.snapshots.removeActive(id).catch(() => undefined);
        continue;
      }
      // Fields added to the spec since an older engine wrote this record get their defaults.
      rec.spec = { ...emptyContainerSpec(), ...rec.spec };
      this.records.set(rec.id, rec);
    }
    for (const key of await this.deps.images.snapshots.listActive()) {
      if (!this.records.has(key) && /^[a-f0-9]{64}$/.test(key)) await this.deps.images.snapshots.removeActive(key);
    }
    const live: string[] = [];
    for (const c of this.records.values()) {
      if (isActive(c.state.status)) {
        try {
          const st = await this.deps.runtime.recover(c.id);
          if (st.status === 'running' || st.status === 'paused') {
            live.push(c.id);
            this.watchExit(c);
            if (c.config.healthcheck) this.health.start(c.id);
          }
        } catch {
          // gone from the runtime: reconcile below records its exit
        }
      }
    }
    await this.deps.networks.recover(live);
    await this.deps.volumes.releaseUsersExcept(live);
    for (const c of this.records.values()) {
      if (!live.includes(c.id) && c.state.status === 'exited' && c.desired === 'stopped' && restartsWithDaemon(c.spec.restart_policy, c.state.stoppedByUser) && c.state.startedAt > 0) {
        c.desired = 'running';
      }
      void this.reconcile(c.id);
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.abort();
    for (const t of this.timers.values()) clearTimeout(t);
    this.health.stopAll();
  }

  get rootDir(): string {
    return this.deps.root;
  }

  // ----- exec sessions -----

  private readonly execs = new Map<string, ExecSession>();

  registerExec(s: ExecSession): void {
    this.execs.set(s.id, s);
  }

  unregisterExec(id: string): void {
    this.execs.delete(id);
  }

  async resizeExec(execId: string, size: { height: number; width: number }): Promise<void> {
    const s = this.execs.get(execId);
    if (!s) throw notFound(`No such exec instance: ${execId}`);
    await s.resize(size);
  }

  // ----- networks of a container -----

  /** `network connect`: joins now when running, and at every start from then on. */
  async connectNetwork(nameOrId: string, network: string, aliases: string[], ipv4Address: string): Promise<void> {
    const c = this.resolve(nameOrId);
    const info = await this.deps.networks.inspectNetwork(network);
    if (c.networkMode !== 'bridge') throw failedPrecondition(`container sharing network namespace with another container or host cannot be connected to any other network`);
    if (c.networks.includes(info.name)) throw conflict(`endpoint with name ${c.name} already exists in network ${info.name}`);
    let joined = false;
    await this.locks.run(c.id, async () => {
      c.networks.push(info.name);
      c.spec.networks.push({ network: info.name, aliases, ipv4_address: ipv4Address, mac_address: '', driver_opts: {} });
      if (c.state.status === 'running' && c.netnsPath) {
        const r = await this.deps.networks.connect(c.id, c.netnsPath, info.name, {
          name: c.name,
          aliases: [...aliases, c.id.slice(0, 12)],
          ipv4Address: ipv4Address || undefined,
          dnsServers: c.spec.dns,
        });
        c.endpoints[info.name] = endpointRecord(r, aliases);
        joined = true;
      }
      await this.save(c);
    });
    // A container that is not running joins at its start, and is told of then (as Docker).
    if (joined) this.deps.events.emit('network', 'connect', info.id, { container: c.id, name: info.name, type: info.driver });
  }

  async disconnectNetwork(nameOrId: string, network: string): Promise<void> {
    const c = this.resolve(nameOrId);
    const info = await this.deps.networks.inspectNetwork(network);
    if (!c.networks.includes(info.name)) throw notFound(`container ${c.id} is not connected to network ${info.name}`);
    await this.locks.run(c.id, async () => {
      if (c.state.status === 'running') await this.deps.networks.disconnect(c.id, info.name);
      c.networks = c.networks.filter((n) => n !== info.name);
      c.spec.networks = c.spec.networks.filter((n) => n.network !== info.name);
      delete c.endpoints[info.name];
      await this.save(c);
    });
    // Docker 20.10 tells of a running container's leaving twice (once as its endpoint leaves the
    // sandbox, once for the request); once is the truth, and what a consumer counting them expects.
    this.deps.events.emit('network', 'disconnect', info.id, { container: c.id, name: info.name, type: info.driver });
  }

  // ----- lookup -----

  list(): ContainerRecord[] {
    return [...this.records.values()];
  }

  tryResolve(nameOrId: string): ContainerRecord | undefined {
    const n = nameOrId.replace(/^\//, '');
    const exact = this.records.get(n);
    if (exact) return exact;
    for (const c of this.records.values()) if (c.name === n) return c;
    if (/^[a-f0-9]+$/.test(n)) {
      const matches = [...this.records.values()].filter((c) => c.id.startsWith(n));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalidArgument(`multiple IDs found with provided prefix: ${n}`);
    }
    return undefined;
  }

  resolve(nameOrId: string): ContainerRecord {
    const c = this.tryResolve(nameOrId);
    if (!c) throw notFound(`No such container: ${nameOrId}`);
    return c;
  }

  // ----- persistence and notification -----

  /**
   * Persists a record. `durable: false` for run-state steps (status, pid, exit code): the atomic
   * rename keeps them across a daemon crash, and after a power loss the runtime's truth wins at
   * start-up anyway; what users ask for (create, stop, kill, rename, remove) is flushed to disk.
   */
  private async save(c: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    if (!this.records.has(c.id)) return;
    await writeFileAtomic(path.join(this.deps.root, c.id, RECORD), JSON.stringify(c), 0o644, opts);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Calls `fn` with the record after every change while it exists (its last state survives removal). */
  track(id: string, fn: (c: ContainerRecord) => void): () => void {
    const check = () => {
      const r = this.records.get(id);
      if (r) fn(r);
    };
    this.waiters.add(check);
    return () => this.waiters.delete(check);
  }

  /** Resolves when `pred` holds, re-checked after every state change. */
  waitFor(pred: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (pred()) return resolve();
      const check = () => {
        if (pred()) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      signal?.addEventListener('abort', () => {
        this.waiters.delete(check);
        reject(new TsError('Cancelled', 'context canceled'));
      });
    });
  }

  // ----- the reconcile loop -----

  /** Drives a container's state machine until it stops changing; returns the steps taken. */
  reconcile(id: string): Promise<Step[]> {
    this.busy++;
    return this.locks.run(id, async () => {
      const steps: Step[] = [];
      for (let i = 0; i < 20; i++) {
        const c = this.records.get(id);
        if (!c || this.closed) break;
        const step = await traced(id, 'advance', () => advance(c, this.env, Date.now()));
        if (!step) break;
        traceMark(id, `step ${step.kind}`);
        steps.push(step);
        // Observers see each state, including the last one before a removal.
        this.notify();
        await this.afterStep(c, step);
        if (step.kind === 'removed') {
          traceEnd(id);
          break;
        }
      }
      this.notify();
      return steps;
    }).finally(() => this.busy--);
  }

  private async afterStep(c: ContainerRecord, step: Step): Promise<void> {
    const ev = (action: string, extra: Record<string, string> = {}) =>
      this.deps.events.emit('container', action, c.id, eventAttributes(c, extra));
    switch (step.kind) {
      case 'started':
        // As Docker: the networks are joined before the start is told.
        this.networkEvents(c, 'connect');
        ev('start');
        this.watchExit(c);
        if (c.config.healthcheck) this.health.start(c.id);
        break;
      case 'start-failed':
        // What was joined before the failure was left again as it was undone.
        this.networkEvents(c, 'connect');
        this.networkEvents(c, 'disconnect');
        ev('die', { exitCode: String(step.exitCode), error: step.error });
        break;
      case 'exited':
      case 'restart-scheduled': {
        this.health.stop(c.id);
        if (c.state.oomKilled) ev('oom');
        ev('die', { exitCode: String(c.state.exitCode) });
        this.networkEvents(c, 'disconnect');
        if (step.kind === 'restart-scheduled') this.schedule(c.id, step.delayMs);
        break;
      }
      case 'killed':
        // `rm -f` of a running container: Docker tells of the SIGKILL before the death.
        ev('kill', { signal: '9' });
        break;
      case 'paused':
        ev('pause');
        break;
      case 'resumed':
        ev('unpause');
        break;
      case 'removed':
        this.health.stop(c.id);
        this.records.delete(c.id);
        ev('destroy');
        // Docker's --rm takes the container's anonymous volumes along, when it exits by itself too.
        if (c.spec.auto_remove) await this.removeAnonymousVolumes(c.anonymousVolumes);
        return;
      default:
        break;
    }
    await this.save(c, RUN_STATE);
  }

  /**
   * Docker's `network connect` or `disconnect` for each network the container's run joined or
   * left, in the order joined. Emitted together with the container's own event, they go to the
   * journal in its write.
   */
  private networkEvents(c: ContainerRecord, action: 'connect' | 'disconnect'): void {
    for (const e of Object.values(c.endpoints)) {
      this.deps.events.emit('network', action, e.networkId, { container: c.id, name: e.networkName, type: networkDriver(e.networkName) });
    }
  }

  private schedule(id: string, delayMs: number): void {
    clearTimeout(this.timers.get(id));
    const t = setTimeout(() => {
      this.timers.delete(id);
      void this.reconcile(id);
    }, delayMs);
    t.unref();
    this.timers.set(id, t);
  }

  /** Reconciles when the current attempt's process exits. */
  private watchExit(c: ContainerRecord): void {
    this.watchers.get(c.id)?.abort();
    const ac = new AbortController();
    this.watchers.set(c.id, ac);
    this.deps.runtime.wait(c.id, ac.signal).then(
      () => {
        traceMark(c.id, 'exit seen');
        if (this.watchers.get(c.id) === ac) this.watchers.delete(c.id);
        if (!ac.signal.aborted) void this.reconcile(c.id);
      },
      () => {
        if (this.watchers.get(c.id) === ac) this.watchers.delete(c.id);
        if (!ac.signal.aborted) void this.reconcile(c.id);
      },
    );
  }

  // ----- commands -----

  /**
   * Only the name is claimed under the `create` lock; the rest (snapshot, volumes, the durable
   * record) runs beside other creates, since compose makes a whole project's containers at once.
   */
  async create(spec: ContainerSpec): Promise<{ id: string; warnings: string[] }> {
    const id = randomBytes(32).toString('hex');
    const name = await this.locks.run('create', async () => {
      const n = spec.name ? checkName(spec.name) : await this.generateName();
      const holder = [...this.records.values()].find((c) => c.name === n);
      if (holder) throw nameConflict(n, holder.id);
      if (this.namesBeingCreated.has(n)) throw nameConflict(n, this.namesBeingCreated.get(n)!);
      this.namesBeingCreated.set(n, id);
      return n;
    });
    this.busy++;
    try {
      return await traced(id, 'create', () => this.createNamed(id, name, spec));
    } finally {
      this.busy--;
      this.namesBeingCreated.delete(name);
    }
  }

  private async createNamed(id: string, name: string, spec: ContainerSpec): Promise<{ id: string; warnings: string[] }> {
    if (!spec.image) throw invalidArgument('no image specified');
    const img = this.deps.images.resolve(spec.image);
    const imageConfig = await this.deps.images.config(img.id);
    validatePolicy(spec.restart_policy, spec.auto_remove);
    logSizeLimit({ driver: spec.log_driver, options: spec.log_options });
    const config = resolveConfig(spec, imageConfig, id);
    if (config.entrypoint.length === 0 && config.cmd.length === 0) throw invalidArgument('No command specified');
    checkProcessSettings(spec, config);
    const net = resolveNetworkMode(spec);
    for (const n of net.networks) await this.deps.networks.inspectNetwork(n);
    for (const n of spec.networks) if (n.ipv4_address && net.networks.includes(n.network)) await this.deps.networks.checkAddress(n.network, n.ipv4_address);
    if (net.networkMode === 'container') {
      this.resolve(spec.network_mode.slice(10));
      checkSharedNetworkSettings(spec);
    }
    checkLinks(spec, net.networkMode, (n) => this.tryResolve(n));
    const fromMounts = spec.volumes_from.flatMap((v) => {
      const [src, mode] = v.split(':');
      const other = this.resolve(src ?? '');
      return other.mounts.filter((m) => m.type !== 'tmpfs').map((m) => ({ ...m, readOnly: mode === 'ro' ? true : m.readOnly }));
    });
    const { mounts, anonymous, named } = await resolveMounts(spec, config, fromMounts);
    const warnings = [...platformWarnings(spec, imageConfig), ...blockIOWarnings(spec), ...endpointOptionWarnings(spec)];
    checkResources(spec.resources);

    const dir = containerDir(this.deps.root, id);
    const createdVolumes: string[] = [];
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      await writeInjectedFiles(this.deps.root, id, spec.files);
      await this.deps.images.snapshots.prepare(id, img.layers.map((l) => l.diffId));
      const newVolumes: Array<{ name: string; target: string; noCopy: boolean }> = [];
      const anonymousNames: string[] = [];
      // Two creates naming one new volume: one makes it, the other finds it (seeding, below, is
      // locked per volume and copies only into an empty one).
      await this.locks.run('create-volumes', async () => {
        for (const n of named) {
          const existing = await this.deps.volumes.inspect(n.name).catch(() => undefined);
          const exists = existing !== undefined;
          // An anonymous volume handed on by name (Compose's recreate) stays anonymous: `rm -v` removes it, as Docker 23+.
          if (existing && ANONYMOUS_LABEL in existing.Labels) anonymousNames.push(n.name);
          if (!exists) {
            await this.deps.volumes.create({ name: n.name, driver: n.driver || undefined, labels: n.labels, options: n.options });
            createdVolumes.push(n.name);
          }
          const m = mounts.find((x) => x.type === 'volume' && x.source === n.name);
          const specMount = spec.mounts.find((x) => x.source === n.name);
          // Not only volumes made here: Compose creates a project's volumes before its containers,
          // and Docker seeds any volume still empty when a container first mounts it.
          // A subpath mount shows part of the volume: the image's content is not copied into it.
          if (m) newVolumes.push({ name: n.name, target: m.target, noCopy: !!specMount?.no_copy || !!m.subpath });
        }
      });
      for (const target of anonymous) {
        const v = await this.deps.volumes.create({});
        createdVolumes.push(v.Name);
        anonymousNames.push(v.Name);
        const m = mounts.find((x) => x.type === 'volume' && x.source === '' && x.target === target);
        if (m) m.source = v.Name;
        const specMount = spec.mounts.find((x) => x.type === 'volume' && !x.source && x.target === target);
        newVolumes.push({ name: v.Name, target, noCopy: !!specMount?.no_copy });
      }
      const c: ContainerRecord = {
        id,
        name,
        // The files' content is on disk now (writeInjectedFiles); the record keeps the rest.
        spec: { ...spec, files: spec.files.map((f) => ({ ...f, content: Buffer.alloc(0) })) },
        image: spec.image,
        imageId: img.id,
        created: Date.now(),
        config,
        mounts,
        anonymousVolumes: anonymousNames,
        desired: 'stopped',
        state: initialState(),
        endpoints: {},
        ports: [],
        logPath: path.join(dir, 'ctr.log'),
        netnsPath: '',
        networks: net.networks,
        networkMode: net.networkMode,
      };
      // New (or still empty) volumes start with the image's content at their mount path (Docker's copy-up).
      const toSeed = newVolumes.filter((v) => !v.noCopy);
      if (toSeed.length > 0) {
        const rootfs = await mountRootfs(this.hostDeps, c);
        try {
          for (const v of toSeed) await this.deps.volumes.seedFromImage(v.name, path.join(rootfs, v.target));
        } finally {
          await unmountRootfs(this.hostDeps, c);
        }
      }
      // The log exists from the start, so an attach opened before `start` holds it open.
      await fsp.writeFile(c.logPath, '', { flag: 'a', mode: 0o640 });
      // The record is the commit point: before it, a crash leaves nothing visible (init clears it).
      // An auto-removed container's is not flushed: a power loss ends its process, and its end
      // is its removal, which init does for a record that is lost (the snapshot goes unowned).
      await writeFileAtomic(path.join(dir, RECORD), JSON.stringify(c), 0o644, { durable: !spec.auto_remove });
      this.records.set(id, c);
      this.deps.events.emit('container', 'create', id, { ...config.labels, image: spec.image, name });
      return { id, warnings };
    } catch (err) {
      await fsp.rm(dir, { recursive: true, force: true });
      await this.deps.images.snapshots.removeActive(id).catch(() => undefined);
      for (const v of createdVolumes) await this.deps.volumes.remove(v).catch(() => undefined);
      throw err;
    }
  }

  private async generateName(): Promise<string> {
    const { randomName } = await import('./names');
    for (;;) {
      const n = randomName();
      if (![...this.records.values()].some((c) => c.name === n) && !this.namesBeingCreated.has(n)) return n;
    }
  }

  async start(nameOrId: string): Promise<void> {
    const c = this.resolve(nameOrId);
    if (c.state.status === 'running') return;
    if (c.state.status === 'paused') throw failedPrecondition(`cannot start a paused container, try unpause instead`);
    c.desired = 'running';
    c.state.stoppedByUser = false;
    c.state.restartCount = c.state.status === 'restarting' ? c.state.restartCount : 0;
    // The start step right after writes the record again.
    traceMark(c.id, 'start rpc');
    await this.save(c, RUN_STATE);
    const steps = await this.reconcile(c.id);
    traceMark(c.id, 'start rpc done');
    const failed = steps.find((s): s is Extract<Step, { kind: 'start-failed' }> => s.kind === 'start-failed');
    if (failed) throw new TsError('FailedPrecondition', failed.error);
  }

  /** The stop signal, then SIGKILL after the timeout, as `docker stop`. */
  async stop(nameOrId: string, timeoutSeconds = -1, signal?: string): Promise<void> {
    const c = this.resolve(nameOrId);
    // Checked before anything changes: a signal that cannot be sent would stop nothing and
    // leave the container marked as stopped by its user.
    if (signal && parseSignal(signal) === undefined) throw invalidArgument(`Invalid signal: ${signal}`);
    c.state.stoppedByUser = true;
    if (c.desired !== 'removed') c.desired = 'stopped';
    await this.save(c);
    clearTimeout(this.timers.get(c.id));
    if (c.state.status === 'paused') await this.deps.runtime.resume(c.id).catch(() => undefined);
    if (c.state.status === 'running' || c.state.status === 'paused') {
      const timeout = timeoutSeconds >= 0 ? timeoutSeconds : c.spec.stop_timeout >= 0 ? c.spec.stop_timeout : 10;
      const sig = signal || c.config.stopSignal;
      this.deps.events.emit('container', 'kill', c.id, eventAttributes(c, { signal: signalNumber(sig) }));
      await this.deps.runtime.kill(c.id, sig).catch(() => undefined);
      const exited = await this.waitExit(c.id, timeout * 1000);
      if (!exited) {
        this.deps.events.emit('container', 'kill', c.id, eventAttributes(c, { signal: '9' }));
        await this.deps.runtime.kill(c.id, 'SIGKILL').catch(() => undefined);
        await this.waitExit(c.id, 10_000);
      }
    }
    await this.reconcile(c.id);
    this.deps.events.emit('container', 'stop', c.id, eventAttributes(c));
  }

  private async waitExit(id: string, ms: number): Promise<boolean> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), ms);
    try {
      await this.deps.runtime.wait(id, ac.signal);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** `signal` replaces the container's stop signal for the stop half (`restart -s`). */
  async restart(nameOrId: string, timeoutSeconds = -1, signal?: string): Promise<void> {
    const c = this.resolve(nameOrId);
    await this.stop(c.id, timeoutSeconds, signal);
    await this.start(c.id);
    this.deps.events.emit('container', 'restart', c.id, eventAttributes(c));
  }

  async kill(nameOrId: string, signal = 'SIGKILL'): Promise<void> {
    // As Docker's daemon, before the container is even looked up: a signal that cannot be sent
    // is the user's mistake, not the runtime's.
    if (parseSignal(signal) === undefined) throw invalidArgument(`Invalid signal: ${signal}`);
    const c = this.resolve(nameOrId);
    if (c.state.status !== 'running' && c.state.status !== 'paused')
      throw conflict(`cannot kill container: ${nameOrId}: container ${c.id} is not running`);
    const sig = signal.toUpperCase().startsWith('SIG') || /^\d+$/.test(signal) ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
    if (['SIGKILL', 'SIGTERM', 'SIGINT', '9', '15'].includes(sig)) {
      c.state.stoppedByUser = true;
      await this.save(c);
    }
    this.deps.events.emit('container', 'kill', c.id, eventAttributes(c, { signal: signalNumber(sig) }));
    try {
      await this.deps.runtime.kill(c.id, sig);
    } catch (err) {
      // The signal was checked above: what is left is the runtime's failure, in Docker's words.
      throw new TsError(kindOf(err), `Cannot kill container ${c.id}: ${messageOf(err)}`, { cause: err });
    }
  }

  async pause(nameOrId: string): Promise<void> {
    const c = this.resolve(nameOrId);
    if (c.state.status !== 'running') throw conflict(`Container ${c.id} is not running`);
    c.desired = 'paused';
    await this.reconcile(c.id);
  }

  async unpause(nameOrId: string): Promise<void> {
    const c = this.resolve(nameOrId);
    if (c.state.status !== 'paused') throw conflict(`Container ${c.id} is not paused`);
    c.desired = 'running';
    await this.reconcile(c.id);
  }

  async remove(nameOrId: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = this.resolve(nameOrId);
    if ((c.state.status === 'running' || c.state.status === 'paused' || c.state.status === 'restarting') && !opts.force) {
      const what = c.state.status === 'paused' ? 'paused' : c.state.status === 'restarting' ? 'restarting' : 'running';
      throw conflict(`cannot remove container "/${c.name}": container is ${what}: stop the container before removing or force remove`);
    }
    const anonymous = c.anonymousVolumes;
    c.desired = 'removed';
    clearTimeout(this.timers.get(c.id));
    this.watchers.get(c.id)?.abort();
    // Not flushed: the removal that follows (rm of the directory) isn't either, so a power loss
    // may bring the container back whatever was flushed here; a daemon crash finds it on disk.
    await this.save(c, RUN_STATE);
    await this.reconcile(c.id);
    // An --rm container's go with it in the removal step, however the removal came about.
    if (opts.volumes && !c.spec.auto_remove) await this.removeAnonymousVolumes(anonymous);
  }

  /** Anonymous volumes still in use (another container's volumes_from) are left, as Docker does. */
  private async removeAnonymousVolumes(names: readonly string[]): Promise<void> {
    for (const v of names) await this.deps.volumes.remove(v).catch(() => undefined);
  }

  async rename(nameOrId: string, newName: string): Promise<void> {
    const c = this.resolve(nameOrId);
    const n = checkName(newName);
    if (n === c.name) throw invalidArgument('Renaming a container with the same name as its current name');
    await this.locks.run('create', async () => {
      const holder = [...this.records.values()].find((x) => x.name === n);
      if (holder && holder.id !== c.id) throw nameConflict(n, holder.id);
      if (this.namesBeingCreated.has(n)) throw nameConflict(n, this.namesBeingCreated.get(n)!);
      const old = c.name;
      c.name = n;
      await this.save(c);
      this.deps.events.emit('container', 'rename', c.id, eventAttributes(c, { oldName: `/${old}` }));
    });
  }

  /**
   * Docker's `container update`. The record takes the new values first, so that every later
   * start and restart policy decision (machine.ts reads the record's policy at each exit) sees
   * them; a running or paused container's cgroup gets them at once, and a runtime that refuses
   * them leaves the record as it was.
   */
  async update(nameOrId: string, req: Omit<ContainerUpdateRequest, 'id'>): Promise<{ warnings: string[] }> {
    const asked = { ...emptyContainerSpec().resources, ...req.resources };
    checkResources(asked, { update: true });
    const warnings: string[] = [];
    if (asked.blkio_weight && !blockIOWeightSupported()) {
      warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
      asked.blkio_weight = 0;
    }
    const policy = req.restart_policy?.name ? req.restart_policy : undefined;
    if (policy) validatePolicy(policy, false);
    const c = this.resolve(nameOrId);
    const cannot = (message: string, err?: unknown) =>
      new TsError(err === undefined ? 'InvalidArgument' : kindOf(err), `Cannot update container ${c.id}: ${message}`, { cause: err });
    await this.locks.run(c.id, async () => {
      if (!this.records.has(c.id) || c.desired === 'removed' || c.state.status === 'removing' || c.state.status === 'dead') {
        throw failedPrecondition(`Cannot update container ${c.id}: container is marked for removal and cannot be "update"`);
      }
      const resources = mergeResources(c.spec.resources, asked, cannot);
      if (policy && c.spec.auto_remove && policy.name !== 'no') {
        throw cannot('Restart policy cannot be updated because AutoRemove is enabled for the container');
      }
      const before = { resources: c.spec.resources, policy: c.spec.restart_policy };
      c.spec.resources = resources;
      if (policy) c.spec.restart_policy = { name: policy.name, max_retries: policy.max_retries };
      await this.save(c);
      // Between two attempts (restarting) there is no process: the next start applies the record.
      if (c.state.status === 'running' || c.state.status === 'paused') {
        try {
          await this.deps.runtime.update(c.id, resourceOptions(resources));
        } catch (err) {
          c.spec.resources = before.resources;
          c.spec.restart_policy = before.policy;
          await this.save(c);
          throw cannot(messageOf(err), err);
        }
      }
    });
    this.deps.events.emit('container', 'update', c.id, eventAttributes(c));
    return { warnings };
  }

  /** Waits for a condition: "not-running" (default), "next-exit" or "removed". */
  async wait(nameOrId: string, condition = 'not-running', signal?: AbortSignal): Promise<number> {
    const c = this.resolve(nameOrId);
    const id = c.id;
    const notRunning = (r: ContainerRecord | undefined) => !r || r.state.status === 'exited' || r.state.status === 'dead' || (r.state.status === 'created' && r.desired !== 'running');
    if (condition === 'removed') {
      let last = c.state.exitCode;
      await this.waitFor(() => {
        const r = this.records.get(id);
        if (r) last = r.state.exitCode;
        return !r;
      }, signal);
      traceMark(id, 'wait removed');
      return last;
    }
    if (condition === 'next-exit') {
      const startedAt = c.state.finishedAt;
      await this.waitFor(() => {
        const r = this.records.get(id);
        return !r || (r.state.finishedAt !== startedAt && r.state.status !== 'running');
      }, signal);
    } else if (condition === 'not-running' || condition === '') {
      await this.waitFor(() => notRunning(this.records.get(id)), signal);
    } else {
      throw invalidArgument(`invalid condition: "${condition}"`);
    }
    return this.records.get(id)?.state.exitCode ?? c.state.exitCode;
  }

  /** Mounts the rootfs of a stopped container for reading or writing, runs `fn`, unmounts. */
  async withRootfs<T>(c: ContainerRecord, fn: (rootfs: string) => Promise<T>): Promise<T> {
    if (c.state.status === 'running' || c.state.status === 'paused') return fn(`/proc/${c.state.pid}/root`);
    return this.locks.run(c.id, async () => {
      const rootfs = await mountRootfs(this.hostDeps, c);
      try {
        return await fn(rootfs);
      } finally {
        await unmountRootfs(this.hostDeps, c);
      }
    });
  }

  async prune(filters: Array<{ key: string; values: string[] }>): Promise<{ deleted: string[]; reclaimed: number }> {
    const selected = (await import('../image/service')).pruneSelector(filters);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of [...this.records.values()]) {
      if (c.state.status !== 'exited' && c.state.status !== 'created' && c.state.status !== 'dead') continue;
      if (!selected(c.created, c.config.labels)) continue;
      reclaimed += await this.sizeRw(c);
      await this.remove(c.id);
      deleted.push(c.id);
    }
    return { deleted, reclaimed };
  }

  /** Bytes in the container's writable layer. */
  async sizeRw(c: ContainerRecord): Promise<number> {
    const { directorySize } = await import('../volume');
    return directorySize(this.deps.images.snapshots.upperPath(c.id)).catch(() => 0);
  }
}

/**
 * What Docker's daemon checks at create, so that a container that could never start is not
 * made: the working directory, the stop signal, the devices, the device cgroup rules and the
 * security options (a seccomp profile included).
 */
function checkProcessSettings(spec: ContainerSpec, config: ResolvedConfig): void {
  if (config.workingDir && !path.posix.isAbsolute(config.workingDir)) {
    throw invalidArgument(`the working directory '${config.workingDir}' is invalid, it needs to be an absolute path`);
  }
  if (parseSignal(config.stopSignal) === undefined) throw invalidArgument(`invalid signal: ${config.stopSignal}`);
  mappedDevices(spec.devices);
  for (const rule of spec.device_cgroup_rules) parseDeviceRule(rule);
  parseSecurityOptions(spec.security_opt);
  capabilitySet(spec.cap_add, spec.cap_drop);
  const r = spec.resources;
  for (const list of [r.blkio_weight_device, r.device_read_bps, r.device_write_bps, r.device_read_iops, r.device_write_iops]) blockDeviceRates(list ?? []);
  if (!['', 'host', 'private'].includes(spec.cgroupns_mode ?? '')) throw invalidArgument(`invalid cgroup namespace mode: ${spec.cgroupns_mode}`);
  if (!['', 'host'].includes(spec.uts_mode ?? '')) throw invalidArgument(`invalid UTS mode: ${spec.uts_mode}`);
  if (spec.uts_mode === 'host' && (spec.hostname || spec.domainname)) throw invalidArgument('conflicting options: hostname and the UTS mode');
  if (spec.cgroup_parent && (spec.cgroup_parent.split('/').includes('..') || /[\s:]/.test(spec.cgroup_parent))) {
    throw invalidArgument(`invalid cgroup parent: ${JSON.stringify(spec.cgroup_parent)}`);
  }
}

/**
 * Per-endpoint driver options (`--network name=N,driver-opt=K=V`, Compose's
 * `networks.N.driver_opts`) have no effect with the CNI bridge: said, never dropped in silence.
 */
function endpointOptionWarnings(spec: ContainerSpec): string[] {
  return spec.networks
    .filter((n) => Object.keys(n.driver_opts ?? {}).length > 0)
    .map((n) => `network ${n.network}: endpoint driver options are not applied: ${Object.keys(n.driver_opts).sort().join(', ')}`);
}

/** Docker's warning for a block I/O weight the kernel can't apply (no BFQ or CFQ scheduler). */
function blockIOWarnings(spec: ContainerSpec): string[] {
  const r = spec.resources;
  if (!(r.blkio_weight || r.blkio_weight_device?.length) || blockIOWeightSupported()) return [];
  return ['Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.'];
}

/**
 * An image made for another platform than the one asked for is refused; one made for another
 * platform than this host's, when none was asked for, runs with Docker's warning (it may fail
 * with an exec format error, or run under emulation).
 */
function platformWarnings(spec: ContainerSpec, image: ImageConfig): string[] {
  const actual = formatPlatform({ os: image.os || 'linux', architecture: image.architecture || hostPlatform().architecture, variant: image.variant });
  const same = (want: { os: string; architecture: string }) => want.os === (image.os || 'linux') && want.architecture === (image.architecture || hostPlatform().architecture);
  if (spec.platform) {
    const want = parsePlatform(spec.platform);
    if (!same(want)) throw notFound(`image with reference ${spec.image} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${actual}`);
    return [];
  }
  if (same(hostPlatform())) return [];
  return [`The requested image's platform (${actual}) does not match the detected host platform (${formatPlatform(hostPlatform())}) and no specific platform was requested`];
}

const MIN_MEMORY = 6 * 1024 * 1024;

/**
 * The limits Docker's daemon refuses (verifyPlatformContainerResources), in its words: at
 * create, and for `update` on the values asked for (where a swap limit alone is allowed: the
 * container may have a memory limit already).
 */
function checkResources(r: Resources, opts: { update?: boolean } = {}): void {
  if (r.memory > 0 && r.memory < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (!opts.update && r.memory_swap > 0 && !(r.memory > 0)) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (r.memory_reservation > 0 && r.memory_reservation < MIN_MEMORY) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if (r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation) {
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  checkNanoCpus(r.nano_cpus);
  if (r.nano_cpus > 0 && r.cpu_period > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (r.nano_cpus > 0 && r.cpu_quota > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (r.blkio_weight && (r.blkio_weight < 10 || r.blkio_weight > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
  if (r.cpuset_mems) {
    const online = readKernelFile('/sys/devices/system/node/online')?.trim();
    const available = online === undefined ? undefined : new Set(cpuList(online));
    const requested = cpuList(r.cpuset_mems);
    if (requested === undefined) throw invalidArgument(`Invalid value ${r.cpuset_mems} for cpuset mems`);
    if (available && !requested.every((n) => available.has(n))) {
      throw invalidArgument(`Requested memory nodes are not available - requested ${r.cpuset_mems}, available: ${online}`);
    }
  }
}

/** A kernel list (`0-3,5`) as its numbers; undefined when it is not one. */
function cpuList(text: string): number[] | undefined {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 4096) return undefined;
    for (let n = from; n <= to; n++) out.push(n);
  }
  return out;
}

/**
 * A container's limits with an update's non-zero values over them, as Docker's UpdateContainer
 * merges them; `cannot` words a refusal as Docker's "Cannot update container <id>: …".
 */
function mergeResources(current: Resources, u: Resources, cannot: (message: string) => TsError): Resources {
  // --cpus is a quota over a fixed period: one set way is not changed the other way.
  if (u.nano_cpus > 0 && current.cpu_period > 0) throw cannot('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (u.nano_cpus > 0 && current.cpu_quota > 0) throw cannot('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if (u.cpu_period > 0 && current.nano_cpus > 0) throw cannot('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if (u.cpu_quota > 0 && current.nano_cpus > 0) throw cannot('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  const next = { ...current };
  if (u.blkio_weight) next.blkio_weight = u.blkio_weight;
  if (u.cpu_shares) next.cpu_shares = u.cpu_shares;
  if (u.nano_cpus) next.nano_cpus = u.nano_cpus;
  if (u.cpu_period) next.cpu_period = u.cpu_period;
  if (u.cpu_quota) next.cpu_quota = u.cpu_quota;
  if (u.cpuset_cpus) next.cpuset_cpus = u.cpuset_cpus;
  if (u.cpuset_mems) next.cpuset_mems = u.cpuset_mems;
  if (u.memory) {
    // Docker records twice the memory limit as the swap limit of a container given -m alone; a
    // record here leaves 0 for it, so the limit in force is worked out, and kept once the memory
    // limit changes. -1 (unlimited swap) is no limit the new memory limit could exceed.
    const swap = current.memory_swap !== 0 ? current.memory_swap : current.memory > 0 ? current.memory * 2 : 0;
    if (u.memory_swap === 0 && swap !== -1 && u.memory > swap) {
      throw cannot('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
    next.memory = u.memory;
    next.memory_swap = swap;
  }
  if (u.memory_swap) next.memory_swap = u.memory_swap;
  if (u.memory_reservation) next.memory_reservation = u.memory_reservation;
  if (u.pids_limit) next.pids_limit = u.pids_limit;
  // A swap limit without a memory limit would be one the kernel refuses, or no start applies.
  if (next.memory_swap > 0 && !(next.memory > 0)) throw cannot('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (next.memory > 0 && next.memory_swap > 0 && next.memory_swap < next.memory) throw cannot('Minimum memoryswap limit should be larger than memory limit, see usage');
  return next;
}

function checkNanoCpus(nanoCpus: number): void {
  const count = os.availableParallelism();
  if (nanoCpus < 0 || (nanoCpus > 0 && nanoCpus < 1e7) || nanoCpus > count * 1e9) {
    throw invalidArgument(`Range of CPUs is from 0.01 to ${count}.00, as there are only ${count} CPUs available`);
  }
}

/**
 * A container on another's network namespace has that one's addresses, ports and names: what
 * would set its own is refused at create, in Docker's words.
 */
function checkSharedNetworkSettings(spec: ContainerSpec): void {
  const conflict = (what: string) => invalidArgument(`conflicting options: ${what}`);
  if (spec.hostname) throw conflict('hostname and the network mode');
  if (spec.dns.length > 0) throw conflict('dns and the network mode');
  if (spec.extra_hosts.length > 0) throw conflict('custom host-to-IP mapping and the network mode');
  if (spec.mac_address) throw conflict('mac-address and the network mode');
  if (spec.ports.length > 0 || spec.publish_all) throw conflict('port publishing and the container type network mode');
  if (spec.expose.length > 0) throw conflict('port exposing and the container type network mode');
}

/** The driver of a network a container is on: `host` and `none` are the only ones not bridges. */
function networkDriver(name: string): string {
  return name === HOST_NETWORK ? 'host' : name === NONE_NETWORK ? 'null' : 'bridge';
}
