/**
 * Go's `fmt` and `encoding/json` as Docker's templates print values, for JS data that stands in
 * for Go values: objects and Maps are `map[string]interface{}`, arrays are `[]interface{}`,
 * integral numbers are `int` and other numbers `float64`, `null`/`undefined` are nil.
 */

export type GoKind = 'invalid' | 'nil' | 'string' | 'int' | 'float' | 'bool' | 'slice' | 'map' | 'time' | 'func';

const MAX_INT64 = 2 ** 63;

export function goKind(value: unknown): GoKind {
  if (value === undefined) return 'invalid';
  if (value === null) return 'nil';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < MAX_INT64 ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
    case 'function':
      return 'func';
    default:
      if (Array.isArray(value)) return 'slice';
      if (value instanceof Date) return 'time';
      if (value instanceof GoDuration) return 'int';
      return 'map';
  }
}

/**
 * Marks an object as a Go struct of the named type (`*formatter.diskUsageContext`) rather than a
 * map: a template naming a field it does not have fails, as Go's does, instead of printing
 * `<no value>`.
 */
export const GO_STRUCT_TYPE: unique symbol = Symbol('go struct type');

/** The Go struct type an object stands for, if it is marked as one. */
export function goStructType(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { [GO_STRUCT_TYPE]?: unknown })[GO_STRUCT_TYPE];
  return typeof type === 'string' ? type : undefined;
}

/** Go's spelling of a value's type, as it appears in template and fmt error messages. */
export function goTypeName(value: unknown): string {
  if (value instanceof GoDuration) return 'time.Duration';
  switch (goKind(value)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'string':
      return 'string';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'bool':
      return 'bool';
    case 'slice':
      return '[]interface {}';
    case 'time':
      return 'time.Time';
    case 'func':
      return 'func';
    case 'map':
      return goStructType(value) ?? 'map[string]interface {}';
  }
}

/** Keys of a map-like value, in Go's printing order (sorted). */
export function sortedMapEntries(value: object): Array<[string, unknown]> {
  const entries: Array<[string, unknown]> =
    value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v]) : Object.entries(value);
  return entries.sort(([a], [b]) => compareStrings(a, b));
}

/** Go compares strings bytewise in UTF-8, which is code-point order, not UTF-16 order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const ca = a.codePointAt(i) ?? 0;
    const cb = b.codePointAt(i) ?? 0;
    if (ca !== cb) return ca < cb ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

// ---------------------------------------------------------------------------------------------
// Floating point: Go rounds the exact binary value half-to-even, JS's toPrecision rounds halves up.

interface Decimal {
  digits: string; // no leading or trailing zeros; '' for zero
  point: number; // the value is 0.<digits> × 10^point
}

function exactDecimal(x: number): Decimal {
  if (x === 0) return { digits: '', point: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biasedExponent = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exponent: number;
  if (biasedExponent === 0) exponent = -1074;
  else {
    mantissa |= 1n << 52n;
    exponent = biasedExponent - 1075;
  }
  let digits: string;
  let point: number;
  if (exponent >= 0) {
    digits = (mantissa << BigInt(exponent)).toString();
    point = digits.length;
  } else {
    digits = (mantissa * 5n ** BigInt(-exponent)).toString();
    point = digits.length + exponent;
  }
  return trimDecimal({ digits, point });
}

function trimDecimal(d: Decimal): Decimal {
  let end = d.digits.length;
  while (end > 0 && d.digits[end - 1] === '0') end--;
  return end === 0 ? { digits: '', point: 0 } : { digits: d.digits.slice(0, end), point: d.point };
}

function roundDecimal(d: Decimal, keep: number): Decimal {
  if (keep < 0 || keep >= d.digits.length) return d;
  const next = d.digits.charCodeAt(keep) - 48;
  let up = next > 5;
  if (next === 5) {
    const exactHalf = keep + 1 === d.digits.length;
    up = !exactHalf || (keep > 0 && (d.digits.charCodeAt(keep - 1) - 48) % 2 === 1);
  }
  if (!up) return trimDecimal({ digits: d.digits.slice(0, keep), point: d.point });
  let i = keep - 1;
  while (i >= 0 && d.digits[i] === '9') i--;
  if (i < 0) return { digits: '1', point: d.point + 1 };
  const bumped = d.digits.slice(0, i) + String.fromCharCode(d.digits.charCodeAt(i) + 1);
  return trimDecimal({ digits: bumped, point: d.point });
}

/**
 * exactDecimal(x) rounded to `keep` significant digits, as Go rounds (half to even on the exact
 * value). JS's toExponential rounds the exact value too, but ties away from zero, so it is used
 * unless the digit after the kept ones could be an exact half; BigInt arithmetic decides those.
 */
function roundedDecimal(x: number, keep: number): Decimal {
  if (x !== 0 && keep >= 1 && keep <= 100) {
    const wider = Math.abs(x).toExponential(keep);
    if (!wider.startsWith('5', wider.indexOf('e') - 1)) {
      const [mantissa = '', exp = '0'] = Math.abs(x).toExponential(keep - 1).split('e');
      return trimDecimal({ digits: mantissa.replace('.', ''), point: Number(exp) + 1 });
    }
  }
  return roundDecimal(exactDecimal(x), keep);
}

function shortestDecimal(x: number): Decimal {
  if (x === 0) return { digits: '', point: 0 };
  const [mantissa = '', exp = '0'] = Math.abs(x).toExponential().split('e');
  return trimDecimal({ digits: mantissa.replace('.', ''), point: Number(exp) + 1 });
}

function fixedDigits(d: Decimal, precision: number): string {
  let out = '';
  if (d.point > 0) {
    for (let i = 0; i < d.point; i++) out += d.digits[i] ?? '0';
  } else out = '0';
  if (precision > 0) {
    out += '.';
    for (let i = 1; i <= precision; i++) out += d.digits[d.point + i - 1] ?? '0';
  }
  return out;
}

function exponentDigits(d: Decimal, precision: number, e: 'e' | 'E'): string {
  let out = d.digits[0] ?? '0';
  if (precision > 0) {
    out += '.';
    for (let i = 1; i <= precision; i++) out += d.digits[i] ?? '0';
  }
  const exp = d.digits.length === 0 ? 0 : d.point - 1;
  const magnitude = Math.abs(exp);
  return `${out}${e}${exp < 0 ? '-' : '+'}${magnitude < 10 ? '0' : ''}${magnitude}`;
}

/** strconv.FormatFloat(x, verb, precision, 64); precision -1 means the shortest exact form. */
export function formatFloat(x: number, verb: 'e' | 'E' | 'f' | 'g' | 'G', precision: number): string {
  return (verb === 'g' || verb === 'G') && precision > 0 ? (fixedG(x, precision) ?? formatFloatExactly(x, verb, precision)) : formatFloatExactly(x, verb, precision);
}

/**
 * %.{precision}g of x when Go prints it without an exponent and no rounding tie is involved: what
 * every size in a list's table is (`2.01MB`), done with one toPrecision, the general path costing
 * a list of 200 rows milliseconds. Undefined otherwise: an exponent form (Go's thresholds differ
 * from JavaScript's), a possible tie (Go rounds those to even), NaN, infinities and zero.
 */
function fixedG(x: number, precision: number): string | undefined {
  const abs = Math.abs(x);
  if (!(abs >= 1e-4) || !Number.isFinite(abs)) return undefined;
  const text = abs.toPrecision(precision);
  if (text.includes('e')) return undefined;
  const wider = abs.toPrecision(precision + 1);
  if (wider.includes('e') || wider.endsWith('5')) return undefined;
  // Go drops the trailing zeros of %g's fraction, and the point with them.
  const trimmed = text.includes('.') ? text.replace(/\.?0+$/, '') : text;
  return (x < 0 ? '-' : '') + trimmed;
}

/** formatFloat by the exact decimal expansion: every verb, precision and value. */
export function formatFloatExactly(x: number, verb: 'e' | 'E' | 'f' | 'g' | 'G', precision: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const shortest = precision < 0;
  // 'e' and 'g' round from x itself (roundedDecimal); only 'f' needs the exact expansion first.
  let d = shortest ? shortestDecimal(x) : verb === 'f' ? exactDecimal(x) : { digits: '', point: 0 };
  switch (verb) {
    case 'e':
    case 'E':
      if (!shortest) d = roundedDecimal(x, precision + 1);
      return sign + exponentDigits(d, shortest ? Math.max(d.digits.length - 1, 0) : precision, verb);
    case 'f':
      if (!shortest) d = roundDecimal(d, d.point + precision);
      return sign + fixedDigits(d, shortest ? Math.max(d.digits.length - d.point, 0) : precision);
    case 'g':
    case 'G': {
      let p = precision;
      if (!shortest) {
        if (p === 0) p = 1;
        d = roundedDecimal(x, p);
      } else p = d.digits.length;
      let exponentThreshold = p;
      if (exponentThreshold > d.digits.length && d.digits.length >= d.point) exponentThreshold = d.digits.length;
      if (shortest) exponentThreshold = 6;
      const exp = d.point - 1;
      if (d.digits.length > 0 && (exp < -4 || exp >= exponentThreshold)) {
        if (p > d.digits.length) p = d.digits.length;
        return sign + exponentDigits(d, p - 1, verb === 'g' ? 'e' : 'E');
      }
      if (p > d.point) p = d.digits.length;
      return sign + fixedDigits(d, Math.max(p - d.point, 0));
    }
  }
}

function formatNumber(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString();
  if (goKind(value) === 'int') return Object.is(value, -0) ? '0' : BigInt(value).toString();
  return formatFloat(value, 'g', -1);
}

// ---------------------------------------------------------------------------------------------
// Time

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** time.Time.String() for a UTC instant: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
export function formatGoTime(date: Date): string {
  const ms = date.getUTCMilliseconds();
  const fraction = ms === 0 ? '' : `.${String(ms).padStart(3, '0').replace(/0+$/, '')}`;
  return (
    `${String(date.getUTCFullYear()).padStart(4, '0')}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())} ` +
    `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}${fraction} +0000 UTC`
  );
}

/** time.Time.MarshalJSON for a UTC instant (RFC 3339 with trailing fraction zeros trimmed). */
function rfc3339Nano(date: Date): string {
  return date.toISOString().replace(/\.?0+Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------
// Nil fields

/**
 * A Go struct's nil slice, map or pointer field, which the JSON writes as null: a template sees
 * an empty slice (`[]`, false, length 0), an empty map (`map[]`) or a nil pointer (`<nil>`), and
 * `json` writes null again; or, for a field the JSON leaves out when empty (`omitted`: Go's
 * omitempty), leaves it out again.
 */
export function goNil(kind: 'slice' | 'map' | 'pointer', opts: { omitted?: boolean } = {}): object {
  const nil: object = kind === 'slice' ? [] : {};
  Object.defineProperty(nil, 'toJSON', { value: () => (opts.omitted ? undefined : null) });
  if (kind === 'pointer') Object.defineProperty(nil, 'toString', { value: () => '<nil>' });
  return nil;
}

/** A field that stands for one the JSON leaves out (`goNil`'s `omitted`). */
function isOmitted(value: unknown): boolean {
  const toJSON = typeof value === 'object' && value !== null ? (value as { toJSON?: unknown }).toJSON : undefined;
  return typeof toJSON === 'function' && toJSON.call(value) === undefined;
}

// ---------------------------------------------------------------------------------------------
// Duration

/**
 * A Go `time.Duration`: an int64 of nanoseconds (compared and tested as one) that prints as
 * `Duration.String()` (`1m30s`) and marshals to JSON as its nanoseconds.
 */
export class GoDuration {
  constructor(readonly nanoseconds: number) {}

  valueOf(): number {
    return this.nanoseconds;
  }

  toString(): string {
    return formatGoDuration(this.nanoseconds);
  }

  toJSON(): number {
    return this.nanoseconds;
  }
}

/** Go's `time.Duration.String()`: `0s`, `1.5µs`, `500ms`, `5s`, `1m30s`, `1h0m0.5s`, `-2s`. */
export function formatGoDuration(nanoseconds: number | bigint): string {
  const d = typeof nanoseconds === 'bigint' ? nanoseconds : BigInt(Math.trunc(nanoseconds));
  const sign = d < 0n ? '-' : '';
  const u = d < 0n ? -d : d;
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    const [precision, unit] = u < 1000n ? [0, 'ns'] : u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const { whole, fraction } = splitFraction(u, precision);
    return `${sign}${whole}${fraction}${unit}`;
  }
  const { whole: seconds, fraction } = splitFraction(u, 9);
  let out = `${seconds % 60n}${fraction}s`;
  const minutes = seconds / 60n;
  if (minutes > 0n) {
    out = `${minutes % 60n}m${out}`;
    const hours = minutes / 60n;
    if (hours > 0n) out = `${hours}h${out}`;
  }
  return sign + out;
}

/** Go's fmtFrac: `v / 10^precision` as its whole part and `.digits` without trailing zeros ('' for none). */
function splitFraction(v: bigint, precision: number): { whole: bigint; fraction: string } {
  let digits = '';
  let significant = false;
  for (let i = 0; i < precision; i++) {
    const digit = v % 10n;
    significant ||= digit !== 0n;
    if (significant) digits = `${digit}${digits}`;
    v /= 10n;
  }
  return { whole: v, fraction: significant ? `.${digits}` : '' };
}

// ---------------------------------------------------------------------------------------------
// fmt.Print family

/** An object whose class defines toString plays the part of a Go Stringer. */
function hasCustomToString(value: object): boolean {
  const toString = (value as { toString?: unknown }).toString;
  return typeof toString === 'function' && toString !== Object.prototype.toString && !(value instanceof Map);
}

/** fmt's %v of one value. */
export function formatValue(value: unknown): string {
  if (value instanceof GoDuration) return value.toString();
  switch (goKind(value)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'string':
      return value as string;
    case 'int':
    case 'float':
      return formatNumber(value as number | bigint);
    case 'bool':
      return value ? 'true' : 'false';
    case 'slice':
      return `[${(value as unknown[]).map(formatValue).join(' ')}]`;
    case 'time':
      return formatGoTime(value as Date);
    case 'func':
      return '<func>';
    case 'map':
      if (hasCustomToString(value as object)) return String(value);
      return `map[${sortedMapEntries(value as object)
        .map(([k, v]) => `${k}:${formatValue(v)}`)
        .join(' ')}]`;
  }
}

/** fmt.Sprint: a space between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((arg, i) => {
    if (i > 0 && typeof arg !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(arg);
  });
  return out;
}

/** fmt.Sprintln: always spaces, and a trailing newline. */
export function sprintln(args: unknown[]): string {
  return `${args.map(formatValue).join(' ')}\n`;
}

// ---------------------------------------------------------------------------------------------
// strconv.Quote

function isGoPrintable(ch: string): boolean {
  return ch === ' ' || !/[\p{C}\p{Z}]/u.test(ch);
}

export function quoteGo(s: string, quote = '"'): string {
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (isGoPrintable(ch)) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out + quote;
}

// ---------------------------------------------------------------------------------------------
// fmt.Sprintf

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  precision: number | undefined;
}

function padField(s: string, spec: Spec, zeroAllowed: boolean): string {
  const width = spec.width ?? 0;
  const length = [...s].length;
  if (length >= width) return s;
  const fill = width - length;
  if (spec.minus) return s + ' '.repeat(fill);
  if (spec.zero && zeroAllowed) {
    const signLength = /^[+\- ]/.test(s) ? 1 : 0;
    return s.slice(0, signLength) + '0'.repeat(fill) + s.slice(signLength);
  }
  return ' '.repeat(fill) + s;
}

function badVerb(verb: string, value: unknown): string {
  if (value === undefined || value === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(value)}=${formatValue(value)})`;
}

function signed(digits: string, negative: boolean, spec: Spec): string {
  if (negative) return `-${digits}`;
  if (spec.plus) return `+${digits}`;
  if (spec.space) return ` ${digits}`;
  return digits;
}

function formatInteger(value: number | bigint, verb: string, spec: Spec): string | undefined {
  const big = BigInt(value);
  const negative = big < 0n;
  const magnitude = negative ? -big : big;
  let digits: string;
  let prefix = '';
  switch (verb) {
    case 'd':
    case 'v':
      digits = magnitude.toString();
      break;
    case 'b':
      digits = magnitude.toString(2);
      if (spec.sharp) prefix = '0b';
      break;
    case 'o':
      digits = magnitude.toString(8);
      if (spec.sharp) prefix = '0';
      break;
    case 'O':
      digits = magnitude.toString(8);
      prefix = '0o';
      break;
    case 'x':
      digits = magnitude.toString(16);
      if (spec.sharp) prefix = '0x';
      break;
    case 'X':
      digits = magnitude.toString(16).toUpperCase();
      if (spec.sharp) prefix = '0X';
      break;
    case 'c':
      return padField(String.fromCodePoint(Number(big)), spec, false);
    case 'q':
      return padField(quoteGo(String.fromCodePoint(Number(big)), "'"), spec, false);
    case 'U':
      return padField(`U+${magnitude.toString(16).toUpperCase().padStart(4, '0')}`, spec, false);
    default:
      return undefined;
  }
  if (spec.precision !== undefined) {
    digits = spec.precision === 0 && magnitude === 0n ? '' : digits.padStart(spec.precision, '0');
  }
  return padField(signed(prefix + digits, negative, spec), spec, spec.precision === undefined);
}

function formatFloatVerb(value: number, verb: string, spec: Spec): string | undefined {
  let text: string;
  switch (verb) {
    case 'e':
    case 'E':
      text = formatFloat(value, verb, spec.precision ?? 6);
      break;
    case 'f':
    case 'F':
      text = formatFloat(value, 'f', spec.precision ?? 6);
      break;
    case 'g':
    case 'G':
      text = formatFloat(value, verb, spec.precision ?? -1);
      break;
    case 'v':
      text = goKind(value) === 'int' && spec.precision === undefined ? formatNumber(value) : formatFloat(value, 'g', spec.precision ?? -1);
      break;
    default:
      return undefined;
  }
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  return padField(signed(body, negative, spec), spec, Number.isFinite(value));
}

function formatOne(value: unknown, verb: string, spec: Spec): string {
  // fmt's handleMethods: a Stringer prints its String() for the string verbs, except %#v.
  if (value instanceof GoDuration && 'vsxXq'.includes(verb) && !(verb === 'v' && spec.sharp)) return formatOne(value.toString(), verb, spec);
  const kind = goKind(value);
  if (verb === 'T') return padField(kind === 'invalid' ? '<nil>' : goTypeName(value), spec, false);
  switch (kind) {
    case 'invalid':
    case 'nil':
      return verb === 'v' || verb === 's' ? padField('<nil>', spec, false) : badVerb(verb, value);
    case 'string': {
      const s = value as string;
      switch (verb) {
        case 'v':
        case 's':
          return padField(spec.precision === undefined ? s : [...s].slice(0, spec.precision).join(''), spec, false);
        case 'q':
          return padField(quoteGo(s), spec, false);
        case 'x':
        case 'X': {
          const hex = Buffer.from(s, 'utf8').toString('hex');
          return padField(verb === 'X' ? hex.toUpperCase() : hex, spec, false);
        }
        default:
          return badVerb(verb, value);
      }
    }
    case 'bool':
      return verb === 'v' || verb === 't' ? padField(value ? 'true' : 'false', spec, false) : badVerb(verb, value);
    case 'int': {
      const asFloat = 'eEfFgG'.includes(verb) ? formatFloatVerb(Number(value), verb, spec) : undefined;
      return asFloat ?? formatInteger(value as number | bigint, verb, spec) ?? badVerb(verb, value);
    }
    case 'float':
      return formatFloatVerb(value as number, verb, spec) ?? badVerb(verb, value);
    case 'slice':
      if (verb === 'v' || verb === 's' || verb === 'd' || verb === 'q' || verb === 'x' || verb === 'X') {
        const noWidth = { ...spec, width: undefined };
        return padField(`[${(value as unknown[]).map((v) => formatOne(v, verb, noWidth)).join(' ')}]`, spec, false);
      }
      return badVerb(verb, value);
    case 'map':
      if (verb === 'v' || verb === 's' || verb === 'd' || verb === 'q' || verb === 'x' || verb === 'X') {
        const noWidth = { ...spec, width: undefined };
        const body = sortedMapEntries(value as object)
          .map(([k, v]) => `${formatOne(k, verb, noWidth)}:${formatOne(v, verb, noWidth)}`)
          .join(' ');
        return padField(`map[${body}]`, spec, false);
      }
      return badVerb(verb, value);
    case 'time':
    case 'func':
      return verb === 'v' || verb === 's' ? padField(formatValue(value), spec, false) : badVerb(verb, value);
  }
}

/** fmt.Sprintf with Go's verbs, flags, width/precision (including `*`) and error annotations. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argIndex = 0;
  let i = 0;
  const readNumber = (): number | undefined => {
    const start = i;
    while (i < format.length && format.charCodeAt(i) >= 48 && format.charCodeAt(i) <= 57) i++;
    return i > start ? Number(format.slice(start, i)) : undefined;
  };
  while (i < format.length) {
    const percent = format.indexOf('%', i);
    if (percent < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, percent);
    i = percent + 1;
    const spec: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false, width: undefined, precision: undefined };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') spec.minus = true;
      else if (c === '+') spec.plus = true;
      else if (c === '#') spec.sharp = true;
      else if (c === ' ') spec.space = true;
      else if (c === '0') spec.zero = !spec.minus;
      else break;
    }
    if (format[i] === '*') {
      i++;
      const w = args[argIndex++];
      if (goKind(w) === 'int') {
        spec.width = Math.abs(Number(w));
        if (Number(w) < 0) spec.minus = true;
      } else out += '%!(BADWIDTH)';
    } else spec.width = readNumber();
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') {
        i++;
        const p = args[argIndex++];
        if (goKind(p) === 'int' && Number(p) >= 0) spec.precision = Number(p);
        else out += '%!(BADPREC)';
      } else spec.precision = readNumber() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argIndex >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(args[argIndex++], verb, spec);
  }
  if (argIndex < args.length) {
    const extra = args.slice(argIndex).map((a) => (a == null ? '<nil>' : `${goTypeName(a)}=${formatValue(a)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// encoding/json with SetEscapeHTML(false), as Docker's `json` template function

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s.slice(i, i + 2);
        i++;
      } else out += '\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) out += '\ufffd';
    else out += s[i];
  }
  return `${out}"`;
}

function jsonNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`json: unsupported value: ${formatFloat(x, 'g', -1)}`);
  // Go and JS agree on the shortest digits and on when to switch to exponent form.
  return Object.is(x, -0) ? '-0' : String(x);
}

/** json.Marshal (without HTML escaping). Objects keep their key order, as Go structs do. */
export function toGoJson(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return jsonNumber(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'function':
      throw new Error('json: unsupported type: func()');
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (Array.isArray(value)) return typeof toJSON === 'function' ? toGoJson(toJSON.call(value)) : `[${value.map(toGoJson).join(',')}]`;
  if (value instanceof Date) return jsonString(rfc3339Nano(value));
  // A toJSON stands for a Go MarshalJSON, which Docker's formatter contexts write with
  // json.Marshal: its <, > and & come out escaped even though the `json` function's encoder
  // leaves them alone elsewhere.
  if (typeof toJSON === 'function') return toGoJson(toJSON.call(value)).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  const entries = value instanceof Map ? sortedMapEntries(value) : Object.entries(value);
  const fields: string[] = [];
  for (const [k, v] of entries) {
    if (v === undefined || typeof v === 'function' || isOmitted(v)) continue;
    fields.push(`${jsonString(k)}:${toGoJson(v)}`);
  }
  return `{${fields.join(',')}}`;
}
