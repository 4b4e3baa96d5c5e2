/**
 * The Manager gRPC service (proto/manager.proto) over the orchestrator. Handlers translate
 * messages and nothing more; errors become gRPC statuses here, at the edge.
 */
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import { toServiceError } from '../../common/rpc/status';
import type {
  ProgressEvent,
  ProjectActionRequest,
  ProjectDownRequest,
  ProjectListRequest,
  ProjectPsRequest,
  ProjectUpRequest,
} from '../../common/rpc/manager-types';
import type { Orchestrator } from '../orchestrator/index';

type Handler = (...args: any[]) => void;

function unary<Req, Res>(fn: (req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

/** A progress stream: events are written as they come; the client going away cancels the work. */
function progress<Req>(fn: (req: Req, emit: (e: ProgressEvent) => void, signal: AbortSignal) => Promise<void>) {
  return (call: ServerWritableStream<Req, ProgressEvent>): void => {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort());
    const emit = (e: ProgressEvent) => {
      if (!call.cancelled && !call.writableEnded) call.write(e);
    };
    fn(call.request, emit, ac.signal).then(
      () => call.end(),
      (err: unknown) => call.emit('error', toServiceError(err)),
    );
  };
}

/**
 * `orchestrator` may load it on demand (the daemon loads the orchestrator, and the Compose model
 * behind it, on the first Manager call).
 */
export function managerHandlers(orchestrator: Orchestrator | (() => Promise<Orchestrator>)): Record<string, Handler> {
  const get = typeof orchestrator === 'function' ? orchestrator : () => Promise.resolve(orchestrator);
  return {
    ProjectUp: progress(async (req: ProjectUpRequest, emit, signal) => (await get()).up(req, emit, signal)),
    ProjectDown: progress(async (req: ProjectDownRequest, emit) => (await get()).down(req, emit)),
    ProjectAction: progress(async (req: ProjectActionRequest, emit) => (await get()).action(req, emit)),
    ProjectList: unary(async (req: ProjectListRequest) => (await get()).list(req.all)),
    ProjectPs: unary(async (req: ProjectPsRequest) => ({ containers: await (await get()).ps(req) })),
  };
}
