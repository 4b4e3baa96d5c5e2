/**
 * A small gRPC client for the CLI, over the minimal HTTP/2 of h2-session.ts: loading grpc-js
 * (its channel stack, TLS, DNS resolvers, channelz…) costs every command ~30 ms of start-up, and
 * node:http2 ~25 ms; the CLI only ever talks to one daemon on a unix socket, without TLS,
 * deadlines, retries or load balancing.
 *
 * `H2Client` offers what the CLI's EngineClient uses of a grpc-js Client, with the same
 * semantics: one function per method (unary: `(req, cb)`, server stream: `(req)` → a readable
 * of messages, client stream: `(cb)` → a writable, bidi: `()` → a duplex), `cancel()` on every
 * call, 'metadata' when the server's headers arrive, and errors carrying the gRPC `code` and
 * `details` (the messages pushed before a failed status stay readable, as with grpc-js). The
 * message codecs are the method tables of rpc-codec.mjs (or proto-loader's, from source).
 */
import { Duplex } from 'node:stream';
import { H2_CANCEL, H2_NO_ERROR, H2_REFUSED_STREAM, H2Session, type H2Stream, type Headers } from './h2-session';

/** A method as grpc-js's ServiceDefinition describes it (rpc-codec.mjs and proto-loader alike). */
export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: unknown) => Buffer;
  responseDeserialize: (bytes: Buffer) => unknown;
}

export interface H2ClientOptions {
  /** Largest message accepted from the server, as grpc.max_receive_message_length. */
  maxReceiveMessageLength?: number;
  /** HTTP/2 receive window (per stream and for the connection). */
  flowWindow?: number;
}

export interface StatusObject {
  code: number;
  details: string;
}

/** The error a failed call reports: grpc-js's ServiceError shape. */
export type CallError = Error & StatusObject;

// gRPC status codes used here.
const OK = 0;
const CANCELLED = 1;
const UNKNOWN = 2;
const INTERNAL = 13;
const UNAVAILABLE = 14;
const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;
const STATUS_NAMES: Record<number, string> = {
  0: 'OK', 1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

export function callError(status: StatusObject): CallError {
  return Object.assign(new Error(`${status.code} ${STATUS_NAMES[status.code] ?? 'UNKNOWN'}: ${status.details}`), status);
}

/** One HTTP/2 connection to a gRPC server on a unix socket, reopened when it closes. */
export class H2Client {
  private session: H2Session | undefined;
  private active = 0;
  private closed = false;
  private readonly maxReceive: number;
  private readonly window: number;
  [method: string]: unknown;

  /**
   * `via`: another client to the same server whose connection this one's calls share (another
   * service on the same socket), while that client is open; its own connection otherwise.
   */
  constructor(
    readonly socketPath: string,
    methods: Record<string, MethodDefinition>,
    opts: H2ClientOptions = {},
    private readonly via?: H2Client,
  ) {
    this.maxReceive = opts.maxReceiveMessageLength ?? 4 << 20;
    this.window = opts.flowWindow ?? 65_535;
    for (const [name, def] of Object.entries(methods)) {
      if (name in this) continue;
      if (!def.requestStream && !def.responseStream) {
        this[name] = (req: unknown, cb: (err: CallError | null, res?: unknown) => void) => this.unary(def, req, cb);
      } else if (!def.requestStream) {
        this[name] = (req: unknown) => this.start(def, req);
      } else if (!def.responseStream) {
        this[name] = (cb: (err: CallError | null, res?: unknown) => void) => this.start(def, undefined, cb);
      } else {
        this[name] = () => this.start(def);
      }
    }
  }

  /** Connects (if not yet); true once the connection is up, false if it fails or `ms` pass. */
  ready(ms: number): Promise<boolean> {
    const session = this.connect();
    if (!session.connecting && !session.destroyed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        session.off('connect', onConnect);
        session.off('close', onClose);
        resolve(ok);
      };
      const onConnect = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      session.once('connect', onConnect);
      session.once('close', onClose);
    });
  }

  /**
   * No new calls; those in flight go on, but (as with a closed grpc-js channel) no longer keep
   * the process alive: a command that gave up waiting on one can exit.
   */
  close(): void {
    this.closed = true;
    this.session?.close();
    this.session?.unref();
    this.session = undefined;
  }

  private connect(): H2Session {
    if (this.session && !this.session.closed) return this.session;
    const session = new H2Session(this.socketPath, this.window);
    session.once('close', () => {
      if (this.session === session) this.session = undefined;
    });
    // An idle connection doesn't keep the process alive; a call in flight does.
    if (this.active === 0) session.unref();
    this.session = session;
    return session;
  }

  private open(def: MethodDefinition): H2Stream {
    if (this.closed) throw callError({ code: UNAVAILABLE, details: 'Channel has been shut down' });
    if (this.via && !this.via.closed) return this.via.open(def);
    const session = this.connect();
    const stream = session.request({
      ':method': 'POST',
      ':scheme': 'http',
      ':path': def.path,
      ':authority': 'localhost',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    if (this.active++ === 0) session.ref();
    stream.once('close', () => {
      if (--this.active === 0) session.unref();
    });
    return stream;
  }

  private unary(def: MethodDefinition, req: unknown, cb: (err: CallError | null, res?: unknown) => void): { cancel(): void } {
    const call = new Call(this, def, (err, res) => cb(err, res));
    call.begin(req, true);
    return call;
  }

  private start(def: MethodDefinition, req?: unknown, cb?: (err: CallError | null, res?: unknown) => void): Call {
    const call = new Call(this, def, cb);
    call.begin(req, !def.requestStream);
    return call;
  }

  /** @internal */
  _open(def: MethodDefinition): H2Stream {
    return this.open(def);
  }

  /** @internal */
  get _maxReceive(): number {
    return this.maxReceive;
  }
}

/**
 * One call: a duplex of messages. Client-streaming calls write messages and end; the reply
 * (unary and client-streaming) goes to the callback, streamed replies are read.
 */
class Call extends Duplex {
  private stream: H2Stream | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private reply: { value: unknown } | undefined;
  private status: StatusObject | undefined;
  private finished = false;
  private cancelledHere = false;

  constructor(
    private readonly client: H2Client,
    private readonly def: MethodDefinition,
    private readonly callback?: (err: CallError | null, res?: unknown) => void,
  ) {
    super({ objectMode: true });
    // Replies of unary and client-streaming calls go to the callback, not to readers.
    if (callback) this.on('error', () => undefined);
  }

  begin(req: unknown, single: boolean): void {
    let stream: H2Stream;
    try {
      stream = this.client._open(this.def);
    } catch (err) {
      process.nextTick(() => this.finish(toStatus(err)));
      return;
    }
    this.stream = stream;
    stream.on('response', (headers: Headers) => {
      if (headers['grpc-status'] !== undefined) this.status ??= statusOf(headers);
      else if (headers[':status'] !== '200') this.status ??= { code: UNKNOWN, details: `Received HTTP status code ${headers[':status']}` };
      else this.emit('metadata', headers);
    });
    stream.on('trailers', (trailers: Headers) => {
      this.status ??= statusOf(trailers);
    });
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    // A stream ended without trailers: the server failed it, or a daemon that died mid-call.
    stream.on('end', () => setImmediate(() => this.finish(this.status ?? this.endedWithoutStatus(stream))));
    stream.on('close', () => this.finish(this.status ?? this.closedStatus(stream)));
    if (single) {
      let body: Buffer;
      try {
        body = this.def.requestSerialize(req);
      } catch (err) {
        this.cancelWith({ code: INTERNAL, details: `Request message serialization failure: ${(err as Error).message}` });
        return;
      }
      stream.write(prefix(body));
      stream.end(body);
    }
  }

  private endedWithoutStatus(stream: H2Stream): StatusObject {
    if (stream.aborted) return { code: UNAVAILABLE, details: 'Connection dropped' };
    return { code: INTERNAL, details: 'Call ended without gRPC status' };
  }

  private closedStatus(stream: H2Stream): StatusObject {
    if (this.cancelledHere) return { code: CANCELLED, details: 'Cancelled on client' };
    if (stream.aborted) {
      const err = stream.connectError;
      return err
        ? { code: UNAVAILABLE, details: `No connection established. Last error: ${err.message}` }
        : { code: UNAVAILABLE, details: 'Connection dropped' };
    }
    if (stream.rstCode === H2_REFUSED_STREAM) return { code: UNAVAILABLE, details: 'Stream refused by server' };
    if (stream.rstCode === H2_CANCEL) return { code: UNAVAILABLE, details: 'Connection dropped' };
    if (stream.rstCode === H2_NO_ERROR) return { code: INTERNAL, details: 'Received RST_STREAM with code 0 (Call ended without gRPC status)' };
    return { code: INTERNAL, details: `Received RST_STREAM with code ${stream.rstCode}` };
  }

  /** Parses length-prefixed messages out of the byte stream. */
  private receive(chunk: Buffer): void {
    if (this.finished) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 5) {
      const head = this.pending[0]!.length >= 5 ? this.pending[0]! : this.takeBytes(5, false);
      const compressed = head[0] !== 0;
      const len = head.readUInt32BE(1);
      if (len > this.client._maxReceive) {
        this.cancelWith({ code: RESOURCE_EXHAUSTED, details: `Received message larger than max (${len} vs ${this.client._maxReceive})` });
        return;
      }
      if (compressed) {
        this.cancelWith({ code: INTERNAL, details: 'Received compressed message but "grpc-encoding" header was identity' });
        return;
      }
      if (this.pendingBytes < 5 + len) return;
      const body = this.takeBytes(5 + len, true).subarray(5);
      let msg: unknown;
      try {
        msg = this.def.responseDeserialize(body);
      } catch (err) {
        this.cancelWith({ code: INTERNAL, details: `Response message parsing error: ${(err as Error).message}` });
        return;
      }
      if (this.callback) {
        if (this.reply) {
          this.cancelWith({ code: UNIMPLEMENTED, details: 'Too many responses received' });
          return;
        }
        this.reply = { value: msg };
      } else if (!this.push(msg)) {
        this.stream?.pause();
      }
    }
  }

  /** The first `n` pending bytes as one buffer; consumed when `consume`. */
  private takeBytes(n: number, consume: boolean): Buffer {
    const first = this.pending[0]!;
    let out: Buffer;
    if (first.length >= n) out = first.subarray(0, n);
    else {
      const parts: Buffer[] = [];
      let got = 0;
      for (const b of this.pending) {
        parts.push(b);
        got += b.length;
        if (got >= n) break;
      }
      out = Buffer.concat(parts, got).subarray(0, n);
    }
    if (consume) {
      let left = n;
      while (left > 0) {
        const b = this.pending[0]!;
        if (b.length <= left) {
          this.pending.shift();
          left -= b.length;
        } else {
          this.pending[0] = b.subarray(left);
          left = 0;
        }
      }
      this.pendingBytes -= n;
    }
    return out;
  }

  private cancelWith(status: StatusObject): void {
    this.status = status;
    this.cancelledHere = true;
    this.stream?.close(H2_CANCEL);
    this.finish(status);
  }

  private finish(status: StatusObject): void {
    if (this.finished) return;
    this.finished = true;
    this.status = status;
    // The call is over: end our half of the stream too (a bidi call the server ended while we
    // never half-closed), so the stream closes and stops holding the connection.
    const stream = this.stream;
    if (stream && !stream.destroyed && !stream.writableEnded) stream.end();
    if (this.callback) {
      if (status.code !== OK) this.callback(callError(status));
      else if (!this.reply) this.callback(callError({ code: UNIMPLEMENTED, details: 'No message received' }));
      else this.callback(null, this.reply.value);
      this.emit('status', status);
      return;
    }
    this.push(null);
    if (status.code !== OK) this.emit('error', callError(status));
    this.emit('status', status);
  }

  cancel(): void {
    if (this.finished) return;
    this.cancelWith({ code: CANCELLED, details: 'Cancelled on client' });
  }

  override _read(): void {
    this.stream?.resume();
  }

  override _write(msg: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.finished || !this.stream) return cb();
    let body: Buffer;
    try {
      body = this.def.requestSerialize(msg);
    } catch (err) {
      this.cancelWith({ code: INTERNAL, details: `Request message serialization failure: ${(err as Error).message}` });
      return cb();
    }
    // The prefix apart: no copy of a large message.
    this.stream.write(prefix(body));
    this.stream.write(body, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.finished && this.stream && !this.stream.destroyed) this.stream.end();
    cb();
  }
}

/** A message's length prefix (uncompressed). */
function prefix(body: Buffer): Buffer {
  const out = Buffer.alloc(5);
  out.writeUInt32BE(body.length, 1);
  return out;
}

function statusOf(headers: Headers): StatusObject {
  const code = Number(headers['grpc-status']);
  const raw = headers['grpc-message'];
  let details = typeof raw === 'string' ? raw : '';
  try {
    details = decodeURI(details);
  } catch {
    // not percent-encoded after all: as received
  }
  return { code: Number.isInteger(code) ? code : UNKNOWN, details };
}

function toStatus(err: unknown): StatusObject {
  const s = err as Partial<StatusObject>;
  if (typeof s?.code === 'number' && typeof s.details === 'string') return { code: s.code, details: s.details };
  return { code: UNAVAILABLE, details: err instanceof Error ? err.message : String(err) };
}
