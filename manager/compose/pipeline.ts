/**
 * The loader pipeline: files and environment → phases 1–11 → canonical tree and typed model.
 * Phases are plain functions over trees (see `phases/`); this module decides their order, gives
 * them their context, and runs included projects through the same phases.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ComposeError, Reporter } from './errors';
import { invalidArgument } from '../../common/errors';
import type { Locator, SourcePosition } from './errors';
import { DotenvError, parseDotenv } from './dotenv';
import type { Lookup } from './interpolation';
import { checkFilesExist, checkProjectName, directoryName, findDefaultFiles, normalizeProjectName, resolveAgainst, splitComposeFileVar } from './discovery';
import { parseComposeYaml } from './phases/01-parse';
import type { ParsedFile } from './phases/01-parse';
import { interpolateTree } from './phases/02-interpolate';
import { includeRequests } from './phases/03-include';
import type { IncludeRequest } from './phases/03-include';
import { resolveExtends } from './phases/04-extends';
import { mergeFiles } from './phases/05-merge';
import { validateTree } from './phases/06-validate';
import { normalizeAt, normalizeService, normalizeTree, sortKeys } from './phases/07-normalize';
import type { NormalizeContext } from './phases/07-normalize';
import { resolvePathsAt, resolveTreePaths } from './phases/08-paths';
import { applyProfiles } from './phases/09-profiles';
import { checkSemantics } from './phases/10-semantics';
import { bindModel } from './phases/11-bind';
import { deepEqual, isMap } from './tree';
import type { Tree, TreeMap, TreePath } from './tree';
import type { Project } from './model';

export interface ProjectOptions {
  /** `-f` files; `-` reads `stdinContent`. */
  files?: string[];
  stdinContent?: string;
  /** `-p` */
  projectName?: string;
  /** `--project-directory` */
  projectDirectory?: string;
  /** `--profile` */
  profiles?: string[];
  /** `--env-file`, later files win over earlier ones. */
  envFiles?: string[];
  /** The shell environment; `process.env` when absent. */
  environment?: Record<string, string | undefined>;
  /** `process.cwd()` when absent. */
  workingDir?: string;
  /** Default true: `--no-interpolate` sets false. */
  interpolate?: boolean;
  /**
   * Default true. `--no-normalize` sets false: phases 7, 8 and 10 are skipped, `canonical` is the
   * merged tree as written, and `model` is bound from it as is (short syntax, no unit conversion):
   * only `config` should load that way.
   */
  normalize?: boolean;
  /** Default true: `--no-path-resolution` sets false. */
  resolvePaths?: boolean;
  /** Services named to `config`: the model holds them and their dependencies, whatever their profiles. */
  servicesSelected?: string[];
  /** Services named to a verb that acts on the project: their profiles become active. */
  servicesEnabled?: string[];
}

export interface LoadedProject {
  /** The typed model (canonical unless loaded with `normalize: false`). */
  model: Project;
  /** The plain tree `config` prints: a Compose file that loads back to the same model. */
  canonical: TreeMap;
  warnings: string[];
  projectName: string;
  projectDir: string;
  /** The project's Compose files, in merge order (`-` for stdin). */
  files: string[];
  /** Every file read: project files, included and extended files, env files. */
  sourceFiles: string[];
  /** The interpolation environment: shell, then `--env-file`s, then the project's `.env`. */
  environment: Record<string, string>;
  profiles: string[];
  interpolate: boolean;
}

/** Positions for error messages across every parsed file: the deepest match wins, later files on ties. */
class FilesLocator implements Locator {
  readonly files: ParsedFile[] = [];
  locate(path: TreePath): SourcePosition | undefined {
    let best: { pos: SourcePosition; depth: number } | undefined;
    for (let i = this.files.length - 1; i >= 0; i--) {
      const r = (this.files[i] as ParsedFile).locate(path);
      if (!best || r.depth > best.depth) best = r;
    }
    return best?.pos;
  }
}

interface Scope {
  projectDir: string;
  environment: Record<string, string>;
  lookup: Lookup;
  includeStack: string[];
}

class Session {
  readonly warnings: string[] = [];
  readonly locator = new FilesLocator();
  readonly rep = new Reporter(this.locator);
  readonly sourceFiles = new Set<string>();
  readonly home: string;
  private readonly texts = new Map<string, string | undefined>();

  constructor(
    readonly opts: ProjectOptions,
    readonly shellEnv: Record<string, string>,
  ) {
    this.home = shellEnv.HOME ?? homedir();
  }

  get interpolate(): boolean {
    return this.opts.interpolate !== false;
  }

  readText = (file: string): string | undefined => {
    if (this.texts.has(file)) return this.texts.get(file);
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
      this.sourceFiles.add(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new ComposeError('InvalidArgument', `cannot read ${file}: ${(err as Error).message}`, { pos: { file } });
      text = undefined;
    }
    this.texts.set(file, text);
    return text;
  };

  /** Reads a dotenv file into `into` without overwriting earlier (higher-precedence) keys. */
  readEnvFile(file: string, lookup: Lookup, required: boolean): Record<string, string> {
    const text = this.readText(file);
    if (text === undefined) {
      if (required) throw new ComposeError('NotFound', `env file ${file} not found`, { pos: { file } });
      return {};
    }
    try {
      return parseDotenv(text, lookup);
    } catch (err) {
      if (err instanceof DotenvError) throw new ComposeError('InvalidArgument', err.message.replace(/^line \d+: /, ''), { pos: { file, line: err.line, col: 1 } });
      throw err;
    }
  }

  /** Phases 1–2 for one file. */
  async parseFile(file: string, scope: Scope, at?: TreePath): Promise<TreeMap> {
    let text: string | undefined;
    let name = file;
    if (file === '-') {
      text = this.opts.stdinContent ?? '';
      name = 'stdin';
    } else {
      text = this.readText(file);
      if (text === undefined) {
        if (at) throw this.rep.notFound(at, `compose file ${file} not found`);
        throw new ComposeError('NotFound', `compose file ${file} not found`, { pos: { file } });
      }
    }
    const parsed = await parseComposeYaml(name, text, this.warnings);
    this.locator.files.push(parsed);
    const tree = parsed.tree;
    if (this.interpolate) interpolateTree(tree, scope.lookup, this.rep, this.warnings);
    return tree;
  }

  normalizeContext(projectName: string, projectDir: string, scope: Scope): NormalizeContext {
    return { rep: this.rep, projectName, projectDir, lookup: scope.lookup, readText: this.readText, warnings: this.warnings };
  }

  /** Phases 1–5 for a set of files making one project (main or included). */
  async loadFiles(files: string[], scope: Scope): Promise<TreeMap> {
    const trees: TreeMap[] = [];
    const included: { tree: TreeMap; req: IncludeRequest }[] = [];
    const parsedOthers = new Map<string, TreeMap>();
    for (const file of files) {
      const tree = await this.parseFile(file, scope);
      const fileForRelative = file === '-' ? resolve(scope.projectDir, 'stdin') : file;
      // Phase 3: included projects load on their own; the merge phase imports them.
      for (const req of includeRequests(tree, { projectDir: scope.projectDir, stack: [...scope.includeStack, fileForRelative], rep: this.rep })) {
        included.push({ tree: await this.loadIncluded(req, scope, [...scope.includeStack, fileForRelative]), req });
      }
      // Phase 4
      await resolveExtends(tree, fileForRelative, {
        rep: this.rep,
        projectDir: scope.projectDir,
        loadFile: async (abs, at) => {
          let t = parsedOthers.get(abs);
          if (!t) {
            t = await this.parseFile(abs, scope, at);
            delete t.include;
            parsedOthers.set(abs, t);
          }
          return t;
        },
        rebase: (svc, name, fileDir) => {
          if (this.opts.resolvePaths === false) return svc;
          const ctx = this.normalizeContext('', fileDir, scope);
          const n = normalizeService(svc, name, ctx);
          return resolvePathsAt(n, ['services', name], { baseDir: fileDir, home: this.home });
        },
      });
      trees.push(tree);
    }
    // Phase 5
    const merged = mergeFiles(trees);
    for (const { tree, req } of included) this.importIncluded(merged, tree, req);
    return merged;
  }

  private importIncluded(target: TreeMap, imported: TreeMap, req: IncludeRequest): void {
    for (const section of ['services', 'networks', 'volumes', 'secrets', 'configs', 'models'] as const) {
      const src = imported[section];
      if (!isMap(src)) continue;
      const dst: TreeMap = isMap(target[section]) ? target[section] : {};
      for (const [k, v] of Object.entries(src)) {
        if (Object.hasOwn(dst, k) && !deepEqual(dst[k], v)) {
          throw this.rep.invalid([section, k], `conflicts with the ${section.slice(0, -1)} ${JSON.stringify(k)} imported from ${req.files.join(', ')}; rename one of them`);
        }
        dst[k] = v;
      }
      target[section] = dst;
    }
  }

  /** An included project: phases 1–8 with its own directory and `.env`. */
  private async loadIncluded(req: IncludeRequest, parent: Scope, stack: string[]): Promise<TreeMap> {
    const envFiles = req.envFiles.length > 0 ? req.envFiles : [resolve(req.projectDir, '.env')];
    const own: Record<string, string> = {};
    for (const f of envFiles) Object.assign(own, this.readEnvFile(f, (k) => parent.environment[k] ?? own[k], req.envFiles.length > 0));
    const environment = { ...own, ...parent.environment };
    const scope: Scope = { projectDir: req.projectDir, environment, lookup: (k) => environment[k], includeStack: stack };
    for (const f of req.files) if (this.readText(f) === undefined) throw this.rep.notFound(req.at, `included file ${f} not found`);
    const tree = await this.loadFiles(req.files, scope);
    await validateTree(tree, this.rep);
    const ctx = this.normalizeContext('', req.projectDir, scope);
    for (const section of ['services', 'networks', 'volumes', 'secrets', 'configs']) {
      if (tree[section] === undefined) continue;
      const n = normalizeAt(tree[section] as Tree, [section], ctx);
      if (n === undefined) delete tree[section];
      else tree[section] = n;
    }
    return this.opts.resolvePaths === false ? tree : resolveTreePaths(tree, { baseDir: req.projectDir, home: this.home });
  }
}

function shellEnvironment(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export async function loadProject(opts: ProjectOptions): Promise<LoadedProject> {
  const shell = shellEnvironment(opts.environment ?? process.env);
  const session = new Session(opts, shell);
  const workingDir = resolve(opts.workingDir ?? process.cwd());
  const explicitDir = opts.projectDirectory !== undefined ? resolve(workingDir, opts.projectDirectory) : undefined;

  // --env-file values sit below the shell and above the project's .env; later files win.
  const fromEnvFiles: Record<string, string> = {};
  for (const f of opts.envFiles ?? []) {
    const abs = resolve(workingDir, f);
    Object.assign(fromEnvFiles, session.readEnvFile(abs, (k) => shell[k] ?? fromEnvFiles[k], true));
  }
  // COMPOSE_* variables may come from the .env of the directory we start in.
  const preDir = explicitDir ?? workingDir;
  const preDotenv = session.readEnvFile(resolve(preDir, '.env'), (k) => shell[k] ?? fromEnvFiles[k], false);
  const pre = (k: string): string | undefined => shell[k] ?? fromEnvFiles[k] ?? preDotenv[k];

  let files: string[];
  if (opts.files && opts.files.length > 0) files = opts.files.map((f) => resolveAgainst(workingDir, f));
  else if (pre('COMPOSE_FILE')) files = splitComposeFileVar(pre('COMPOSE_FILE') as string, pre('COMPOSE_PATH_SEPARATOR')).map((f) => resolveAgainst(preDir, f));
  else {
    const found = findDefaultFiles(preDir);
    session.warnings.push(...found.warnings);
    files = found.files;
  }
  checkFilesExist(files);
  const firstReal = files.find((f) => f !== '-');
  const projectDir = explicitDir ?? (firstReal ? dirname(firstReal) : workingDir);

  const dotenv = projectDir === preDir ? preDotenv : session.readEnvFile(resolve(projectDir, '.env'), (k) => shell[k] ?? fromEnvFiles[k], false);
  const environment: Record<string, string> = { ...dotenv, ...fromEnvFiles, ...shell };
  const scope: Scope = { projectDir, environment, lookup: (k) => environment[k], includeStack: [] };

  // Phases 1–5
  const merged = await session.loadFiles(files, scope);

  const projectName = chooseProjectName(opts, environment, merged, projectDir);

  // Phase 6
  await validateTree(merged, session.rep);

  const profilesRequested =
    opts.profiles && opts.profiles.length > 0
      ? opts.profiles
      : (environment.COMPOSE_PROFILES ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');

  const named = { selected: opts.servicesSelected, enabled: opts.servicesEnabled };
  let canonical: TreeMap;
  let disabled: string[];
  let activeProfiles: string[];
  if (opts.normalize !== false) {
    // Phase 7
    canonical = normalizeTree(merged, session.normalizeContext(projectName, projectDir, scope));
    // Phase 8
    if (opts.resolvePaths !== false) canonical = resolveTreePaths(canonical, { baseDir: projectDir, home: session.home });
    // Phase 9
    ({ disabled, activeProfiles } = applyProfiles(canonical, profilesRequested, named, session.rep));
    // Phase 10
    checkSemantics(canonical, session.rep);
  } else {
    // --no-normalize: the merged tree as written; profiles still select services.
    merged.name = projectName;
    delete merged.include;
    ({ disabled, activeProfiles } = applyProfiles(merged, profilesRequested, named, session.rep));
    canonical = sortKeys(merged, true) as TreeMap;
  }

  // Phase 11
  const model = bindModel({ canonical, workingDir: projectDir, disabled, profiles: activeProfiles, files, environment, convertUnits: opts.normalize !== false });

  const printed = canonical;
  return {
    model,
    canonical: printed,
    warnings: session.warnings,
    projectName,
    projectDir,
    files,
    sourceFiles: [...session.sourceFiles],
    environment,
    profiles: activeProfiles,
    interpolate: session.interpolate,
  };
}

function chooseProjectName(opts: ProjectOptions, env: Record<string, string>, tree: TreeMap, projectDir: string): string {
  if (opts.projectName !== undefined && opts.projectName !== '') return checkProjectName(opts.projectName);
  const fromEnv = env.COMPOSE_PROJECT_NAME;
  if (fromEnv !== undefined && fromEnv !== '') return checkProjectName(fromEnv);
  // As compose-go: the file's name is normalised, and one that normalises to nothing is ignored.
  const fromFile = typeof tree.name === 'string' ? normalizeProjectName(tree.name) : '';
  if (fromFile !== '') return fromFile;
  const fromDir = normalizeProjectName(directoryName(projectDir));
  if (fromDir === '') {
    throw invalidArgument(`compose: no project name: the directory name of ${projectDir} has no lowercase letter or digit; use -p or a top-level name`);
  }
  return fromDir;
}

