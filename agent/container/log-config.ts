/**
 * Docker's log drivers, as this engine keeps logs: one conmon k8s-file per container, which
 * `logs` and attach read. `json-file` (Docker's default), `local` and `k8s-file` all name that
 * file, and `max-size`/`max-file` bound it. conmon keeps one file and empties it when it is full
 * rather than rolling numbered ones, so the bound is max-size × max-file bytes: Docker's disk
 * budget, with the history before a rotation gone at once instead of file by file.
 *
 * `none` keeps no history: `logs` is refused, as Docker refuses it. The output still passes
 * through a small file of that kind, which is how attach (`run` without -d, `up`) shows it.
 *
 * json-file's `labels`, `labels-regex`, `env` and `env-regex` pick container labels and
 * environment variables that Docker stores with every line as its attributes; `logs --details`
 * shows them. They are the same for every line of a container, so they are worked out when the
 * logs are read instead of being written into the file. `compress` compresses Docker's rotated
 * files; there are none here (see above), so it is only checked as Docker checks it.
 */
import { invalidArgument } from '../../common/errors';

const FILE_DRIVERS = ['json-file', 'local', 'k8s-file'];
const SIZE_OPTIONS = ['max-size', 'max-file', 'compress'];
const ATTRIBUTE_OPTIONS = ['labels', 'labels-regex', 'env', 'env-regex'];
/** The options each driver takes: Docker's `local` has no attributes. */
const OPTIONS: Record<string, readonly string[]> = {
  'json-file': [...SIZE_OPTIONS, ...ATTRIBUTE_OPTIONS],
  'k8s-file': [...SIZE_OPTIONS, ...ATTRIBUTE_OPTIONS],
  local: SIZE_OPTIONS,
};
/** Docker's `local` driver keeps 5 files of 20 MB unless told otherwise. */
const LOCAL_DEFAULTS = { maxSize: 20_000_000, maxFiles: 5 };
/** What a `none` container's file holds at most: enough for attach to keep up. */
const ATTACH_ONLY_BYTES = 1_000_000;
export const NO_LOGS_MESSAGE = 'configured logging driver does not support reading';

export interface LogConfig {
  driver?: string;
  /** Absent in the records of containers made before log options existed. */
  options?: Readonly<Record<string, string>>;
}

/** Whether `logs` can show the container's output (any driver but `none`). */
export function keepsLogs(config: LogConfig): boolean {
  return config.driver !== 'none';
}

/** The bytes after which the log file is emptied, or undefined for no bound; throws on a config Docker would refuse or we cannot honour. */
export function logSizeLimit(config: LogConfig): number | undefined {
  const driver = config.driver || 'json-file';
  if (!FILE_DRIVERS.includes(driver) && driver !== 'none') {
    throw invalidArgument(`logging driver "${driver}" is not supported: this engine keeps each container's output in a log file (json-file, local or k8s-file), or none`);
  }
  const options = config.options ?? {};
  for (const key of Object.keys(options)) {
    if (!(OPTIONS[driver] ?? []).includes(key)) throw invalidArgument(`unknown log opt '${key}' for ${driver} log driver`);
  }
  if (driver === 'none') return ATTACH_ONLY_BYTES;
  for (const key of ['labels-regex', 'env-regex']) {
    const pattern = options[key];
    if (pattern === undefined) continue;
    try {
      new RegExp(pattern);
    } catch (err) {
      throw invalidArgument(`failed to initialize logging driver: ${key} ${JSON.stringify(pattern)}: ${(err as Error).message}`);
    }
  }
  const sizeText = options['max-size'];
  const filesText = options['max-file'];
  let maxSize = sizeText === undefined ? undefined : parseSize(sizeText);
  let maxFiles = filesText === undefined ? 1 : Number(filesText);
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw invalidArgument(`max-file cannot be less than 1: ${JSON.stringify(filesText)}`);
  if (driver === 'local') {
    maxSize ??= LOCAL_DEFAULTS.maxSize;
    if (filesText === undefined) maxFiles = LOCAL_DEFAULTS.maxFiles;
  }
  if (maxSize === undefined && maxFiles > 1) throw invalidArgument('max-file cannot be set when max-size is not set');
  const compress = options['compress'];
  if (compress !== undefined) {
    const on = parseGoBool(compress);
    if (on === undefined) throw invalidArgument(`failed to initialize logging driver: strconv.ParseBool: parsing ${JSON.stringify(compress)}: invalid syntax`);
    if (on && (maxSize === undefined || maxFiles < 2)) {
      throw invalidArgument('failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set');
    }
  }
  return maxSize === undefined ? undefined : maxSize * maxFiles;
}

/** Go's strconv.ParseBool. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/**
 * A container's log attributes as `logs --details` prints them before each line (Docker's
 * `attrsByteSlice`): the labels and environment variables its log options name or match, as
 * query-escaped `key=value` pairs sorted by key and joined by commas; empty when there are none.
 * A name that is not set is left out.
 */
export function logAttributes(config: LogConfig, labels: Readonly<Record<string, string>>, env: readonly string[]): string {
  const options = config.options ?? {};
  const attrs = new Map<string, string>();
  const pick = (source: ReadonlyMap<string, string>, names: string | undefined, pattern: string | undefined) => {
    for (const name of names?.split(',') ?? []) {
      const value = source.get(name);
      if (value !== undefined) attrs.set(name, value);
    }
    if (pattern === undefined) return;
    const re = new RegExp(pattern);
    for (const [k, v] of source) if (re.test(k)) attrs.set(k, v);
  };
  pick(new Map(Object.entries(labels)), options['labels'], options['labels-regex']);
  const vars = new Map<string, string>();
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq > 0) vars.set(e.slice(0, eq), e.slice(eq + 1));
  }
  pick(vars, options['env'], options['env-regex']);
  return [...attrs]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${queryEscape(k)}=${queryEscape(v)}`)
    .join(',');
}

/** Go's url.QueryEscape: unreserved characters as they are, a space as `+`, the rest %XX. */
function queryEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

/** Docker's human sizes for log options: decimal units (`10m` is 10,000,000 bytes). */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }[(m?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't' | 'p'];
  const bytes = m ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes > 0)) throw invalidArgument(`max-size must be a positive size, such as 10m: ${JSON.stringify(text)}`);
  return bytes;
}
