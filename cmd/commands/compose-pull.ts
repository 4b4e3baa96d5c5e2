/**
 * `pull` and `push`: the services' images through the engine's `ImagePull` and `ImagePush`, all
 * at once, with Compose v2's progress lines (` ✔ web  Pulled`) on stderr.
 */
import type { LoadedProject, ServiceConfig } from '../../manager/compose/index';
import type { ProgressEvent } from '../../common/rpc/manager-types';
import { ExitError } from '../cli';
import { normalizePullPolicy } from '../../manager/project/pull-policy';
import { buildTags, hasImage, pullImage, pushImage, selectServices } from './compose-images';
import { loadComposeProject, progressPrinter } from './compose-common';

export interface PullFlags {
  quiet?: boolean;
  ignorePullFailures?: boolean;
  includeDeps?: boolean;
  ignoreBuildable?: boolean;
  policy?: string;
}

export interface PushFlags {
  quiet?: boolean;
  ignorePushFailures?: boolean;
}

const event = (name: string, status: string, state: 'working' | 'done' | 'error', resource = ''): ProgressEvent => ({ resource, name, status, state, warning: '' });

/** `pull` refreshes every image unless the policy says otherwise (`missing`, `never`, `build`). */
function pullVerbPolicy(p: string | undefined): ReturnType<typeof normalizePullPolicy> {
  return p === undefined || p === '' ? 'always' : normalizePullPolicy(p === 'if_not_present' ? 'missing' : p);
}

/** Runs `work` with Ctrl-C cancelling it; returns whether it was interrupted. */
async function interruptible(work: (signal: AbortSignal) => Promise<void>): Promise<boolean> {
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  try {
    await work(abort.signal);
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  return abort.signal.aborted;
}

export async function composePull(services: string[], flags: PullFlags): Promise<number> {
  if (flags.policy !== undefined && !['missing', 'always'].includes(flags.policy)) {
    throw new ExitError(1, `invalid --policy option ${JSON.stringify(flags.policy)}: expected missing or always`);
  }
  const project = await loadComposeProject({ servicesEnabled: services });
  const names = selectServices(project.model, services, !!flags.includeDeps);
  const show = flags.quiet ? () => undefined : progressPrinter();
  const mustBuild: string[] = [];
  const failures: string[] = [];
  const pulling = new Map<string, string>();
  const jobs: Array<{ name: string; service: ServiceConfig; image: string }> = [];

  for (const name of names) {
    const s = project.model.services[name] as ServiceConfig;
    if (s.image === undefined) {
      show(event(name, 'Skipped - No image to be pulled', 'done'));
      continue;
    }
    const policy = pullVerbPolicy(flags.policy ?? s.pull_policy);
    if (policy === 'never' || policy === 'build') {
      show(event(name, 'Skipped', 'done'));
      continue;
    }
    if (s.build && flags.ignoreBuildable) {
      show(event(name, 'Skipped - Image can be built', 'done'));
      continue;
    }
    const other = pulling.get(s.image);
    if (other !== undefined) {
      show(event(name, `Skipped - Image is already being pulled by ${other}`, 'done'));
      continue;
    }
    pulling.set(s.image, name);
    jobs.push({ name, service: s, image: s.image });
  }

  let firstError: ExitError | undefined;
  const interrupted = await interruptible(async (signal) => {
    await Promise.all(
      jobs.map(async ({ name, service, image }) => {
        const policy = pullVerbPolicy(flags.policy ?? service.pull_policy);
        if (policy === 'missing' && (await hasImage(image))) {
          show(event(name, 'Skipped - Image is already present locally', 'done'));
          return;
        }
        show(event(name, 'Pulling', 'working'));
        try {
          await pullImage(image, service.platform, signal);
        } catch (err) {
          if (signal.aborted) return;
          const msg = (err as Error).message;
          if (service.build) {
            show(event(name, `Warning ${msg}`, 'error'));
            mustBuild.push(name);
            return;
          }
          show(event(name, 'Error', 'error'));
          if (flags.ignorePullFailures) {
            failures.push(`service "${name}": failed to pull image ${image}: ${msg}`);
            return;
          }
          firstError ??= new ExitError(1, `service "${name}": failed to pull image ${image}: ${msg}`);
          return;
        }
        if (!signal.aborted) show(event(name, 'Pulled', 'done'));
      }),
    );
  });
  if (interrupted) return 130;
  if (firstError) throw firstError;
  for (const f of failures) process.stderr.write(`WARN[0000] ${f}\n`);
  if (mustBuild.length > 0) {
    process.stderr.write(`WARNING: Some service image(s) must be built from source by running:\n    tscompose build ${mustBuild.sort().join(' ')}\n`);
  }
  return 0;
}

export async function composePush(services: string[], flags: PushFlags): Promise<number> {
  const project = await loadComposeProject({ servicesEnabled: services });
  const names = selectServices(project.model, services, false);
  const show = flags.quiet ? () => undefined : progressPrinter();
  const jobs: Array<{ name: string; tag: string }> = [];
  for (const name of names) {
    const s = project.model.services[name] as ServiceConfig;
    // As Compose: only images this project builds, and that have a name to push to.
    if (!s.build || s.image === undefined) {
      show(event(name, 'Skipped', 'done'));
      continue;
    }
    for (const tag of pushTags(project, s)) jobs.push({ name, tag });
  }

  const failures: string[] = [];
  let firstError: ExitError | undefined;
  const interrupted = await interruptible(async (signal) => {
    await Promise.all(
      jobs.map(async ({ name, tag }) => {
        show(event(tag, 'Pushing', 'working', 'Image'));
        try {
          await pushImage(tag, signal);
        } catch (err) {
          if (signal.aborted) return;
          show(event(tag, 'Error', 'error', 'Image'));
          const msg = `service "${name}": failed to push image ${tag}: ${(err as Error).message}`;
          if (flags.ignorePushFailures) failures.push(msg);
          else firstError ??= new ExitError(1, msg);
          return;
        }
        if (!signal.aborted) show(event(tag, 'Pushed', 'done', 'Image'));
      }),
    );
  });
  if (interrupted) return 130;
  if (firstError) throw firstError;
  for (const f of failures) process.stderr.write(`WARN[0000] ${f}\n`);
  return 0;
}

function pushTags(project: LoadedProject, s: ServiceConfig): string[] {
  return buildTags(project.model, s);
}
