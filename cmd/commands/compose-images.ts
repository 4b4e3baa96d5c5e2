/**
 * What `build`, `pull`, `push` and `up`'s image step share: the services a verb acts on, the
 * tags of a built image, pull policies, and the engine calls for one image.
 */
import type { Project, ServiceConfig } from '../../manager/compose/index';
import { serviceImage } from '../../manager/project/container-spec';
import { buildGraph, withDependencies } from '../../manager/project/graph';
import { engine, ExitError } from '../cli';

/** The named services (all by default), checked, with their dependencies when asked. */
export function selectServices(model: Project, services: string[], withDeps: boolean): string[] {
  for (const name of services) if (!model.services[name]) throw new ExitError(1, `no such service: ${name}`);
  const selected = services.length > 0 ? services : Object.keys(model.services);
  const names = withDeps ? withDependencies(buildGraph(model.services), selected) : new Set(selected);
  return [...names].sort();
}

/** The tags a service's build gives its image: the image (or `<project>-<service>`), then `build.tags`. */
export function buildTags(model: Project, service: ServiceConfig): string[] {
  return [...new Set([serviceImage(model, service), ...(service.build?.tags ?? [])])];
}


/** Whether the engine has this image. */
export async function hasImage(reference: string): Promise<boolean> {
  const client = await engine();
  const r = await client.call<{ json: string[] }>('ImageInspect', { names: [reference], ignore_missing: true, size: false });
  return r.json.length > 0;
}

/** Pulls one image (for the service's `platform`, else this host's) to its end; a failure throws with the daemon's message. */
export async function pullImage(reference: string, platform: string | undefined, signal?: AbortSignal): Promise<void> {
  const client = await engine();
  for await (const _m of client.stream<unknown>('ImagePull', { reference, all_tags: false, platform: platform ?? '' }, signal)) {
    // Layer progress is not shown: Compose's per-service lines are.
  }
}

/** Pushes one image to its end; a failure throws with the daemon's message. */
export async function pushImage(reference: string, signal?: AbortSignal): Promise<void> {
  const client = await engine();
  for await (const _m of client.stream<unknown>('ImagePush', { reference, all_tags: false }, signal)) {
    // As for pulls, only the per-image lines are shown.
  }
}
