/**
 * The Engine gRPC service (proto/engine.proto) over the agent. Handlers translate messages to
 * calls and results back; they hold no logic of their own.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import { Writable } from 'node:stream';
import type { Server, ServiceDefinition, ServerWritableStream } from '@grpc/grpc-js';
import type { Agent } from '../agent';
import type { EngineEvent } from '../events';
import { bytesOf, clientStream, serverStream, unary, type Handlers } from './grpc-util';
import { invalidArgument } from '../../common/errors';
import { readKernelFile } from '../../common/fsutil';
import { summarize } from '../container/views';
import { pruneSelector } from '../image/service';
import { noteTransientBytes, STREAM_CHUNK } from '../../common/transient';
import { VERSION, API_VERSION } from '../version';
import { engineAreas } from './areas';

interface Filter {
  key: string;
  values: string[];
}

function toEventMessage(e: EngineEvent) {
  return { type: e.type, action: e.action, actor_id: e.actorId, attributes: e.attributes, scope: e.scope, time_nano: e.timeNano };
}

/**
 * Registers the Engine service. Each area (images here, containers, registries…) contributes its
 * own handler map; together they must cover every RPC of proto/engine.proto.
 */
export function registerEngineService(server: Server, service: ServiceDefinition, agent: Agent): void {
  server.addService(service, engineHandlers(agent));
}

/** Every area's handlers in one map; test/agent/engine-api.test.ts checks it covers the contract. */
export function engineHandlers(agent: Agent): Handlers {
  return Object.assign({}, imageAndSystemHandlers(agent), ...engineAreas(agent));
}

function imageAndSystemHandlers(agent: Agent): Handlers {
  const images = agent.images;
  return {
    Version: unary(async () => ({
      version: VERSION,
      api_version: API_VERSION,
      git_commit: process.env['TSCOMPOSE_GIT_COMMIT'] ?? '',
      node_version: process.version,
      os: process.platform,
      arch: process.arch,
      kernel_version: os.release(),
      started_at: agent.startedAt,
      pid: process.pid,
      data_root: agent.options.dataRoot,
      components: await agent.runtime.componentVersions(),
    })),

    Info: unary(async () => ({ json: JSON.stringify(await infoDocument(agent)) })),

    ImageList: unary(async (req: { all: boolean; filters: Filter[]; reference: string }) => {
      const list = await images.list({ all: req.all, filters: req.filters, reference: req.reference || undefined });
      return {
        images: list.map((i) => ({
          id: i.id,
          repo_tags: i.repoTags,
          repo_digests: i.repoDigests,
          created: i.created,
          size: i.size,
          shared_size: i.sharedSize,
          unique_size: i.uniqueSize,
          containers: i.containers,
          labels: i.labels,
          parent_id: i.parentId,
        })),
      };
    }),

    ImageInspect: unary(async (req: { names: string[]; ignore_missing: boolean }) => {
      const json: string[] = [];
      for (const name of req.names) {
        try {
          json.push(JSON.stringify(await images.inspect(name)));
        } catch (err) {
          if (!req.ignore_missing) throw err;
        }
      }
      return { json };
    }),

    ImageHistory: unary(async (req: { name: string }) => ({
      entries: (await images.history(req.name)).map((h) => ({
        id: h.id,
        created: h.created,
        created_by: h.createdBy,
        size: h.size,
        comment: h.comment,
        tags: h.tags,
        empty_layer: h.emptyLayer,
      })),
    })),

    ImageTag: unary(async (req: { source: string; target: string }) => {
      await images.tag(req.source, req.target);
      return {};
    }),

    ImageRemove: unary(async (req: { names: string[]; force: boolean; no_prune: boolean }) => {
      const lines: string[] = [];
      const errors: string[] = [];
      for (const name of req.names) {
        try {
          lines.push(...(await images.remove(name, { force: req.force, noPrune: req.no_prune })));
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      return { lines, errors };
    }),

    ImagePrune: unary(async (req: { all: boolean; filters: Filter[] }) => {
      const r = await images.prune({ all: req.all, filters: req.filters });
      return { deleted: r.deleted, space_reclaimed: r.reclaimed };
    }),

    // Archives (and tar-stream) load on first use: an idle daemon doesn't hold them.
    ImageLoad: clientStream(async (call) => {
      const { loadArchive } = await import('../image/archive');
      return { lines: await loadArchive(images, bytesOf(call)) };
    }),

    ImageSave: serverStream(async (req: { names: string[] }, call: ServerWritableStream<unknown, { data: Buffer }>) => {
      const { saveArchive } = await import('../image/archive');
      await saveArchive(images, req.names, grpcByteSink(call));
    }),

    ImageImport: clientStream(async (call) => {
      const it = call[Symbol.asyncIterator]() as AsyncIterator<{ header?: { changes: string[]; reference: string; message: string; platform: string }; data?: Buffer }>;
      const first = await it.next();
      const header = first.done ? undefined : first.value.header;
      if (!header) throw invalidArgument('image import: the stream must start with a header');
      const rest = bytesOf({
        [Symbol.asyncIterator]: () => it,
      } as never);
      const { importImage } = await import('../image/import');
      const id = await importImage(images, rest, {
        changes: header.changes,
        reference: header.reference || undefined,
        message: header.message || undefined,
        platform: header.platform || undefined,
      });
      return { id };
    }),

    SystemDf: unary(async () => ({ json: JSON.stringify(await dfDocument(agent)) })),

    BuildCachePrune: unary(async (req: { all: boolean; filters: Filter[] }) => {
      // A record's time is its last use; records carry no labels, so `label=` selects none.
      const selected = pruneSelector(req.filters);
      const shared = layersOfImages(agent);
      const keys = await agent.buildCache.prune({ all: req.all, sharedLayer: (diffId) => shared.has(diffId), selected: (record) => selected(record.lastUsed, {}) });
      // Measured as image prune measures it: what the removed layers' files held.
      const reclaimed = keys.length > 0 ? (await images.gcMeasured()).reclaimed : 0;
      return { deleted: keys.map(cacheRecordId), space_reclaimed: reclaimed };
    }),

    Events: serverStream(async (req: { since: number; until: number; filters: Filter[] }, call: ServerWritableStream<unknown, unknown>) => {
      const now = Date.now();
      const sinceNano = req.since ? req.since * 1e6 : 0;
      const untilNano = req.until ? req.until * 1e6 : Infinity;
      if (req.since || req.until) {
        for (const e of agent.events.history(sinceNano, Math.min(untilNano, now * 1e6), req.filters)) call.write(toEventMessage(e));
        if (req.until && req.until <= now) return;
      }
      await new Promise<void>((resolve) => {
        const unsubscribe = agent.events.subscribe(req.filters, (e) => {
          if (e.timeNano > untilNano) return;
          call.write(toEventMessage(e));
        });
        const finish = () => {
          unsubscribe();
          clearTimeout(timer);
          resolve();
        };
        const timer = req.until ? setTimeout(finish, Math.max(0, req.until - Date.now())) : undefined;
        call.on('cancelled', finish);
        call.on('close', finish);
      });
    }),
  };
}

/** A Writable that forwards bytes as `{ data }` messages, honouring the call's backpressure. */
export function grpcByteSink(call: ServerWritableStream<unknown, { data: Buffer }>): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      noteTransientBytes(chunk.length);
      // Large chunks are split: each message is serialized into a Buffer of its own.
      let ok = true;
      for (let off = 0; off < chunk.length; off += STREAM_CHUNK) ok = call.write({ data: chunk.subarray(off, off + STREAM_CHUNK) });
      if (ok) cb();
      else call.once('drain', () => cb());
    },
  });
}

async function infoDocument(agent: Agent): Promise<Record<string, unknown>> {
  const cgroupV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const images = agent.images.store.images();
  const containers = agent.containers.list();
  const sysctl = (name: string) => readKernelFile(`/proc/sys/${name}`)?.trim() === '1';
  const osRelease = parseOsRelease(readKernelFile('/etc/os-release') ?? '');
  const components = await agent.runtime.componentVersions();
  const runcCommit = components.find((c) => c.name === 'runc')?.commit ?? '';
  // In the order and with the fields of Docker 20.10's `info`, truthful for this engine: no kernel
  // memory limits (refused), no default seccomp profile (none is applied unless asked), and
  // containers that outlive the daemon (live restore is how conmon supervises them).
  return {
    ID: agent.options.dataRoot,
    Containers: containers.length,
    ContainersRunning: containers.filter((c) => c.state.status === 'running' || c.state.status === 'restarting').length,
    ContainersPaused: containers.filter((c) => c.state.status === 'paused').length,
    ContainersStopped: containers.filter((c) => !['running', 'restarting', 'paused'].includes(c.state.status)).length,
    Images: images.length,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', 'extfs']],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'local', 'k8s-file'] },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: sysctl('net/ipv4/ip_forward'),
    BridgeNfIptables: sysctl('net/bridge/bridge-nf-call-iptables'),
    BridgeNfIp6tables: sysctl('net/bridge/bridge-nf-call-ip6tables'),
    Debug: false,
    NFd: readdirSync('/proc/self/fd').length,
    OomKillDisable: false,
    // Go's goroutine count has no equal here; the closest is the daemon's pending async work.
    NGoroutines: process.getActiveResourcesInfo().length,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroupV2 ? '2' : '1',
    NEventsListener: agent.events.listenerCount(),
    KernelVersion: os.release(),
    OperatingSystem: osRelease['PRETTY_NAME'] ?? 'Linux',
    OSVersion: osRelease['VERSION_ID'] ?? '',
    OSType: 'linux',
    Architecture: os.machine(),
    // Where login and pull go for names without a registry, as Docker reports it.
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['127.0.0.0/8', ...agent.options.insecureRegistries],
      IndexConfigs: {},
      Mirrors: agent.options.registryMirrors,
    },
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    GenericResources: null,
    DockerRootDir: agent.options.dataRoot,
    HttpProxy: process.env['HTTP_PROXY'] ?? process.env['http_proxy'] ?? '',
    HttpsProxy: process.env['HTTPS_PROXY'] ?? process.env['https_proxy'] ?? '',
    NoProxy: process.env['NO_PROXY'] ?? process.env['no_proxy'] ?? '',
    Name: os.hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: VERSION,
    Runtimes: { runc: { path: 'runc' } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: 'catatonit',
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: runcCommit, Expected: runcCommit },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: cgroupV2 ? ['name=cgroupns'] : [],
    Warnings: null,
  };
}

/** /etc/os-release's KEY=value lines (values unquoted). */
function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

async function dfDocument(agent: Agent): Promise<Record<string, unknown>> {
  const list = await agent.images.list({ all: true });
  const layersSize = (await agent.images.snapshots.listLayers()).reduce((n, l) => n + l.size, 0);
  const shared = layersOfImages(agent);
  return {
    LayersSize: layersSize,
    Images: list.map((i) => ({
      Id: i.id,
      ParentId: i.parentId,
      RepoTags: i.repoTags,
      RepoDigests: i.repoDigests,
      Created: Math.floor(i.created / 1000),
      Size: i.size,
      SharedSize: i.sharedSize,
      UniqueSize: i.uniqueSize,
      VirtualSize: i.size,
      Labels: i.labels,
      Containers: i.containers,
    })),
    // Newest first, as `container ls` and Docker's df list them.
    Containers: await Promise.all(
      [...agent.containers.list()].sort((a, b) => b.created - a.created).map(async (c) => {
        const s = summarize(c);
        return {
          Id: c.id,
          Names: [`/${c.name}`],
          Image: c.image,
          ImageID: c.imageId,
          Command: s.command,
          Created: Math.floor(c.created / 1000),
          State: c.state.status,
          // The client words the status ("Up 2 minutes") from these, as it does for `ps`.
          StartedAt: c.state.startedAt,
          FinishedAt: c.state.finishedAt,
          ExitCode: c.state.exitCode,
          SizeRw: await agent.containers.sizeRw(c),
          SizeRootFs: agent.images.store.get(c.imageId)?.size ?? 0,
          Labels: c.config.labels,
          Ports: s.ports.map((p) => ({ ...(p.ip ? { IP: p.ip } : {}), PrivatePort: p.private_port, ...(p.public_port ? { PublicPort: p.public_port } : {}), Type: p.type })),
          NetworkSettings: { Networks: Object.fromEntries(s.networks.map((n) => [n, {}])) },
          Mounts: c.mounts.map((m) => ({ Type: m.type, Name: m.type === 'volume' ? m.source : '', Source: m.type === 'volume' ? (m.hostPath ?? '') : m.source, Destination: m.target })),
        };
      }),
    ),
    Volumes: await Promise.all((await agent.volumes.list()).map((v) => agent.volumes.inspect(v.Name, { usage: true }))),
    BuildCache: (await agent.buildCache.entries()).map(([key, record]) => ({
      ID: cacheRecordId(key),
      Type: 'regular',
      Description: record.layer ? `layer ${record.layer.diffId}` : 'metadata',
      InUse: false,
      Shared: record.layer !== undefined && shared.has(record.layer.diffId),
      Size: record.layer?.size ?? 0,
      CreatedAt: record.created,
      LastUsedAt: new Date(record.lastUsed).toISOString(),
      UsageCount: 1,
    })),
  };
}

/** The diffIDs of every image's layers: a build cache record's layer among them takes no space of its own. */
function layersOfImages(agent: Agent): Set<string> {
  return new Set(agent.images.store.images().flatMap((i) => i.layers.map((l) => l.diffId)));
}

/** A cache record's ID as `builder prune` and `system df -v` show it: 25 characters, as BuildKit's. */
function cacheRecordId(key: string): string {
  return key.replace(/^sha256:/, '').slice(0, 25);
}
