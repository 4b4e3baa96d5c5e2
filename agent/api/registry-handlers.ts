/** The registry area of the Engine service: `ImagePull`, `ImagePush`, `Login`, `Logout`. */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Agent } from '../agent';
import { pullIntoStore } from '../image/pull';
import { pushFromStore } from '../image/push';
import { login, logout, type ProgressEvent } from '../registry';
import { toServiceError } from '../../common/rpc/status';
import { invalidArgument } from '../../common/errors';
import { unary, type Handlers } from './grpc-util';

interface ProgressMessage {
  id: string;
  status: string;
  current: number;
  total: number;
}

interface ProgressChannel {
  signal: AbortSignal;
  onProgress: (e: ProgressEvent) => void;
}

/**
 * A server stream of progress: messages go to the client as they come, the operation is aborted
 * when the client goes away (Ctrl-C), and a failure ends the call with its status. The failure
 * is emitted as an 'error' rather than passed to `destroy`: grpc-js sends a server stream's
 * status when the stream ends, which a destroyed stream never does.
 */
function progressStream<Req>(run: (req: Req, channel: ProgressChannel) => Promise<void>) {
  return (call: ServerWritableStream<Req, ProgressMessage>): void => {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort());
    const onProgress = (e: ProgressEvent) => {
      if (controller.signal.aborted) return;
      call.write({ id: e.id ?? '', status: e.status, current: e.progress?.current ?? 0, total: e.progress?.total ?? 0 });
    };
    run(call.request, { signal: controller.signal, onProgress }).then(
      () => call.end(),
      (err: unknown) => call.emit('error', toServiceError(err)),
    );
  };
}

export function registryHandlers(agent: Agent): Handlers {
  return {
    ImageSearch: unary(async (req: { term: string; limit: number }) => {
      const term = req.term.trim();
      if (!term) throw invalidArgument('"search" requires 1 argument');
      // `host:port/term` searches that registry; a bare term searches Docker Hub.
      const slash = term.indexOf('/');
      const first = slash === -1 ? '' : term.slice(0, slash);
      const isDomain = first.includes('.') || first.includes(':') || first === 'localhost';
      const domain = isDomain ? first : 'docker.io';
      const what = isDomain ? term.slice(slash + 1) : term;
      const results = await (await agent.registryAccess()).registry.search(domain, what, req.limit > 0 ? req.limit : 25);
      return {
        results: results.map((r) => ({ name: r.name, description: r.description, star_count: r.stars, is_official: r.official, is_automated: r.automated })),
      };
    }),

    ImagePull: progressStream(async (req: { reference: string; all_tags: boolean; platform: string }, channel) => {
      await pullIntoStore(agent.images, (await agent.registryAccess()).registry, {
        reference: req.reference,
        allTags: req.all_tags,
        ...(req.platform && { platform: req.platform }),
        concurrency: agent.options.maxConcurrentDownloads,
        ...channel,
      });
    }),

    ImagePush: progressStream(async (req: { reference: string; all_tags: boolean }, channel) => {
      await pushFromStore(agent.images, (await agent.registryAccess()).registry, {
        reference: req.reference,
        allTags: req.all_tags,
        concurrency: agent.options.maxConcurrentUploads,
        ...channel,
      });
    }),

    Login: unary(async (req: { server: string; username: string; password: string }) => {
      const { registry, credentials } = await agent.registryAccess();
      return {
        status: await login({
          client: registry,
          store: credentials,
          username: req.username,
          password: req.password,
          ...(req.server && { server: req.server }),
        }),
        credentials_file: credentials.file,
      };
    }),

    Logout: unary(async (req: { server: string }) => {
      const { registry, credentials } = await agent.registryAccess();
      return { status: await logout({ client: registry, store: credentials, ...(req.server && { server: req.server }) }) };
    }),
  };
}
