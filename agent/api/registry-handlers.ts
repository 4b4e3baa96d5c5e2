/** The registry area of the Engine service: `ImagePull`, `ImagePush`, `Login`, `Logout`. */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Agent } from '../agent';
import { pullIntoStore } from '../image/pull';
import { pushFromStore } from '../image/push';
import { login, logout, type ProgressEvent } from '../registry';
import { serverStream, unary, type Handlers } from './grpc-util';

interface ProgressMessage {
  id: string;
  status: string;
  current: number;
  total: number;
}

type ProgressCall<Req> = ServerWritableStream<Req, ProgressMessage>;

/** Forwards progress to the client, and aborts the operation when the client goes away (Ctrl-C). */
function progressChannel<Req>(call: ProgressCall<Req>): { signal: AbortSignal; onProgress: (e: ProgressEvent) => void } {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort());
  return {
    signal: controller.signal,
    onProgress: (e) => {
      if (controller.signal.aborted) return;
      call.write({ id: e.id ?? '', status: e.status, current: e.progress?.current ?? 0, total: e.progress?.total ?? 0 });
    },
  };
}

export function registryHandlers(agent: Agent): Handlers {
  return {
    ImagePull: serverStream(
      async (req: { reference: string; all_tags: boolean; platform: string }, call: ProgressCall<unknown>) => {
        await pullIntoStore(agent.images, agent.registry, {
          reference: req.reference,
          allTags: req.all_tags,
          ...(req.platform && { platform: req.platform }),
          concurrency: agent.options.maxConcurrentDownloads,
          ...progressChannel(call),
        });
      },
    ),

    ImagePush: serverStream(async (req: { reference: string; all_tags: boolean }, call: ProgressCall<unknown>) => {
      await pushFromStore(agent.images, agent.registry, {
        reference: req.reference,
        allTags: req.all_tags,
        concurrency: agent.options.maxConcurrentUploads,
        ...progressChannel(call),
      });
    }),

    Login: unary(async (req: { server: string; username: string; password: string }) => ({
      status: await login({
        client: agent.registry,
        store: agent.credentials,
        username: req.username,
        password: req.password,
        ...(req.server && { server: req.server }),
      }),
    })),

    Logout: unary(async (req: { server: string }) => ({
      status: await logout({ client: agent.registry, store: agent.credentials, ...(req.server && { server: req.server }) }),
    })),
  };
}
