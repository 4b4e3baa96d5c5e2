/**
 * `tscompose daemon`: the long-running process that owns this host's engine (the agent) and,
 * later, the manager's state. It serves the CLI over gRPC on a unix socket.
 */
import { promises as fsp, constants as fsc, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { failedPrecondition, invalidArgument, messageOf } from '../common/errors';
import { loadGrpc, loadProtos } from '../common/rpc/proto';
import { createReclaimer, type Reclaimer } from './daemon-memory';
import { resolveCertsDirs, resolveDataRoot, resolveHost, socketPath } from './env';

export interface DaemonFlags {
  dataRoot?: string;
  host?: string;
  debug?: boolean;
  configFile?: string;
}

interface DaemonJson {
  'registry-mirrors'?: string[];
  'insecure-registries'?: string[];
  'max-concurrent-downloads'?: number;
  'max-concurrent-uploads'?: number;
}

export async function runDaemon(flags: DaemonFlags): Promise<void> {
  const dataRoot = path.resolve(resolveDataRoot(flags.dataRoot));
  const host = resolveHost(flags.host);
  const sock = socketPath(host);
  await fsp.mkdir(dataRoot, { recursive: true, mode: 0o711 });
  await fsp.mkdir(path.dirname(sock), { recursive: true });
  const releasePid = await acquirePidFile(path.join(dataRoot, 'tscompose.pid'));

  const config = await readDaemonJson(flags.configFile ?? path.join(dataRoot, 'daemon.json'), flags.configFile !== undefined);
  const { Agent, withDefaults, registerEngineService, engineHandlers } = await import('../agent/index');
  const agent = new Agent(
    withDefaults({
      dataRoot,
      registryMirrors: config['registry-mirrors'],
      insecureRegistries: config['insecure-registries'],
      certsDirs: resolveCertsDirs(),
      maxConcurrentDownloads: config['max-concurrent-downloads'],
      maxConcurrentUploads: config['max-concurrent-uploads'],
    }),
  );
  await agent.start();

  const grpc = await loadGrpc();
  const protos = await loadProtos();
  const engine = (protos['tscompose'] as any).engine.v1.Engine;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
  });
  widenFlowControlWindows(server);
  registerEngineService(server, engine.service, agent);
  const reclaimer = createReclaimer();

  // ----- manager: Compose projects. It reaches this host's agent through the Engine API, never
  // through agent internals: the same handlers the socket serves, called in process (each message
  // through the contract's codecs, as on the wire), which spares every call of `up`, `down` and
  // `ps` a round trip over our own socket. A remote node's agent is an Engine client instead.
  const { setupManager, EngineAgentConnection } = await import('../manager/index');
  const managerService = (protos['tscompose'] as any).manager.v1.Manager;
  await setupManager(server, managerService.service, {
    dataRoot,
    connectLocalAgent: async () => {
      const [{ InProcessCaller }, { loadServiceMethods }] = await Promise.all([import('../common/rpc/in-process'), import('../common/rpc/proto')]);
      const methods = (await loadServiceMethods('tscompose.engine.v1.Engine')) as unknown as Record<string, import('../common/rpc/in-process').CodecMethod>;
      return new EngineAgentConnection(new InProcessCaller(methods, countedAsActivity(engineHandlers(agent), reclaimer)));
    },
  });
  // ----- end manager

  await fsp.rm(sock, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  watchSessions(server, reclaimer, !!flags.debug);
  await fsp.chmod(sock, 0o660).catch(() => undefined);
  agent.events.emit('daemon', 'start', dataRoot, { name: 'tscompose' });
  log(`tscompose daemon listening on unix://${sock} (data root ${dataRoot}, pid ${process.pid})`);
  // What starting up left behind (module loading, the containers' restore) goes before the first request.
  reclaimer.now();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`received ${signal}, shutting down`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 3000);
      server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
    await agent.stop();
    await fsp.rm(sock, { force: true });
    await releasePid();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => undefined);
}

/**
 * HTTP/2 flow control: with the default 64 KB windows, a client streaming an image (`image
 * load`, `import`) may have only 64 KB in flight, and the transfer over the local socket is
 * bound by round trips. grpc-js has no server option for this, so its (stable, but private)
 * fields are used when present; without them the defaults stay, only slower.
 */
const FLOW_WINDOW = 8 << 20;

type GrpcServer = InstanceType<Awaited<ReturnType<typeof loadGrpc>>['Server']>;

function widenFlowControlWindows(server: GrpcServer): void {
  const opts = (server as unknown as { commonServerOptions?: { settings?: Record<string, unknown> } }).commonServerOptions;
  if (opts && typeof opts === 'object') opts.settings = { ...opts.settings, initialWindowSize: FLOW_WINDOW };
}

/**
 * Each connection gets the wide window, and each request's start and end (an HTTP/2 stream's)
 * tell the reclaimer the daemon is busy. With `--debug`, each request is logged as it begins and
 * ends, with its gRPC status and duration (as dockerd's debug log names each API call).
 */
function watchSessions(server: GrpcServer, reclaimer: Reclaimer, debug: boolean): void {
  const servers = (server as unknown as { http2Servers?: Map<import('node:events').EventEmitter, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const h2 of servers.keys()) {
    h2.on('session', (session: import('node:http2').Http2Session) => {
      try {
        session.setLocalWindowSize(FLOW_WINDOW);
      } catch {
        // an old Node: the connection keeps its default window
      }
    });
    h2.on('stream', (stream: import('node:http2').ServerHttp2Stream, headers: import('node:http2').IncomingHttpHeaders) => {
      reclaimer.activity();
      if (!debug) {
        stream.once('close', () => reclaimer.activity());
        return;
      }
      const method = String(headers[':path'] ?? '');
      const began = Date.now();
      log(`debug: calling ${method}`);
      stream.once('close', () => {
        reclaimer.activity();
        // An error without a body comes as a trailers-only response: its status is in the headers.
        // A stream the client cancelled first has sent neither (its fields are then undefined).
        const sent = stream as { sentTrailers?: Record<string, unknown>; sentHeaders?: Record<string, unknown> };
        const status = sent.sentTrailers?.['grpc-status'] ?? sent.sentHeaders?.['grpc-status'] ?? 'none (cancelled)';
        log(`debug: ${method} ended with status ${String(status)} after ${Date.now() - began} ms`);
      });
    });
  }
}

/** Unary calls of the agent's that answer when something happens, not when work is done. */
const WAITING_CALLS = new Set(['ContainerWait']);

/**
 * The manager's calls to this host's agent count as requests, from their start to their answer:
 * an `up` is one request of the CLI's but hundreds of the agent's, all begun at once and answered
 * over seconds. Its memory must not be given back (then taken again, page by page) meanwhile.
 */
function countedAsActivity<H extends Record<string, (...args: never[]) => unknown>>(handlers: H, reclaimer: Reclaimer): H {
  type Untyped = (call: unknown, callback?: (...result: unknown[]) => void) => unknown;
  const counted: Record<string, Untyped> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, Untyped][]) {
    counted[name] = (call, callback) => {
      if (typeof callback !== 'function' || WAITING_CALLS.has(name)) {
        reclaimer.activity();
        return handler(call, callback);
      }
      const end = reclaimer.begin();
      try {
        return handler(call, (...result) => {
          end();
          callback(...result);
        });
      } catch (err) {
        end();
        throw err;
      }
    };
  }
  return counted as unknown as H;
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

async function readDaemonJson(file: string, required: boolean): Promise<DaemonJson> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw invalidArgument(`daemon: cannot read config file ${file}: ${messageOf(err)}`);
  }
  try {
    return JSON.parse(text) as DaemonJson;
  } catch (err) {
    throw invalidArgument(`daemon: config file ${file} is not valid JSON: ${messageOf(err)}`);
  }
}

/**
 * One daemon per data root: the pid file is created exclusively; a stale one (its process gone)
 * is replaced.
 */
async function acquirePidFile(file: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(file, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        const cur = await fsp.readFile(file, 'utf8').catch(() => '');
        if (cur.trim() === String(process.pid)) await fsp.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fsp.readFile(file, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw failedPrecondition(`daemon: another daemon (pid ${pid}) is using data root ${path.dirname(file)}`);
      }
      await fsp.rm(file, { force: true });
    }
  }
  throw failedPrecondition(`daemon: could not take the pid file ${file}`);
}

/**
 * A killed daemon stays a zombie until its parent reaps it; `kill -9` then an immediate CLI call
 * must not take that zombie for a live daemon.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
