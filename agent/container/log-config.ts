/**
 * Docker's log drivers, as this engine keeps logs: one conmon k8s-file per container, which
 * `logs` and attach read. `json-file` (Docker's default), `local` and `k8s-file` all name that
 * file, and `max-size`/`max-file` bound it. conmon keeps one file and empties it when it is full
 * rather than rolling numbered ones, so the bound is max-size × max-file bytes: Docker's disk
 * budget, with the history before a rotation gone at once instead of file by file.
 *
 * `none` keeps no history: `logs` is refused, as Docker refuses it. The output still passes
 * through a small file of that kind, which is how attach (`run` without -d, `up`) shows it.
 */
import { invalidArgument } from '../../common/errors';

const FILE_DRIVERS = ['json-file', 'local', 'k8s-file'];
const OPTIONS = ['max-size', 'max-file'];
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
    if (driver === 'none' || !OPTIONS.includes(key)) throw invalidArgument(`unknown log opt '${key}' for ${driver} log driver`);
  }
  if (driver === 'none') return ATTACH_ONLY_BYTES;
  const sizeText = options['max-size'];
  const filesText = options['max-file'];
  let maxSize = sizeText === undefined ? undefined : parseSize(sizeText);
  let maxFiles = filesText === undefined ? 1 : Number(filesText);
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw invalidArgument(`max-file cannot be less than 1: ${JSON.stringify(filesText)}`);
  if (driver === 'local') {
    maxSize ??= LOCAL_DEFAULTS.maxSize;
    if (filesText === undefined) maxFiles = LOCAL_DEFAULTS.maxFiles;
  }
  if (maxSize === undefined) {
    if (maxFiles > 1) throw invalidArgument('max-file cannot be set when max-size is not set');
    return undefined;
  }
  return maxSize * maxFiles;
}

/** Docker's human sizes for log options: decimal units (`10m` is 10,000,000 bytes). */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }[(m?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't' | 'p'];
  const bytes = m ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes > 0)) throw invalidArgument(`max-size must be a positive size, such as 10m: ${JSON.stringify(text)}`);
  return bytes;
}
