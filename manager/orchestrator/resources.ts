/**
 * A project's networks, volumes and images on a node, made to exist before its containers:
 * created when missing, checked when external, and found again by their Compose labels.
 */
import { failedPrecondition, kindOf, notFound, TsError } from '../../common/errors';
import type { NetworkConfig, Project, VolumeConfig } from '../compose/index';
import type { AgentConnection } from '../dispatcher/index';
import type { DesiredService } from '../project/desired';
import { networkLabels, projectFilter, volumeLabels } from '../project/naming';
import { normalizePullPolicy } from '../project/pull-policy';
import { done, failed, working, type Emit } from './progress';

/** Networks the services use, by their key in the model. */
export function networksInUse(project: Project, services: Iterable<string>): string[] {
  const keys = new Set<string>();
  for (const name of services) {
    const s = project.services[name];
    if (!s || s.network_mode !== undefined) continue;
    for (const key of Object.keys(s.networks ?? {})) keys.add(key);
  }
  return [...keys].sort();
}

/**
 * External networks and volumes must exist: checked before anything is created, so that an `up`
 * refused for a missing one leaves nothing of the project behind.
 */
export async function checkExternals(agent: AgentConnection, project: Project, networkKeys: string[], volumeKeys: string[]): Promise<void> {
  const networks = networkKeys.map((key) => project.networks[key]).filter((n): n is NetworkConfig => n?.external === true);
  if (networks.length > 0) {
    const existing = new Set((await agent.listNetworks([])).map((n) => n.name));
    for (const net of networks) if (!existing.has(net.name)) throw notFound(`network ${net.name} declared as external, but could not be found`);
  }
  const volumes = volumeKeys.map((key) => project.volumes[key]).filter((v): v is VolumeConfig => v?.external === true);
  if (volumes.length > 0) {
    const existing = new Set((await agent.listVolumes([])).map((v) => v.name));
    for (const vol of volumes) if (!existing.has(vol.name)) throw notFound(`external volume "${vol.name}" not found`);
  }
}

export async function ensureNetworks(agent: AgentConnection, project: Project, keys: string[], emit: Emit): Promise<string[]> {
  const existing = await agent.listNetworks([]);
  const created: string[] = [];
  for (const key of keys) {
    const net: NetworkConfig = project.networks[key] ?? { name: `${project.name}_${key}`, extensions: {} };
    const found = existing.find((n) => n.name === net.name);
    if (net.external) {
      if (!found) throw notFound(`network ${net.name} declared as external, but could not be found`);
      continue;
    }
    if (found) {
      created.push(net.name);
      continue;
    }
    emit(working('Network', net.name, 'Creating'));
    const ipam = net.ipam?.config?.[0];
    await agent.createNetwork({
      name: net.name,
      driver: net.driver ?? 'bridge',
      subnet: ipam?.subnet ?? '',
      gateway: ipam?.gateway ?? '',
      ip_range: ipam?.ip_range ?? '',
      internal: net.internal ?? false,
      attachable: net.attachable ?? false,
      labels: { ...(net.labels ?? {}), ...networkLabels(project.name, key) },
      options: net.driver_opts ?? {},
    });
    emit(done('Network', net.name, 'Created'));
    created.push(net.name);
  }
  return created;
}

/** Named volumes the services mount, by their key in the model. */
export function volumesInUse(project: Project, services: Iterable<string>): string[] {
  const keys = new Set<string>();
  for (const name of services) {
    for (const v of project.services[name]?.volumes ?? []) {
      if (v.type === 'volume' && v.source !== undefined && project.volumes[v.source]) keys.add(v.source);
    }
  }
  return [...keys].sort();
}

export async function ensureVolumes(agent: AgentConnection, project: Project, keys: string[], emit: Emit): Promise<string[]> {
  const existing = await agent.listVolumes([]);
  const created: string[] = [];
  for (const key of keys) {
    const vol = project.volumes[key] as VolumeConfig;
    const found = existing.find((v) => v.name === vol.name);
    if (vol.external) {
      if (!found) throw notFound(`external volume "${vol.name}" not found`);
      continue;
    }
    if (!found) {
      // Compose quotes the name of a volume it creates (`Volume "app_data"  Created`), not of one it removes.
      const quoted = JSON.stringify(vol.name);
      emit(working('Volume', quoted, 'Creating'));
      await agent.createVolume({
        name: vol.name,
        driver: vol.driver ?? 'local',
        labels: { ...(vol.labels ?? {}), ...volumeLabels(project.name, key) },
        options: vol.driver_opts ?? {},
      });
      emit(done('Volume', quoted, 'Created'));
    }
    created.push(vol.name);
  }
  return created;
}

/**
 * Images, by the run's pull policy (`--pull`) or else each service's `pull_policy`: `always`
 * pulls, `missing` (the default) pulls what is absent, `never` refuses what is absent. A service
 * with `build:` has its image built (or pulled) by the CLI, where its context is, before `up`
 * reaches here: it is only checked. A missing image that cannot be had is a one-line error
 * naming the service. Resolves with each image's ID on the node, by reference: a container made
 * from another ID is out of date (rebuilt or pulled since), as Compose's image digest label says.
 */
export async function ensureImages(agent: AgentConnection, services: DesiredService[], runPolicy: string, emit: Emit): Promise<Map<string, string>> {
  const seen = new Map<string, Promise<string>>();
  const one = async (s: DesiredService): Promise<string> => {
    const id = await agent.imageId(s.image);
    const present = id !== undefined;
    if (s.hasBuild) {
      if (present) return id;
      throw failedPrecondition(`service "${s.name}" has no image ${s.image} to run: build it with \`tscompose build ${s.name}\` (or \`up\` without --no-build)`);
    }
    const policy = normalizePullPolicy(runPolicy || s.pullPolicy || 'missing');
    if (policy === 'missing' && present) return id;
    if (policy === 'never' || policy === 'build') {
      if (present) return id;
      throw notFound(`service "${s.name}": image ${s.image} not found, and pull_policy is ${policy}`);
    }
    emit(working('', s.name, 'Pulling'));
    try {
      await agent.pullImage(s.image, s.platform, () => undefined);
    } catch (err) {
      // As Compose: a pull the policy asks for must succeed, even with the image already here
      // (`pull_policy: always` must not run a stale image unnoticed).
      emit(failed('', s.name, 'Error'));
      const why = err instanceof Error ? err.message : String(err);
      if (!present) throw notFound(`service "${s.name}": image ${s.image} not found and could not be pulled: ${why}`, err);
      throw new TsError(kindOf(err), `service "${s.name}": image ${s.image} could not be pulled (pull_policy ${policy}): ${why}`, { cause: err });
    }
    emit(done('', s.name, 'Pulled'));
    const pulled = await agent.imageId(s.image);
    if (pulled === undefined) throw notFound(`service "${s.name}": image ${s.image} not found after its pull`);
    return pulled;
  };
  await Promise.all(
    services.map((s) => {
      let p = seen.get(s.image);
      if (!p) {
        p = one(s);
        seen.set(s.image, p);
      }
      return p;
    }),
  );
  const ids = new Map<string, string>();
  for (const [image, p] of seen) ids.set(image, await p);
  return ids;
}

export async function removeProjectNetworks(agent: AgentConnection, project: string, emit: Emit): Promise<number> {
  const nets = await agent.listNetworks([projectFilter(project)]);
  for (const n of nets.sort((a, b) => a.name.localeCompare(b.name))) {
    emit(working('Network', n.name, 'Removing'));
    await agent.removeNetwork(n.name);
    emit(done('Network', n.name, 'Removed'));
  }
  return nets.length;
}

export async function removeProjectVolumes(agent: AgentConnection, project: string, emit: Emit): Promise<number> {
  const vols = await agent.listVolumes([projectFilter(project)]);
  for (const v of vols.sort((a, b) => a.name.localeCompare(b.name))) {
    emit(working('Volume', v.name, 'Removing'));
    await agent.removeVolume(v.name);
    emit(done('Volume', v.name, 'Removed'));
  }
  return vols.length;
}
