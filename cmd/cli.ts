/**
 * Shared plumbing for command implementations: global flags, the engine connection, output and
 * error reporting. Kept free of heavy imports: every command pays for what this file loads.
 */
import { fstatSync, writeSync } from 'node:fs';
import type { Command, Option } from 'commander';
import type { EngineClient } from './client';
import { parseGoBool } from './parse/go-bool';

export interface GlobalFlags {
  debug?: boolean;
  host?: string;
  dataRoot?: string;
  file?: string[];
  projectName?: string;
  profile?: string[];
  envFile?: string[];
  projectDirectory?: string;
}

let globals: GlobalFlags = {};
let client: EngineClient | undefined;

export function setGlobals(g: GlobalFlags): void {
  globals = g;
}

export function getGlobals(): GlobalFlags {
  return globals;
}

export async function engine(): Promise<EngineClient> {
  if (!client) {
    const { connect } = await import('./client');
    client = await connect({ host: globals.host, dataRoot: globals.dataRoot });
  }
  return client;
}

export function closeEngine(): void {
  client?.close();
  client = undefined;
}

let stdoutFile: boolean | undefined;

/**
 * Whether stdout is a regular file or a memory device (/dev/null): where node's process.stdout
 * would be a SyncWriteStream, which writes each chunk with writeSync but whose creation loads
 * node:stream whole, a noticeable part of a short command's start-up. There `out` writes the
 * same way without the stream; terminals and pipes keep process.stdout.
 */
export function stdoutIsFile(): boolean {
  if (stdoutFile === undefined) {
    try {
      const st = fstatSync(1);
      // Character devices of major 1 are /dev/null, /dev/zero, /dev/full…: never terminals.
      stdoutFile = st.isFile() || (st.isCharacterDevice() && Math.floor(st.rdev / 256) % 4096 === 1);
    } catch {
      stdoutFile = false;
    }
  }
  return stdoutFile;
}

export function out(s: string): void {
  if (stdoutIsFile()) writeSync(1, s);
  else process.stdout.write(s);
}

export function println(s = ''): void {
  out(s + '\n');
}

export function eprintln(s: string): void {
  process.stderr.write(s + '\n');
}

/** Exit status carried by an error, as Docker's StatusError. */
export class ExitError extends Error {
  constructor(
    readonly status: number,
    message = '',
  ) {
    super(message);
  }
}

/** `--filter key=value` flags, grouped by key as the API wants them. */
export function parseFilters(values: string[] | undefined): Array<{ key: string; values: string[] }> {
  const map = new Map<string, string[]>();
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    if (i <= 0) throw new ExitError(125, `invalid argument "${v}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const key = v.slice(0, i);
    const list = map.get(key) ?? [];
    list.push(v.slice(i + 1));
    map.set(key, list);
  }
  return [...map.entries()].map(([key, vals]) => ({ key, values: vals }));
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Boolean flags also take a value the Go way, `--rm=false`, `-d=false`, `--no-trunc=true`, as every boolean
 * flag of Docker's and Compose's does (pflag), and never the next word (`pull
 * --disable-content-trust debian` names the image). `--x=<bool>` is rewritten before commander
 * parses the command's arguments: to `--x`, to `--no-x` where the command has it, or to nothing
 * where false is the flag's default. Operands are left alone: the scan stops at `--`, and at the
 * first operand of a command whose operands end its options (a subcommand's name, a container's
 * command line).
 */
export function acceptGoBoolValues(command: Command): Command {
  const parse = command.parseOptions.bind(command);
  // Installed on every command at start-up: the work waits until the command parses.
  command.parseOptions = (argv: string[]) => parse(goBoolsRewritten(command, argv));
  return command;
}

function goBoolsRewritten(command: Command, argv: string[]): string[] {
  const options = command.options as readonly Option[];
  const byLong = new Map(options.filter((o) => o.long).map((o) => [o.long!, o]));
  const takesValue = (flag: string): boolean => {
    const o = flag.startsWith('--') ? byLong.get(flag) : options.find((x) => x.short === flag);
    return o !== undefined && (o.required || o.optional);
  };
  const isBoolean = (o: Option | undefined): o is Option => o !== undefined && !o.required && !o.optional;
  // commander keeps this setting private; it is what makes the first operand end the options.
  const operandsEndOptions = command.commands.length > 0 || (command as unknown as { _passThroughOptions?: boolean })._passThroughOptions === true;

  const rewrite = (flag: string, text: string): string | undefined => {
    const value = parseGoBool(text);
    if (value === undefined) {
      command.error(`invalid argument ${JSON.stringify(text)} for "${flag}" flag: strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
    }
    if (value) return flag;
    const opt = byLong.get(flag)!;
    // `--x=false` says `--no-x`, and `--no-x=false` says `--x`.
    const opposite = opt.negate ? `--${flag.slice('--no-'.length)}` : `--no-${flag.slice(2)}`;
    if (byLong.has(opposite)) return opposite;
    // Otherwise leaving the flag out says it, unless it is on by default (commander then refuses it).
    return !opt.negate && opt.defaultValue === true ? `${flag}=${text}` : undefined;
  };

  const out: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--' || (!arg.startsWith('-') && operandsEndOptions)) break;
    const m = /^(--[a-z][a-z0-9-]*|-[a-zA-Z])=(.*)$/s.exec(arg);
    const long = m && (m[1]!.startsWith('--') ? m[1]! : options.find((o) => o.short === m[1])?.long);
    if (m && long && isBoolean(byLong.get(long))) {
      const replaced = rewrite(long, m[2]!);
      if (replaced !== undefined) out.push(replaced);
      continue;
    }
    out.push(arg);
    if (/^-(-[a-z][a-z0-9-]*|[a-zA-Z])$/.test(arg) && takesValue(arg) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return [...out, ...argv.slice(i)];
}

/** Reads all of stdin into a buffer (for `-f -` and the like). */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

type Action = (...args: any[]) => Promise<number | void>;

/**
 * Wraps a lazily imported action: the command's module loads only when the command runs, and
 * a returned number becomes the exit code.
 */
export function lazy(load: () => Promise<Action>): (...args: any[]) => Promise<void> {
  return async (...args: any[]) => {
    const fn = await load();
    const code = await fn(...args);
    if (typeof code === 'number') process.exitCode = code;
  };
}
