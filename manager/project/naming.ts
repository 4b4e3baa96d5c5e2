/**
 * Compose's names and labels. Containers, networks and volumes of a project are found again by
 * these labels alone, so they must match Docker Compose's exactly: tools that read them (and
 * `down` without the files) rely on it.
 */

/** The Compose version written in `com.docker.compose.version` (the format these labels follow). */
export const COMPOSE_LABEL_VERSION = '2.29.0';

export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  containerNumber: 'com.docker.compose.container-number',
  configHash: 'com.docker.compose.config-hash',
  oneoff: 'com.docker.compose.oneoff',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  version: 'com.docker.compose.version',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
  image: 'com.docker.compose.image',
  dependsOn: 'com.docker.compose.depends_on',
} as const;

/** `proj-web-1`: Compose v2's separator is `-`. */
export function containerName(project: string, service: string, number: number): string {
  return `${project}-${service}-${number}`;
}

/** `proj-web-run-0a1b2c3d4e5f`: one-off containers of `run`. */
export function oneoffContainerName(project: string, service: string, suffix: string): string {
  return `${project}-${service}-run-${suffix}`;
}

export interface ProjectIdentity {
  project: string;
  workingDir: string;
  configFiles: string[];
}

export function projectLabels(id: ProjectIdentity): Record<string, string> {
  return {
    [LABEL.project]: id.project,
    [LABEL.workingDir]: id.workingDir,
    [LABEL.configFiles]: id.configFiles.join(','),
    [LABEL.version]: COMPOSE_LABEL_VERSION,
  };
}

export interface ContainerIdentity extends ProjectIdentity {
  service: string;
  number: number;
  configHash: string;
  oneoff: boolean;
  /** `db:service_healthy:false,cache:service_started:true` as Compose writes it. */
  dependsOn: string;
}

export function containerLabels(id: ContainerIdentity): Record<string, string> {
  return {
    ...projectLabels(id),
    [LABEL.service]: id.service,
    [LABEL.containerNumber]: String(id.number),
    [LABEL.configHash]: id.configHash,
    [LABEL.oneoff]: id.oneoff ? 'True' : 'False',
    [LABEL.dependsOn]: id.dependsOn,
  };
}

export function networkLabels(project: string, key: string): Record<string, string> {
  return { [LABEL.project]: project, [LABEL.network]: key, [LABEL.version]: COMPOSE_LABEL_VERSION };
}

export function volumeLabels(project: string, key: string): Record<string, string> {
  return { [LABEL.project]: project, [LABEL.volume]: key, [LABEL.version]: COMPOSE_LABEL_VERSION };
}

/** The engine filter selecting a project's resources. */
export function projectFilter(project: string): { key: string; values: string[] } {
  return { key: 'label', values: [`${LABEL.project}=${project}`] };
}

/** A replica's number, from its label (0 when absent or malformed). */
export function numberOf(labels: Record<string, string>): number {
  const n = Number(labels[LABEL.containerNumber]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

export function isOneoff(labels: Record<string, string>): boolean {
  return labels[LABEL.oneoff] === 'True';
}
