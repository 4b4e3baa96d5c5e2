/**
 * A fast reader for the YAML most Compose files are written in: block mappings and sequences,
 * single-line plain and quoted scalars, single-line flow collections, comments. It builds the
 * plain tree directly, without the `yaml` library's token stream and document model, which cost
 * most of a large project's load time.
 *
 * It reads the YAML 1.2 core schema exactly as the `yaml` library does (see phase 1). Anything
 * else — anchors, aliases, tags, block scalars, multi-line scalars, multi-line flow collections,
 * duplicate keys, directives, several documents, tabs, and anything it finds malformed — makes it
 * answer `undefined`, and the caller parses the text with the full parser instead, which also
 * gives the exact error for a malformed file. So the fast reader never decides what is valid.
 */
import type { Tree, TreeMap } from './tree';

class Unsupported {}
const UNSUPPORTED = new Unsupported();

const MAX_DEPTH = 400;
/** Control characters (other than LF), CR, tabs and BOM: left to the full parser. */
const AWKWARD_CHARS = /[\x00-\x09\x0b-\x1f\x7f\ufeff]/;
const LEADING_ZERO = /^[-+]?0[0-9]+$/;
const INT = /^[-+]?[0-9]+$/;
const OCT = /^0o[0-7]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/**
 * A plain scalar under the YAML 1.2 core schema. Values (not keys) written as integers that a
 * number would change — a leading zero, or more digits than a double holds exactly — stay text,
 * as phase 1 does for the full parser (see `keepIntegerText`).
 */
export function resolvePlain(s: string, value: boolean): Tree {
  const c = s.charCodeAt(0);
  // Letters other than those starting null/true/false: always text (most scalars).
  if (c !== 110 && c !== 78 && c !== 116 && c !== 84 && c !== 102 && c !== 70 && c !== 126) {
    // '0'-'9', '+', '-', '.'
    if (!((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) return s;
    if (OCT.test(s)) return parseInt(s.slice(2), 8);
    if (INT.test(s)) {
      const n = parseInt(s, 10);
      return value && keepIntegerText(s, n) ? s : n;
    }
    if (HEX.test(s)) return parseInt(s.slice(2), 16);
    if (FLOAT_NAN.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity;
    if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
    return s;
  }
  switch (s) {
    case '~':
    case 'null':
    case 'Null':
    case 'NULL':
      return null;
    case 'true':
    case 'True':
    case 'TRUE':
      return true;
    case 'false':
    case 'False':
    case 'FALSE':
      return false;
    default:
      return s;
  }
}

/**
 * Whether a plain integer value keeps its text: `0440` (YAML 1.2 would read decimal 440; file
 * modes stay octal and environment values keep their zeros) and integers beyond 2^53, which a
 * number would round (`CHAT_ID: -1001234567890123456` must keep every digit, as Compose does).
 */
export function keepIntegerText(source: string, n: number): boolean {
  return LEADING_ZERO.test(source) || !Number.isSafeInteger(n);
}

/** Characters that cannot start a plain scalar (or are left to the full parser when they do). */
function badPlainStart(line: string, p: number): boolean {
  const ch = line[p];
  switch (ch) {
    case '[':
    case ']':
    case '{':
    case '}':
    case ',':
    case '#':
    case '&':
    case '*':
    case '!':
    case '|':
    case '>':
    case "'":
    case '"':
    case '%':
    case '@':
    case '`':
      return true;
    case '-':
    case '?':
    case ':': {
      const next = line[p + 1];
      return next === undefined || next === ' ';
    }
    default:
      return false;
  }
}

function isSeqItem(line: string, col: number): boolean {
  return line.charCodeAt(col) === 45 /* - */ && (col + 1 === line.length || line.charCodeAt(col + 1) === 32);
}

/** A quoted scalar starting at `p` (on its quote); [value, index after the closing quote]. */
function quoted(line: string, p: number): [string, number] {
  const q = line[p];
  if (q === '"') {
    let i = p + 1;
    let escaped = false;
    for (;;) {
      const ch = line.charCodeAt(i);
      if (Number.isNaN(ch)) throw UNSUPPORTED; // continues on the next line
      if (ch === 34 /* " */) break;
      if (ch === 92 /* \ */) {
        escaped = true;
        i += 2;
      } else i++;
    }
    const raw = line.slice(p + 1, i);
    if (!escaped) return [raw, i + 1];
    // JSON's escapes are a subset of YAML's, with the same meanings; anything else goes to the full parser.
    try {
      return [JSON.parse(`"${raw}"`) as string, i + 1];
    } catch {
      throw UNSUPPORTED;
    }
  }
  let i = p + 1;
  let doubled = false;
  for (;;) {
    const j = line.indexOf("'", i);
    if (j < 0) throw UNSUPPORTED;
    if (line.charCodeAt(j + 1) === 39) {
      doubled = true;
      i = j + 2;
      continue;
    }
    const raw = line.slice(p + 1, j);
    return [doubled ? raw.replaceAll("''", "'") : raw, j + 1];
  }
}

/** After a value: only spaces and a comment may follow on the line. */
function expectLineEnd(line: string, p: number): void {
  if (p >= line.length) return;
  if (line.charCodeAt(p) !== 32) throw UNSUPPORTED;
  while (line.charCodeAt(p) === 32) p++;
  if (p < line.length && line.charCodeAt(p) !== 35 /* # */) throw UNSUPPORTED;
}

function skipSpaces(line: string, p: number): number {
  while (line.charCodeAt(p) === 32) p++;
  return p;
}

/** Where an entry is (0-based line and column) and, when it holds a collection, where its entries are. */
export interface PosNode {
  line: number;
  col: number;
  kids: Kids | undefined;
}
type Kids = Map<string | number, PosNode>;

/**
 * A single-line flow collection starting at `p` (on `[` or `{`); [value, index after it]. With
 * `kids`, records where its entries are (`li` is the line's index).
 */
function flow(line: string, p: number, depth: number, kids?: Kids, li = 0): [Tree, number] {
  if (depth > MAX_DEPTH) throw UNSUPPORTED;
  const close = line[p] === '[' ? ']' : '}';
  const isSeq = close === ']';
  const seq: Tree[] = [];
  const map: TreeMap = {};
  p = skipSpaces(line, p + 1);
  while (line[p] !== close) {
    let key: string | undefined;
    let at = p;
    if (!isSeq) {
      const ch = line[p];
      if (ch === '"' || ch === "'") {
        [key, p] = quoted(line, p);
        p = skipSpaces(line, p);
        if (line[p] !== ':') throw UNSUPPORTED;
        p++;
      } else {
        if (ch === undefined || badPlainStart(line, p)) throw UNSUPPORTED;
        const colon = line.indexOf(': ', p);
        if (colon < 0) throw UNSUPPORTED;
        const text = line.slice(p, colon).trimEnd();
        if (/[[\]{},#]/.test(text)) throw UNSUPPORTED;
        key = keyString(resolvePlain(text, false));
        p = colon + 1;
      }
      if (Object.hasOwn(map, key) || key === '__proto__') throw UNSUPPORTED;
      p = skipSpaces(line, p);
      if (line[p] === ',' || line[p] === '}') {
        kids?.set(key, { line: li, col: at, kids: undefined });
        map[key] = null;
        if (line[p] === ',') p = skipSpaces(line, p + 1);
        continue;
      }
    }
    let value: Tree;
    const ch = line[p];
    if (isSeq) at = p;
    const sub: Kids | undefined = kids && (ch === '[' || ch === '{') ? new Map() : undefined;
    kids?.set(isSeq ? seq.length : (key as string), { line: li, col: at, kids: sub });
    if (ch === '[' || ch === '{') [value, p] = flow(line, p, depth + 1, sub, li);
    else if (ch === '"' || ch === "'") [value, p] = quoted(line, p);
    else {
      if (ch === undefined || badPlainStart(line, p)) throw UNSUPPORTED;
      let end = p;
      for (;;) {
        const c = line[end];
        if (c === undefined || c === ',' || c === ']' || c === '}' || c === '[' || c === '{') break;
        end++;
      }
      const text = line.slice(p, end).trimEnd();
      if (text.includes(':') || text.includes('#')) throw UNSUPPORTED;
      value = resolvePlain(text, true);
      p = end;
    }
    if (isSeq) seq.push(value);
    else map[key as string] = value;
    p = skipSpaces(line, p);
    if (line[p] === ',') p = skipSpaces(line, p + 1);
    else if (line[p] !== close) throw UNSUPPORTED;
  }
  return [isSeq ? seq : map, p + 1];
}

function keyString(v: Tree): string {
  return v === null ? 'null' : String(v);
}

class Reader {
  private readonly lines: string[];
  /** Column of each line's content; -1 for blank and comment lines. Compact entries (`- a: 1`) move it right. */
  private readonly indent: Int32Array;
  private li = 0;

  constructor(text: string) {
    const lines = text.split('\n');
    this.lines = lines;
    this.indent = new Int32Array(lines.length);
    let seenContent = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      let p = 0;
      while (line.charCodeAt(p) === 32) p++;
      if (p === line.length || line.charCodeAt(p) === 35) {
        this.indent[i] = -1;
        continue;
      }
      if (p === 0) {
        const c = line.charCodeAt(0);
        if (c === 37 /* % */) throw UNSUPPORTED;
        if (line.startsWith('---') || line.startsWith('...')) {
          // A leading `---` alone is fine; any other document marker is left to the full parser.
          const rest = skipSpaces(line, 3);
          const alone = line.length === 3 || (line.charCodeAt(3) === 32 && (rest === line.length || line.charCodeAt(rest) === 35));
          if (seenContent || c !== 45 || !alone) throw UNSUPPORTED;
          this.indent[i] = -1;
          seenContent = true;
          continue;
        }
      }
      seenContent = true;
      this.indent[i] = p;
    }
  }

  /** The index of the next content line at or after the cursor (lines.length at the end). */
  private next(): number {
    const n = this.lines.length;
    while (this.li < n && (this.indent[this.li] as number) < 0) this.li++;
    return this.li;
  }

  document(kids?: Kids): Tree {
    const v = this.block(0, 0, kids);
    if (this.next() < this.lines.length) throw UNSUPPORTED;
    return v;
  }

  /** Where the document's root starts. */
  rootPos(): PosNode {
    this.li = 0;
    const li = this.next();
    return { line: li < this.lines.length ? li : 0, col: li < this.lines.length ? (this.indent[li] as number) : 0, kids: undefined };
  }

  /** A node whose lines are indented at least `min`; null when there is none. */
  private block(min: number, depth: number, kids: Kids | undefined): Tree {
    if (depth > MAX_DEPTH) throw UNSUPPORTED;
    const li = this.next();
    if (li >= this.lines.length) return null;
    const col = this.indent[li] as number;
    if (col < min) return null;
    const line = this.lines[li] as string;
    if (isSeqItem(line, col)) return this.seq(col, depth, kids);
    if (this.entryColon(line, col) >= 0) return this.map(col, depth, kids);
    // A scalar or flow collection alone on its line: nothing may continue it.
    const value = this.inline(line, col, depth, kids);
    this.li++;
    const after = this.next();
    if (after < this.lines.length && (this.indent[after] as number) >= min) throw UNSUPPORTED;
    return value;
  }

  private seq(col: number, depth: number, kids: Kids | undefined): Tree[] {
    const out: Tree[] = [];
    for (;;) {
      const li = this.next();
      if (li >= this.lines.length || this.indent[li] !== col) break;
      const line = this.lines[li] as string;
      if (!isSeqItem(line, col)) break;
      const p = skipSpaces(line, col + 1);
      let at: PosNode | undefined;
      if (p >= line.length || line.charCodeAt(p) === 35) {
        this.li++;
        if (kids) {
          const nl = this.next();
          at = nl < this.lines.length && (this.indent[nl] as number) > col ? { line: nl, col: this.indent[nl] as number, kids: new Map() } : { line: li, col: p, kids: undefined };
        }
      } else {
        this.indent[li] = p; // compact: the rest of the line is the item's first line
        if (kids) at = { line: li, col: p, kids: new Map() };
      }
      if (at) kids?.set(out.length, at);
      out.push(this.block(col + 1, depth + 1, at?.kids));
      const after = this.next();
      if (after < this.lines.length && (this.indent[after] as number) > col) throw UNSUPPORTED;
    }
    return out;
  }

  /** Where a `key:` entry's colon is on this line, or -1 when the line is not a mapping entry. */
  private entryColon(line: string, col: number): number {
    const ch = line[col];
    if (ch === '"' || ch === "'") {
      let end: number;
      try {
        end = quoted(line, col)[1];
      } catch {
        return -1;
      }
      const p = skipSpaces(line, end);
      return line.charCodeAt(p) === 58 && (p + 1 === line.length || line.charCodeAt(p + 1) === 32) ? p : -1;
    }
    if (badPlainStart(line, col)) {
      // `? key`, `: value`, flow keys, anchors, tags… in a mapping: full parser.
      if (ch === '?' || ch === ':' || ch === '[' || ch === '{' || ch === '&' || ch === '!' || ch === '*') throw UNSUPPORTED;
      return -1;
    }
    let p = col;
    for (;;) {
      const c = line.indexOf(':', p);
      if (c < 0) return -1;
      const hash = line.indexOf(' #', p);
      if (hash >= 0 && hash < c) return -1;
      if (c + 1 === line.length || line.charCodeAt(c + 1) === 32) return c;
      p = c + 1;
    }
  }

  private map(col: number, depth: number, kids: Kids | undefined): TreeMap {
    const out: TreeMap = {};
    for (;;) {
      const li = this.next();
      if (li >= this.lines.length) break;
      const ind = this.indent[li] as number;
      if (ind < col) break;
      if (ind > col) throw UNSUPPORTED;
      const line = this.lines[li] as string;
      const colon = this.entryColon(line, col);
      if (colon < 0) throw UNSUPPORTED;
      const ch = line[col];
      let key: string;
      if (ch === '"' || ch === "'") key = quoted(line, col)[0];
      else {
        const text = line.slice(col, colon).trimEnd();
        if (text === '<<' || colon - col > 1024) throw UNSUPPORTED;
        key = keyString(resolvePlain(text, false));
      }
      if (Object.hasOwn(out, key) || key === '__proto__') throw UNSUPPORTED;
      const sub: Kids | undefined = kids ? new Map() : undefined;
      kids?.set(key, { line: li, col, kids: sub });
      const p = skipSpaces(line, colon + 1);
      let value: Tree;
      if (p >= line.length || line.charCodeAt(p) === 35) {
        this.li++;
        const nl = this.next();
        if (nl < this.lines.length && (this.indent[nl] as number) > col) value = this.block(col + 1, depth + 1, sub);
        else if (nl < this.lines.length && this.indent[nl] === col && isSeqItem(this.lines[nl] as string, col)) value = this.seq(col, depth + 1, sub);
        else value = null;
      } else {
        value = this.inline(line, p, depth, sub);
        this.li++;
      }
      out[key] = value;
    }
    return out;
  }

  /** A value written on the rest of the line from `p`. */
  private inline(line: string, p: number, depth: number, kids: Kids | undefined): Tree {
    const ch = line[p];
    let value: Tree;
    let end: number;
    if (ch === '"' || ch === "'") [value, end] = quoted(line, p);
    else if (ch === '[' || ch === '{') [value, end] = flow(line, p, depth + 1, kids, this.li);
    else {
      if (badPlainStart(line, p)) throw UNSUPPORTED;
      const hash = line.indexOf(' #', p);
      const text = (hash < 0 ? line.slice(p) : line.slice(p, hash)).trimEnd();
      if (text.endsWith(':') || text.includes(': ')) throw UNSUPPORTED;
      return resolvePlain(text, true);
    }
    expectLineEnd(line, end);
    return value;
  }
}

/** The tree of `text`, or undefined when the full parser must read it. */
export function readSimpleYaml(text: string): Tree | undefined {
  if (AWKWARD_CHARS.test(text)) return undefined;
  try {
    return new Reader(text).document();
  } catch (err) {
    if (err === UNSUPPORTED) return undefined;
    throw err;
  }
}

/**
 * Where each entry of a text the fast reader accepts is: `[line, column]` (1-based) of the deepest
 * entry of `path` found, and how many segments were found. For error messages only: it reads the
 * text again.
 */
export function locateSimpleYaml(text: string, path: readonly (string | number)[]): { line: number; col: number; depth: number } {
  const reader = new Reader(text);
  const root = reader.rootPos();
  const kids: Kids = new Map();
  try {
    new Reader(text).document(kids);
  } catch {
    // Not a text the fast reader accepts: only the root is known.
  }
  let node: PosNode = { ...root, kids };
  let depth = 0;
  for (const seg of path) {
    const next = node.kids?.get(seg);
    if (!next) break;
    node = next;
    depth++;
  }
  return { line: node.line + 1, col: node.col + 1, depth };
}
