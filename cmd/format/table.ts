/**
 * `--format` for list commands, the way Docker's cli/command/formatter does it:
 *   - '' or `table`: the command's default table;
 *   - `table <template>`: a header row (the template run over the header names), then one row per
 *     item, aligned by a tabwriter;
 *   - `json`: `{{json .}}` per item, one JSON object per line;
 *   - anything else: the raw template per item, no header;
 *   - `--quiet`: `{{.ID}}` per item, whatever the format.
 * In all of them a literal `\t` or `\n` typed on the command line becomes a tab or newline.
 */
import { ExitError } from '../cli';
import { compileTemplate, HEADER_FUNCTIONS } from './gotemplate';
import type { Template, TemplateFunctions } from './gotemplate';
import { tabwrite } from './tabwriter';

export interface ListFormatOptions {
  /** The `--format` flag as typed; undefined or '' means the default table. */
  format?: string;
  /** The command's default, e.g. `table {{.ID}}\t{{.Image}}\t{{.Names}}`. */
  defaultTable: string;
  /** Column titles by field name, e.g. `{ ID: 'CONTAINER ID' }`; others get defaultHeader(field). */
  headers: Record<string, string>;
  quiet?: boolean;
  /** The field `--quiet` prints; `ID` unless told. */
  quietField?: string;
  /** Extra template functions (their names become valid in templates). */
  funcs?: TemplateFunctions;
  /**
   * What a template failure's message starts with: Docker's `ps` says `failed to parse template: `
   * and `failed to execute template: `, its other lists `template parsing error: ` for both.
   */
  errorPrefixes?: { parse: string; execute: string };
}

const DEFAULT_PREFIXES = { parse: 'template parsing error: ', execute: 'template parsing error: ' };

const TABLE_KEY = 'table';
const JSON_KEY = 'json';

/** A column title for a field with none in the command's map: `CreatedAt` → `CREATED AT`. */
export function defaultHeader(field: string): string {
  return field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toUpperCase();
}

/** Docker's stderr warning when both --format and --quiet are given, or undefined. */
export function quietFormatWarning(options: Pick<ListFormatOptions, 'format' | 'quiet'>): string | undefined {
  if (!options.quiet || !options.format) return undefined;
  return 'WARNING: Ignoring custom format, because both --format and --quiet are set.';
}

/** The template Docker would run for these options, and whether it is a table. */
export function resolveListFormat(options: ListFormatOptions): { template: string; table: boolean } {
  let format = options.format ?? '';
  if (options.quiet) format = `{{.${options.quietField ?? 'ID'}}}`;
  else if (format === '' || format === TABLE_KEY) format = options.defaultTable;
  const table = format.startsWith(TABLE_KEY);
  let template = format;
  if (table) template = format.slice(TABLE_KEY.length);
  else if (format === JSON_KEY) template = '{{json .}}';
  template = template.replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return { template, table };
}

function compileListTemplate(source: string, funcs: TemplateFunctions | undefined, prefix: string): Template {
  try {
    return compileTemplate(source, { funcs });
  } catch (err) {
    // Docker's CLI prints these bare (no `Error: `), status 1.
    throw new ExitError(1, `${prefix}${(err as Error).message}`);
  }
}

/**
 * Docker marshals a list row through a Go map, so its JSON keys come out sorted; plain objects
 * get the same order here. Class instances are left alone so their getters and methods work.
 */
function rowData(row: object): object {
  const prototype = Object.getPrototypeOf(row);
  if (prototype !== Object.prototype && prototype !== null) return row;
  return Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The title of a `{{.Label "com.example.some-key"}}` column, as Docker's SubHeaderContext.Label:
 * the key's last dotted part, `-` and `_` as spaces (`some key`), not upper-cased.
 */
function labelHeader(name: unknown): string {
  const last = String(name).split('.').pop() ?? '';
  return last.replace(/[-_]/g, ' ');
}

function headerData(headers: Record<string, string>): object {
  return new Proxy(
    { ...headers },
    {
      get: (target, key) => {
        if (typeof key !== 'string') return undefined;
        if (key === 'Label' && !('Label' in target)) return labelHeader;
        return target[key] ?? defaultHeader(key);
      },
      has: (_target, key) => typeof key === 'string',
    },
  );
}

/** Renders a list command's output (every line newline-terminated). */
export function renderList(rows: readonly object[], options: ListFormatOptions): string {
  const { template: source, table } = resolveListFormat(options);
  const prefixes = options.errorPrefixes ?? DEFAULT_PREFIXES;
  const template = compileListTemplate(source, options.funcs, prefixes.parse);
  let body = '';
  for (const row of rows) {
    try {
      body += `${template.execute(template.fieldsOnly ? row : rowData(row))}\n`;
    } catch (err) {
      throw new ExitError(1, `${prefixes.execute}${(err as Error).message}`);
    }
  }
  if (!table) return body;
  const header = template.execute(headerData(options.headers), { funcs: HEADER_FUNCTIONS, ignoreErrors: true });
  return tabwrite(`${header}\n${body}`);
}
