/**
 * The CLI's side of the engine API: finds the daemon, starting one in the background when none
 * answers, and turns gRPC calls into promises and streams whose errors are TsErrors.
 *
 * The engine connection is an H2Client (gRPC over Node's own HTTP/2: no grpc-js to load at
 * start-up); EngineClient works as well over a grpc-js Client, as the Compose commands' Manager
 * connection is.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import { TsError, unavailable } from '../common/errors';
import { fromServiceError } from '../common/rpc/status';
import { loadServiceMethods } from '../common/rpc/proto';
import { H2Client } from '../common/rpc/h2-client';
import { daemonEnv } from './daemon-env';
import { resolveDataRoot, resolveHost, socketPath } from './env';

export interface ConnectOptions {
  host?: string;
  dataRoot?: string;
  /** Start a daemon when none answers (the default). */
  autoStart?: boolean;
}

type Unary = (req: unknown, cb: (err: ServiceError | null, res: unknown) => void) => unknown;

/** What EngineClient needs of a connection: a grpc-js Client or an H2Client. */
export interface RawClient {
  close(): void;
}

/** A connected engine client with typed-enough helpers. */
export class EngineClient {
  constructor(readonly raw: RawClient) {}

  call<Res = any>(method: string, req: unknown = {}): Promise<Res> {
    const fn = (this.raw as unknown as Record<string, Unary>)[method];
    if (!fn) throw new Error(`unknown engine method ${method}`);
    return new Promise<Res>((resolve, reject) => {
      fn.call(this.raw, req, (err, res) => (err ? reject(fromServiceError(err)) : resolve(res as Res)));
    });
  }

  /** A server stream as an async iterable; errors become TsErrors. */
  async *stream<Res = any>(method: string, req: unknown = {}, signal?: AbortSignal): AsyncGenerator<Res> {
    const fn = (this.raw as unknown as Record<string, (r: unknown) => NodeJS.ReadableStream & { cancel(): void }>)[method];
    if (!fn) throw new Error(`unknown engine method ${method}`);
    const call = fn.call(this.raw, req);
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort);
    try {
      for await (const msg of call as unknown as AsyncIterable<Res>) yield msg;
    } catch (err) {
      if ((err as { code?: number }).code === 1 && signal?.aborted) return;
      throw fromServiceError(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A client stream: `feed` writes messages, the promise resolves with the single reply. */
  clientStream<Res = any>(method: string, feed: (write: (msg: unknown) => Promise<void>) => Promise<void>): Promise<Res> {
    const fn = (this.raw as unknown as Record<string, (cb: (err: ServiceError | null, res: unknown) => void) => NodeJS.WritableStream>)[
      method
    ];
    if (!fn) throw new Error(`unknown engine method ${method}`);
    return new Promise<Res>((resolve, reject) => {
      let settled = false;
      const call = fn.call(this.raw, (err, res) => {
        settled = true;
        if (err) reject(fromServiceError(err));
        else resolve(res as Res);
      });
      const write = (msg: unknown) =>
        new Promise<void>((res) => {
          if (settled) return res();
          if (call.write(msg as never)) res();
          else call.once('drain', () => res());
        });
      feed(write).then(
        () => call.end(),
        (err: unknown) => {
          (call as unknown as { cancel(): void }).cancel();
          if (!settled) reject(err);
        },
      );
    });
  }

  /** Whether the daemon's contract has this method (the CLI may be newer or older than it). */
  hasMethod(method: string): boolean {
    return typeof (this.raw as unknown as Record<string, unknown>)[method] === 'function';
  }

  /**
   * A bidirectional stream. `ready` resolves once the server has sent its headers (or ended the
   * call), i.e. once the call is established on its side; `replies` iterates the
   * server's messages with errors as TsErrors; `cancel` ends the call quietly.
   */
  duplex<Res = any>(method: string): DuplexCall<Res> {
    const fn = (this.raw as unknown as Record<string, () => DuplexStream>)[method];
    if (!fn) throw new Error(`unknown engine method ${method}`);
    const call = fn.call(this.raw);
    let cancelled = false;
    let ended = false;
    const ready = new Promise<void>((resolve) => {
      // Headers come before any message, so waiting for them loses no output.
      call.once('metadata', () => resolve());
      call.once('status', () => resolve());
      call.once('error', () => resolve());
    });
    // Replies are read by async iteration; errors before that starts must not go unhandled.
    call.on('error', () => undefined);
    const replies = (async function* () {
      try {
        for await (const msg of call as unknown as AsyncIterable<Res>) yield msg;
      } catch (err) {
        if (cancelled) return;
        throw fromServiceError(err);
      }
    })();
    return {
      ready,
      replies,
      write: (msg: unknown) =>
        new Promise<void>((resolve) => {
          if (ended || cancelled) return resolve();
          if (call.write(msg)) resolve();
          else call.once('drain', () => resolve());
        }),
      end: () => {
        if (ended || cancelled) return;
        ended = true;
        call.end();
      },
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        call.cancel();
      },
    };
  }

  close(): void {
    this.raw.close();
  }
}

interface DuplexStream extends NodeJS.EventEmitter {
  write(msg: unknown): boolean;
  end(): void;
  cancel(): void;
}

export interface DuplexCall<Res> {
  ready: Promise<void>;
  replies: AsyncGenerator<Res>;
  write(msg: unknown): Promise<void>;
  /** Half-closes: no more client messages. */
  end(): void;
  cancel(): void;
}

/** HTTP/2 receive window: `image save` streams whole images to us (the daemon widens its own). */
const FLOW_WINDOW = 8 << 20;

export async function connect(opts: ConnectOptions = {}): Promise<EngineClient> {
  const host = resolveHost(opts.host);
  const sock = socketPath(host);
  const methods = await loadServiceMethods('tscompose.engine.v1.Engine');
  const make = () => new H2Client(sock, methods, { maxReceiveMessageLength: 64 << 20, flowWindow: FLOW_WINDOW });
  let client = make();
  if (existsSync(sock) && (await client.ready(2000))) return new EngineClient(client);
  client.close();
  // TSCOMPOSE_NO_AUTOSTART=1: a caller that runs its own daemon (a test, a CI job) never gets a
  // second one started behind its back, e.g. by a command still running after it stopped its own.
  if (opts.autoStart === false || process.env['TSCOMPOSE_NO_AUTOSTART'] === '1') {
    throw unavailable(`Cannot connect to the tscompose daemon at unix://${sock}. Is the daemon running?`);
  }
  const logFile = startDaemon(host, resolveDataRoot(opts.dataRoot));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(sock)) continue;
    client = make();
    if (await client.ready(1000)) return new EngineClient(client);
    client.close();
  }
  throw unavailable(`daemon did not start within 30s; see ${logFile}: ${tail(logFile)}`);
}

/**
 * The Manager service on the same socket, for a CLI that reached the daemon through connect():
 * an H2Client like the engine's, so Compose's verbs don't load grpc-js and parse the contracts.
 * Given that engine client, its calls go over the engine's connection: a second connection and
 * HTTP/2 handshake would cost the CLI and the daemon more than the `ps` call itself.
 */
export async function connectManager(opts: { host?: string } = {}, engine?: EngineClient): Promise<EngineClient> {
  const sock = socketPath(resolveHost(opts.host));
  const methods = await loadServiceMethods('tscompose.manager.v1.Manager');
  const via = engine?.raw instanceof H2Client ? engine.raw : undefined;
  return new EngineClient(new H2Client(sock, methods, { maxReceiveMessageLength: 64 << 20, flowWindow: FLOW_WINDOW }, via));
}

/** Starts `tscompose daemon` detached, logging to `<data-root>/daemon.log`. */
function startDaemon(host: string, dataRoot: string): string {
  mkdirSync(dataRoot, { recursive: true });
  const logFile = path.join(dataRoot, 'daemon.log');
  const fd = openSync(logFile, 'a');
  const script = process.argv[1] ?? '';
  const child = spawn(process.execPath, [script, 'daemon', '--host', host, '--data-root', dataRoot], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: daemonEnv(process.env),
  });
  child.unref();
  return logFile;
}

function tail(file: string): string {
  try {
    if (statSync(file).size === 0) return 'log is empty';
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines.at(-1) ?? '';
  } catch {
    return 'no log';
  }
}

export { TsError };
