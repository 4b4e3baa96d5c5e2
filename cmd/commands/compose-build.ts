/**
 * Compose's image step on the CLI side, where the build contexts are: `build` builds the services
 * that have a `build:` section (in parallel, through the engine's `ImageBuild`), and `up` calls
 * `prepareUpImages` before converging, which pulls then builds what the policies ask for, as
 * Compose v2 does. Pulling the images of services without `build:` stays with the manager.
 */
import * as path from 'node:path';
import type { LoadedProject, ServiceConfig } from '../../manager/compose/index';
import { serviceImage } from '../../manager/project/container-spec';
import { COMPOSE_LABEL_VERSION } from '../../manager/project/naming';
import { CompactRenderer, plainLine, type ProgressStatus } from '../../agent/build/executor/progress';
import type { BuildOptions, BuildProgress, BuildSecret } from '../../common/rpc/engine-types';
import { ExitError, getGlobals } from '../cli';
import { parseBuildArgs, readSecrets, resolveContext, streamBuild, withNamedContexts, type SecretSource } from './build';
import { remoteContextKind } from './remote-context';
import { loadComposeProject, progressPrinter } from './compose-common';
import { normalizePullPolicy, type PullPolicy } from '../../manager/project/pull-policy';
import { buildTags, hasImage, pullImage, selectServices } from './compose-images';
import { unsupportedBuildAttributes } from '../../manager/project/unsupported';

export interface ComposeBuildFlags {
  cache?: boolean; // --no-cache → false
  pull?: boolean;
  quiet?: boolean;
  buildArg?: string[];
  withDependencies?: boolean;
}

export interface BuildRunOptions {
  noCache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  /** `--build-arg`s, over each service's `args`. */
  buildArgs?: Record<string, string>;
}

export async function composeBuild(services: string[], flags: ComposeBuildFlags): Promise<number> {
  const project = await loadComposeProject({ servicesEnabled: services });
  const names = selectServices(project.model, services, !!flags.withDependencies);
  const targets = names.filter((n) => project.model.services[n]?.build !== undefined);
  await buildServices(project, targets, {
    noCache: flags.cache === false,
    pull: !!flags.pull,
    quiet: !!flags.quiet,
    buildArgs: parseBuildArgs(flags.buildArg),
  });
  return 0;
}

/**
 * Builds these services' images in parallel and prints ` ✔ Service web  Built` for each; the
 * first failure stops the others and becomes the error, naming its service.
 */
export async function buildServices(project: LoadedProject, requested: string[], opts: BuildRunOptions = {}): Promise<void> {
  if (requested.length === 0) return;
  const model = project.model;
  const names = withContextServices(project, requested);
  // What the engine cannot do is refused before anything is sent.
  const requests = await Promise.all(names.map(async (name) => ({ name, ...(await buildRequest(project, model.services[name] as ServiceConfig, opts)) })));
  // A secret that cannot be read, too.
  const secrets = new Map<string, BuildSecret[]>();
  for (const r of requests) {
    try {
      secrets.set(r.name, await readSecrets(r.secrets, secretEnvironment(project)));
    } catch (err) {
      throw new ExitError(1, `service "${r.name}": ${(err as Error).message}`);
    }
  }

  const mode = (getGlobals() as { progress?: string }).progress ?? 'auto';
  const silent = !!opts.quiet || mode === 'quiet';
  if (!silent) for (const name of names) for (const w of unsupportedBuildAttributes(model.services[name] as ServiceConfig)) process.stderr.write(`WARN[0000] ${w}\n`);
  const tty = mode === 'tty' || (mode === 'auto' && process.stderr.isTTY === true);
  const writeErr = (line: string) => process.stderr.write(line + '\n');
  const status = progressPrinter();
  // Vertex numbers are per build: parallel builds get numbers of their own in the shared log.
  const vertices = new Map<string, number>();
  const renderers = new Map<string, CompactRenderer>();
  const show = (service: string) => (m: BuildProgress) => {
    if (silent) return;
    const key = `${service}\0${m.vertex}`;
    let vertex = vertices.get(key);
    if (vertex === undefined) {
      vertex = vertices.size + 1;
      vertices.set(key, vertex);
    }
    const text = m.status === 'start' ? `[${service}] ${m.text}` : m.text;
    const event = { vertex, status: m.status as ProgressStatus, text, elapsedMs: Number(m.elapsed_ms) };
    if (tty) {
      let r = renderers.get(service);
      if (!r) renderers.set(service, (r = new CompactRenderer(writeErr)));
      r.show(event);
    } else {
      writeErr(plainLine(event));
    }
  };

  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  // A service's build waits for the images of the services its additional_contexts name.
  // Dependants see '' when that build failed or was cancelled (its own error is reported).
  const built = new Map<string, { promise: Promise<string>; resolve: (id: string) => void }>();
  for (const r of requests) {
    let resolve!: (id: string) => void;
    built.set(r.name, { promise: new Promise<string>((res) => (resolve = res)), resolve });
  }
  const imageOf = (name: string): Promise<string> => built.get(name)?.promise ?? Promise.resolve('');
  try {
    await Promise.all(
      requests.map(async (r) => {
        let id = '';
        const run = async (): Promise<string> => {
          const contexts: Record<string, string> = {};
          for (const [contextName, value] of Object.entries(r.contexts)) {
            if (!value.startsWith('service:')) {
              contexts[contextName] = value;
              continue;
            }
            const dependency = await imageOf(value.slice('service:'.length));
            if (!dependency) throw new Error(`additional context "${contextName}": service "${value.slice('service:'.length)}" was not built`);
            contexts[contextName] = `docker-image://${dependency}`;
          }
          const main = await resolveContext(r.context, r.dockerfile);
          try {
            const plan = await withNamedContexts(main.plan, contexts);
            return await streamBuild(plan, { ...plan.options, ...r.options, secrets: secrets.get(r.name) ?? [] }, show(r.name), abort.signal);
          } finally {
            main.cleanup();
          }
        };
        try {
          id = await run();
        } catch (err) {
          if (!abort.signal.aborted) {
            abort.abort();
            if (!silent) status({ resource: 'Service', name: r.name, status: 'Error', state: 'error', warning: '' });
            throw new ExitError(1, `service "${r.name}" failed to build: ${(err as Error).message}`);
          }
          return;
        } finally {
          built.get(r.name)?.resolve(id);
        }
        if (!id) return;
        if (!silent) status({ resource: 'Service', name: r.name, status: 'Built', state: 'done', warning: '' });
      }),
    );
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  if (abort.signal.aborted) throw new ExitError(130, '');
}

interface ServiceBuild {
  context: string;
  dockerfile: { file?: string; inline?: string };
  /** additional_contexts: directories, `docker-image://ref`, `service:name`. */
  contexts: Record<string, string>;
  secrets: SecretSource[];
  options: Omit<BuildOptions, 'dockerfile' | 'dockerfile_content' | 'named_contexts' | 'secrets'>;
}

/** Variables a secret's `environment:` reads: the project's (.env, --env-file), then the process's. */
function secretEnvironment(project: LoadedProject): Record<string, string | undefined> {
  return { ...process.env, ...project.environment };
}

/**
 * The services to build: those asked for, plus every service with a build section that an
 * `additional_contexts` entry names as `service:<name>` (built first). A cycle is an error.
 */
function withContextServices(project: LoadedProject, names: readonly string[]): string[] {
  const services = project.model.services;
  const out = new Set<string>();
  const visiting: string[] = [];
  const visit = (name: string): void => {
    if (out.has(name)) return;
    if (visiting.includes(name)) throw new ExitError(1, `service "${name}": additional_contexts form a cycle: ${[...visiting.slice(visiting.indexOf(name)), name].join(' -> ')}`);
    visiting.push(name);
    for (const [contextName, value] of Object.entries(services[name]?.build?.additional_contexts ?? {})) {
      if (!value.startsWith('service:')) continue;
      const dependency = value.slice('service:'.length);
      if (!services[dependency]?.build) {
        throw new ExitError(1, `service "${name}": additional context "${contextName}" names service "${dependency}", which has no build section`);
      }
      visit(dependency);
    }
    visiting.pop();
    out.add(name);
  };
  for (const name of names) visit(name);
  return [...out];
}

async function buildRequest(project: LoadedProject, service: ServiceConfig, opts: BuildRunOptions): Promise<ServiceBuild> {
  const b = service.build;
  const name = service.name;
  if (!b) throw new ExitError(1, `service "${name}" has no build section`);
  const refuse = (what: string) => new ExitError(1, `service "${name}": ${what} are not supported by this engine's builder`);
  if (b.ssh && b.ssh.length > 0) throw refuse('SSH agent sockets (build.ssh)');
  if (b.platforms && b.platforms.length > 1) throw new ExitError(1, `service "${name}": multi-platform builds (build.platforms) are not supported`);

  const secrets: SecretSource[] = (b.secrets ?? []).map((ref) => {
    const secret = project.model.secrets[ref.source];
    if (!secret) throw new ExitError(1, `service "${name}": build secret "${ref.source}" is not defined in the top-level secrets`);
    const id = ref.target ?? ref.source;
    const defaults = { ...(ref.uid !== undefined ? { uid: ref.uid } : {}), ...(ref.gid !== undefined ? { gid: ref.gid } : {}), ...(ref.mode !== undefined ? { mode: ref.mode } : {}) };
    if (secret.file !== undefined) return { id, file: secret.file, ...defaults };
    if (secret.environment !== undefined) return { id, env: secret.environment, ...defaults };
    throw new ExitError(1, `service "${name}": build secret "${ref.source}" needs file: or environment: (external secrets cannot be used to build)`);
  });
  const contexts: Record<string, string> = {};
  for (const [contextName, value] of Object.entries(b.additional_contexts ?? {})) {
    // Paths were made absolute by the loader; URLs and image references are left as written.
    contexts[contextName] = value;
  }
  // A remote context (Git, http) is fetched when the build runs; its dockerfile is a path inside it.
  const remote = remoteContextKind(b.context, project.projectDir) !== undefined;
  const context = remote ? b.context : path.resolve(project.projectDir, b.context);
  const dockerfile = b.dockerfile_inline !== undefined ? { inline: b.dockerfile_inline } : b.dockerfile !== undefined ? { file: remote ? b.dockerfile : path.resolve(context, b.dockerfile) } : {};
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.args ?? {})) {
    const value = v ?? project.environment[k] ?? process.env[k];
    if (value !== undefined) args[k] = value;
  }
  return {
    context,
    dockerfile,
    contexts,
    secrets,
    options: {
      tags: buildTags(project.model, service),
      build_args: { ...args, ...(opts.buildArgs ?? {}) },
      target: b.target ?? '',
      no_cache: !!opts.noCache || !!b.no_cache,
      pull: !!opts.pull || !!b.pull,
      labels: {
        ...(b.labels ?? {}),
        'com.docker.compose.project': project.model.name,
        'com.docker.compose.service': name,
        'com.docker.compose.version': COMPOSE_LABEL_VERSION,
      },
      quiet: false,
      progress: 'plain',
      platform: b.platforms?.[0] ?? service.platform ?? '',
      network: b.network ?? '',
      extra_hosts: Object.entries(b.extra_hosts ?? {}).flatMap(([host, ips]) => ips.map((ip) => `${host}:${ip}`)),
    },
  };
}

export interface UpImageFlags {
  /** `--build` true, `--no-build` false. */
  build?: boolean;
  /** `--pull`, when given. */
  pull?: string;
  quietPull?: boolean;
  /** No build output (`watch --quiet`). */
  quietBuild?: boolean;
}

/**
 * `up`'s image step for the services in scope that have `build:`, before the manager converges:
 * with an `image` and policy `always` (or `missing` and absent) a pull is tried first, a failure
 * only warning since the image can be built; then what is still absent is built, or everything
 * with `--build` or `pull_policy: build`. `--no-build` builds nothing (the manager then refuses
 * a missing image, naming its service).
 */
export async function prepareUpImages(project: LoadedProject, scope: Iterable<string>, flags: UpImageFlags): Promise<void> {
  if (flags.build === false) return;
  const model = project.model;
  const toBuild: string[] = [];
  const show = progressPrinter();
  await Promise.all(
    [...scope].map(async (name) => {
      const s = model.services[name];
      if (!s?.build) return;
      const policy: PullPolicy = flags.build ? 'build' : normalizePullPolicy(flags.pull ?? s.pull_policy);
      if (policy === 'build') {
        toBuild.push(name);
        return;
      }
      const image = serviceImage(model, s);
      let present = await hasImage(image);
      if (s.image !== undefined && (policy === 'always' || (policy === 'missing' && !present))) {
        if (!flags.quietPull) show({ resource: '', name, status: 'Pulling', state: 'working', warning: '' });
        try {
          await pullImage(image, s.platform);
          present = true;
          if (!flags.quietPull) show({ resource: '', name, status: 'Pulled', state: 'done', warning: '' });
        } catch (err) {
          show({ resource: '', name, status: `Warning ${(err as Error).message}`, state: 'error', warning: '' });
        }
      }
      if (!present) toBuild.push(name);
    }),
  );
  await buildServices(project, toBuild.sort(), { quiet: !!flags.quietBuild });
}
