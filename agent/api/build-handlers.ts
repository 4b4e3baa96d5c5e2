/**
 * The build area of the Engine service: `ImageBuild`. The client sends its options, then the
 * context as a tar; once it half-closes, the context is on disk and the build runs, streaming
 * progress, and the last message carries the image ID.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { invalidArgument, TsError } from '../../common/errors';
import type { BuildInput, BuildOptions, BuildProgress } from '../../common/rpc/engine-types';
import { toServiceError } from '../../common/rpc/status';
import type { Agent } from '../agent';
import { BuildCache, installBuildCacheRoots } from '../build/executor/cache';
import { buildImage } from '../build/executor/build';
import type { ProgressEvent } from '../build/executor/progress';
import { pullIntoStore } from '../image/pull';
import { unpackLayer } from '../image/unpack';
import { bytesOf, type Handlers } from './grpc-util';

export function buildHandlers(agent: Agent): Handlers {
  const cacheRoot = BuildCache.rootFor(agent.options.dataRoot);
  installBuildCacheRoots(agent.images, agent.options.dataRoot);
  const cache = new BuildCache(cacheRoot, agent.images);
  return {
    ImageBuild: (call: ServerDuplexStream<BuildInput, Partial<BuildProgress>>) => void build(agent, cache, cacheRoot, call),
  };
}

async function build(agent: Agent, cache: BuildCache, cacheRoot: string, call: ServerDuplexStream<BuildInput, Partial<BuildProgress>>): Promise<void> {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort());
  const workDir = path.join(cacheRoot, 'tmp', randomBytes(8).toString('hex'));
  try {
    // Reading to the end must not destroy the call: the progress goes back on it.
    const it = call.iterator({ destroyOnReturn: false }) as AsyncIterator<BuildInput>;
    const first = await it.next();
    const options = first.done ? undefined : (first.value as { options?: BuildOptions }).options;
    if (!options) throw invalidArgument('build: the stream must start with the build options');
    const contextDir = path.join(workDir, 'context');
    await fsp.mkdir(workDir, { recursive: true });
    await receiveContext({ [Symbol.asyncIterator]: () => it } as AsyncIterable<BuildInput>, contextDir);

    const send = (e: ProgressEvent) => {
      if (controller.signal.aborted) return;
      call.write({ vertex: e.vertex, status: e.status, text: e.text, elapsed_ms: e.elapsedMs, stream: e.stream ?? '' });
    };
    const id = await buildImage(
      {
        images: agent.images,
        runtime: agent.runtime,
        cache,
        workDir,
        cacheRoot,
        pull: async (reference, vertex, signal) => {
          await pullIntoStore(agent.images, (await agent.registryAccess()).registry, {
            reference,
            signal,
            concurrency: agent.options.maxConcurrentDownloads,
            onProgress: (p) => {
              if (!p.progress) vertex.info(p.id ? `${p.id}: ${p.status}` : p.status);
            },
          });
        },
      },
      {
        contextDir,
        dockerfile: options.dockerfile || 'Dockerfile',
        ...(options.dockerfile_content ? { dockerfileContent: options.dockerfile_content } : {}),
        tags: options.tags ?? [],
        buildArgs: options.build_args ?? {},
        ...(options.target ? { target: options.target } : {}),
        noCache: options.no_cache,
        pull: options.pull,
        labels: options.labels ?? {},
      },
      send,
      controller.signal,
    );
    call.write({ image_id: id });
    call.end();
  } catch (err) {
    if (controller.signal.aborted || (err instanceof TsError && err.kind === 'Cancelled')) return;
    call.emit('error', toServiceError(err));
  } finally {
    await fsp.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The rest of the client's messages are the context tar (plain or gzip); none means an empty context. */
async function receiveContext(messages: AsyncIterable<BuildInput>, dir: string): Promise<void> {
  const bytes = bytesOf(messages as never);
  const it = bytes[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head = await it.next();
  if (head.done) {
    await fsp.mkdir(dir, { recursive: true });
    return;
  }
  const all = (async function* () {
    yield head.value;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  await unpackLayer(all, dir, { layer: 'the build context' });
}
