/**
 * Phase 3 — include. Each `include` entry (short: a path; long: `path`, `project_directory`,
 * `env_file`) is loaded as its own project — own project directory for relative paths, own
 * `.env` whose values the including project's environment overrides — through phases 1–8. The
 * resulting canonical trees are imported by the merge phase; a file that includes itself,
 * directly or not, is an error that prints the cycle.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Reporter } from '../errors';
import { isMap } from '../tree';
import type { Tree, TreeMap } from '../tree';

export interface IncludeRequest {
  files: string[];
  projectDir: string;
  /** Absolute; when empty, the included project's `.env` (if any) is used. */
  envFiles: string[];
  /** Where the include was declared, for error messages. */
  at: (string | number)[];
}

export interface IncludeScope {
  projectDir: string;
  /** Files of the including projects, outermost first, to detect cycles. */
  stack: string[];
  rep: Reporter;
}

const list = (v: Tree | undefined): Tree[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

export function includeRequests(tree: TreeMap, scope: IncludeScope): IncludeRequest[] {
  const entries = tree.include;
  delete tree.include;
  if (entries === undefined || entries === null) return [];
  if (!Array.isArray(entries)) throw scope.rep.invalid(['include'], 'expected a list of paths or include mappings');
  const abs = (p: Tree): string => {
    const s = String(p);
    return isAbsolute(s) ? s : resolve(scope.projectDir, s);
  };
  return entries.map((entry, i) => {
    const at = ['include', i];
    let files: string[];
    let projectDir: string | undefined;
    let envFiles: string[] = [];
    if (typeof entry === 'string') files = [abs(entry)];
    else if (isMap(entry)) {
      files = list(entry.path).map(abs);
      if (typeof entry.project_directory === 'string') projectDir = abs(entry.project_directory);
      envFiles = list(entry.env_file).map(abs);
    } else throw scope.rep.invalid(at, 'expected a path or a mapping with `path`');
    if (files.length === 0) throw scope.rep.invalid(at, 'missing `path`');
    for (const f of files) {
      const cycleStart = scope.stack.indexOf(f);
      if (cycleStart !== -1) {
        throw scope.rep.invalid(at, `include cycle: ${[...scope.stack.slice(cycleStart), f].join(' → ')}`);
      }
    }
    return { files, projectDir: projectDir ?? dirname(files[0] as string), envFiles, at };
  });
}
