/** Engine RPCs for containers, networks and volumes: translation only, the logic is in the services. */
import { Metadata, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import { conflict, failedPrecondition, invalidArgument, isKind, notFound, TsError } from '../../common/errors';
import { toServiceError } from '../../common/rpc/status';
import type { AttachOpen, ContainerSpec, ContainerUpdateRequest, ExecSpec } from '../../common/rpc/engine-types';
import type { Agent } from '../agent';
import type { NetworkEndpointView } from '../network';
import { containerDir, rootfsPath } from '../container/setup';
import { followLog, logSize, type LogLine } from '../container/logs';
import { keepsLogs, logAttributes, NO_LOGS_MESSAGE } from '../container/log-config';
import { inspectContainer, summarize } from '../container/views';
import { eventAttributes, type ContainerRecord } from '../container/record';
import type { ContainerService } from '../container/service';
import { resolveUser } from '../runtime/user';
import { matchLabel, pruneSelector } from '../image/service';
import { serverStream, unary, type Handlers } from './grpc-util';
import { goMap } from '../../common/gomap';

interface Filter {
  key: string;
  values: string[];
}

export function containerHandlers(agent: Agent): Handlers {
  const svc = () => agent.containers;
  return {
    ContainerCreate: unary(async (spec: ContainerSpec) => svc().create(spec)),
    ContainerStart: unary(async (req: { id: string }) => (await svc().start(req.id), {})),
    ContainerStop: unary(async (req: { id: string; timeout_seconds: number; signal: string }) => {
      await svc().stop(req.id, req.timeout_seconds, req.signal || undefined);
      return {};
    }),
    ContainerRestart: unary(async (req: { id: string; timeout_seconds: number; signal: string }) => {
      await svc().restart(req.id, req.timeout_seconds, req.signal || undefined);
      return {};
    }),
    ContainerKill: unary(async (req: { id: string; signal: string }) => (await svc().kill(req.id, req.signal || 'SIGKILL'), {})),
    ContainerPause: unary(async (req: { id: string }) => (await svc().pause(req.id), {})),
    ContainerUnpause: unary(async (req: { id: string }) => (await svc().unpause(req.id), {})),
    ContainerRemove: unary(async (req: { id: string; force: boolean; volumes: boolean }) => {
      await svc().remove(req.id, { force: req.force, volumes: req.volumes });
      return {};
    }),
    ContainerRename: unary(async (req: { id: string; new_name: string }) => (await svc().rename(req.id, req.new_name), {})),
    ContainerUpdate: unary(async (req: ContainerUpdateRequest) => svc().update(req.id, req)),
    ContainerList: unary(async (req: { all: boolean; filters: Filter[]; limit: number; size: boolean }) => {
      let list = svc().list();
      list = filterContainers(agent, list, req.filters, req.all);
      list.sort((a, b) => b.created - a.created);
      if (req.limit > 0) list = list.slice(0, req.limit);
      const out = [];
      for (const c of list) {
        const sizes = req.size ? { rw: await svc().sizeRw(c), rootFs: agent.images.store.get(c.imageId)?.size ?? 0 } : undefined;
        const row = summarize(c, sizes);
        // As Docker: the name the container was made from, while it still names that image;
        // once it names another image, or none, the image's ID.
        if (imageNamedBy(agent, c.image) !== c.imageId) row.image = c.imageId;
        out.push(row);
      }
      return { containers: out };
    }),
    ContainerInspect: unary(async (req: { names: string[]; ignore_missing: boolean; size: boolean }) => {
      const json: string[] = [];
      for (const name of req.names) {
        const c = req.ignore_missing ? svc().tryResolve(name) : svc().resolve(name);
        if (!c) continue;
        const doc = inspectContainer(c, {
          containerDir: containerDir(agent.containers.rootDir, c.id),
          upperDir: agent.images.snapshots.upperPath(c.id),
          rootfs: rootfsPath(agent.containers.rootDir, c.id),
        });
        if (req.size) {
          doc['SizeRw'] = await svc().sizeRw(c);
          doc['SizeRootFs'] = agent.images.store.get(c.imageId)?.size ?? 0;
        }
        json.push(JSON.stringify(doc));
      }
      return { json };
    }),
    ContainerLogs: serverStream(
      async (
        req: { id: string; follow: boolean; tail: number; since: number; until: number; stdout: boolean; stderr: boolean; attempts?: boolean; attach?: boolean; details?: boolean },
        call: ServerWritableStream<unknown, unknown>,
      ) => {
        const c = svc().resolve(req.id);
        if (!req.attach && !keepsLogs({ driver: c.spec.log_driver })) throw failedPrecondition(NO_LOGS_MESSAGE);
        const ac = new AbortController();
        call.on('cancelled', () => ac.abort());
        const wantStdout = req.stdout || (!req.stdout && !req.stderr);
        const wantStderr = req.stderr || (!req.stdout && !req.stderr);
        const keep = (l: LogLine) =>
          ((l.stream === 'stdout' && wantStdout) || (l.stream === 'stderr' && wantStderr)) &&
          (!req.since || l.timeNano >= req.since * 1e6) &&
          (!req.until || l.timeNano <= req.until * 1e6);
        const details = req.details
          ? Buffer.from(`${logAttributes({ driver: c.spec.log_driver, options: c.spec.log_options }, c.config.labels, c.config.env)} `)
          : undefined;
        const send = (l: LogLine) => call.write({ stream: l.stream, data: details ? Buffer.concat([details, l.data]) : l.data, time_nano: l.timeNano });
        // History first (for --tail), then, with -f, lines as they come.
        const history: LogLine[] = [];
        const end = await followLog(c.logPath, { offset: 0, live: () => false, onLines: (ls) => void history.push(...ls.filter(keep)) });
        const shown = req.tail >= 0 ? history.slice(Math.max(0, history.length - req.tail)) : history;
        for (const l of shown) send(l);
        if (!req.follow) return;
        const onLines = (ls: LogLine[]) => {
          for (const l of ls) if (keep(l)) send(l);
          if (req.until && Date.now() > req.until) return false;
        };
        if (req.attempts) return followAttempts(svc(), c.id, c.logPath, end, onLines, (code) => call.write({ stream: '', time_nano: Date.now() * 1e6, exited: true, exit_code: code }), ac.signal);
        const running = () => {
          const cur = svc().tryResolve(c.id);
          return !!cur && (cur.state.status === 'running' || cur.state.status === 'paused' || cur.state.status === 'restarting');
        };
        await followLog(c.logPath, { offset: end, live: running, signal: ac.signal, onLines });
      },
    ),
    ContainerAttach: (call: ServerDuplexStream<any, any>) => void attach(agent, call),
    ContainerExec: (call: ServerDuplexStream<any, any>) => void exec(agent, call),
    ContainerExecRun: unary((req: { id: string; exec: ExecSpec }) => execRun(agent, req.id, req.exec)),
    ContainerWait: unary(async (req: { id: string; condition: string }, call) => {
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort());
      const exit_code = await svc().wait(req.id, req.condition || 'not-running', ac.signal);
      return { exit_code, error: '' };
    }),
    ContainerPrune: unary(async (req: { filters: Filter[] }) => {
      const r = await svc().prune(req.filters);
      return { deleted: r.deleted, space_reclaimed: r.reclaimed };
    }),
    ContainerResize: unary(async (req: { id: string; exec_id: string; height: number; width: number }) => {
      const c = svc().resolve(req.id);
      if (!req.exec_id) await agent.runtime.resize(c.id, { height: req.height, width: req.width });
      else await agent.containers.resizeExec(req.exec_id, { height: req.height, width: req.width });
      return {};
    }),

    // ----- networks -----
    NetworkCreate: unary(
      async (req: { name: string; driver: string; subnet: string; gateway: string; ip_range: string; internal: boolean; attachable: boolean; labels: Record<string, string>; options: Record<string, string> }) => {
        if (req.driver && req.driver !== 'bridge') throw notFound(`plugin "${req.driver}" not found`);
        const info = await agent.networks.createNetwork({
          name: req.name,
          driver: 'bridge',
          subnet: req.subnet || undefined,
          gateway: req.gateway || undefined,
          ipRange: req.ip_range || undefined,
          internal: req.internal,
          attachable: req.attachable,
          labels: req.labels,
          options: req.options,
        });
        agent.events.emit('network', 'create', info.id, { name: info.name, type: 'bridge' });
        return { id: info.id, warning: '' };
      },
    ),
    NetworkList: unary(async (req: { filters: Filter[] }) => {
      const nets = await agent.networks.listNetworks();
      const out = nets.filter((n) =>
        req.filters.every((f) =>
          f.values.some((v) => {
            switch (f.key) {
              case 'name':
                return n.name.includes(v);
              case 'id':
                return n.id.startsWith(v);
              case 'driver':
                return n.driver === v;
              case 'label':
                return matchLabel(n.labels, v);
              case 'type':
                return v === 'builtin' ? ['bridge', 'host', 'none'].includes(n.name) : !['bridge', 'host', 'none'].includes(n.name);
              case 'scope':
                return v === 'local';
              case 'dangling':
                return (v === 'true') === (n.containers.length === 0 && !['bridge', 'host', 'none'].includes(n.name));
              default:
                throw invalidArgument(`invalid filter '${f.key}'`);
            }
          }),
        ),
      );
      return {
        networks: out.map((n) => ({
          id: n.id,
          name: n.name,
          driver: n.driver,
          scope: n.scope,
          created: Date.parse(n.created) || 0,
          internal: n.internal,
          labels: n.labels,
          subnet: n.ipam?.subnet ?? '',
        })),
      };
    }),
    NetworkInspect: unary(async (req: { names: string[] }) => {
      const json: string[] = [];
      for (const name of req.names) {
        const n = await agent.networks.inspectNetwork(name);
        json.push(
          JSON.stringify({
            Name: n.name,
            Id: n.id,
            Created: n.created,
            Scope: n.scope,
            Driver: n.driver,
            EnableIPv6: false,
            IPAM: { Driver: 'default', Options: {}, Config: n.ipam ? [{ Subnet: n.ipam.subnet, Gateway: n.ipam.gateway, ...(n.ipam.ipRange ? { IPRange: n.ipam.ipRange } : {}) }] : [] },
            Internal: n.internal,
            Attachable: n.attachable,
            Ingress: false,
            ConfigFrom: { Network: '' },
            ConfigOnly: false,
            Containers: goMap(
              Object.fromEntries(
                (n.driver === 'bridge' ? n.containers : pseudoNetworkMembers(agent, n.name)).map((e) => [
                  e.containerId,
                  { Name: agent.containers.tryResolve(e.containerId)?.name ?? '', EndpointID: e.endpointId, MacAddress: e.macAddress, IPv4Address: e.ipv4Address, IPv6Address: '' },
                ]),
              ),
            ),
            Options: goMap({ ...n.options, ...(n.bridge ? { 'com.docker.network.bridge.name': n.bridge } : {}) }),
            Labels: goMap(n.labels),
          }),
        );
      }
      return { json };
    }),
    NetworkRemove: unary(async (req: { names: string[]; force: boolean }) => {
      const removed: string[] = [];
      const errors: string[] = [];
      for (const name of req.names) {
        try {
          const n = await agent.networks.inspectNetwork(name);
          const users = agent.containers.list().filter((c) => c.networks.includes(n.name));
          // A pre-defined network is refused as such, in use or not (the network manager's words).
          if (users.length > 0 && !['bridge', 'host', 'none'].includes(n.name)) throw conflict(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
          await agent.networks.removeNetwork(name);
          agent.events.emit('network', 'destroy', n.id, { name: n.name, type: 'bridge' });
          removed.push(name);
        } catch (err) {
          // `network rm -f`: a network that does not exist is no error.
          if (req.force && isKind(err, 'NotFound')) continue;
          errors.push((err as Error).message);
        }
      }
      return { removed, errors };
    }),
    NetworkConnect: unary(async (req: { network: string; container: string; aliases: string[]; ipv4_address: string }) => {
      await agent.containers.connectNetwork(req.container, req.network, req.aliases, req.ipv4_address);
      return {};
    }),
    NetworkDisconnect: unary(async (req: { network: string; container: string; force: boolean }) => {
      // `-f` for a container that is gone: Docker's ForceEndpointDelete, the endpoint it left.
      if (req.force && !agent.containers.tryResolve(req.container)) {
        const removed = await agent.networks.removeStaleEndpoints(req.network, req.container, (id) => agent.containers.tryResolve(id) !== undefined);
        if (removed === 0) throw notFound(`endpoint ${req.container} not found`);
        return {};
      }
      await agent.containers.disconnectNetwork(req.container, req.network);
      return {};
    }),
    NetworkPrune: unary(async (req: { filters: Filter[] }) => {
      const selected = pruneSelector(req.filters);
      const used = new Set(agent.containers.list().flatMap((c) => c.networks));
      const deleted: string[] = [];
      for (const n of await agent.networks.listNetworks()) {
        if (['bridge', 'host', 'none'].includes(n.name) || used.has(n.name) || n.containers.length > 0 || !selected(Date.parse(n.created), n.labels)) continue;
        await agent.networks.removeNetwork(n.id);
        agent.events.emit('network', 'destroy', n.id, { name: n.name, type: 'bridge' });
        deleted.push(n.name);
      }
      return { deleted, space_reclaimed: 0 };
    }),

    // ----- volumes -----
    VolumeCreate: unary(async (req: { name: string; driver: string; labels: Record<string, string>; options: Record<string, string> }) => ({
      json: JSON.stringify(await agent.volumes.create({ name: req.name || undefined, driver: req.driver || undefined, labels: req.labels, options: req.options })),
    })),
    VolumeList: unary(async (req: { filters: Filter[] }) => {
      const vols = await agent.volumes.list({ filters: req.filters });
      return {
        volumes: vols.map((v) => ({
          name: v.Name,
          driver: v.Driver,
          mountpoint: v.Mountpoint,
          labels: v.Labels,
          scope: v.Scope,
          created: Date.parse(v.CreatedAt) || 0,
          size: v.UsageData?.Size ?? -1,
          ref_count: v.UsageData?.RefCount ?? 0,
        })),
        warnings: [],
      };
    }),
    VolumeInspect: unary(async (req: { names: string[] }) => {
      const json: string[] = [];
      for (const n of req.names) json.push(JSON.stringify(await agent.volumes.inspect(n)));
      return { json };
    }),
    VolumeRemove: unary(async (req: { names: string[]; force: boolean }) => {
      const removed: string[] = [];
      const errors: string[] = [];
      for (const n of req.names) {
        try {
          await agent.volumes.remove(n, { force: req.force });
          removed.push(n);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      return { removed, errors };
    }),
    VolumePrune: unary(async (req: { all: boolean; filters: Filter[] }) => {
      // `all` comes as the request's flag (our CLI) or as Docker's API filter `all=true`; the
      // service reads the filter itself.
      const r = await agent.volumes.prune({ filters: req.filters, all: req.all });
      return { deleted: r.deleted, space_reclaimed: r.reclaimed };
    }),
  };
}

/**
 * The containers on `host` or `none`, which the network manager does not track (it makes no
 * endpoint for them): those running there, as Docker lists them, with no address.
 */
function pseudoNetworkMembers(agent: Agent, network: string): NetworkEndpointView[] {
  return agent.containers
    .list()
    .filter((c) => (c.state.status === 'running' || c.state.status === 'paused') && c.endpoints[network])
    .map((c) => ({ containerId: c.id, endpointId: c.endpoints[network]!.endpointId ?? '', names: [], ipv4Address: '', macAddress: '', ports: [] }));
}

function filterContainers(agent: Agent, list: ContainerRecord[], filters: Filter[], all: boolean): ContainerRecord[] {
  const hasStatus = filters.some((f) => f.key === 'status');
  const known = ['status', 'name', 'label', 'ancestor', 'health', 'id', 'exited', 'network', 'volume', 'before', 'since', 'publish', 'expose', 'label!'];
  for (const f of filters) if (!known.includes(f.key)) throw invalidArgument(`invalid filter '${f.key}'`);
  // Docker's states; a status that is none of them is refused rather than matching nothing.
  const states = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
  for (const f of filters) for (const v of f.key === 'status' ? f.values : []) if (!states.includes(v)) throw invalidArgument(`invalid filter 'status=${v}'`);
  const byRef = (v: string) => agent.containers.resolve(v).created;
  return list.filter((c) => {
    if (!all && !hasStatus && c.state.status !== 'running' && c.state.status !== 'paused' && c.state.status !== 'restarting') return false;
    return filters.every((f) =>
      f.values.some((v) => {
        switch (f.key) {
          case 'status':
            return c.state.status === v;
          case 'name':
            // Docker matches against the name with its leading slash: `name=^/web$` is exact.
            return new RegExp(v).test(`/${c.name}`);
          case 'label':
            return matchLabel(c.config.labels, v);
          case 'label!':
            return !matchLabel(c.config.labels, v);
          case 'ancestor': {
            try {
              return agent.images.resolve(v).id === c.imageId || c.image === v;
            } catch {
              return c.image === v;
            }
          }
          case 'health':
            return (c.state.health?.status ?? 'none') === v && (v === 'none' || c.state.status === 'running');
          case 'id':
            return c.id.startsWith(v);
          case 'exited':
            return c.state.status === 'exited' && String(c.state.exitCode) === v;
          case 'network':
            // By name, as the container's networks are named in inspect, or by ID (a prefix).
            return (
              c.networks.includes(v) ||
              ((c.networkMode === 'host' || c.networkMode === 'none') && c.networkMode === v) ||
              Object.values(c.endpoints).some((e) => e.networkId.startsWith(v))
            );
          case 'volume':
            return c.mounts.some((m) => m.source === v || m.target === v);
          case 'before':
            return c.created < byRef(v);
          case 'since':
            return c.created > byRef(v);
          case 'publish':
            return c.ports.some((p) => `${p.hostPort}` === v.split('/')[0] || `${p.hostPort}/${p.protocol}` === v);
          case 'expose':
            return c.config.exposedPorts.some((p) => p === v || p.split('/')[0] === v);
          default:
            return false;
        }
      }),
    );
  });
}

/**
 * Attach: output is read from the container's log (so nothing written before the client got
 * here is lost, even for `run` of a process that exits at once); stdin goes to the process
 * through the supervisor's attach socket. The stream ends with the exit code.
 */
async function attach(agent: Agent, call: ServerDuplexStream<any, any>): Promise<void> {
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort());
  call.on('error', () => ac.abort());
  try {
    const first = await nextMessage(call);
    const open = first?.open as AttachOpen | undefined;
    if (!open) throw invalidArgument('attach: the first message must name the container');
    const svc = agent.containers;
    const c = svc.resolve(open.id);
    call.sendMetadata(new Metadata());
    // Docker announces every attach (`run` without -d: create, attach, start).
    agent.events.emit('container', 'attach', c.id, eventAttributes(c));
    const startOffset = open.logs ? 0 : await logSize(c.logPath);
    const startedBefore = c.state.startedAt;
    let lastExitCode = c.state.exitCode;
    const stopTracking = svc.track(c.id, (r) => (lastExitCode = r.state.exitCode));
    const errorBefore = c.state.finishedAt;
    // This attempt is over once the process ran and stopped, failed to start, or the container
    // is gone (--rm); the log is followed until then, through a descriptor opened right away.
    const attemptOver = () => {
      const cur = svc.tryResolve(c.id);
      if (!cur) return true;
      const ran = cur.state.startedAt !== startedBefore && cur.state.status !== 'running' && cur.state.status !== 'paused';
      const failed = cur.state.finishedAt !== errorBefore && cur.state.error !== '' && cur.state.status !== 'running';
      const alreadyDone = startedBefore > 0 && cur.state.startedAt === startedBefore && cur.state.status === 'exited' && cur.desired !== 'running';
      return ran || failed || alreadyDone;
    };
    let stdinStream: NodeJS.WritableStream | null = null;
    let streams: Awaited<ReturnType<typeof agent.runtime.attach>> | undefined;
    const connectStdin = async () => {
      if (!open.stdin || !c.spec.open_stdin) return;
      await svc.waitFor(() => attemptOver() || svc.tryResolve(c.id)?.state.status === 'running', ac.signal).catch(() => undefined);
      if (svc.tryResolve(c.id)?.state.status !== 'running') return;
      streams = await agent.runtime.attach(c.id).catch(() => undefined);
      stdinStream = streams?.stdin ?? null;
      for (const chunk of pendingStdin.splice(0)) stdinStream?.write(chunk);
      if (stdinClosed) stdinStream?.end();
    };
    const pendingStdin: Buffer[] = [];
    let stdinClosed = false;
    call.on('data', (msg: any) => {
      if (msg.stdin) {
        if (stdinStream) stdinStream.write(msg.stdin);
        else pendingStdin.push(msg.stdin);
      } else if (msg.stdin_close) {
        stdinClosed = true;
        stdinStream?.end();
      } else if (msg.resize) void agent.runtime.resize(c.id, { height: msg.resize.height, width: msg.resize.width }).catch(() => undefined);
    });
    call.resume();
    void connectStdin();
    const tty = c.spec.tty;
    await followLog(c.logPath, {
      offset: startOffset,
      live: () => !attemptOver(),
      ended: svc.waitFor(attemptOver, ac.signal).catch(() => undefined),
      passPartial: true,
      signal: ac.signal,
      onLines: (ls) => {
        for (const l of ls) call.write(l.stream === 'stderr' && !tty ? { stderr: l.data } : { stdout: l.data });
      },
    });
    stopTracking();
    streams?.close();
    if (ac.signal.aborted) return;
    const cur = svc.tryResolve(c.id);
    call.write({ exit_code: cur?.state.exitCode ?? lastExitCode });
    call.end();
  } catch (err) {
    if (err instanceof TsError && err.kind === 'Cancelled') return;
    call.emit('error', toServiceError(err));
  }
}

/** A new process in a running container, registered and announced as Docker's exec_start. */
async function startExec(agent: Agent, id: string, spec: ExecSpec) {
  const c = agent.containers.resolve(id);
  // Docker's three refusals, each saying what to do.
  if (c.state.status === 'paused') throw conflict(`Container ${c.id} is paused, unpause the container before exec`);
  if (c.state.status === 'restarting') throw conflict(`Container ${c.id} is restarting, wait until the container is running`);
  if (c.state.status !== 'running') throw conflict(`container ${c.id} is not running`);
  if (spec.cmd.length === 0) throw invalidArgument('No exec command specified');
  const rootfs = `/proc/${c.state.pid}/root`;
  // The container's --group-add holds for its execs too, as in Docker.
  const user = await resolveUser(rootfs, spec.user || c.config.user || undefined, c.spec.group_add);
  const env = [...c.config.env, ...spec.env];
  const session = await agent.runtime.exec(c.id, {
    args: spec.cmd,
    env,
    cwd: spec.working_dir || c.config.workingDir || undefined,
    user,
    tty: spec.tty,
    stdin: spec.stdin,
    detach: spec.detach,
    privileged: spec.privileged,
    consoleSize: spec.height && spec.width ? { height: spec.height, width: spec.width } : undefined,
  });
  agent.containers.registerExec(session);
  agent.events.emit('container', `exec_start: ${spec.cmd.join(' ')}`, c.id, eventAttributes(c, { execID: session.id }));
  return { c, session };
}

/** Output kept of a process run to its end: its last 64 KiB. */
const EXEC_RUN_OUTPUT = 64 << 10;

/** `ContainerExecRun`: the process to its end, no stdin, no terminal; exit code and output tail. */
async function execRun(agent: Agent, id: string, spec: ExecSpec): Promise<{ exit_code: number; output: Buffer }> {
  const { c, session } = await startExec(agent, id, { ...spec, tty: false, stdin: false, detach: false });
  let output = Buffer.alloc(0);
  const keep = (b: Buffer) => {
    output = Buffer.concat([output, b]);
    if (output.length > EXEC_RUN_OUTPUT) output = output.subarray(output.length - EXEC_RUN_OUTPUT);
  };
  session.streams?.stdout.on('data', keep);
  session.streams?.stderr.on('data', keep);
  try {
    const code = await session.exitCode;
    await session.streams?.closed.catch(() => undefined);
    agent.events.emit('container', 'exec_die', c.id, eventAttributes(c, { execID: session.id, exitCode: String(code) }));
    return { exit_code: code, output };
  } finally {
    agent.containers.unregisterExec(session.id);
  }
}

async function exec(agent: Agent, call: ServerDuplexStream<any, any>): Promise<void> {
  try {
    const first = await nextMessage(call);
    const open = first?.open as AttachOpen | undefined;
    const spec = open?.exec as ExecSpec | undefined;
    if (!open || !spec) throw invalidArgument('exec: the first message must carry the exec spec');
    call.sendMetadata(new Metadata());
    const { c, session } = await startExec(agent, open.id, spec);
    call.write({ exec_id: session.id });
    if (spec.detach) {
      call.end();
      void session.exitCode.finally(() => agent.containers.unregisterExec(session.id));
      return;
    }
    const s = session.streams;
    call.on('data', (msg: any) => {
      if (msg.stdin && s?.stdin) s.stdin.write(msg.stdin);
      else if (msg.stdin_close && s?.stdin) s.stdin.end();
      else if (msg.resize) void session.resize({ height: msg.resize.height, width: msg.resize.width }).catch(() => undefined);
    });
    call.resume();
    call.on('cancelled', () => s?.close());
    s?.stdout.on('data', (b: Buffer) => call.write({ stdout: b }));
    s?.stderr.on('data', (b: Buffer) => call.write({ stderr: b }));
    const code = await session.exitCode;
    await s?.closed.catch(() => undefined);
    agent.containers.unregisterExec(session.id);
    agent.events.emit('container', 'exec_die', c.id, eventAttributes(c, { execID: session.id, exitCode: String(code) }));
    call.write({ exit_code: code });
    call.end();
  } catch (err) {
    call.emit('error', toServiceError(err));
  }
}

function nextMessage(call: ServerDuplexStream<any, any>): Promise<any> {
  return new Promise((resolve, reject) => {
    const onData = (m: any) => {
      // Paused until the caller listens: what follows the first message (stdin sent at once)
      // would otherwise flow out to no listener while the caller sets up.
      call.pause();
      cleanup();
      resolve(m);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      call.off('data', onData);
      call.off('end', onEnd);
      call.off('error', onError);
    };
    call.on('data', onData);
    call.on('end', onEnd);
    call.on('error', onError);
  });
}


/**
 * Follows a container's log run by run: each run's lines until its process exits, then, when the
 * restart policy starts it again, `onExit(code)` and the next run's lines; ends with the last run.
 * All runs write one log file, and a run's lines are all written before its exit is recorded, so
 * where one run's follow stopped is where the next run's lines begin.
 */
async function followAttempts(
  svc: ContainerService,
  id: string,
  file: string,
  from: number,
  onLines: (ls: LogLine[]) => boolean | void,
  onExit: (code: number) => void,
  signal: AbortSignal,
): Promise<void> {
  const state = () => svc.tryResolve(id)?.state;
  let offset = from;
  for (let first = true; ; first = false) {
    const at = state();
    if (!at) return;
    const startedAt = at.startedAt;
    // Followed between two runs: the history just sent ends with the run the policy restarts.
    let ran = first && at.status === 'restarting';
    // The run's exit code when its policy restarts it, seen at the change that ended it (every
    // change is observed: the next run resets the code).
    let restartCode: number | undefined;
    const over = () => {
      const s = state();
      if (s && s.startedAt === startedAt && (s.status === 'running' || s.status === 'paused')) {
        ran = true;
        return false;
      }
      if (s && s.startedAt === startedAt && s.status === 'restarting') restartCode ??= s.exitCode;
      return true;
    };
    // The waits of this run end with it (a waiter's abort listener stays until its signal fires).
    const thisRun = new AbortController();
    const waitSignal = AbortSignal.any([signal, thisRun.signal]);
    let s: ReturnType<typeof state>;
    try {
      const ended = svc.waitFor(over, waitSignal).catch(() => undefined);
      offset = await followLog(file, { offset, live: () => !over(), ended, signal, onLines });
      if (signal.aborted || restartCode === undefined) return;
      if (ran) onExit(restartCode);
      await svc.waitFor(() => state()?.status !== 'restarting', waitSignal).catch(() => undefined);
      s = state();
    } finally {
      thisRun.abort();
    }
    if (signal.aborted || !s) return;
    if (s.status !== 'running' && s.status !== 'paused') {
      // The restart was cancelled or failed to start: what is left is the last of the log.
      await followLog(file, { offset, live: () => false, signal, onLines });
      return;
    }
  }
}

/** The image a name leads to now, if any: an ID prefix that has become ambiguous leads nowhere. */
function imageNamedBy(agent: Agent, name: string): string | undefined {
  try {
    return agent.images.store.tryResolve(name)?.id;
  } catch {
    return undefined;
  }
}
