/**
 * A project's desired state: one desired service per compose service (its replicas, config hash,
 * dependencies) and one task per replica (the ContainerSpec to run). Pure: the model in, the
 * desired state out; the orchestrator compares it with what runs.
 */
import { invalidArgument } from '../../common/errors';
import type { ContainerSpec } from '../../common/rpc/engine-types';
import { serviceConfigHash } from '../compose/index';
import type { Project, ServiceConfig } from '../compose/index';
import { containerSpecOf, replicaName, serviceImage } from './container-spec';
import { dependenciesOf, dependsOnLabel, type Dependency } from './graph';
import { containerLabels, type ProjectIdentity } from './naming';

export interface DesiredService {
  name: string;
  /**
   * `replicated` runs `replicas` tasks; `global` one task on each node that accepts the service:
   * the orchestrator sets `replicas` from the nodes (here 1, as on one host).
   */
  mode: 'replicated' | 'global';
  replicas: number;
  configHash: string;
  image: string;
  pullPolicy: string;
  /** The service's `platform` (`os/arch[/variant]`), '' for the node's own: what its image is pulled for. */
  platform: string;
  /** Whether the image comes from `build` (built by the CLI before `up` converges). */
  hasBuild: boolean;
  hasHealthcheck: boolean;
  dependencies: Dependency[];
  /** Placement constraints (`deploy.placement.constraints`), for the scheduler. */
  constraints: string[];
  maxReplicasPerNode: number;
  /** Reserved resources per replica, for the scheduler. */
  reservations: { nanoCpus: number; memoryBytes: number };
}

export interface DesiredTask {
  /** Stable identity of a slot: `<project>/<service>/<number>`. */
  id: string;
  service: string;
  number: number;
  containerName: string;
  configHash: string;
  spec: ContainerSpec;
}

/** Swarm's job modes run here as the service modes they extend (the warnings say so). */
export function deployModeOf(service: ServiceConfig): DesiredService['mode'] {
  const mode = service.deploy?.mode;
  return mode === 'global' || mode === 'global-job' ? 'global' : 'replicated';
}

/** Replicas: `--scale`, else `deploy.replicas`, else `scale`, else 1. A global service is not scaled. */
export function replicasOf(service: ServiceConfig, scale: Record<string, number>): number {
  const forced = scale[service.name];
  if (forced !== undefined && deployModeOf(service) === 'global') {
    throw invalidArgument(`service "${service.name}": scale can only be used with replicated or replicated-job mode; a global service runs one container per node`);
  }
  if (forced !== undefined) return forced;
  return service.deploy?.replicas ?? service.scale ?? 1;
}

export function desiredService(project: Project, service: ServiceConfig, scale: Record<string, number>): DesiredService {
  const reservations = service.deploy?.resources?.reservations;
  const mode = deployModeOf(service);
  return {
    name: service.name,
    mode,
    replicas: replicasOf(service, scale),
    configHash: serviceConfigHash(service),
    image: serviceImage(project, service),
    pullPolicy: service.pull_policy ?? '',
    platform: service.platform ?? '',
    hasBuild: service.build !== undefined,
    hasHealthcheck: service.healthcheck !== undefined && service.healthcheck.disable !== true && (service.healthcheck.test?.[0] ?? '') !== 'NONE',
    dependencies: dependenciesOf(service),
    constraints: service.deploy?.placement?.constraints ?? [],
    maxReplicasPerNode: mode === 'global' ? 1 : (service.deploy?.placement?.max_replicas_per_node ?? 0),
    reservations: {
      nanoCpus: reservations?.cpus !== undefined ? Math.round(reservations.cpus * 1e9) : 0,
      memoryBytes: reservations?.memory ?? 0,
    },
  };
}

export function desiredTask(project: Project, identity: ProjectIdentity, service: ServiceConfig, number: number): DesiredTask {
  const configHash = serviceConfigHash(service);
  const labels = containerLabels({
    ...identity,
    service: service.name,
    number,
    configHash,
    oneoff: false,
    dependsOn: dependsOnLabel(dependenciesOf(service)),
  });
  const spec = containerSpecOf({ project, service, number, labels });
  return { id: `${project.name}/${service.name}/${number}`, service: service.name, number, containerName: replicaName(project, service, number), configHash, spec };
}
