/**
 * A service's grpc-js handlers called in this process, for a caller in the same daemon (the
 * manager driving its own host's agent). Messages go through the contract's codecs both ways, so
 * each side sees exactly what the wire would give it (defaults filled, unknown fields dropped,
 * int64 as Number); what is skipped is the rest of a call over the daemon's own socket: HTTP/2
 * framing, the socket round trips, and grpc-js's per-call server machinery.
 *
 * Unary and server-streaming methods only: those are what the manager asks of an agent.
 */
import { EventEmitter } from 'node:events';
import { internal } from '../errors';
import { fromServiceError } from './status';

export interface CodecMethod {
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: unknown) => Buffer;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
  responseDeserialize: (bytes: Buffer) => unknown;
}

type Handler = (...args: any[]) => void;

/** What a handler sees of its call: the request, cancellation, and (for streams) write/end/error. */
class LocalCall extends EventEmitter {
  cancelled = false;
  writableEnded = false;
  readonly metadata = { get: () => [] as unknown[], getMap: () => ({}) };

  constructor(readonly request: unknown) {
    super();
  }

  getPeer(): string {
    return 'in-process';
  }

  sendMetadata(): void {
    // Headers mean nothing in process.
  }

  cancel(): void {
    if (this.cancelled || this.writableEnded) return;
    this.cancelled = true;
    this.emit('cancelled');
  }
}

export class InProcessCaller {
  constructor(
    private readonly methods: Record<string, CodecMethod>,
    private readonly handlers: Record<string, Handler>,
  ) {}

  private method(name: string, streaming: boolean): { def: CodecMethod; handler: Handler } {
    const def = this.methods[name];
    const handler = this.handlers[name];
    if (!def || !handler || def.requestStream || def.responseStream !== streaming) throw internal(`rpc: no in-process ${streaming ? 'stream' : 'unary'} method ${name}`);
    return { def, handler };
  }

  call<Res = unknown>(method: string, req: unknown = {}): Promise<Res> {
    const { def, handler } = this.method(method, false);
    const call = new LocalCall(def.requestDeserialize(def.requestSerialize(req)));
    return new Promise<Res>((resolve, reject) => {
      handler(call, (err: unknown, res: unknown) => {
        call.writableEnded = true;
        if (err) reject(fromServiceError(err));
        else resolve(def.responseDeserialize(def.responseSerialize(res ?? {})) as Res);
      });
    });
  }

  async *stream<Res = unknown>(method: string, req: unknown = {}, signal?: AbortSignal): AsyncGenerator<Res> {
    const { def, handler } = this.method(method, true);
    const call = new LocalCall(def.requestDeserialize(def.requestSerialize(req)));
    const queue: Res[] = [];
    let failure: unknown;
    let ended = false;
    let wake: (() => void) | undefined;
    const nudge = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    Object.assign(call, {
      write: (msg: unknown) => {
        if (!call.writableEnded && !call.cancelled) queue.push(def.responseDeserialize(def.responseSerialize(msg)) as Res);
        nudge();
        return true;
      },
      end: () => {
        call.writableEnded = true;
        ended = true;
        nudge();
      },
    });
    // The handler reports a failure as an 'error' event carrying the status.
    call.on('error', (err: unknown) => {
      failure ??= err;
      call.writableEnded = true;
      ended = true;
      nudge();
    });
    const onAbort = () => {
      call.cancel();
      ended = true;
      nudge();
    };
    signal?.addEventListener('abort', onAbort);
    try {
      handler(call);
      for (;;) {
        while (queue.length > 0) yield queue.shift() as Res;
        if (failure !== undefined) throw fromServiceError(failure);
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // A consumer that stopped early is a client going away.
      if (!ended) call.cancel();
    }
  }
}
