/**
 * The executor: runs a planned build. Stages run wave by wave (`plan.levels`), the stages of one
 * wave in parallel; the steps of a stage in order, each either found in the build cache or run:
 * RUN in a runc container, COPY/ADD and WORKDIR on a mounted snapshot, metadata instructions on
 * the config. The target stage becomes an image in the store, tagged as asked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cancelled, invalidArgument, notFound, TsError } from '../../../common/errors';
import { httpGet, type HttpGetResponse } from '../../../common/http-get';
import { putBlob } from '../../image/content';
import { MediaType, hostPlatform, type ContainerConfig, type HistoryEntry, type ImageConfig, type ImageManifest } from '../../image/oci';
import type { ImageService } from '../../image/service';
import { familiarString, normalizeTag, parseReference, type ImageRecord, type LayerRef } from '../../image/store';
import type { MountOptions } from '../../runtime/spec';
import { cleanPath, parseDockerignore, readDockerignore } from '../context/ignore';
import type { ReceivedContext } from '../context/received';
import { ContextIndex, checksumPaths, containsWildcards, selectSources, sourceTrees } from '../context/sources';
import { dockerfileError } from '../dockerfile/errors';
import {
  parseDockerfile,
  parseTriggers,
  runArgv,
  type AddInstruction,
  type CopyInstruction,
  type Dockerfile,
  type RunInstruction,
} from '../dockerfile/instructions';
import {
  classifyAddSource,
  planBuild,
  runEnvironment,
  type BuildPlan,
  type NamedContext,
  type PlannedStage,
  type PlannedStep,
  type SourceRef,
} from '../dockerfile/plan';
import { cacheKey, type BuildCache, type CachedLayer } from './cache';
import { DEFAULT_PATH, DEFAULT_SHELL, applyToConfig, createdBy, historyEntry, nextWorkdir, type CopySourceKind, type StageFlags } from './config';
import { copyStep, resolveChown, type Download } from './copy';
import { mkdirInRoot } from './fsops';
import { ProgressReporter, type ProgressSink, type Vertex } from './progress';
import { checkMountSupported, removeRuntimeArtifacts, runCommand, type MountPointRecord, type RuncLocation } from './run';
import { withReadRoot, withWorkingRoot, type SnapshotDeps } from './snapshot';

export interface BuildRequest {
  /** Where the build context is (or, when `received`, is unpacked when a step needs its files). */
  contextDir: string;
  /** The build context as received and indexed, not unpacked yet. */
  received?: ReceivedContext;
  /** The Dockerfile's path in the context; its base name names it in messages. */
  dockerfile: string;
  /** The Dockerfile's text when the client sent it; otherwise it is read from the context. */
  dockerfileContent?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  labels: Record<string, string>;
  /** Secrets by id, for `RUN --mount=type=secret`: never in a layer, the config or a cache key. */
  secrets?: ReadonlyMap<string, SecretValue>;
  /** Named contexts: a directory already on disk, or an image reference. */
  namedContexts?: Readonly<Record<string, NamedContextSource>>;
  /** RUN's network when the step does not say (`--network`); the host's by default. */
  network?: 'default' | 'host' | 'none';
  /** `host:ip` entries of RUN's /etc/hosts (`--add-host`). */
  extraHosts?: readonly string[];
}

export interface SecretValue {
  value: Buffer;
  /** Defaults for its mounts when the Dockerfile's mount does not say (buildkit's: 0, 0, 0400). */
  uid?: number;
  gid?: number;
  mode?: number;
}

export type NamedContextSource = { kind: 'local'; dir: string; received?: ReceivedContext } | { kind: 'image'; ref: string };

export interface BuildDeps {
  images: ImageService;
  /** runc, and the state directory of build containers. */
  runc: RuncLocation;
  cache: BuildCache;
  /** A scratch directory owned by this build; the caller removes it. */
  workDir: string;
  /** `<dataRoot>/build-cache`: RUN --mount=type=cache directories live under it. */
  cacheRoot: string;
  /** Fetches an image from its registry into the store; absent when this engine cannot pull. */
  pull?: (reference: string, vertex: Vertex, signal: AbortSignal) => Promise<void>;
}

/** What a stage has built so far: its image in the making. */
interface StageState {
  key: string;
  layers: LayerRef[];
  /** Sum of the layers' uncompressed sizes. */
  size: number;
  image: ImageConfig;
  history: HistoryEntry[];
  /** The most recent step's creation time (from the cache when the step was cached). */
  created: string;
}

interface BaseImage {
  record: ImageRecord;
  config: ImageConfig;
}

const FS_KINDS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

/** Builds, stores and tags the image; returns its ID. */
export async function buildImage(deps: BuildDeps, req: BuildRequest, sink: ProgressSink, signal: AbortSignal): Promise<string> {
  const progress = new ProgressReporter(sink);
  const tags = req.tags.map((t) => {
    try {
      return normalizeTag(t);
    } catch (err) {
      throw invalidArgument(`invalid tag ${JSON.stringify(t)}: ${(err as Error).message}`);
    }
  });
  const name = path.posix.basename(req.dockerfile || 'Dockerfile');
  const text = req.dockerfileContent ?? (await readDockerfile(req.contextDir, req.dockerfile || 'Dockerfile', req.received));
  let dockerfile = parseDockerfile(text, name);
  const namedContexts: Record<string, NamedContext> = {};
  for (const [contextName, source] of Object.entries(req.namedContexts ?? {})) {
    namedContexts[contextName] = source.kind === 'local' ? { kind: 'local' } : source;
  }
  const planOptions = { buildArgs: req.buildArgs, namedContexts, ...(req.target ? { target: req.target } : {}) };
  const firstPlan = planBuild(dockerfile, planOptions);

  const bases = await resolveImages(deps, firstPlan, req.pull, progress, signal);
  dockerfile = withOnbuildTriggers(dockerfile, firstPlan, bases);
  const plan = planBuild(dockerfile, { ...planOptions, imageEnv: (ref) => withDefaultPath(bases.get(ref)?.config.config?.Env) });
  for (const warning of plan.warnings) progress.warning(warning);

  const context = await openContext(req.contextDir, req.received, req.dockerfile || 'Dockerfile');
  const contexts = new Map<string, ContextIndex>();
  for (const [contextName, source] of Object.entries(req.namedContexts ?? {})) {
    if (source.kind !== 'local') continue;
    contexts.set(contextName, await openContext(source.dir, source.received));
  }
  const leased: string[] = [];
  const lease = (digest: string): void => {
    deps.images.leases.add(digest);
    leased.push(digest);
  };
  const runner = new StageRunner(deps, req, plan, bases, context, contexts, progress, lease, signal);
  try {
    for (const wave of plan.levels) {
      const results = await Promise.allSettled(wave.map((index) => runner.run(index)));
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
    }
    const final = runner.result(plan.target);
    return await commitImage(deps, final, tags, req.labels, progress, lease, leased.length > 0);
  } finally {
    await deps.cache.flush();
    for (const digest of leased) deps.images.leases.delete(digest);
  }
}

/** Where `.dockerignore` rules come from, first found wins (as `readDockerignore` looks on disk). */
function ignoreFiles(dockerfile: string | undefined): string[] {
  return dockerfile === undefined ? ['.dockerignore'] : [`${cleanPath('/' + dockerfile).slice(1)}.dockerignore`, '.dockerignore'];
}

/** The files a received context keeps the content of: its ignore files, and the Dockerfile when not sent apart. */
export function wantedContextFiles(dockerfile: string | undefined, withDockerfile: boolean): Set<string> {
  const wanted = new Set(ignoreFiles(dockerfile));
  if (dockerfile !== undefined && withDockerfile) wanted.add(cleanPath('/' + dockerfile).slice(1));
  return wanted;
}

/**
 * A context's index after `.dockerignore` (`<Dockerfile>.dockerignore` first when `dockerfile` is
 * given). A received context is indexed from its archive when that tells exactly what unpacking
 * would give; otherwise it is unpacked now and walked, like a directory.
 */
async function openContext(dir: string, received: ReceivedContext | undefined, dockerfile?: string): Promise<ContextIndex> {
  if (received?.plain) {
    const text = ignoreFiles(dockerfile)
      .map((file) => received.read(file))
      .find((content) => content !== undefined);
    return ContextIndex.fromReceived(received, text === undefined ? [] : parseDockerignore(text.toString('utf8')));
  }
  await received?.materialize();
  return ContextIndex.build(dir, (await readDockerignore(dir, dockerfile)).patterns);
}

async function readDockerfile(contextDir: string, file: string, received: ReceivedContext | undefined): Promise<string> {
  const full = path.join(contextDir, cleanPath('/' + file));
  if (received?.plain) {
    const content = received.read(cleanPath('/' + file).slice(1));
    if (content === undefined) throw notFound(`failed to read dockerfile: open ${file}: no such file or directory`);
    return content.toString('utf8');
  }
  await received?.materialize();
  try {
    return await fsp.readFile(full, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`failed to read dockerfile: open ${file}: no such file or directory`);
    throw err;
  }
}

/** Every image the plan names (bases and `COPY --from`), from the store or its registry. */
async function resolveImages(
  deps: BuildDeps,
  plan: BuildPlan,
  pull: boolean,
  progress: ProgressReporter,
  signal: AbortSignal,
): Promise<Map<string, BaseImage>> {
  const refs = new Set<string>();
  for (const stage of plan.stages) {
    if (stage.base.kind === 'image') refs.add(stage.base.ref);
    for (const ref of stage.images) refs.add(ref);
  }
  const out = new Map<string, BaseImage>();
  for (const ref of refs) {
    let record = deps.images.store.tryResolve(ref);
    if (!record || pull) {
      const vertex = progress.vertex(`[internal] load metadata for ${ref}`);
      if (!deps.pull) {
        vertex.error(`image ${ref} is not in the store`);
        throw notFound(`failed to resolve source metadata for ${ref}: no such image in the store and this engine cannot pull`);
      }
      try {
        await deps.pull(ref, vertex, signal);
      } catch (err) {
        const message = `failed to resolve source metadata for ${ref}: ${(err as Error).message}`;
        vertex.error(message);
        throw new TsError(err instanceof TsError ? err.kind : 'NotFound', message);
      }
      vertex.done();
      record = deps.images.store.resolve(ref);
    }
    out.set(ref, { record, config: await deps.images.config(record.id) });
  }
  return out;
}

/** A base image's ONBUILD triggers run first in the stage built on it, as if written there. */
function withOnbuildTriggers(dockerfile: Dockerfile, plan: BuildPlan, bases: Map<string, BaseImage>): Dockerfile {
  let changed = false;
  const stages = dockerfile.stages.map((stage) => {
    const planned = plan.stages.find((s) => s.index === stage.index);
    if (planned?.base.kind !== 'image') return stage;
    const triggers = bases.get(planned.base.ref)?.config.config?.OnBuild ?? [];
    if (triggers.length === 0) return stage;
    changed = true;
    const instructions = parseTriggers(triggers, `${dockerfile.file} (ONBUILD of ${planned.base.ref})`).map((ins) => ({ ...ins, line: stage.from.line }));
    return { ...stage, instructions: [...instructions, ...stage.instructions] };
  });
  return changed ? { ...dockerfile, stages } : dockerfile;
}

function layerMediaType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mediaType === MediaType.DockerForeignLayerGzip) return MediaType.OciLayerNondistributableGzip;
  return mediaType;
}

const newLayerRef = (layer: CachedLayer): LayerRef => ({ diffId: layer.diffId, blobDigest: layer.diffId, blobSize: layer.size, mediaType: MediaType.OciLayer });

class StageRunner {
  private readonly done = new Map<number, StageState>();
  private readonly snapshotDeps: SnapshotDeps;

  constructor(
    private readonly deps: BuildDeps,
    private readonly req: BuildRequest,
    private readonly plan: BuildPlan,
    private readonly bases: Map<string, BaseImage>,
    private readonly context: ContextIndex,
    private readonly contexts: ReadonlyMap<string, ContextIndex>,
    private readonly progress: ProgressReporter,
    lease: (digest: string) => void,
    private readonly signal: AbortSignal,
  ) {
    this.snapshotDeps = { images: deps.images, workDir: deps.workDir, lease };
  }

  result(index: number): StageState {
    const state = this.done.get(index);
    if (!state) throw new Error(`stage ${index} has not been built`);
    return state;
  }

  private label(stage: PlannedStage): string {
    if (stage.name !== undefined) return stage.name;
    return this.plan.stages.length === 1 ? '' : `stage-${stage.index}`;
  }

  private initialState(stage: PlannedStage): StageState {
    const now = new Date().toISOString();
    switch (stage.base.kind) {
      case 'scratch':
      case 'context': {
        const platform = hostPlatform();
        return {
          key: cacheKey('scratch', `${platform.os}/${platform.architecture}`),
          layers: [],
          size: 0,
          image: { architecture: platform.architecture, os: platform.os, config: { Env: [DEFAULT_PATH] }, rootfs: { type: 'layers', diff_ids: [] } },
          history: [],
          created: now,
        };
      }
      case 'stage':
        return structuredClone(this.result(stage.base.index));
      case 'image': {
        const base = this.bases.get(stage.base.ref) as BaseImage;
        const image = structuredClone(base.config);
        const config: ContainerConfig = { ...(image.config ?? {}) };
        // Triggers ran in this stage; the child does not pass them on.
        delete config.OnBuild;
        config.Env = withDefaultPath(config.Env);
        image.config = config;
        return {
          key: cacheKey('image', base.record.id),
          layers: [...base.record.layers],
          size: base.record.size,
          image,
          history: [...(image.history ?? [])],
          created: image.created ?? now,
        };
      }
    }
  }

  async run(index: number): Promise<void> {
    const stage = this.plan.stages.find((s) => s.index === index);
    if (!stage) throw new Error(`stage ${index} is not planned`);
    const state = this.initialState(stage);
    const label = this.label(stage);
    const total = 1 + stage.steps.filter((s) => FS_KINDS.has(s.expanded.kind)).length;
    const title = (k: number, text: string): string => `[${label ? `${label} ` : ''}${k}/${total}] ${text}`;
    if (stage.base.kind === 'image') {
      const base = this.bases.get(stage.base.ref) as BaseImage;
      const ref = base.record.id === stage.base.ref ? stage.base.ref : familiarOrSelf(stage.base.ref);
      this.progress.vertex(title(1, `FROM ${ref}`)).done();
    }
    if (stage.base.kind === 'context') await this.fromContext(state, stage.base.name, title(1, `FROM ${stage.base.name}`));
    const flags: StageFlags = { cmdSet: false };
    let k = 1;
    for (const step of stage.steps) {
      if (this.signal.aborted) throw cancelled('build cancelled');
      const config = (state.image.config ??= {});
      if (!FS_KINDS.has(step.expanded.kind)) {
        applyToConfig(config, step.expanded, flags);
        const key = cacheKey(state.key, step.text, this.argValues(step));
        const created = await this.createdFor(key);
        if (step.expanded.kind === 'MAINTAINER') state.image.author = step.expanded.maintainer;
        state.history.push(historyEntry(createdBy(step.expanded, { config }), created, false, state.image.author));
        state.key = key;
        state.created = created;
        continue;
      }
      k++;
      if (step.expanded.kind === 'WORKDIR') applyToConfig(config, step.expanded, flags);
      // Heredoc bodies stay out of the title, as buildkit shows them.
      const vertex = this.progress.vertex(title(k, step.text.split('\n')[0] ?? step.text));
      try {
        const { key, copySource } = await this.keyOf(state, step);
        const record = this.req.noCache ? undefined : await this.deps.cache.lookup(key);
        let layer: CachedLayer | undefined;
        let created: string;
        let copyKind = copySource ?? record?.copySource;
        if (record) {
          vertex.cached();
          layer = record.layer;
          created = record.created;
        } else {
          const result = await this.execute(state, step, vertex);
          layer = result.layer;
          copyKind ??= result.copySource;
          created = new Date().toISOString();
          await this.deps.cache.store(key, { created, ...(layer ? { layer } : {}), ...(copyKind ? { copySource: copyKind } : {}) });
          vertex.done();
        }
        if (layer) {
          state.layers.push(newLayerRef(layer));
          state.size += layer.size;
        }
        const copy = copyKind ? { kind: copyKind, digest: this.copyDigests.get(key) ?? key } : undefined;
        const line = createdBy(step.expanded, { config, args: step.args, env: step.env, ...(copy ? { copy } : {}) });
        state.history.push(historyEntry(line, created, layer !== undefined, state.image.author));
        state.key = key;
        state.created = created;
      } catch (err) {
        vertex.error((err as Error).message);
        throw err;
      }
    }
    state.image.rootfs = { type: 'layers', diff_ids: state.layers.map((l) => l.diffId) };
    this.done.set(index, state);
  }

  /** `FROM name` of a local named context: its files are the stage's first layer, as buildkit's local source. */
  private async fromContext(state: StageState, name: string, title: string): Promise<void> {
    const vertex = this.progress.vertex(title);
    try {
      const index = this.namedContext(name);
      const sum = await checksumPaths(index, ['.'], { ownership: false, dockerfile: this.plan.file });
      const key = cacheKey(state.key, 'context', sum.digest);
      const record = this.req.noCache ? undefined : await this.deps.cache.lookup(key);
      let layer = record?.layer;
      if (record) vertex.cached();
      else {
        await index.materialize();
        const ins = wholeContextCopy();
        layer = await withWorkingRoot(this.snapshotDeps, [], ({ rootfs }) =>
          copyStep(rootfs, ins, { workdir: '/', sources: index, keepOwnership: false, downloads: [], tmpDir: this.deps.workDir, dockerfile: this.plan.file }),
        );
        await this.deps.cache.store(key, { created: new Date().toISOString(), ...(layer ? { layer } : {}) });
        vertex.done();
      }
      if (layer) {
        state.layers.push(newLayerRef(layer));
        state.size += layer.size;
      }
      state.key = key;
    } catch (err) {
      vertex.error((err as Error).message);
      throw err;
    }
  }

  private namedContext(name: string): ContextIndex {
    const index = this.contexts.get(name);
    if (!index) throw invalidArgument(`build context "${name}" was not sent`);
    return index;
  }

  /** The creation time a metadata step had when first built, so a cached rebuild is identical. */
  private async createdFor(key: string): Promise<string> {
    const record = this.req.noCache ? undefined : await this.deps.cache.lookup(key);
    if (record) return record.created;
    const created = new Date().toISOString();
    await this.deps.cache.store(key, { created });
    return created;
  }

  /** ARG values in scope: part of every key, so a changed build arg invalidates from its first use. */
  private argValues(step: PlannedStep): string {
    if (step.expanded.kind !== 'ARG') return '';
    const values = step.expanded.args.map((a) => [a.name, this.req.buildArgs[a.name] ?? a.value ?? this.plan.metaArgs[a.name] ?? null]);
    return JSON.stringify(values);
  }

  /** COPY/ADD from a context: the checksum of what they take, by step key, for their history line. */
  private readonly copyDigests = new Map<string, string>();

  private async keyOf(state: StageState, step: PlannedStep): Promise<{ key: string; copySource?: CopySourceKind }> {
    const ins = step.expanded;
    if (ins.kind !== 'COPY' && ins.kind !== 'ADD') return { key: await this.stepKey(state, step) };
    const key = await this.stepKey(state, step);
    if (step.copyFrom && step.copyFrom.kind !== 'context') return { key };
    const index = step.copyFrom ? this.namedContext(step.copyFrom.name) : this.context;
    return { key, copySource: copySourceKind(index, ins, this.plan.file) };
  }

  private async stepKey(state: StageState, step: PlannedStep): Promise<string> {
    const ins = step.expanded;
    const config = state.image.config ?? {};
    const base = [state.key, step.text];
    switch (ins.kind) {
      case 'RUN': {
        // What the build gives RUN besides the step (as buildkit's ExecOp meta): only when set,
        // so that the keys of builds without them stay as they were.
        const network = ins.network === undefined && this.req.network !== undefined && this.req.network !== 'default' ? [`network=${this.req.network}`] : [];
        const hosts = this.req.extraHosts?.length ? [`hosts=${this.req.extraHosts.join(',')}`] : [];
        return cacheKey(...base, JSON.stringify(step.args), JSON.stringify(config.Shell ?? DEFAULT_SHELL), config.User ?? '', config.WorkingDir ?? '', ...network, ...hosts);
      }
      case 'WORKDIR':
        return cacheKey(...base, config.WorkingDir ?? '', config.User ?? '');
      case 'COPY':
      case 'ADD': {
        const parts = [...base, config.WorkingDir ?? ''];
        if (step.copyFrom && step.copyFrom.kind !== 'context') parts.push(this.sourceKey(step.copyFrom));
        else {
          const local = ins.kind === 'ADD' ? ins.sources.filter((s) => classifyAddSource(s) === 'context') : ins.sources;
          const index = step.copyFrom ? this.namedContext(step.copyFrom.name) : this.context;
          const sum = await checksumPaths(index, local, {
            excludes: ins.excludes,
            parents: ins.kind === 'COPY' && ins.parents,
            ownership: false,
            dockerfile: this.plan.file,
            line: ins.line,
            instruction: ins.kind,
          });
          parts.push(sum.digest);
        }
        if (ins.kind === 'ADD') for (const download of await this.downloads(ins)) parts.push(download.url, download.digest, String(download.mtimeMs ?? ''));
        const key = cacheKey(...parts);
        if (!step.copyFrom || step.copyFrom.kind === 'context') this.copyDigests.set(key, cacheKey(...parts.slice(3)));
        return key;
      }
      default:
        return cacheKey(...base);
    }
  }

  private sourceKey(ref: Exclude<SourceRef, { kind: 'context' }>): string {
    if (ref.kind === 'stage') return this.result(ref.index).key;
    return (this.bases.get(ref.ref) as BaseImage).record.id;
  }

  private sourceLayers(ref: Exclude<SourceRef, { kind: 'context' }>): string[] {
    if (ref.kind === 'stage') return this.result(ref.index).layers.map((l) => l.diffId);
    return (this.bases.get(ref.ref) as BaseImage).record.layers.map((l) => l.diffId);
  }

  private readonly fetched = new Map<string, Promise<Download & { digest: string }>>();

  /** ADD's URLs, fetched once per build: their content is part of the step's key. */
  private downloads(ins: AddInstruction): Promise<Array<Download & { digest: string }>> {
    const urls = ins.sources.filter((s) => classifyAddSource(s) === 'url');
    return Promise.all(
      urls.map((url) => {
        let pending = this.fetched.get(url);
        if (!pending) {
          pending = download(url, this.deps.workDir, this.plan.file, ins.line, ins.checksum);
          this.fetched.set(url, pending);
        }
        return pending;
      }),
    );
  }

  private layersOf(state: StageState): string[] {
    return state.layers.map((l) => l.diffId);
  }

  private async execute(state: StageState, step: PlannedStep, vertex: Vertex): Promise<{ layer: CachedLayer | undefined; copySource?: CopySourceKind }> {
    const ins = step.expanded;
    const config = state.image.config ?? {};
    switch (ins.kind) {
      case 'RUN':
        return { layer: await this.executeRun(state, step, ins, vertex) };
      case 'WORKDIR':
        return {
          layer: await withWorkingRoot(this.snapshotDeps, this.layersOf(state), async ({ rootfs }) => {
          const owner = config.User ? await resolveChown(rootfs, config.User).catch(() => undefined) : undefined;
          await mkdirInRoot(rootfs, config.WorkingDir ?? nextWorkdir(undefined, ins.path), owner);
          }),
        };
      case 'COPY':
      case 'ADD': {
        const downloads = ins.kind === 'ADD' ? await this.downloads(ins) : [];
        const copyInto = (rootfs: string, sources: ContextIndex, keepOwnership: boolean) =>
          copyStep(rootfs, ins as CopyInstruction | AddInstruction, {
            workdir: config.WorkingDir ?? '/',
            sources,
            keepOwnership,
            downloads,
            tmpDir: this.deps.workDir,
            dockerfile: this.plan.file,
          });
        const copy = async (sources: ContextIndex, keepOwnership: boolean) => {
          await sources.materialize();
          return withWorkingRoot(this.snapshotDeps, this.layersOf(state), ({ rootfs }) => copyInto(rootfs, sources, keepOwnership));
        };
        if (!step.copyFrom) return { layer: await copy(this.context, false) };
        // A named directory is a build context like the main one: its files arrive owned by root.
        if (step.copyFrom.kind === 'context') return { layer: await copy(this.namedContext(step.copyFrom.name), false) };
        let copySource: CopySourceKind | undefined;
        const layer = await withWorkingRoot(
          this.snapshotDeps,
          this.layersOf(state),
          async ({ rootfs, readRoot }) => {
            const root = readRoot as string;
            // An image tree can be large: index only what the sources name, unless a symlink leads
            // elsewhere (a source is then not found in the partial index, and the whole tree is read).
            let index = await ContextIndex.build(root, undefined, sourceTrees(ins.sources));
            try {
              selectSources(index, ins.sources, { excludes: ins.excludes, parents: ins.kind === 'COPY' && ins.parents, dockerfile: this.plan.file, line: ins.line });
            } catch (err) {
              if (!(err instanceof TsError && err.kind === 'NotFound')) throw err;
              index = await ContextIndex.build(root);
            }
            copySource = copySourceKind(index, ins, this.plan.file);
            await copyInto(rootfs, index, true);
          },
          undefined,
          this.sourceLayers(step.copyFrom),
        );
        return { layer, ...(copySource ? { copySource } : {}) };
      }
      default:
        return { layer: undefined };
    }
  }

  private async executeRun(state: StageState, step: PlannedStep, ins: RunInstruction, vertex: Vertex): Promise<CachedLayer | undefined> {
    const config = state.image.config ?? {};
    const { argv, script } = runArgv(ins, config.Shell ?? DEFAULT_SHELL);
    const env = runEnvironment(step, this.plan);
    let records: MountPointRecord[] = [];
    const run = ({ mounts, secretEnv }: RunMounts) =>
      withWorkingRoot(
        this.snapshotDeps,
        this.layersOf(state),
        async ({ rootfs }) => {
          records = await runCommand(
            { runc: this.deps.runc, workDir: this.deps.workDir },
            {
              rootfs,
              argv,
              ...(script !== undefined ? { script } : {}),
              env: { ...env, ...secretEnv },
              user: config.User ?? '',
              workdir: config.WorkingDir ?? '/',
              network: ins.network ?? this.req.network ?? 'default',
              extraHosts: this.req.extraHosts ?? [],
              mounts,
              dockerfile: this.plan.file,
              line: ins.line,
            },
            vertex,
            this.signal,
          );
        },
        (upper) => removeRuntimeArtifacts(upper, records),
      );
    return this.withRunMounts(step, ins, 0, { mounts: [], secretEnv: {} }, run);
  }

  /** Resolves `RUN --mount`s one by one (a stage or image source is mounted for the run's duration). */
  private async withRunMounts<T>(step: PlannedStep, ins: RunInstruction, i: number, acc: RunMounts, run: (mounts: RunMounts) => Promise<T>): Promise<T> {
    const mount = ins.mounts[i];
    if (!mount) return run(acc);
    checkMountSupported(mount, this.plan.file, ins.line);
    const next = (m?: MountOptions, secretEnv?: Record<string, string>) =>
      this.withRunMounts(step, ins, i + 1, { mounts: m ? [...acc.mounts, m] : acc.mounts, secretEnv: { ...acc.secretEnv, ...secretEnv } }, run);
    if (mount.type === 'secret') {
      const id = mount.id ?? '';
      const secret = this.req.secrets?.get(id);
      if (secret === undefined) {
        if (mount.required) throw dockerfileError(this.plan.file, ins.line, `secret "${id}" is required but was not provided (--secret id=${id},src=<file>)`);
        return next();
      }
      const secretEnv = mount.env ? { [mount.env]: secret.value.toString('utf8') } : undefined;
      if (!mount.target) return next(undefined, secretEnv);
      // A private copy per RUN, with the mount's owner and mode; removed as soon as the RUN ends.
      const dir = await fsp.mkdtemp(path.join(this.deps.workDir, 'secret-'));
      try {
        await fsp.chmod(dir, 0o700);
        const file = path.join(dir, 'value');
        await fsp.writeFile(file, secret.value, { mode: 0o600 });
        await fsp.chown(file, mount.uid ?? secret.uid ?? 0, mount.gid ?? secret.gid ?? 0);
        await fsp.chmod(file, mount.mode ?? secret.mode ?? 0o400);
        return await next({ type: 'bind', source: file, target: path.posix.resolve('/', mount.target), readonly: true, recursive: false }, secretEnv);
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    }
    const target = path.posix.resolve('/', mount.target);
    switch (mount.type) {
      case 'tmpfs':
        return next({ type: 'tmpfs', target, ...(mount.size !== undefined ? { tmpfsSize: mount.size } : {}) });
      case 'cache': {
        const id = createHash('sha256').update(mount.id ?? mount.target).digest('hex').slice(0, 32);
        const dir = path.join(this.deps.cacheRoot, 'mounts', id);
        if (!(await fsp.stat(dir).catch(() => undefined))) {
          await fsp.mkdir(dir, { recursive: true, mode: mount.mode ?? 0o755 });
          await fsp.chown(dir, mount.uid ?? 0, mount.gid ?? 0);
        }
        return next({ type: 'bind', source: dir, target, readonly: mount.readOnly });
      }
      case 'bind': {
        const from = step.mountFrom?.[i];
        const sub = cleanPath('/' + (mount.source ?? ''));
        if (!from || from.kind === 'context') {
          const index = from ? this.namedContext(from.name) : this.context;
          await index.materialize();
          return next({ type: 'bind', source: path.join(index.root, sub), target, readonly: true });
        }
        return withReadRoot(this.snapshotDeps, this.sourceLayers(from), (root) => next({ type: 'bind', source: path.join(root, sub), target, readonly: mount.readOnly }));
      }
      default:
        throw dockerfileError(this.plan.file, ins.line, `RUN --mount=type=${mount.type} is not supported by this builder`);
    }
  }
}

/** Whether COPY/ADD takes one file, one directory or several sources (its history line says which). */
function copySourceKind(index: ContextIndex, ins: CopyInstruction | AddInstruction, dockerfile: string): CopySourceKind {
  const local = ins.kind === 'ADD' ? ins.sources.filter((s) => classifyAddSource(s) === 'context') : ins.sources;
  if (ins.sources.length + ins.inline.length !== 1) return 'multi';
  const source = local[0];
  if (source === undefined) return 'file';
  const rel = cleanPath('/' + source).slice(1);
  if (!containsWildcards(rel)) return index.resolve(rel, true)?.type === 'dir' ? 'dir' : 'file';
  const selected = selectSources(index, [source], { dockerfile, line: ins.line });
  const matches = selected.filter((s) => s.match);
  return matches.length === 1 && matches[0]?.entry.type !== 'dir' ? 'file' : 'multi';
}

/** A RUN's resolved `--mount`s, and the secrets it gets as environment variables (`env=`). */
interface RunMounts {
  mounts: MountOptions[];
  secretEnv: Record<string, string>;
}

/** `COPY . /`: what `FROM <named directory context>` starts from. */
function wholeContextCopy(): CopyInstruction {
  return { kind: 'COPY', line: 0, endLine: 0, original: 'COPY . /', form: 'shell', sources: ['.'], inline: [], destination: '/', link: false, excludes: [], parents: false };
}

/** A stage on an image without PATH gets the default one, as both of Docker's builders give it. */
function withDefaultPath(env: readonly string[] | undefined): string[] {
  const list = [...(env ?? [])];
  return list.some((e) => e.startsWith('PATH=')) ? list : [DEFAULT_PATH, ...list];
}

function familiarOrSelf(ref: string): string {
  try {
    return familiarString(parseReference(ref));
  } catch {
    return ref;
  }
}

async function download(url: string, workDir: string, dockerfile: string, line: number, checksum?: string): Promise<Download & { digest: string }> {
  let response: HttpGetResponse;
  try {
    response = await httpGet(url);
  } catch (err) {
    throw dockerfileError(dockerfile, line, `failed to download ${url}: ${(err as Error).message}`, 'Unavailable');
  }
  if (response.status < 200 || response.status > 299) {
    response.body.resume();
    throw dockerfileError(dockerfile, line, `failed to download ${url}: ${response.status} ${response.statusText}`, 'Unavailable');
  }
  const file = path.join(workDir, `download-${randomBytes(8).toString('hex')}`);
  const hash = createHash('sha256');
  const body = response.body;
  body.on('data', (chunk: Buffer) => hash.update(chunk));
  await pipeline(body, createWriteStream(file, { mode: 0o600 }));
  const digest = `sha256:${hash.digest('hex')}`;
  if (checksum !== undefined && checksum !== digest) {
    throw dockerfileError(dockerfile, line, `digest mismatch for ${url}: expected ${checksum}, got ${digest}`);
  }
  const pathname = new URL(url).pathname;
  const name = path.posix.basename(pathname) || 'index.html';
  const lastModified = response.headers['last-modified'];
  const mtimeMs = lastModified ? Date.parse(lastModified) : undefined;
  return { url, file, name, digest, ...(mtimeMs !== undefined && !Number.isNaN(mtimeMs) ? { mtimeMs } : {}) };
}

async function commitImage(
  deps: BuildDeps,
  state: StageState,
  tags: string[],
  labels: Record<string, string>,
  progress: ProgressReporter,
  lease: (digest: string) => void,
  newLayers: boolean,
): Promise<string> {
  const vertex = progress.vertex('exporting to image');
  const config: ContainerConfig = { ...(state.image.config ?? {}) };
  if (Object.keys(labels).length > 0) config.Labels = { ...(config.Labels ?? {}), ...labels };
  const image: ImageConfig = {
    ...state.image,
    created: state.created,
    config,
    rootfs: { type: 'layers', diff_ids: state.layers.map((l) => l.diffId) },
    history: state.history,
  };
  const configBlob = await putBlob(deps.images.content, JSON.stringify(image));
  lease(configBlob.digest);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configBlob.digest, size: configBlob.size },
    layers: state.layers.map((l) => ({ mediaType: layerMediaType(l.mediaType), digest: l.blobDigest, size: l.blobSize })),
  };
  const manifestBlob = await putBlob(deps.images.content, JSON.stringify(manifest));
  lease(manifestBlob.digest);
  const record: ImageRecord = {
    id: configBlob.digest,
    manifestDigest: manifestBlob.digest,
    manifestMediaType: MediaType.OciManifest,
    repoDigests: [],
    created: Date.parse(state.created),
    layers: state.layers,
    size: state.size,
  };
  vertex.info(`writing image ${record.id} done`);
  // A fully cached rebuild gives the same image under the same tags: nothing to write then.
  const store = deps.images.store;
  if (!store.get(record.id) || tags.some((tag) => store.allTags()[tag] !== record.id)) await store.put(record, tags);
  if (newLayers) await deps.images.refreshLayerSizes();
  for (const tag of tags) {
    const familiar = familiarString(parseReference(tag));
    vertex.info(`naming to ${tag} done`);
    deps.images.events.emit('image', 'tag', record.id, { name: familiar });
  }
  vertex.done();
  return record.id;
}
