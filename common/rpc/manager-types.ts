/**
 * The manager API's messages as plain objects (proto-loader with keepCase). Kept by hand beside
 * proto/manager.proto: when a message changes there, it changes here.
 */

export interface ProjectUpRequest {
  project_name: string;
  model_json: string;
  services: string[];
  scale: Record<string, number>;
  no_deps: boolean;
  force_recreate: boolean;
  no_recreate: boolean;
  renew_anon_volumes: boolean;
  always_recreate_deps: boolean;
  remove_orphans: boolean;
  no_start: boolean;
  wait: boolean;
  wait_timeout_seconds: number;
  timeout_seconds: number;
  pull: '' | 'always' | 'missing' | 'never' | string;
  config_files: string[];
  working_dir: string;
  dependencies_only: boolean;
}

export type ProgressState = 'working' | 'done' | 'error';

export interface ProgressEvent {
  resource: '' | 'Network' | 'Volume' | 'Container' | 'Image' | 'Service' | string;
  name: string;
  status: string;
  state: ProgressState | string;
  warning: string;
}

export interface ProjectDownRequest {
  project_name: string;
  remove_volumes: boolean;
  rmi: '' | 'local' | 'all' | string;
  remove_orphans: boolean;
  timeout_seconds: number;
  model_json: string;
}

export type ProjectActionName = 'start' | 'stop' | 'restart' | 'kill' | 'pause' | 'unpause' | 'rm';

export interface ProjectActionRequest {
  project_name: string;
  action: ProjectActionName | string;
  services: string[];
  timeout_seconds: number;
  signal: string;
  force: boolean;
  volumes: boolean;
  all: boolean;
  known_services: string[];
  /** restart: only the named services, not their `restart: true` dependents. */
  no_deps?: boolean;
}

export interface ProjectListRequest {
  all: boolean;
}

export interface ProjectSummary {
  name: string;
  status: string;
  config_files: string[];
  working_dir: string;
}

export interface ProjectListReply {
  projects: ProjectSummary[];
}

export interface ProjectPsRequest {
  project_name: string;
  all: boolean;
  services: string[];
  oneoff: boolean;
}

export interface PublishedPort {
  url: string;
  target_port: number;
  published_port: number;
  protocol: string;
}

export interface ProjectContainer {
  id: string;
  name: string;
  image: string;
  command: string;
  service: string;
  number: number;
  created: number;
  state: string;
  status: string;
  health: string;
  exit_code: number;
  ports: PublishedPort[];
  node_id: string;
  labels: Record<string, string>;
  started_at: number;
  finished_at: number;
}

export interface ProjectPsReply {
  containers: ProjectContainer[];
}

export function emptyProjectUpRequest(projectName: string, modelJson: string): ProjectUpRequest {
  return {
    project_name: projectName,
    model_json: modelJson,
    services: [],
    scale: {},
    no_deps: false,
    force_recreate: false,
    no_recreate: false,
    renew_anon_volumes: false,
    always_recreate_deps: false,
    remove_orphans: false,
    no_start: false,
    wait: false,
    wait_timeout_seconds: 0,
    timeout_seconds: -1,
    pull: '',
    config_files: [],
    working_dir: '',
    dependencies_only: false,
  };
}
