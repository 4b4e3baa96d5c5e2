/**
 * One HTTP exchange with a registry (or with the storage it redirects to), on node's own
 * `http`/`https`. We do not use `fetch`: it cannot take a per-registry CA or client certificate
 * without the undici package, and it follows redirects itself, while we must drop credentials
 * when a blob redirect leaves the registry's origin.
 *
 * Also picks the scheme of a registry: HTTPS always, except for hosts allowed plain HTTP
 * (loopback, insecure registries), which use HTTP unless the server turns out to speak TLS.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { unavailable } from '../../common/errors';
import { secureContextFor } from '../../common/tls-trust';
import { isInsecureHost, type CompiledRegistryOptions } from './options';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  /** A factory, so a retried request can send its body again. */
  body?: Buffer | (() => Readable);
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  url: URL;
}

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** `https://host/` or `http://host/` for a registry `host[:port]`. */
  baseUrl(hostPort: string, signal?: AbortSignal): Promise<URL>;
  close(): void;
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_CHUNK_SIZE',
  'ERR_SOCKET_TIMEOUT',
]);

/** Errors worth retrying: the connection failed or broke, not the request. */
export function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if ((err as { name?: string }).name === 'AbortError') return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && NETWORK_ERROR_CODES.has(code)) return true;
  return err.message === 'socket hang up' || err.message === 'aborted';
}

function isTlsHandshakeError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return code === 'EPROTO' || code.startsWith('ERR_SSL_') || code === 'ECONNRESET' || code.startsWith('HPE_');
}

interface TlsMaterial {
  ca?: string[];
  cert?: string;
  key?: string;
}

export class NodeHttpTransport implements HttpTransport {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgents = new Map<string, { key: string; agent: https.Agent }>();
  private readonly schemes = new Map<string, Promise<URL>>();

  constructor(private readonly opts: CompiledRegistryOptions) {}

  baseUrl(hostPort: string, signal?: AbortSignal): Promise<URL> {
    let known = this.schemes.get(hostPort);
    if (!known) {
      known = this.chooseScheme(hostPort, signal);
      this.schemes.set(hostPort, known);
      // A probe that failed for a reason unrelated to the scheme is not remembered.
      known.catch(() => this.schemes.delete(hostPort));
    }
    return known;
  }

  /**
   * Probes with plain HTTP first: a TLS server answers that at once (Go's with a 400 saying so,
   * others by resetting or sending TLS bytes), whereas a TLS hello sent to a plain HTTP server may
   * go unanswered until a timeout.
   */
  private async chooseScheme(hostPort: string, signal?: AbortSignal): Promise<URL> {
    const secure = new URL(`https://${hostPort}/`);
    if (!isInsecureHost(this.opts, hostPort)) return secure;
    const plain = new URL(`http://${hostPort}/`);
    const ping = new URL('/v2/', plain);
    try {
      const res = await this.request({ method: 'GET', url: ping, ...(signal && { signal }) });
      if (res.status !== 400) {
        res.body.resume();
        return plain;
      }
      const text = (await readBody(res, 64 << 10)).toString('utf8');
      return /HTTPS server/i.test(text) ? secure : plain;
    } catch (err) {
      if (isTlsHandshakeError(err)) return secure;
      // Named as Docker names it: `Get "http://127.0.0.1:5000/v2/": connect ECONNREFUSED …`.
      if (isNetworkError(err)) throw unavailable(`Get "${ping.href}": ${(err as Error).message}`, err);
      throw err;
    }
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    const isHttps = req.url.protocol === 'https:';
    const headers: Record<string, string> = { 'User-Agent': this.opts.userAgent, ...req.headers };
    const body = req.body;
    if (Buffer.isBuffer(body)) headers['Content-Length'] = String(body.length);
    const options: https.RequestOptions = {
      method: req.method,
      headers,
      agent: isHttps ? this.httpsAgentFor(req.url.host) : this.httpAgent,
    };
    const signal = req.signal;
    return new Promise<HttpResponse>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      let response: http.IncomingMessage | undefined;
      const cr = (isHttps ? https : http).request(req.url, options, (res) => {
        response = res;
        // An abort can destroy the response before anyone reads it; its readers attach their own
        // error handling, but until then the 'error' event must not go unheard.
        res.on('error', () => undefined);
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: res.headers,
          body: res,
          url: req.url,
        });
      });
      cr.setTimeout(this.opts.idleTimeoutMs, () => {
        const err = new Error(`registry: ${req.method} ${req.url.host}: no response for ${this.opts.idleTimeoutMs} ms`);
        (err as NodeJS.ErrnoException).code = 'ETIMEDOUT';
        cr.destroy(err);
      });
      cr.on('error', reject);
      // The abort is wired by hand, not with the `signal` option: node applies that one even after
      // the exchange completed, destroying a socket already back in the pool (or serving another
      // request) with an error nobody listens to. This one ends with the request.
      cr.on('socket', (socket) => {
        // A socket the abort of a finished exchange reaches must not take the process down.
        if (guardedSockets.has(socket)) return;
        guardedSockets.add(socket);
        socket.on('error', () => undefined);
      });
      if (signal) {
        const onAbort = () => {
          // A complete response only needs reading to the end, which frees its socket.
          if (response?.complete) response.resume();
          else cr.destroy(abortError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        cr.once('close', () => signal.removeEventListener('abort', onAbort));
      }
      if (body === undefined) cr.end();
      else if (Buffer.isBuffer(body)) cr.end(body);
      else {
        const stream = body();
        stream.on('error', (err) => cr.destroy(err));
        sendCorked(stream, cr);
      }
    });
  }

  /** The pool of a registry's TLS connections, made again when its certs.d material changed. */
  private httpsAgentFor(hostPort: string): https.Agent {
    const material = this.tlsMaterial(hostPort);
    const key = JSON.stringify(material);
    const known = this.httpsAgents.get(hostPort);
    if (known?.key === key) return known.agent;
    known?.agent.destroy();
    const agent = new https.Agent({
      keepAlive: true,
      // Docker skips verification for registries allowed plain HTTP.
      rejectUnauthorized: !isInsecureHost(this.opts, hostPort),
      // The system's CAs (not only node's own list) and the registry's certs.d material.
      secureContext: secureContextFor(material),
    });
    this.httpsAgents.set(hostPort, { key, agent });
    return agent;
  }

  /**
   * Docker's certs.d: `*.crt` are extra CAs, `<name>.cert` + `<name>.key` a client certificate.
   * Read again at each request (a directory listing, and a few small files): a CA added for a
   * registry counts from its next request, without a daemon restart.
   */
  private tlsMaterial(hostPort: string): TlsMaterial {
    const hostDir = hostPort.replace(/[/\\]/g, '_');
    let dir = '';
    let names: string[] | undefined;
    for (const root of this.opts.certsDirs) {
      dir = path.join(root, hostDir);
      try {
        names = readdirSync(dir).sort();
        break;
      } catch {
        // No material for this registry here: the next directory, or none.
      }
    }
    if (!names) return {};
    const out: TlsMaterial = {};
    const cas = names.filter((n) => n.endsWith('.crt')).map((n) => readFileSync(path.join(dir, n), 'utf8'));
    if (cas.length) out.ca = cas;
    const certName = names.find((n) => n.endsWith('.cert'));
    if (certName) {
      const keyName = certName.replace(/\.cert$/, '.key');
      if (!names.includes(keyName))
        throw unavailable(`registry: missing key ${keyName} for client certificate ${certName} in ${dir}`);
      out.cert = readFileSync(path.join(dir, certName), 'utf8');
      out.key = readFileSync(path.join(dir, keyName), 'utf8');
    }
    return out;
  }

  close(): void {
    this.httpAgent.destroy();
    for (const { agent } of this.httpsAgents.values()) agent.destroy();
    this.httpsAgents.clear();
  }
}

const guardedSockets = new WeakSet<object>();

function abortError(): Error {
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  (err as NodeJS.ErrnoException).code = 'ABORT_ERR';
  return err;
}

/** Reads a whole (small) body, refusing more than `limit` bytes. */
export async function readBody(res: HttpResponse, limit = 4 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      res.body.destroy();
      throw unavailable(`registry: response from ${res.url.host} exceeds ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Discards a body we do not need, so the connection goes back to the pool. */
export function drain(res: HttpResponse): void {
  res.body.resume();
  res.body.on('error', () => undefined);
}

/** Bytes of a streamed body buffered before it waits for the socket. */
const BODY_BATCH = 1 << 20;

const onceSent = new WeakMap<Buffer, () => void>();

/**
 * Asks for `release` to be called once `chunk`, sent as (part of) a streamed request body, was
 * handed to the kernel: from then on nothing refers to its bytes, and the Buffer it views may be
 * filled again. Not called when the request fails first; whoever recycles must not rely on it.
 */
export function releaseWhenSent(chunk: Buffer, release: () => void): void {
  onceSent.set(chunk, release);
}

/**
 * Sends a streamed body as `pipe` would, but what arrives in one turn of the event loop goes out
 * in one writev: a pushed layer's gzip comes as 64 KB stored blocks and their 5-byte headers, and
 * written one by one they cost a syscall each, ~3500 for 200 MB, every one waking the receiver.
 * Corked, every write past the socket's small high-water mark says "wait"; the body waits only
 * once BODY_BATCH is buffered, which keeps memory bounded on a slow link too.
 */
function sendCorked(stream: Readable, cr: http.ClientRequest): void {
  let corked = false;
  let paused = false;
  const flush = () => {
    corked = false;
    cr.uncork();
  };
  stream.on('data', (chunk: Buffer) => {
    if (!corked) {
      corked = true;
      cr.cork();
      setImmediate(flush);
    }
    const release = onceSent.get(chunk);
    const accepted = release ? cr.write(chunk, release) : cr.write(chunk);
    if (!accepted && cr.writableLength >= BODY_BATCH && !paused) {
      paused = true;
      stream.pause();
      cr.once('drain', () => {
        paused = false;
        stream.resume();
      });
    }
  });
  stream.once('end', () => cr.end());
  cr.once('close', () => {
    if (!stream.readableEnded) stream.destroy();
  });
}
