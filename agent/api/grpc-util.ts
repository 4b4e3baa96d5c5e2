/**
 * Adapters from our async functions to grpc-js handlers. This is the edge: errors become gRPC
 * statuses here and nowhere else.
 */
import type {
  ServerUnaryCall,
  sendUnaryData,
  ServerWritableStream,
  ServerReadableStream,
} from '@grpc/grpc-js';
import { Readable } from 'node:stream';
import { toServiceError } from '../../common/rpc/status';
import { noteTransientBytes } from '../../common/transient';

/** Handlers of one area of the Engine service, keyed by RPC name. */
export type Handlers = Record<string, (...args: any[]) => void>;

export function unary<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

export function serverStream<Req, Res>(fn: (req: Req, call: ServerWritableStream<Req, Res>) => Promise<void>) {
  return (call: ServerWritableStream<Req, Res>): void => {
    fn(call.request, call).then(
      () => call.end(),
      // grpc-js sends a status for an 'error' event; destroy() would leave the client waiting.
      (err: unknown) => call.emit('error', toServiceError(err)),
    );
  };
}

export function clientStream<Req, Res>(fn: (call: ServerReadableStream<Req, Res>) => Promise<Res>) {
  return (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>): void => {
    fn(call).then(
      (res) => callback(null, res),
      (err: unknown) => {
        // Stop reading what the client still sends; the status tells it why.
        call.removeAllListeners('data');
        call.resume();
        callback(toServiceError(err));
      },
    );
  };
}

/** The bytes of a client stream of `{ data }` messages as a Node stream. */
export function bytesOf(call: Readable, pick: (msg: never) => Buffer | undefined = (m: { data?: Buffer }) => m.data): Readable {
  return Readable.from(
    (async function* () {
      for await (const msg of call) {
        const data = pick(msg as never);
        if (data && data.length > 0) {
          noteTransientBytes(data.length);
          yield data;
        }
      }
    })(),
    { objectMode: false },
  );
}
