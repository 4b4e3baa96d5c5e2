/**
 * The `${VAR}` template language shared by Compose files and .env files: `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`,
 * with templates nested inside the default/alternative/error words, and `$$` for a literal `$`.
 */

export type Lookup = (name: string) => string | undefined;

/** A template problem; the caller adds file and path. `missingVariable` marks `:?`/`?` failures. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly missingVariable?: string,
  ) {
    super(message);
  }
}

const NAME_START = /[_a-zA-Z]/;
const NAME_CHAR = /[_a-zA-Z0-9]/;

export function hasTemplate(s: string): boolean {
  return s.includes('$');
}

/**
 * Substitutes variables in `input`. `onUnset` is told of each variable used bare while unset
 * (compose warns about those and uses an empty string).
 */
export function substitute(input: string, lookup: Lookup, onUnset?: (name: string) => void): string {
  if (!input.includes('$')) return input;
  return new Parser(input, lookup, onUnset).run();
}

class Parser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly lookup: Lookup,
    private readonly onUnset: ((name: string) => void) | undefined,
  ) {}

  run(): string {
    const out = this.text(false);
    return out;
  }

  private invalid(): TemplateError {
    return new TemplateError(
      `invalid interpolation format in ${JSON.stringify(this.s)}; expected $VAR, \${VAR}, \${VAR:-default}, \${VAR:?error} or \${VAR:+alt}; write $$ for a literal $`,
    );
  }

  /** Reads literal text and templates; inside a braced word it stops at the closing `}`. */
  private text(inWord: boolean): string {
    let out = '';
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (c === '}' && inWord) return out;
      if (c !== '$') {
        // Copy the literal run up to the next `$` (or `}` in a word) at once.
        let end = s.indexOf('$', this.i);
        if (end < 0) end = s.length;
        if (inWord) {
          const close = s.indexOf('}', this.i);
          if (close >= 0 && close < end) end = close;
        }
        out += s.slice(this.i, end);
        this.i = end;
        continue;
      }
      const n = s[this.i + 1];
      if (n === '$') {
        out += '$';
        this.i += 2;
      } else if (n === '{') {
        this.i += 2;
        out += this.braced();
      } else if (n !== undefined && NAME_START.test(n)) {
        this.i++;
        const name = this.name();
        out += this.value(name, undefined);
      } else {
        throw this.invalid();
      }
    }
    if (inWord) throw this.invalid();
    return out;
  }

  private name(): string {
    const start = this.i;
    const s = this.s;
    if (this.i >= s.length || !NAME_START.test(s[this.i] as string)) throw this.invalid();
    while (this.i < s.length && NAME_CHAR.test(s[this.i] as string)) this.i++;
    return s.slice(start, this.i);
  }

  private value(name: string, fallback: string | undefined): string {
    const v = this.lookup(name);
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    this.onUnset?.(name);
    return '';
  }

  /** After `${`: NAME then `}` or an operator and a word. Words are evaluated only when used. */
  private braced(): string {
    const name = this.name();
    const s = this.s;
    const c = s[this.i];
    if (c === '}') {
      this.i++;
      return this.value(name, undefined);
    }
    let op: string;
    if (c === ':' && (s[this.i + 1] === '-' || s[this.i + 1] === '?' || s[this.i + 1] === '+')) {
      op = s.slice(this.i, this.i + 2);
      this.i += 2;
    } else if (c === '-' || c === '?' || c === '+') {
      op = c;
      this.i++;
    } else {
      throw this.invalid();
    }
    const value = this.lookup(name);
    const set = value !== undefined;
    const nonEmpty = set && value !== '';
    const useWord =
      op === ':-' ? !nonEmpty : op === '-' ? !set : op === ':?' ? !nonEmpty : op === '?' ? !set : op === ':+' ? nonEmpty : set;
    const word = this.wordOrSkip(useWord);
    if (op === ':-' || op === '-') return useWord ? word : (value as string);
    if (op === ':?' || op === '?') {
      if (useWord) {
        throw new TemplateError(
          word === '' ? `required variable ${name} is missing a value` : `required variable ${name} is missing a value: ${word}`,
          name,
        );
      }
      return value as string;
    }
    return useWord ? word : '';
  }

  /** Evaluates the word up to the matching `}` — or only skips it, so unused words raise nothing. */
  private wordOrSkip(evaluate: boolean): string {
    if (evaluate) {
      const w = this.text(true);
      this.i++; // the closing brace
      return w;
    }
    const s = this.s;
    let depth = 0;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === '$' && s[this.i + 1] === '$') {
        this.i += 2;
        continue;
      }
      if (c === '$' && s[this.i + 1] === '{') {
        depth++;
        this.i += 2;
        continue;
      }
      if (c === '}') {
        this.i++;
        if (depth === 0) return '';
        depth--;
        continue;
      }
      this.i++;
    }
    throw this.invalid();
  }
}

/** A variable a template refers to, as `config --variables` lists it. */
export interface VariableUse {
  name: string;
  required: boolean;
  defaultValue?: string;
  alternateValue?: string;
}

/** Variables referenced in `input` (nested words included), without evaluating anything. */
export function extractVariables(input: string, into: Map<string, VariableUse> = new Map()): Map<string, VariableUse> {
  const re = /\$(\$|\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([_a-zA-Z][_a-zA-Z0-9]*))/g;
  for (const m of input.matchAll(re)) {
    if (m[1] === '$') continue;
    const name = (m[2] ?? m[5]) as string;
    const op = m[3];
    const word = m[4];
    const use: VariableUse = into.get(name) ?? { name, required: false };
    if (op === ':?' || op === '?') use.required = true;
    if ((op === ':-' || op === '-') && word !== undefined) use.defaultValue = word;
    if ((op === ':+' || op === '+') && word !== undefined) use.alternateValue = word;
    into.set(name, use);
    if (word) extractVariables(word, into);
  }
  return into;
}
