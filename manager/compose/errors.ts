import { TsError } from '../../common/errors';
import type { ErrorKind } from '../../common/errors';
import { formatPath } from './tree';
import type { TreePath } from './tree';

/** Where a value came from, for error messages. Lines and columns are 1-based. */
export interface SourcePosition {
  file: string;
  line?: number;
  col?: number;
}

/** Finds the source position of a tree path; phases get one from the pipeline. */
export interface Locator {
  locate(path: TreePath): SourcePosition | undefined;
}

/**
 * An error in the user's Compose files. Its message names the file, line and column, the YAML
 * path and what was expected; the fields are kept for callers that want them structured.
 * The CLI maps these to compose's exit code 15 (see `isComposeFileError`).
 */
export class ComposeError extends TsError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly col: number | undefined;
  readonly yamlPath: string | undefined;
  readonly composeFileError = true;
  constructor(kind: ErrorKind, detail: string, where: { pos?: SourcePosition | undefined; path?: TreePath | undefined } = {}) {
    const yamlPath = where.path ? formatPath(where.path) : undefined;
    const pos = where.pos;
    let prefix = 'compose: ';
    if (pos) {
      prefix += pos.file;
      if (pos.line !== undefined) prefix += `:${pos.line}:${pos.col ?? 1}`;
      prefix += ': ';
    }
    if (yamlPath !== undefined) prefix += `${yamlPath}: `;
    super(kind, (prefix + detail).replace(/\s*\n\s*/g, ' '));
    this.file = pos?.file;
    this.line = pos?.line;
    this.col = pos?.col;
    this.yamlPath = yamlPath;
  }
}

/** No Compose file was found: the verbs that can act on a project by name (`-p`) go on without one. */
export class NoConfigurationFileError extends ComposeError {
  constructor(detail: string) {
    super('NotFound', detail);
  }
}

export function isComposeFileError(err: unknown): err is ComposeError {
  return err instanceof ComposeError;
}

/** Builds ComposeErrors located through a Locator. */
export class Reporter {
  constructor(readonly locator: Locator | undefined) {}

  invalid(path: TreePath, detail: string): ComposeError {
    return new ComposeError('InvalidArgument', detail, { path, pos: this.locator?.locate(path) });
  }

  notFound(path: TreePath, detail: string): ComposeError {
    return new ComposeError('NotFound', detail, { path, pos: this.locator?.locate(path) });
  }
}

/** Damerau-free Levenshtein distance, small strings only. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The candidate nearest to `word`, if it is near enough to be a plausible typo. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestDist <= limit ? best : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const n = nearest(word, candidates);
  return n ? `; did you mean ${JSON.stringify(n)}?` : '';
}
