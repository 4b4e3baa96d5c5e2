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

export function managerHandlers(orchestrator: Orchestrator): Record<string, Handler> {
  return {
    ProjectUp: progress((req: ProjectUpRequest, emit, signal) => orchestrator.up(req, emit, signal)),
    ProjectDown: progress((req: ProjectDownRequest, emit) => orchestrator.down(req, emit)),
    ProjectAction: progress((req: ProjectActionRequest, emit) => orchestrator.action(req, emit)),
    ProjectList: unary((req: ProjectListRequest) => orchestrator.list(req.all)),
    ProjectPs: unary(async (req: ProjectPsRequest) => ({ containers: await orchestrator.ps(req) })),
  };
}
