/**
 * Shared plumbing for command implementations: global flags, the engine connection, output and
 * error reporting. Kept free of heavy imports: every command pays for what this file loads.
 */
import { fstatSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
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
 * Boolean flags that also take a value the Go way, `--orphans=false`, as Docker's and Compose's
 * do, and never the next word (`pull --disable-content-trust debian` names the image). Each flag
 * is registered as `--x` and `--no-x`; `--x=<bool>` becomes one of them before commander parses
 * the command's arguments. For commands without a container command line among their operands.
 */
export function acceptGoBoolValues(command: Command, flags: string[]): Command {
  const parse = command.parseOptions.bind(command);
  command.parseOptions = (argv: string[]) => {
    const end = argv.indexOf('--');
    const rewritten = argv.map((arg, i) => {
      const m = /^(--[a-z][a-z0-9-]*)=(.*)$/.exec(arg);
      if (!m || (end !== -1 && i > end) || !flags.includes(m[1]!)) return arg;
      const value = parseGoBool(m[2]!);
      if (value === undefined) command.error(`invalid argument ${JSON.stringify(m[2])} for "${m[1]}" flag: strconv.ParseBool: parsing ${JSON.stringify(m[2])}: invalid syntax`);
      return value ? m[1]! : `--no-${m[1]!.slice(2)}`;
    });
    return parse(rewritten);
  };
  return command;
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
