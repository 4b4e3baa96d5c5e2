/**
 * `.env` files as Compose reads them: `KEY=VALUE` lines, optional `export ` prefix, `#` comments
 * (inline ones need a space before `#`), single quotes (literal), double quotes (escapes, may span
 * lines), `${VAR}` templates in unquoted and double-quoted values — resolved against the keys read
 * so far, then the outer lookup — and a bare `KEY` that copies the outer value when there is one.
 * The `raw` format takes everything after the first `=` literally.
 */
import { TemplateError, substitute } from './interpolation';
import type { Lookup } from './interpolation';

export class DotenvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const KEY = /^[A-Za-z0-9_.\-[\]]+$/;

export function parseDotenv(text: string, outer: Lookup = () => undefined, format: 'compose' | 'raw' = 'compose'): Record<string, string> {
  const vars: Record<string, string> = {};
  const lookup: Lookup = (name) => (Object.hasOwn(vars, name) ? vars[name] : outer(name));
  const src = text.replace(/\r\n?/g, '\n').replace(/^\uFEFF/, '');
  let pos = 0;
  let lineNo = 1;
  let counted = 0;
  const lineAt = (offset: number): number => {
    for (; counted < offset && counted < src.length; counted++) if (src.charCodeAt(counted) === 10) lineNo++;
    return lineNo;
  };
  while (pos < src.length) {
    const eol = src.indexOf('\n', pos);
    const end = eol === -1 ? src.length : eol;
    lineNo = lineAt(pos);
    let line = src.slice(pos, end);
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      pos = end + 1;
      continue;
    }
    if (format === 'raw') {
      const eq = line.indexOf('=');
      if (eq === -1) {
        const k = line.trim();
        const v = outer(k);
        if (v !== undefined) vars[k] = v;
      } else {
        vars[line.slice(0, eq).trim()] = line.slice(eq + 1);
      }
      pos = end + 1;
      continue;
    }
    line = line.replace(/^\s+/, '');
    let lineStart = pos + (src.slice(pos, end).length - line.length);
    if (/^export\s+/.test(line)) {
      const m = /^export\s+/.exec(line) as RegExpExecArray;
      line = line.slice(m[0].length);
      lineStart += m[0].length;
    }
    const eq = line.indexOf('=');
    if (eq === -1) {
      const k = line.replace(/\s+#.*$/, '').trim();
      if (!KEY.test(k)) throw new DotenvError(`line ${lineNo}: expected KEY=VALUE, got ${JSON.stringify(line.trim())}`, lineNo);
      const v = outer(k);
      if (v !== undefined) vars[k] = v;
      pos = end + 1;
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (!KEY.test(key)) {
      const bad = [...key].find((c) => !/[A-Za-z0-9_.\-[\]]/.test(c));
      throw new DotenvError(
        `line ${lineNo}: ${key === '' ? 'missing variable name before "="' : `unexpected character ${JSON.stringify(bad)} in variable name ${JSON.stringify(key)}`}`,
        lineNo,
      );
    }
    let valueStart = lineStart + eq + 1;
    while (src[valueStart] === ' ' || src[valueStart] === '\t') valueStart++;
    const q = src[valueStart];
    let value: string;
    if (q === "'" || q === '"') {
      let i = valueStart + 1;
      let raw = '';
      for (;;) {
        if (i >= src.length) throw new DotenvError(`line ${lineNo}: unterminated quoted value for ${key}`, lineNo);
        const c = src[i] as string;
        if (c === q) break;
        if (q === '"' && c === '\\' && i + 1 < src.length) {
          raw += c + (src[i + 1] as string);
          i += 2;
          continue;
        }
        raw += c;
        i++;
      }
      const closeEol = src.indexOf('\n', i);
      const rest = src.slice(i + 1, closeEol === -1 ? src.length : closeEol);
      if (rest.trim() !== '' && !/^\s+#/.test(rest) && !rest.trim().startsWith('#')) {
        throw new DotenvError(`line ${lineNo}: unexpected text after the closing quote of ${key}`, lineNo);
      }
      value = q === "'" ? raw : expand(unescapeDouble(raw), lookup, lineNo);
      pos = closeEol === -1 ? src.length : closeEol + 1;
    } else {
      let v = src.slice(valueStart, end);
      const hash = v.search(/\s#/);
      if (hash !== -1) v = v.slice(0, hash);
      else if (v.startsWith('#')) v = '';
      value = expand(v.trim(), lookup, lineNo);
      pos = end + 1;
    }
    vars[key] = value;
  }
  return vars;
}

function unescapeDouble(raw: string): string {
  // `\$` must stay a literal dollar through template expansion, hence `$$`.
  return raw.replace(/\\(.)/gs, (_, c: string) =>
    c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c === '$' ? '$$' : c,
  );
}

function expand(value: string, lookup: Lookup, line: number): string {
  try {
    return substitute(value, lookup);
  } catch (err) {
    if (err instanceof TemplateError) throw new DotenvError(`line ${line}: ${err.message}`, line);
    throw err;
  }
}
