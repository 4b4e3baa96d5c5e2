/**
 * The line-level Dockerfile parser (buildkit `parser/parser.go`): parser directives, comments,
 * line continuations with the escape token, heredocs, and each instruction's split into keyword,
 * `--flags` and arguments. Arguments are split the way each instruction expects but not yet typed
 * or substituted; see `instructions.ts` for that.
 */
import { dockerfileError } from './errors';
import { processWords } from './lex';

export interface Heredoc {
  /** The delimiter word, quotes removed (`EOF`). */
  name: string;
  /** The file descriptor written before `<<` (`3<<EOF`), 0 when absent. */
  fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-EOF`: leading tabs are stripped from body lines and from the delimiter line. */
  chomp: boolean;
  /** The body as written, each line with its newline, delimiter line excluded. */
  content: string;
}

export interface RawInstruction {
  /** Lower-case keyword, e.g. `copy`. */
  keyword: string;
  /** The keyword as written, for messages. */
  keywordAsWritten: string;
  /** `--name=value` words before the arguments, quotes removed. */
  flags: string[];
  /** Arguments as split for this keyword (see `splitArguments`). */
  args: string[];
  /** True when the arguments were a JSON array (exec form). */
  json: boolean;
  /** The logical line: continuations joined, comments removed, heredoc bodies excluded. */
  original: string;
  /** 1-based line where the instruction starts and where it (heredoc bodies included) ends. */
  startLine: number;
  endLine: number;
  heredocs: Heredoc[];
  /** Comment lines directly above the instruction, `#` removed. */
  comments: string[];
  /** ONBUILD only: the wrapped instruction. */
  trigger?: RawInstruction;
}

export interface ParserDirectives {
  escape?: string;
  syntax?: string;
  check?: string;
}

export interface RawDockerfile {
  file: string;
  directives: ParserDirectives;
  escapeToken: string;
  instructions: RawInstruction[];
  warnings: string[];
}

const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const HEREDOC_RE = /^(\d*)<<(-?)([^<]*)$/;
const WHITESPACE_RE = /[\t\v\f\r ]+/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const HEREDOC_KEYWORDS = new Set(['run', 'copy', 'add']);

class DirectiveState {
  escapeToken = '\\';
  continuation = makeContinuationRegExp('\\');
  done = false;
  readonly seen: ParserDirectives = {};

  /** Directives are only recognised before any instruction, comment or blank line. */
  consider(line: string): void {
    if (this.done) return;
    const match = DIRECTIVE_RE.exec(line);
    const key = match?.[1]?.toLowerCase();
    if (!match || key === undefined || !KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return;
    }
    const name = key as keyof ParserDirectives;
    if (this.seen[name] !== undefined) throw new Error(`only one ${name} parser directive can be used`);
    const value = match[2] ?? '';
    this.seen[name] = value;
    if (name === 'escape') {
      if (value !== '`' && value !== '\\') throw new Error(`invalid escape token '${value}' does not match \` or \\`);
      this.escapeToken = value;
      this.continuation = makeContinuationRegExp(value);
    }
  }
}

/**
 * The escape token is a continuation only when it ends the line and is not itself escaped; a
 * line holding nothing but the token is a continuation too.
 */
function makeContinuationRegExp(token: string): RegExp {
  const t = token === '\\' ? '\\\\' : token;
  return new RegExp(`([^${t}])${t}[ \\t]*$|^${t}[ \\t]*$`);
}

const trimNewline = (line: string): string => line.replace(/[\r\n]+$/, '');
const trimLeadingWhitespace = (line: string): string => line.replace(/^\s+/u, '');
const isComment = (line: string): boolean => trimLeadingWhitespace(trimNewline(line)).startsWith('#');

/** Splits text into lines, each keeping its `\n`, as buildkit's scanner does. */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const newline = text.indexOf('\n', start);
    if (newline < 0) {
      if (start < text.length) lines.push(text.slice(start));
      return lines;
    }
    lines.push(text.slice(start, newline + 1));
    start = newline + 1;
  }
}

/**
 * Separates leading `--flag[=value]` words from the rest. A bare `--` ends the flags. Quotes and
 * backslashes inside a flag word are processed, as buildkit does.
 */
export function extractFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && /\s/.test(line[pos] as string)) pos++;
    if (pos >= line.length) return { flags, rest: '' };
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < line.length; pos++) {
      const ch = line[pos] as string;
      if (quote) {
        if (ch === quote) {
          quote = '';
          continue;
        }
      } else {
        if (/\s/.test(ch)) break;
        if (ch === '"' || ch === "'") {
          quote = ch;
          blankOk = true;
          continue;
        }
      }
      if (ch === '\\' && !(quote === "'")) {
        if (pos + 1 === line.length) continue;
        pos++;
        word += line[pos] as string;
        continue;
      }
      word += ch;
    }
    if (word === '--') return { flags, rest: line.slice(pos) };
    if (blankOk || word.length > 0) flags.push(word);
  }
}

/** Quote-aware splitting that keeps quotes and escapes for later substitution (ARG, ENV, LABEL). */
export function splitWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  const chars = Array.from(rest);
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i] as string;
    if (!inWord) {
      if (/\s/u.test(ch)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (/\s/u.test(ch)) {
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      } else if (ch === escapeToken) {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i] as string;
      }
      word += ch;
      continue;
    }
    if (ch === quote) {
      quote = '';
    } else if (ch === escapeToken && quote !== "'") {
      if (i + 1 === chars.length) continue;
      word += ch;
      ch = chars[++i] as string;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

class NotStringArrayError extends Error {}

function parseJsonArray(rest: string): string[] | undefined {
  const trimmed = rest.replace(/^\s+/u, '');
  if (!trimmed.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((item) => typeof item === 'string')) {
    throw new NotStringArrayError('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return parsed as string[];
}

function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE_RE);
}

/**
 * ENV and LABEL accept `KEY value...` (one pair, value is the rest of the line) and `K=V K2="v 2"`;
 * the result alternates keys and values.
 */
function splitNameValues(rest: string, keyword: string, escapeToken: string): string[] {
  const words = splitWords(rest, escapeToken);
  const first = words[0];
  if (first === undefined) return [];
  if (!first.includes('=')) {
    const [key, value] = splitOnce(rest);
    if (value === '') throw new Error(`${keyword.toUpperCase()} must have two arguments`);
    return [key, value];
  }
  const out: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new Error(`Syntax error - can't find = in "${word}". Must be of the form: name=value`);
    out.push(word.slice(0, eq), word.slice(eq + 1));
  }
  return out;
}

function splitArguments(keyword: string, rest: string, escapeToken: string): { args: string[]; json: boolean } {
  switch (keyword) {
    case 'add':
    case 'copy':
    case 'volume': {
      const json = parseJsonArray(rest);
      return json ? { args: json, json: true } : { args: splitWhitespace(rest), json: false };
    }
    case 'run':
    case 'cmd':
    case 'entrypoint':
    case 'shell': {
      if (rest === '') return { args: [], json: false };
      const json = parseJsonArray(rest);
      return json ? { args: json, json: true } : { args: [rest], json: false };
    }
    case 'arg':
      return { args: splitWords(rest, escapeToken), json: false };
    case 'env':
    case 'label':
      return { args: splitNameValues(rest, keyword, escapeToken), json: false };
    case 'expose':
    case 'from':
      return { args: splitWhitespace(rest), json: false };
    case 'healthcheck': {
      const match = /^(\S+)\s*([\s\S]*)$/u.exec(rest);
      if (!match) return { args: [], json: false };
      const type = match[1] as string;
      const command = match[2] as string;
      if (command === '') return { args: [type], json: false };
      const json = parseJsonArray(command);
      return json ? { args: [type, ...json], json: true } : { args: [type, command], json: false };
    }
    default:
      // MAINTAINER, STOPSIGNAL, USER, WORKDIR, and unknown keywords: the rest as one argument.
      return { args: rest === '' ? [] : [rest], json: false };
  }
}

function parseLogicalLine(line: string, escapeToken: string, comments: string[]): RawInstruction {
  const trimmed = line.trim();
  const [keywordAsWritten = '', remainder = ''] = splitOnce(trimmed);
  const keyword = keywordAsWritten.toLowerCase();
  const { flags, rest } = remainder === '' ? { flags: [], rest: '' } : extractFlags(remainder);
  const base = {
    keyword,
    keywordAsWritten,
    flags,
    original: line,
    startLine: 0,
    endLine: 0,
    heredocs: [],
    comments,
  };
  if (keyword === 'onbuild') {
    const trigger = rest.trim() === '' ? undefined : parseLogicalLine(rest.trim(), escapeToken, []);
    const args = trigger ? [trigger.keywordAsWritten] : [];
    return trigger ? { ...base, args, json: false, trigger } : { ...base, args, json: false };
  }
  const { args, json } = splitArguments(keyword, rest.trim(), escapeToken);
  return { ...base, args, json };
}

function splitOnce(text: string): [string, string] {
  const match = /[\t\v\f\r ]+/.exec(text);
  if (!match) return [text, ''];
  return [text.slice(0, match.index), text.slice(match.index + match[0].length)];
}

function canContainHeredoc(instruction: RawInstruction): boolean {
  const target = instruction.keyword === 'onbuild' ? instruction.trigger : instruction;
  return target !== undefined && HEREDOC_KEYWORDS.has(target.keyword) && !target.json;
}

/** Recognises a `<<EOF`, `<<-EOF`, `3<<"EOF"` word; undefined when the word is not a heredoc. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const match = HEREDOC_RE.exec(word);
  if (!match) return undefined;
  const rest = match[3] ?? '';
  if (rest === '') return undefined;
  // Lex with and without keeping quotes: if the counts differ, part of the word was quoted,
  // and the body must not be expanded.
  const words = processWords(rest, {}, { skipUnsetEnv: true });
  if (words.length !== 1) return undefined;
  const rawWords = processWords(rest, {}, { skipUnsetEnv: true, rawQuotes: true });
  const name = words[0] as string;
  const rawName = rawWords[0] ?? '';
  const quotes = (s: string): number => (s.match(/['"]/g) ?? []).length;
  return {
    name,
    fileDescriptor: match[1] ? Number.parseInt(match[1], 10) : 0,
    expand: quotes(name) === quotes(rawName),
    chomp: match[2] === '-',
  };
}

function heredocsInLine(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = processWords(line, {}, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    words = [];
  }
  const found: Omit<Heredoc, 'content'>[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) found.push(heredoc);
  }
  return found;
}

/** Removes leading tabs from every line (`<<-`). */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/**
 * Parses Dockerfile text into raw instructions. `file` names the Dockerfile in error messages.
 * Throws InvalidArgument errors of the form `Dockerfile:3: problem`.
 */
export function parseRawDockerfile(text: string, file = 'Dockerfile'): RawDockerfile {
  const directives = new DirectiveState();
  const lines = splitLines(text);
  const instructions: RawInstruction[] = [];
  const warnings: string[] = [];
  let comments: string[] = [];
  let index = 0;

  const processLine = (raw: string, stripLeft: boolean, lineNumber: number): string => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeadingWhitespace(token);
    try {
      directives.consider(token);
    } catch (err) {
      throw dockerfileError(file, lineNumber, (err as Error).message);
    }
    return token.startsWith('#') ? '' : token;
  };
  const trimContinuation = (line: string): [string, boolean] => {
    if (directives.continuation.test(line)) return [line.replace(directives.continuation, '$1'), false];
    return [line, true];
  };

  while (index < lines.length) {
    let raw = lines[index] as string;
    if (index === 0) raw = raw.replace(/^\uFEFF/, '');
    if (isComment(raw)) comments.push(trimLeadingWhitespace(trimNewline(raw)).slice(1).trim());
    const processed = processLine(raw, true, index + 1);
    index++;
    const startLine = index;
    let [line, complete] = trimContinuation(processed);
    if (complete && line === '') continue;

    let hasEmptyContinuation = false;
    while (!complete && index < lines.length) {
      const nextRaw = lines[index] as string;
      const nextProcessed = processLine(nextRaw, false, index + 1);
      index++;
      // A comment inside a continuation is dropped without ending the instruction.
      if (isComment(nextRaw)) continue;
      if (trimLeadingWhitespace(nextProcessed) === '') {
        hasEmptyContinuation = true;
        continue;
      }
      const [piece, done] = trimContinuation(nextProcessed);
      line += piece;
      complete = done;
    }
    if (hasEmptyContinuation) {
      warnings.push(`${file}:${startLine}: empty continuation line (will become an error in a future release)`);
    }

    let instruction: RawInstruction;
    try {
      instruction = parseLogicalLine(line, directives.escapeToken, comments);
    } catch (err) {
      if (err instanceof Error) throw dockerfileError(file, startLine, err.message);
      throw err;
    }

    if (canContainHeredoc(instruction)) {
      for (const heredoc of heredocsInLine(line)) {
        let content = '';
        let terminated = false;
        while (index < lines.length) {
          const bodyLine = lines[index] as string;
          index++;
          let candidate = trimNewline(bodyLine);
          if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === heredoc.name) {
            terminated = true;
            break;
          }
          content += bodyLine;
        }
        if (!terminated) throw dockerfileError(file, startLine, `unterminated heredoc ${heredoc.name}`);
        const target = instruction.trigger ?? instruction;
        target.heredocs.push({ ...heredoc, content });
      }
    }
    instruction.startLine = startLine;
    instruction.endLine = index;
    if (instruction.trigger) {
      instruction.trigger.startLine = startLine;
      instruction.trigger.endLine = index;
    }
    instructions.push(instruction);
    comments = [];
  }

  if (instructions.length === 0) throw dockerfileError(file, undefined, 'file with no instructions');
  if (directives.seen.syntax !== undefined) {
    warnings.push(
      `${file}:1: syntax directive "${directives.seen.syntax}" ignored: the built-in Dockerfile frontend is always used`,
    );
  }
  return { file, directives: directives.seen, escapeToken: directives.escapeToken, instructions, warnings };
}
