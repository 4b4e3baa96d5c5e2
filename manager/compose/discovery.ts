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
 * Compose project names: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
 * Other characters are dropped; a name that is still invalid is an error.
 */
export function normalizeProjectName(raw: string, source: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
    throw invalidArgument(`compose: invalid project name ${JSON.stringify(raw)} (from ${source}); it must contain a lowercase letter or digit and only letters, digits, "-" and "_"`);
  }
  return name;
}

export function directoryName(dir: string): string {
  return basename(resolve(dir));
}
