/**
 * Compose file loader: the public face. `loadProject` runs the documented pipeline (see README)
 * and returns the typed model, the canonical tree and warnings. Importing this module is cheap:
 * ajv is imported only when a file is validated.
 */
export { loadProject } from './pipeline';
export type { ProjectOptions, LoadedProject } from './pipeline';
export { toYaml, toJson, serviceConfigHash } from './output';
export type { PrintOptions } from './output';
export { projectOptionsFromFlags } from './options';
export type { GlobalProjectFlags } from './options';
export { ComposeError, isComposeFileError, NoConfigurationFileError } from './errors';
export { parseDotenv } from './dotenv';
export { substitute } from './interpolation';
export { checkProjectName, normalizeProjectName, DEFAULT_FILENAMES } from './discovery';
export { formatDuration, parseDuration, parseBytes } from './units';
export type * from './model';
export type { Tree, TreeMap } from './tree';
