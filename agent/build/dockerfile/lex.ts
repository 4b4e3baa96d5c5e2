/**
 * Shell-style word processing of Dockerfile arguments, faithful to buildkit's `shell/lex.go`:
 * quotes, the escape token, `$VAR`/`${VAR}` and the `${VAR<modifier>}` forms buildkit supports.
 * The builder only substitutes variables here; it never runs a shell. RUN/CMD/ENTRYPOINT text is
 * left to the shell in the container.
 */

export interface LexOptions {
  /** `\` by default, or `` ` `` when the Dockerfile has `# escape=``. */
  escapeToken?: string;
  /** Keep quote characters in the output (used to tell quoted heredoc words apart). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (used when expanding heredoc bodies). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  skipUnsetEnv?: boolean;
}

export interface ProcessResult {
  /** The whole word after processing, spaces kept. */
  result: string;
  /** The word split on unquoted whitespace, after substitution. */
  words: string[];
  /** Variable names that were found in the environment. */
  matched: Set<string>;
  /** Variable names that were referenced but not set. */
  unmatched: Set<string>;
}

/** Lexer failures carry only the problem; callers add the Dockerfile and line. */
export class LexError extends Error {}

const EOF = '';

const isSpace = (ch: string): boolean => /^\s$/u.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class WordCollector {
  private word = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }

  addString(str: string): void {
    for (const ch of str) this.addChar(ch);
  }

  addRawString(str: string): void {
    this.word += str;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class WordScanner {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    source: string,
    private readonly env: ReadonlyMap<string, string>,
    private readonly opts: Required<LexOptions>,
  ) {
    this.chars = Array.from(source);
    this.rawEscapes = opts.rawEscapes;
  }

  private peek(): string {
    return this.chars[this.pos] ?? EOF;
  }

  private next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }

  atEnd(): boolean {
    return this.pos >= this.chars.length;
  }

  processStopOn(stopChar: string, rawEscapes: boolean): { result: string; words: string[] } {
    let result = '';
    const words = new WordCollector();
    const savedRawEscapes = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        let ch = this.peek();
        if (stopChar !== EOF && ch === stopChar) {
          this.next();
          return { result, words: words.finish() };
        }
        const special =
          ch === '$' ? () => this.processDollar()
          : !this.opts.skipProcessQuotes && ch === "'" ? () => this.processSingleQuote()
          : !this.opts.skipProcessQuotes && ch === '"' ? () => this.processDoubleQuote()
          : undefined;
        if (special) {
          const piece = special();
          result += piece;
          if (ch === '$') words.addString(piece);
          else words.addRawString(piece);
          continue;
        }
        ch = this.next();
        if (ch === this.opts.escapeToken) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += ch;
          }
          ch = this.next();
          if (ch === EOF) break;
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += ch;
      }
      if (stopChar !== EOF) {
        throw new LexError(`unexpected end of statement while looking for matching ${stopChar}`);
      }
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = savedRawEscapes;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next single quote is literal; a single quote cannot be escaped.
    let result = '';
    let ch = this.next();
    if (this.opts.rawQuotes) result += ch;
    for (;;) {
      ch = this.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except `$`, and the escape token which only escapes `"`, `$` and itself.
    let result = '';
    const open = this.next();
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const peeked = this.peek();
      if (peeked === EOF) {
        throw new LexError('unexpected end of statement while looking for matching double-quote');
      }
      if (peeked === '"') {
        const close = this.next();
        if (this.opts.rawQuotes) result += close;
        return result;
      }
      if (peeked === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.opts.escapeToken) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === EOF) continue;
        if (after === '"' || after === '$' || after === this.opts.escapeToken) ch = this.next();
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const found = this.getEnv(name);
      if (found === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return found ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    let modifier = ch;
    if (ch === EOF) throw new LexError("syntax error: missing '}'");

    if (ch === '}') {
      const value = this.getEnv(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '${' + name + '}';
      return value ?? '';
    }

    if (ch === ':' || ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      let nullIsUnset = false;
      if (ch === ':') {
        nullIsUnset = true;
        ch = this.next();
        modifier += ch;
      }
      const rawEscapes = ch === '#' || ch === '%';
      let word: string;
      try {
        word = this.processStopOn('}', rawEscapes).result;
      } catch (err) {
        if (this.atEnd()) throw new LexError("syntax error: missing '}'");
        throw err;
      }
      const value = this.getEnv(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '${' + name + modifier + word + '}';
      const unsetOrNull = value === undefined || (nullIsUnset && value === '');
      switch (ch) {
        case '-':
          return unsetOrNull ? word : (value ?? '');
        case '+':
          return unsetOrNull ? '' : word;
        case '?':
          if (value === undefined) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value;
        case '%':
        case '#': {
          // `%`/`#` remove the shortest match, `%%`/`##` the longest.
          let pattern = word;
          let greedy = false;
          if (pattern.startsWith(ch)) {
            greedy = true;
            pattern = pattern.slice(1);
          }
          return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
        }
        default:
          throw new LexError(`unsupported modifier (${modifier}) in substitution`);
      }
    }

    if (ch === '/') {
      const replaceAll = this.peek() === '/';
      if (replaceAll) this.next();
      let pattern: string;
      try {
        pattern = this.processStopOn('/', true).result;
      } catch (err) {
        if (this.atEnd()) throw new LexError("syntax error: missing '/' in ${}");
        throw err;
      }
      let replacement: string;
      try {
        replacement = this.processStopOn('}', true).result;
      } catch (err) {
        if (this.atEnd()) throw new LexError("syntax error: missing '}'");
        throw err;
      }
      const value = this.getEnv(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '${' + name + '/' + pattern + '/' + replacement + '}';
      const re = shellPatternToRegExp(pattern, true, false, replaceAll);
      // A function replacer keeps `$&`-style sequences in the replacement literal.
      return (value ?? '').replace(re, () => replacement);
    }

    throw new LexError(`unsupported modifier (${modifier}) in substitution`);
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name.length === 0 && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name.length === 0 && SPECIAL_PARAMS.has(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private getEnv(name: string): string | undefined {
    const value = this.env.get(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }
}

/**
 * Converts a `${var#pattern}` style pattern (`*`, `?`, `\` escapes; no bracket expressions, as in
 * buildkit) to a regular expression.
 */
function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? '.*' : '.*?';
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i] as string;
    if (tok === '*') {
      out += star;
      continue;
    }
    if (tok === '?') {
      out += '.';
      continue;
    }
    if (tok === '\\') {
      const following = chars[i + 1];
      // `}` and `/` are escaped only to survive the `${}` syntax; the escape is not part of the pattern.
      if (following === '}' || following === '/') continue;
      if (following !== '*' && following !== '?' && following !== '\\') {
        throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${following ?? ''}'`);
      }
      out += '\\' + following;
      i++;
      continue;
    }
    if ('[]{}.+()|^$/'.includes(tok)) out += '\\';
    out += tok;
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return match ? value.slice(match.index + match[0].length) : value;
}

/** Reverses a pattern while keeping each `\x` escape pair in order (`a\*c` becomes `c\*a`). */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = chars[i] as string;
    const outIdx = last - i;
    if (tok === '\\' && i !== last) {
      out[outIdx - 1] = tok;
      out[outIdx] = chars[i + 1] as string;
      i += 2;
    } else {
      out[outIdx] = tok;
      i++;
    }
  }
  return out.join('');
}

const reverseString = (s: string): string => Array.from(s).reverse().join('');

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // A regular expression cannot find the shortest rightmost match, so search the reversed string.
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

function resolveOptions(opts: LexOptions | undefined): Required<LexOptions> {
  return {
    escapeToken: opts?.escapeToken ?? '\\',
    rawQuotes: opts?.rawQuotes ?? false,
    rawEscapes: opts?.rawEscapes ?? false,
    skipProcessQuotes: opts?.skipProcessQuotes ?? false,
    skipUnsetEnv: opts?.skipUnsetEnv ?? false,
  };
}

export type Environment = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

function toMap(env: Environment): ReadonlyMap<string, string> {
  return env instanceof Map ? env : new Map(Object.entries(env));
}

/** Processes a word: quotes, escapes and substitution. Throws LexError on syntax errors. */
export function processWordDetailed(word: string, env: Environment, opts?: LexOptions): ProcessResult {
  const scanner = new WordScanner(word, toMap(env), resolveOptions(opts));
  const { result, words } = scanner.processStopOn(EOF, resolveOptions(opts).rawEscapes);
  return { result, words, matched: scanner.matched, unmatched: scanner.unmatched };
}

/** The word after substitution, with spaces kept (buildkit `ProcessWord`). */
export function processWord(word: string, env: Environment, opts?: LexOptions): string {
  return processWordDetailed(word, env, opts).result;
}

/** The word after substitution, split on unquoted whitespace (buildkit `ProcessWords`). */
export function processWords(word: string, env: Environment, opts?: LexOptions): string[] {
  return processWordDetailed(word, env, opts).words;
}
