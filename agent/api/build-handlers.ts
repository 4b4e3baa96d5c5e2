/**
 * The build area of the Engine service: `ImageBuild`. The client sends its options, then the
 * context as a tar; once it half-closes, the context is indexed (and kept, to be unpacked if a
 * step needs its files) and the build runs, streaming progress, and the last message carries the
 * image ID.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { invalidArgument, TsError } from '../../common/errors';
import type { BuildInput, BuildOptions, BuildProgress, BuildSecret } from '../../common/rpc/engine-types';
import { toServiceError } from '../../common/rpc/status';
import type { Agent } from '../agent';
import { BuildCache } from '../build/executor/cache';
import { buildImage, wantedContextFiles, type NamedContextSource, type SecretValue } from '../build/executor/build';
import { ReceivedContext } from '../build/context/received';
import { removeStaleBuildContainers, type RuncLocation } from '../build/executor/run';
import type { ProgressEvent } from '../build/executor/progress';
import { formatPlatform, hostPlatform, parsePlatform } from '../image/oci';
import { pullIntoStore } from '../image/pull';
import type { Handlers } from './grpc-util';

export function buildHandlers(agent: Agent): Handlers {
  const cacheRoot = BuildCache.rootFor(agent.options.dataRoot);
  const cache = agent.buildCache;
  const runc: RuncLocation = { path: agent.runtime.runcPath, root: path.join(agent.runtime.root, 'build-runc') };
  // Once per daemon, before its first build: later builds' containers are alive, not stale.
  let stale: Promise<void> | undefined;
  const ready = () => (stale ??= removeStaleBuildContainers(runc));
  return {
    ImageBuild: (call: ServerDuplexStream<BuildInput, Partial<BuildProgress>>) => void build(agent, { cache, cacheRoot, runc, ready }, call),
  };
}

interface BuildEnvironment {
  cache: BuildCache;
  cacheRoot: string;
  runc: RuncLocation;
  ready(): Promise<void>;
}

async function build(agent: Agent, env: BuildEnvironment, call: ServerDuplexStream<BuildInput, Partial<BuildProgress>>): Promise<void> {
  const { cache, cacheRoot, runc } = env;
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort());
  const workDir = path.join(cacheRoot, 'tmp', randomBytes(8).toString('hex'));
  try {
    // Reading to the end must not destroy the call: the progress goes back on it.
    const it = call.iterator({ destroyOnReturn: false }) as AsyncIterator<BuildInput>;
    const first = await it.next();
    const options = first.done ? undefined : (first.value as { options?: BuildOptions }).options;
    if (!options) throw invalidArgument('build: the stream must start with the build options');
    checkBuildPlatform(options.platform);
    const contextDir = path.join(workDir, 'context');
    await fsp.mkdir(workDir, { recursive: true });
    const namedContexts = namedContextSources(options.named_contexts ?? {}, workDir);
    const dockerfile = options.dockerfile || 'Dockerfile';
    const main = new ReceivedContext(contextDir, 'the build context', wantedContextFiles(dockerfile, !options.dockerfile_content));
    const received = await receiveContexts({ [Symbol.asyncIterator]: () => it } as AsyncIterable<BuildInput>, main, namedContexts);
    const secrets = secretValues(options.secrets ?? []);
    await env.ready();

    // A quiet client shows no progress (a failure comes back as the call's status): none is sent.
    const silent = options.quiet || options.progress === 'quiet';
    const send = (e: ProgressEvent) => {
      if (silent || controller.signal.aborted) return;
      call.write({ vertex: e.vertex, status: e.status, text: e.text, elapsed_ms: e.elapsedMs, stream: e.stream ?? '' });
    };
    const id = await buildImage(
      {
        images: agent.images,
        runc,
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
        ...(received.has('') ? { received: main } : {}),
        dockerfile,
        ...(options.dockerfile_content ? { dockerfileContent: options.dockerfile_content } : {}),
        tags: options.tags ?? [],
        buildArgs: options.build_args ?? {},
        ...(options.target ? { target: options.target } : {}),
        noCache: options.no_cache,
        pull: options.pull,
        labels: options.labels ?? {},
        secrets,
        namedContexts,
        network: buildNetwork(options.network),
        extraHosts: options.extra_hosts ?? [],
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

function secretValues(secrets: readonly BuildSecret[]): Map<string, SecretValue> {
  const out = new Map<string, SecretValue>();
  const number = (id: string, field: string, value: string, radix: number): number | undefined => {
    if (value === '') return undefined;
    if (!(radix === 8 ? /^[0-7]{1,4}$/ : /^\d{1,10}$/).test(value)) throw invalidArgument(`build: secret "${id}": invalid ${field} ${JSON.stringify(value)}`);
    return Number.parseInt(value, radix);
  };
  for (const secret of secrets) {
    if (!secret.id) throw invalidArgument('build: a secret without an id');
    const uid = number(secret.id, 'uid', secret.uid ?? '', 10);
    const gid = number(secret.id, 'gid', secret.gid ?? '', 10);
    const mode = number(secret.id, 'mode', secret.mode ?? '', 8);
    out.set(secret.id, { value: Buffer.from(secret.value), ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}), ...(mode !== undefined ? { mode } : {}) });
  }
  return out;
}

/** `named_contexts` as the executor takes them: local ones get a directory under the build's scratch space. */
function namedContextSources(named: Record<string, string>, workDir: string): Record<string, NamedContextSource> {
  const out: Record<string, NamedContextSource> = {};
  for (const [name, value] of Object.entries(named)) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`build: invalid build context name ${JSON.stringify(name)}`);
    if (value === 'local:') out[name] = { kind: 'local', dir: path.join(workDir, 'contexts', name) };
    else if (value.startsWith('docker-image://') && value.length > 'docker-image://'.length) out[name] = { kind: 'image', ref: value.slice('docker-image://'.length) };
    else throw invalidArgument(`build: build context "${name}": unsupported value ${JSON.stringify(value)} (a directory or docker-image://<ref>)`);
  }
  return out;
}

/**
 * The rest of the client's messages are tars (plain or gzip): the main context's, then each local
 * named context's, its messages marked with its name. A context that sends nothing is empty.
 * Returns the names of the contexts that sent something; a named one's `received` is set.
 */
async function receiveContexts(messages: AsyncIterable<BuildInput>, main: ReceivedContext, named: Record<string, NamedContextSource>): Promise<Set<string>> {
  const dirs = new Map<string, string>([['', main.dir]]);
  for (const [name, source] of Object.entries(named)) if (source.kind === 'local') dirs.set(name, source.dir);
  let current: { name: string; context: ReceivedContext } | undefined;
  const received = new Set<string>();
  try {
    for await (const msg of messages as AsyncIterable<{ data?: Buffer; context?: string }>) {
      const name = msg.context ?? '';
      if (!msg.data || msg.data.length === 0) continue;
      if (current?.name !== name) {
        await current?.context.end();
        const dir = dirs.get(name);
        if (dir === undefined) throw invalidArgument(`build: data for an undeclared build context ${JSON.stringify(name)}`);
        if (received.has(name)) throw invalidArgument(`build: build context ${JSON.stringify(name)} was sent twice`);
        received.add(name);
        const context = name === '' ? main : new ReceivedContext(dir, `build context "${name}"`, wantedContextFiles(undefined, false));
        const source = named[name];
        if (source?.kind === 'local') source.received = context;
        current = { name, context };
      }
      await current.context.write(msg.data);
    }
    await current?.context.end();
  } catch (err) {
    current?.context.destroy();
    throw err;
  }
  // What sent nothing is an empty directory.
  if (!received.has('')) main.destroy();
  for (const [name, dir] of dirs) if (!received.has(name)) await fsp.mkdir(dir, { recursive: true });
  return received;
}

/**
 * The builder runs RUN steps natively, with no emulation, and takes its bases for this host:
 * a build for another platform (`--platform`, Compose's `platform`/`build.platforms`) is refused
 * rather than quietly made for this one.
 */
function checkBuildPlatform(platform: string | undefined): void {
  if (!platform) return;
  const want = parsePlatform(platform);
  const host = hostPlatform();
  if (want.os === host.os && want.architecture === host.architecture) return;
  throw invalidArgument(`build: platform ${formatPlatform(want)} is not supported: this engine builds for ${formatPlatform(host)} only`);
}

/** `--network` of a build: RUN steps' network unless they say. */
function buildNetwork(network: string | undefined): 'default' | 'host' | 'none' {
  if (!network || network === 'default') return 'default';
  if (network === 'host' || network === 'none') return network;
  throw invalidArgument(`build: network mode ${JSON.stringify(network)} not supported: default, host or none`);
}
