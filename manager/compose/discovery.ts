/**
 * Which Compose files make the project, where its directory is, and what its name is:
 * `-f` files, else `COMPOSE_FILE`, else the default names searched from the working directory up
 * through its parents, each with its `*.override.*` file.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { ComposeError, NoConfigurationFileError } from './errors';
import { invalidArgument } from '../../common/errors';

export const DEFAULT_FILENAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export function overrideFileName(file: string): string {
  return file.replace(/\.(ya?ml)$/, '.override.$1');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface Discovered {
  files: string[];
  warnings: string[];
}

/** Searches `startDir` and its parents for the default file names. */
export function findDefaultFiles(startDir: string): Discovered {
  const warnings: string[] = [];
  let dir = resolve(startDir);
  for (;;) {
    const found = DEFAULT_FILENAMES.filter((n) => isFile(resolve(dir, n)));
    const first = found[0];
    if (first !== undefined) {
      if (found.length > 1) warnings.push(`Found multiple config files with supported names: ${found.map((f) => resolve(dir, f)).join(', ')}; using ${first}`);
      const main = resolve(dir, first);
      const files = [main];
      const override = overrideFileName(main);
      if (isFile(override)) files.push(override);
      return { files, warnings };
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new NoConfigurationFileError(`no configuration file provided: none of ${DEFAULT_FILENAMES.join(', ')} found in ${resolve(startDir)} or its parents`);
}

/** `COMPOSE_FILE` split on COMPOSE_PATH_SEPARATOR (default `:`; `;` on Windows). */
export function splitComposeFileVar(value: string, separator: string | undefined): string[] {
  const sep = separator && separator !== '' ? separator : process.platform === 'win32' ? ';' : ':';
  return value.split(sep).filter((s) => s !== '');
}

export function resolveAgainst(dir: string, p: string): string {
  if (p === '-') return p;
  return isAbsolute(p) ? p : resolve(dir, p);
}

export function checkFilesExist(files: string[]): void {
  for (const f of files) {
    if (f !== '-' && !existsSync(f)) throw new ComposeError('NotFound', `compose file ${f} not found`, { pos: { file: f } });
  }
}

/**
 * Compose's normalisation of a derived project name (the directory's, the top-level `name`):
 * lower-cased, characters other than letters, digits, `-` and `_` dropped, then leading `-`/`_`.
 * The result may be empty.
 */
export function normalizeProjectName(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
}

/**
 * A name the user gave (`-p`, COMPOSE_PROJECT_NAME): as compose-go, it must already be normal,
 * since silently using another name would act on a project the user did not name.
 */
export function checkProjectName(raw: string): string {
  if (raw === '' || normalizeProjectName(raw) !== raw) {
    throw invalidArgument(
      `invalid project name ${JSON.stringify(raw)}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`,
    );
  }
  return raw;
}

export function directoryName(dir: string): string {
  return basename(resolve(dir));
}
