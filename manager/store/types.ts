/** The manager's records: what each project should be, as last asked by `up`. */
import type { Dependency } from '../project/graph';

export interface ServiceRecord {
  name: string;
  replicas: number;
  configHash: string;
  image: string;
  dependencies: Dependency[];
}

export interface TaskRecord {
  /** `<project>/<service>/<number>` */
  id: string;
  service: string;
  number: number;
  containerName: string;
  /** The container on its node; "" until created. */
  containerId: string;
  nodeId: string;
  configHash: string;
  desiredState: 'running' | 'created';
}

export interface ProjectRecord {
  name: string;
  workingDir: string;
  configFiles: string[];
  createdAt: number;
  updatedAt: number;
  services: Record<string, ServiceRecord>;
  tasks: Record<string, TaskRecord>;
  /** Engine names of the networks and volumes `up` created (external ones are not listed). */
  networks: string[];
  volumes: string[];
}

export interface ManagerState {
  version: 1;
  /** This host's node id, chosen once. */
  localNodeId: string;
  projects: Record<string, ProjectRecord>;
}
