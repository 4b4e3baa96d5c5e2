/** Instruction flags (`--from=build`, `--link`, repeated `--mount=`), checked like buildkit's BFlags. */

export type FlagKind = 'string' | 'bool' | 'list';
export type FlagSpec = Readonly<Record<string, FlagKind>>;

export interface ParsedFlags {
  strings: Map<string, string>;
  bools: Map<string, boolean>;
  lists: Map<string, string[]>;
  /** Names in the order they were written, for a canonical instruction text. */
  used: string[];
}

/** Throws an Error with a one-line message; the caller adds the Dockerfile and line. */
export function parseFlags(keyword: string, words: readonly string[], spec: FlagSpec): ParsedFlags {
  const parsed: ParsedFlags = { strings: new Map(), bools: new Map(), lists: new Map(), used: [] };
  for (const word of words) {
    if (!word.startsWith('--')) throw new Error(`${keyword} flag should start with --: ${word}`);
    const body = word.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const kind = spec[name];
    if (kind === undefined) throw new Error(`unknown flag: --${name} for ${keyword}`);
    if (kind !== 'list' && parsed.used.includes(name)) throw new Error(`duplicate flag specified: --${name}`);
    if (!parsed.used.includes(name)) parsed.used.push(name);
    switch (kind) {
      case 'bool': {
        const normalized = value === undefined || value === '' ? 'true' : value.toLowerCase();
        if (normalized !== 'true' && normalized !== 'false') {
          throw new Error(`expecting boolean value for flag --${name}, not: ${value ?? ''}`);
        }
        parsed.bools.set(name, normalized === 'true');
        break;
      }
      case 'string':
        if (value === undefined) throw new Error(`missing a value on flag: --${name}`);
        parsed.strings.set(name, value);
        break;
      case 'list': {
        if (value === undefined) throw new Error(`missing a value on flag: --${name}`);
        const list = parsed.lists.get(name) ?? [];
        list.push(value);
        parsed.lists.set(name, list);
        break;
      }
    }
  }
  return parsed;
}
