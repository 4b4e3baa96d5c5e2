/**
 * Value syntaxes of the Compose format, each parsed to one canonical form:
 * durations (Go syntax, canonical text like `1m30s`, model unit nanoseconds), byte sizes
 * (`512m` → bytes, binary multiples as Docker does), booleans and integers given as strings
 * (interpolation yields strings), and shell-style command splitting.
 */

/** Thrown by the parsers here; normalisation adds the file and path. */
export class ValueError extends Error {}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go-style duration (`1h2m3.5s`, `500ms`); a bare number means seconds. Returns nanoseconds. */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v * 1e9);
  if (typeof v !== 'string') throw new ValueError(`expected a duration like "30s" or "1m30s", got ${describe(v)}`);
  const s = v.trim();
  if (/^[+]?\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1e9);
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/gy;
  let total = 0;
  let i = 0;
  let neg = false;
  let body = s;
  if (body.startsWith('-') || body.startsWith('+')) {
    neg = body.startsWith('-');
    body = body.slice(1);
  }
  if (body === '0') return 0;
  re.lastIndex = 0;
  while (i < body.length) {
    re.lastIndex = i;
    const m = re.exec(body);
    if (!m || m.index !== i) throw new ValueError(`invalid duration ${JSON.stringify(v)}; expected a duration like "30s", "1m30s" or "500ms"`);
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
    i = re.lastIndex;
  }
  if (body === '') throw new ValueError(`invalid duration ${JSON.stringify(v)}; expected a duration like "30s"`);
  return Math.round(neg ? -total : total);
}

/** Formats nanoseconds as Go's time.Duration.String() does: `1m30s`, `1h0m0s`, `500ms`, `0s`. */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let out: string;
  if (u < 1e9) {
    const [unit, scale] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFraction(u / (scale as number))}${unit as string}`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const secs = `${trimFraction(u / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${secs}` : m > 0 ? `${m}m${secs}` : secs;
  }
  return neg ? `-${out}` : out;
}

function trimFraction(x: number): string {
  return String(Number(x.toFixed(9)));
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes: `512m`, `1.5g`, `2048kb`, `1GiB`, plain numbers are bytes. */
export function parseBytes(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v);
  if (typeof v !== 'string') throw new ValueError(`expected a byte size like "512m" or "1g", got ${describe(v)}`);
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([kmgtpb]?)(?:i?b)?\s*$/i.exec(v);
  if (!m) throw new ValueError(`invalid byte size ${JSON.stringify(v)}; expected a number with an optional unit b, k, m, g, t or p (e.g. "512m")`);
  return Math.round(Number(m[1]) * (BYTE_UNITS[(m[2] as string).toLowerCase()] as number));
}

const TRUE = new Set(['true', 'yes', 'y', 'on', '1']);
const FALSE = new Set(['false', 'no', 'n', 'off', '0']);

export function parseBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  throw new ValueError(`expected a boolean (true or false), got ${describe(v)}`);
}

export function parseInteger(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  throw new ValueError(`expected an integer, got ${describe(v)}`);
}

export function parseNumber(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)) return Number(v);
  throw new ValueError(`expected a number, got ${describe(v)}`);
}

/** File modes are octal when written as text (`"0440"`), as they are in compose files. */
export function parseFileMode(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\s*(0o?)?[0-7]+\s*$/.test(v)) return Number.parseInt(v.trim().replace(/^0o/, ''), 8);
  throw new ValueError(`expected an octal file mode like "0440", got ${describe(v)}`);
}

/** Splits a command line as a POSIX shell would split words (quotes and backslashes). */
export function shellSplit(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new ValueError(`unterminated single quote in ${JSON.stringify(s)}`);
      cur += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= s.length) throw new ValueError(`unterminated double quote in ${JSON.stringify(s)}`);
        const d = s[i] as string;
        if (d === '"') break;
        if (d === '\\' && i + 1 < s.length && '"\\$`\n'.includes(s[i + 1] as string)) {
          cur += s[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 < s.length) cur += s[i + 1];
      inWord = true;
      i += 2;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}
