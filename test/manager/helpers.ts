/** Models for manager tests, loaded through the real Compose loader. */
import { loadProject } from '../../manager/compose/index';
import type { Project } from '../../manager/compose/index';

export async function model(yaml: string, name = 'proj'): Promise<Project> {
  const loaded = await loadProject({ files: ['-'], stdinContent: yaml, projectName: name, workingDir: '/srv/proj', environment: {} });
  return loaded.model;
}
