/**
 * `.dockerignore` files and Docker's path patterns (moby/patternmatcher + ignorefile): `*`, `?`,
 * `[...]`, `**` across directories, `!` re-inclusion, last matching rule wins, and a pattern that
 * matches a directory matches everything below it.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../../common/errors';

/** Go's `path.Clean` for slash-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** Reads `.dockerignore` text into patterns: comments and blanks dropped, paths cleaned, leading `/` removed. */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? '!' + pattern : pattern);
  }
  return patterns;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

class Pattern {
  readonly exclusion: boolean;
  readonly cleaned: string;
  private type: MatchType = 'exact';
  private regexp?: RegExp;

  constructor(source: string) {
    let p = source.trim();
    this.exclusion = p.startsWith('!');
    if (this.exclusion) {
      if (p.length === 1) throw invalidArgument('illegal exclusion pattern: "!"');
      p = p.slice(1);
    }
    this.cleaned = cleanPath(p);
    validateGlob(this.cleaned);
    this.compile();
  }

  private compile(): void {
    const chars = Array.from(this.cleaned);
    let re = '^';
    let type: MatchType = 'exact';
    let inClass = false;
    for (let i = 0, step = 0; i < chars.length; i++, step++) {
      const ch = chars[i] as string;
      if (inClass) {
        if (ch === ']') inClass = false;
        if (ch === '\\' && i + 1 < chars.length) re += escapeRegExpChar(chars[++i] as string);
        else re += ch === '-' || ch === ']' || ch === '^' ? ch : escapeRegExpChar(ch);
        continue;
      }
      if (ch === '*') {
        if (chars[i + 1] === '*') {
          i++;
          if (chars[i + 1] === '/') i++;
          if (i + 1 >= chars.length) {
            // A trailing `**` accepts everything below, as in .gitignore.
            if (type === 'exact') type = 'prefix';
            else {
              re += '.*';
              type = 'regexp';
            }
          } else {
            re += '(.*/)?';
            type = 'regexp';
          }
          if (step === 0) type = 'suffix';
        } else {
          re += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        re += '[^/]';
        type = 'regexp';
      } else if (ch === '\\') {
        if (i + 1 < chars.length) {
          re += escapeRegExpChar(chars[++i] as string);
          type = 'regexp';
        } else {
          re += '\\\\';
        }
      } else if (ch === '[') {
        inClass = true;
        re += '[';
        if (chars[i + 1] === '^') re += chars[++i] as string;
        type = 'regexp';
      } else {
        re += escapeRegExpChar(ch);
      }
    }
    this.type = type;
    if (type === 'regexp') this.regexp = new RegExp(re + '$', 'u');
  }

  match(file: string): boolean {
    switch (this.type) {
      case 'exact':
        return file === this.cleaned;
      case 'prefix':
        return file.startsWith(this.cleaned.slice(0, -2));
      case 'suffix': {
        const suffix = this.cleaned.slice(2);
        if (file.endsWith(suffix)) return true;
        return suffix.startsWith('/') && file === suffix.slice(1);
      }
      case 'regexp':
        return this.regexp?.test(file) ?? false;
    }
  }
}

function escapeRegExpChar(ch: string): string {
  return /[.+()|{}$^*?[\]\\/]/.test(ch) ? '\\' + ch : ch;
}

/** Rejects what Go's `filepath.Match` rejects: an unterminated `[`, or a trailing `\`. */
function validateGlob(pattern: string): void {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      if (i + 1 >= pattern.length) throw invalidArgument(`syntax error in pattern: ${pattern}`);
      i++;
    } else if (ch === '[' && !inClass) {
      inClass = true;
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') throw invalidArgument(`syntax error in pattern: ${pattern}`);
    } else if (ch === ']' && inClass) {
      inClass = false;
    }
  }
  if (inClass) throw invalidArgument(`syntax error in pattern: ${pattern}`);
}

/** Per-pattern results for a directory, handed to its children so parents are matched once. */
export type ParentMatches = readonly boolean[];

export class PatternMatcher {
  private readonly patterns: Pattern[];
  readonly hasExclusions: boolean;

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.filter((p) => p.trim() !== '').map((p) => new Pattern(p));
    this.hasExclusions = this.patterns.some((p) => p.exclusion);
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether a slash-separated context path is excluded, considering its parent directories. */
  matches(file: string): boolean {
    return this.matchesWithParents(file).matched;
  }

  /**
   * Like `matches`, reusing the parent directory's per-pattern results when given (moby's
   * MatchesUsingParentResults); without them every parent directory is tried.
   */
  matchesWithParents(file: string, parent?: ParentMatches): { matched: boolean; info: ParentMatches } {
    const cleaned = cleanPath(file);
    if (cleaned === '.') return { matched: false, info: this.patterns.map(() => false) };
    let matched = false;
    const info: boolean[] = [];
    for (const [i, pattern] of this.patterns.entries()) {
      let match = parent?.[i] ?? false;
      if (!match) {
        if (pattern.exclusion !== matched) {
          info.push(false);
          continue;
        }
        match = pattern.match(cleaned);
        if (!match && parent === undefined) {
          const dirs = cleaned.split('/').slice(0, -1);
          for (let depth = 1; depth <= dirs.length && !match; depth++) match = pattern.match(dirs.slice(0, depth).join('/'));
        }
      }
      info.push(match);
      if (match) matched = !pattern.exclusion;
    }
    return { matched, info };
  }
}

export interface IgnoreFile {
  patterns: string[];
  /** The file the patterns came from, when one exists. */
  source?: string;
}

/**
 * Finds the ignore file for a build: `<Dockerfile name>.dockerignore` beside the Dockerfile wins
 * (e.g. `app.Dockerfile.dockerignore`), else `<context>/.dockerignore`. Excluding the Dockerfile
 * or the ignore file itself has no effect on reading them: the builder reads both directly.
 */
export async function readDockerignore(contextDir: string, dockerfilePath?: string): Promise<IgnoreFile> {
  for (const candidate of ignoreFileCandidates(contextDir, dockerfilePath)) {
    let text: string;
    try {
      text = await fsp.readFile(candidate, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    return { patterns: parseDockerignore(text), source: candidate };
  }
  return { patterns: [] };
}

/** `readDockerignore` with synchronous reads, for the CLI (nothing to overlap them with there). */
export function readDockerignoreSync(contextDir: string, dockerfilePath?: string): IgnoreFile {
  for (const candidate of ignoreFileCandidates(contextDir, dockerfilePath)) {
    let text: string;
    try {
      text = readFileSync(candidate, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    return { patterns: parseDockerignore(text), source: candidate };
  }
  return { patterns: [] };
}

function ignoreFileCandidates(contextDir: string, dockerfilePath: string | undefined): string[] {
  const candidates: string[] = [];
  if (dockerfilePath !== undefined) {
    candidates.push(path.resolve(contextDir, dockerfilePath) + '.dockerignore');
  }
  candidates.push(path.join(contextDir, '.dockerignore'));
  return candidates;
}
