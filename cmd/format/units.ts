/**
 * Sizes, durations and times the way Docker prints and parses them (github.com/docker/go-units,
 * Go's time.ParseDuration, the daemon's container status line, and the CLI's --since/--until).
 */
import { invalidArgument } from '../../common/errors';
import { formatFloat, quoteGo } from './gofmt';

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scaleSize(size: number, base: number, units: readonly string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]!];
}

/**
 * go-units HumanSizeWithPrecision: decimal units, `precision` significant digits (`4.86MB`,
 * `1.2GB`, `100B`). Docker's list commands use 3, go-units' HumanSize (e.g. `system df`) 4.
 */
export function humanSize(size: number, precision = 3): string {
  const [scaled, unit] = scaleSize(size, 1000, DECIMAL_UNITS);
  return formatFloat(scaled, 'g', precision) + unit;
}

/** go-units BytesSize: binary units, 4 significant digits (`1.5MiB`). */
export function bytesSize(size: number): string {
  const [scaled, unit] = scaleSize(size, 1024, BINARY_UNITS);
  return formatFloat(scaled, 'g', 4) + unit;
}

/** go-units HumanDuration of a span in milliseconds (`Less than a second`, `About an hour`, `3 days`). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

export type TimeInput = Date | string | number;

function toMillis(time: TimeInput): number {
  if (time instanceof Date) return time.getTime();
  if (typeof time === 'number') return time;
  return Date.parse(time);
}

/** Go's zero time.Time (and a missing time) means "never happened". */
function isZeroTime(time: TimeInput | undefined | null): boolean {
  if (time === undefined || time === null || time === '' || time === 0) return true;
  const ms = toMillis(time);
  return Number.isNaN(ms) || new Date(ms).getUTCFullYear() <= 1;
}

/** `2 minutes ago`, as the RunningFor and CreatedSince columns print. */
export function timeAgo(time: TimeInput, now: TimeInput = Date.now()): string {
  return `${humanDuration(toMillis(now) - toMillis(time))} ago`;
}

/** Go's time.Time.String() in UTC: `2024-05-01 10:00:00 +0000 UTC` (Docker's CreatedAt columns). */
export function goTime(ms: number): string {
  return `${rfc3339(ms).slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** Go's time.RFC3339 in UTC, whole seconds: `2024-05-01T10:00:00Z` (`history`'s dates). */
export function rfc3339(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

export type ContainerStateName = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy' | 'none';

export interface ContainerStatusInput {
  state: ContainerStateName;
  startedAt?: TimeInput | null;
  finishedAt?: TimeInput | null;
  exitCode?: number;
  /** Only containers with a healthcheck have one. */
  health?: HealthStatus | null;
  restarting?: boolean;
  paused?: boolean;
}

/** The daemon's State.String(): `Up 3 seconds (healthy)`, `Exited (3) 2 minutes ago`, `Created`. */
export function containerStatus(input: ContainerStatusInput, now: TimeInput = Date.now()): string {
  const nowMs = toMillis(now);
  const paused = input.paused === true || input.state === 'paused';
  const restarting = input.restarting === true || input.state === 'restarting';
  const running = input.state === 'running' || paused || restarting;
  const since = (time: TimeInput | null | undefined): string => humanDuration(isZeroTime(time) ? 0 : nowMs - toMillis(time!));
  const exitCode = input.exitCode ?? 0;
  if (running) {
    if (paused) return `Up ${since(input.startedAt)} (Paused)`;
    if (restarting) return `Restarting (${exitCode}) ${since(input.finishedAt)} ago`;
    if (input.health) {
      const health = input.health === 'starting' ? 'health: starting' : input.health;
      return `Up ${since(input.startedAt)} (${health})`;
    }
    return `Up ${since(input.startedAt)}`;
  }
  if (input.state === 'removing') return 'Removal In Progress';
  if (input.state === 'dead') return 'Dead';
  if (input.state === 'created' || isZeroTime(input.startedAt)) return 'Created';
  if (isZeroTime(input.finishedAt)) return '';
  return `Exited (${exitCode}) ${since(input.finishedAt)} ago`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const BINARY_MULTIPLIERS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** strconv.ParseFloat for the decimal forms a size can take. */
function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+)?$/.test(text)) {
    throw invalidArgument(`strconv.ParseFloat: parsing ${quoteGo(text)}: invalid syntax`);
  }
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isFinite(value)) throw invalidArgument(`strconv.ParseFloat: parsing ${quoteGo(text)}: value out of range`);
  return value;
}

/** go-units RAMInBytes: `512m`, `1g`, `100k`, `1.5GiB`, `1024` → bytes (binary units, any case). */
export function parseBytes(sizeText: string): number {
  let sep = -1;
  for (let i = sizeText.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(sizeText[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw invalidArgument(`invalid size: '${sizeText}'`);
  const numberText = sizeText[sep] === ' ' ? sizeText.slice(0, sep) : sizeText.slice(0, sep + 1);
  let suffix = sizeText.slice(sep + 1);
  let size = parseGoFloat(numberText);
  if (size < 0) throw invalidArgument(`invalid size: '${sizeText}'`);
  if (suffix.length === 0) return Math.trunc(size);
  const badSuffix = () => invalidArgument(`invalid suffix: '${suffix}'`);
  if (suffix.length > 3) throw badSuffix();
  suffix = suffix.toLowerCase();
  if (suffix[0] === 'b') {
    if (suffix.length > 1) throw badSuffix();
    return Math.trunc(size);
  }
  const multiplier = BINARY_MULTIPLIERS[suffix[0]!];
  if (multiplier === undefined) throw badSuffix();
  size *= multiplier;
  if ((suffix.length === 2 && suffix[1] !== 'b') || (suffix.length === 3 && suffix.slice(1) !== 'ib')) throw badSuffix();
  return Math.trunc(size);
}

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_DURATION = (1n << 63n) - 1n;

/** Go's time.ParseDuration (`1m30s`, `-1.5h`, `300ms`) → nanoseconds. */
export function parseDurationNanos(text: string): bigint {
  const invalid = () => invalidArgument(`time: invalid duration ${quoteGo(text)}`);
  let rest = text;
  let negative = false;
  if (rest[0] === '-' || rest[0] === '+') {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') throw invalid();
  let total = 0n;
  while (rest !== '') {
    if (!/^[0-9.]/.test(rest)) throw invalid();
    const whole = /^[0-9]*/.exec(rest)![0];
    rest = rest.slice(whole.length);
    let fraction = 0n;
    let scale = 1;
    let fractionDigits = '';
    if (rest[0] === '.') {
      fractionDigits = /^[0-9]*/.exec(rest.slice(1))![0];
      rest = rest.slice(1 + fractionDigits.length);
      // Like Go, digits beyond int64 precision are consumed but ignored.
      for (const digit of fractionDigits) {
        const next = fraction * 10n + BigInt(digit);
        if (next > MAX_DURATION) break;
        fraction = next;
        scale *= 10;
      }
    }
    if (whole === '' && fractionDigits === '') throw invalid();
    const unitText = /^[^0-9.]*/.exec(rest)![0];
    if (unitText === '') throw invalidArgument(`time: missing unit in duration ${quoteGo(text)}`);
    rest = rest.slice(unitText.length);
    const unit = DURATION_UNITS[unitText];
    if (unit === undefined) throw invalidArgument(`time: unknown unit ${quoteGo(unitText)} in duration ${quoteGo(text)}`);
    let value = whole === '' ? 0n : BigInt(whole);
    if (value > (1n << 63n) / unit) throw invalid();
    value *= unit;
    if (fraction > 0n) {
      // float64, as Go does, so fractions of hours stay nanosecond accurate
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > 1n << 63n) throw invalid();
    }
    total += value;
    if (total > 1n << 63n) throw invalid();
  }
  if (negative) return -total;
  if (total > MAX_DURATION) throw invalid();
  return total;
}

/** Go's time.ParseDuration → milliseconds (fractional below a millisecond). */
export function parseDuration(text: string): number {
  return Number(parseDurationNanos(text)) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// --since / --until

export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** A Timestamp as a Date (to the millisecond). */
export function timestampToDate(ts: Timestamp): Date {
  return new Date(ts.seconds * 1000 + Math.floor(ts.nanos / 1e6));
}

class TimeParseError extends Error {}

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return new Date(Date.UTC(2001, month, 0)).getUTCDate();
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/**
 * time.Parse for the few layouts Docker's GetTimestamp uses. `local` means the layout has no
 * zone and the time is in `offsetMinutes` east of UTC (the reference time's zone).
 */
function parseLayout(value: string, layout: string, offsetMinutes: number): Timestamp {
  const elements = layout.match(/2006|01|02|15|04|05|\.999999999|Z07:00|./g) ?? [];
  let rest = value;
  const fields = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, nanos: 0 };
  let zoneOffset: number | undefined;
  const cannotParse = (element: string): TimeParseError =>
    new TimeParseError(`parsing time ${quoteGo(value)} as ${quoteGo(layout)}: cannot parse ${quoteGo(rest)} as ${quoteGo(element)}`);
  const parseFraction = (): void => {
    const digits = /^[.,][0-9]+/.exec(rest)?.[0];
    if (!digits) return;
    fields.nanos = Number(digits.slice(1, 10).padEnd(9, '0'));
    rest = rest.slice(digits.length);
  };
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i]!;
    switch (element) {
      case '2006': {
        const digits = /^[0-9]{4}/.exec(rest)?.[0];
        if (!digits) throw cannotParse(element);
        fields.year = Number(digits);
        rest = rest.slice(4);
        break;
      }
      case '01':
      case '02':
      case '04':
      case '05':
      case '15': {
        // Go reads the hour ("15") with one or two digits, the others with exactly two.
        const digits = (element === '15' ? /^[0-9]{1,2}/ : /^[0-9]{2}/).exec(rest)?.[0];
        if (!digits) throw cannotParse(element);
        rest = rest.slice(digits.length);
        const n = Number(digits);
        if (element === '01') fields.month = n;
        else if (element === '02') fields.day = n;
        else if (element === '15') fields.hour = n;
        else if (element === '04') fields.minute = n;
        else {
          fields.second = n;
          // Go accepts a fraction after the seconds even when the layout has none.
          if (elements[i + 1] !== '.999999999') parseFraction();
        }
        break;
      }
      case '.999999999':
        parseFraction();
        break;
      case 'Z07:00': {
        if (rest[0] === 'Z') {
          zoneOffset = 0;
          rest = rest.slice(1);
          break;
        }
        const zone = /^([+-])([0-9]{2}):([0-9]{2})/.exec(rest);
        if (!zone) throw cannotParse(element);
        zoneOffset = (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]));
        rest = rest.slice(6);
        break;
      }
      default:
        if (!rest.startsWith(element)) throw cannotParse(element);
        rest = rest.slice(element.length);
    }
  }
  if (rest !== '') throw new TimeParseError(`parsing time ${quoteGo(value)}: extra text: ${quoteGo(rest)}`);
  const outOfRange = (what: string) => new TimeParseError(`parsing time ${quoteGo(value)}: ${what} out of range`);
  if (fields.month < 1 || fields.month > 12) throw outOfRange('month');
  if (fields.day < 1 || fields.day > daysIn(fields.month, fields.year)) throw outOfRange('day');
  if (fields.hour > 23) throw outOfRange('hour');
  if (fields.minute > 59) throw outOfRange('minute');
  if (fields.second > 59) throw outOfRange('second');
  const date = new Date(0);
  date.setUTCFullYear(fields.year, fields.month - 1, fields.day);
  date.setUTCHours(fields.hour, fields.minute, fields.second, 0);
  const seconds = date.getTime() / 1000 - (zoneOffset ?? offsetMinutes) * 60;
  return { seconds, nanos: fields.nanos };
}

/**
 * Docker's --since/--until value (api/types/time.GetTimestamp): a Go duration before `now`
 * (`10m`), an RFC 3339 date or date-time with or without zone (local time without), or Unix
 * seconds with an optional fraction (`1700000000.5`).
 */
export function parseTimestamp(value: string, now: TimeInput = Date.now()): Timestamp {
  const nowMs = toMillis(now);
  if (value !== '0') {
    let duration: bigint | undefined;
    try {
      duration = parseDurationNanos(value);
    } catch {
      duration = undefined;
    }
    if (duration !== undefined) {
      const instant = BigInt(Math.round(nowMs)) * 1_000_000n - duration;
      const seconds = instant >= 0n ? instant / 1_000_000_000n : -((-instant + 999_999_999n) / 1_000_000_000n);
      return { seconds: Number(seconds), nanos: 0 };
    }
  }
  const local = !/[zZ+]/.test(value) && value.split('-').length - 1 !== 3;
  let layout: string;
  if (value.includes('.')) layout = local ? '2006-01-02T15:04:05.999999999' : '2006-01-02T15:04:05.999999999Z07:00';
  else if (value.includes('T')) {
    let colons = value.split(':').length - 1;
    if (!local && !/[zZ]/.test(value) && colons > 0) colons--;
    const time = colons === 0 ? '15' : colons === 1 ? '15:04' : '15:04:05';
    layout = `2006-01-02T${time}${local ? '' : 'Z07:00'}`;
  } else layout = local ? '2006-01-02' : '2006-01-02Z07:00';
  try {
    return parseLayout(value, layout, -new Date(nowMs).getTimezoneOffset());
  } catch (err) {
    if (!(err instanceof TimeParseError)) throw err;
    if (value.includes('-')) throw invalidArgument(err.message);
  }
  const unix = /^([+-]?[0-9]+)(?:\.([+-]?[0-9]+))?$/.exec(value);
  if (!unix) throw invalidArgument(`failed to parse value as time or duration: ${quoteGo(value)}`);
  const fraction = unix[2];
  const nanos = fraction === undefined ? 0 : Math.trunc(Number(fraction) * 10 ** (9 - fraction.length));
  return { seconds: Number(unix[1]), nanos };
}
