/** The model as it arrives from the CLI (JSON of manager/compose's `Project`), checked for shape. */
import { invalidArgument } from '../../common/errors';
import type { Project } from '../compose/index';

export function parseModel(json: string, projectName: string): Project {
  let model: Project;
  try {
    model = JSON.parse(json) as Project;
  } catch (err) {
    throw invalidArgument(`manager: the project model is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof model !== 'object' || model === null || typeof model.services !== 'object' || model.services === null) {
    throw invalidArgument('manager: the project model has no services');
  }
  if (projectName && model.name !== projectName) {
    throw invalidArgument(`manager: the model is of project ${JSON.stringify(model.name)}, not ${JSON.stringify(projectName)}`);
  }
  for (const [key, svc] of Object.entries(model.services)) {
    if (typeof svc !== 'object' || svc === null || svc.name !== key || typeof svc.canonical !== 'object') {
      throw invalidArgument(`manager: service ${JSON.stringify(key)} of the model is malformed`);
    }
  }
  model.networks ??= {};
  model.volumes ??= {};
  model.disabled_services ??= [];
  model.compose_files ??= [];
  return model;
}
