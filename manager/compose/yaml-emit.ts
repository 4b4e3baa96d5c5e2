/**
 * A small YAML emitter for canonical trees (JSON-like data only). The `yaml` library's
 * stringify builds a full document model first, which costs hundreds of milliseconds on large
 * projects; canonical trees need only block mappings, block sequences and safely quoted scalars.
 * Strings that a YAML 1.2 reader could take for anything else are written as JSON strings,
 * which are valid YAML double-quoted scalars.
 */

const PLAIN_SAFE = /^[A-Za-z0-9_./][A-Za-z0-9_ ./@+=,()-]*$/;
const NOT_STRING = /^(?:[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~|y|Y|n|N|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$/;

/** Set for one `emitYaml` call: string values (not keys) get `$` written as `$$`. */
let escapeDollars = false;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? '.inf' : v < 0 ? '-.inf' : '.nan';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  let s = String(v);
  if (escapeDollars && s.includes('$')) s = s.replaceAll('$', '$$$$');
  return text(s);
}

function text(s: string): string {
  if (s !== '' && PLAIN_SAFE.test(s) && !NOT_STRING.test(s) && !s.endsWith(' ') && !s.includes(' #') && !s.includes(': ')) return s;
  return JSON.stringify(s);
}

/** Keys repeat (every service has `image`, `environment`…): each is quoted once per call. */
let keys = new Map<string, string>();

function key(k: string): string {
  let out = keys.get(k);
  if (out === undefined) {
    out = text(k);
    keys.set(k, out);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function emit(v: unknown, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      const itemKeys = isObject(item) ? Object.keys(item) : undefined;
      if (itemKeys !== undefined && itemKeys.length > 0) {
        const m = item as Record<string, unknown>;
        itemKeys.forEach((k, i) => {
          const prefix = i === 0 ? `${indent}- ` : `${indent}  `;
          entry(prefix, k, m[k], `${indent}  `, out);
        });
      } else if (Array.isArray(item) && item.length > 0) {
        out.push(`${indent}-`);
        emit(item, `${indent}  `, out);
      } else out.push(`${indent}- ${inline(item)}`);
    }
    return;
  }
  if (isObject(v)) for (const k of Object.keys(v)) entry(indent, k, v[k], indent, out);
}

function inline(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (isObject(v)) return '{}';
  return scalar(v);
}

function entry(prefix: string, k: string, v: unknown, indent: string, out: string[]): void {
  if (v === undefined) return;
  if ((Array.isArray(v) && v.length > 0) || (isObject(v) && Object.keys(v).length > 0)) {
    out.push(`${prefix}${key(k)}:`);
    emit(v, Array.isArray(v) ? `${indent}  ` : `${indent}  `, out);
  } else out.push(`${prefix}${key(k)}: ${inline(v)}`);
}

export function emitYaml(tree: Record<string, unknown>, opts: { escapeDollars?: boolean } = {}): string {
  const out: string[] = [];
  escapeDollars = opts.escapeDollars === true;
  keys = new Map();
  try {
    emit(tree, '', out);
  } finally {
    escapeDollars = false;
    keys = new Map();
  }
  return out.length === 0 ? '{}\n' : `${out.join('\n')}\n`;
}
