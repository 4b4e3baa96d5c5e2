import { invalidArgument } from '../../common/errors';

/** One `--filter key=value` group: every value given for `key`. */
export interface VolumeFilter {
  key: string;
  values: string[];
}

export const LIST_FILTERS = ['dangling', 'driver', 'label', 'name'] as const;
export const PRUNE_FILTERS = ['label', 'label!', 'all'] as const;

export function checkFilterKeys(filters: readonly VolumeFilter[], accepted: readonly string[]): void {
  for (const f of filters) {
    if (!accepted.includes(f.key)) throw invalidArgument(`invalid filter '${f.key}'`);
  }
}

export function valuesOf(filters: readonly VolumeFilter[], key: string): string[] {
  return filters.filter((f) => f.key === key).flatMap((f) => f.values);
}

export function parseFilterBool(key: string, value: string): boolean {
  switch (value.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw invalidArgument(`invalid filter '${key}=${value}'`);
  }
}

/** Docker's `filters.Match`: equal, or the value read as a regular expression matches anywhere. */
export function matchesPattern(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  try {
    return new RegExp(pattern).test(subject);
  } catch {
    return subject.includes(pattern);
  }
}

/** `key` or `key=value` against a label set. */
export function matchesLabel(labels: Readonly<Record<string, string>>, expr: string): boolean {
  const eq = expr.indexOf('=');
  if (eq === -1) return Object.hasOwn(labels, expr);
  const key = expr.slice(0, eq);
  return Object.hasOwn(labels, key) && labels[key] === expr.slice(eq + 1);
}
