/**
 * What each instruction does to the image config (Env, Cmd, Entrypoint, WorkingDir, User,
 * ExposedPorts, Volumes, Healthcheck, Labels, StopSignal, OnBuild, Shell), as buildkit's
 * Dockerfile frontend applies it, and the history entry it leaves (as `docker build` writes it).
 */
import * as path from 'node:path';
import type { ContainerConfig, HistoryEntry } from '../../image/oci';
import { parseExposedPorts, runArgv, type Instruction } from '../dockerfile/instructions';

export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Per-stage facts that are not in the config itself. */
export interface StageFlags {
  /** Whether this stage set CMD: an ENTRYPOINT of this stage clears an inherited CMD otherwise. */
  cmdSet: boolean;
}

export function setEnv(env: readonly string[] | undefined, key: string, value: string): string[] {
  const out = (env ?? []).filter((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) !== key);
  out.push(`${key}=${value}`);
  // Keep the original position of a replaced variable, as Docker does.
  const index = (env ?? []).findIndex((e) => e.startsWith(`${key}=`) || e === key);
  if (index >= 0) {
    out.pop();
    out.splice(index, 0, `${key}=${value}`);
  }
  return out;
}

function commandOf(form: 'shell' | 'exec', command: readonly string[], shell: readonly string[]): string[] {
  return form === 'exec' ? [...command] : [...shell, command.join(' ')];
}

/** The WorkingDir after `WORKDIR p`: relative paths are under the current one. */
export function nextWorkdir(current: string | undefined, p: string): string {
  return path.posix.resolve(current || '/', p);
}

/**
 * Applies a metadata instruction (after substitution) to `config`. Returns false for instructions
 * that do not change the config (ARG, RUN, COPY, ADD, FROM).
 */
export function applyToConfig(config: ContainerConfig, ins: Instruction, flags: StageFlags): boolean {
  const shell = config.Shell ?? DEFAULT_SHELL;
  switch (ins.kind) {
    case 'ENV':
      for (const { key, value } of ins.pairs) config.Env = setEnv(config.Env, key, value);
      return true;
    case 'LABEL':
      config.Labels = { ...(config.Labels ?? {}) };
      for (const { key, value } of ins.pairs) config.Labels[key] = value;
      return true;
    case 'CMD':
      config.Cmd = commandOf(ins.form, ins.command, shell);
      flags.cmdSet = true;
      return true;
    case 'ENTRYPOINT':
      config.Entrypoint = commandOf(ins.form, ins.command, shell);
      if (!flags.cmdSet) config.Cmd = null;
      return true;
    case 'SHELL':
      config.Shell = [...ins.shell];
      return true;
    case 'WORKDIR':
      config.WorkingDir = nextWorkdir(config.WorkingDir, ins.path);
      return true;
    case 'USER':
      config.User = ins.user;
      return true;
    case 'EXPOSE': {
      config.ExposedPorts = { ...(config.ExposedPorts ?? {}) };
      for (const key of parseExposedPorts(ins.ports).configKeys) config.ExposedPorts[key] = {};
      return true;
    }
    case 'VOLUME':
      config.Volumes = { ...(config.Volumes ?? {}) };
      for (const volume of ins.volumes) if (volume.trim() !== '') config.Volumes[volume] = {};
      return true;
    case 'STOPSIGNAL':
      config.StopSignal = ins.signal;
      return true;
    case 'HEALTHCHECK': {
      if (ins.test[0] === 'NONE') {
        config.Healthcheck = { Test: ['NONE'] };
        return true;
      }
      const health: NonNullable<ContainerConfig['Healthcheck']> = { Test: [...ins.test] };
      if (ins.intervalNs !== undefined) health.Interval = ins.intervalNs;
      if (ins.timeoutNs !== undefined) health.Timeout = ins.timeoutNs;
      if (ins.startPeriodNs !== undefined) health.StartPeriod = ins.startPeriodNs;
      if (ins.startIntervalNs !== undefined) health.StartInterval = ins.startIntervalNs;
      if (ins.retries !== undefined) health.Retries = ins.retries;
      config.Healthcheck = health;
      return true;
    }
    case 'ONBUILD':
      config.OnBuild = [...(config.OnBuild ?? []), ins.expression];
      return true;
    case 'MAINTAINER':
      return true;
    default:
      return false;
  }
}

/** A history entry; `empty_layer` when the step changed nothing, as Docker marks it. */
export function historyEntry(createdBy: string, created: string, layer: boolean, author?: string): HistoryEntry {
  const entry: HistoryEntry = { created, created_by: createdBy };
  if (author) entry.author = author;
  if (!layer) entry.empty_layer = true;
  return entry;
}

/** What COPY/ADD took, for its history line: one file, one directory, or several sources. */
export type CopySourceKind = 'file' | 'dir' | 'multi';

export interface CreatedByContext {
  /** The config after the instruction was applied (SHELL and WORKDIR take effect in their own line). */
  config: ContainerConfig;
  /** RUN: the ARGs in scope with a value. */
  args?: Readonly<Record<string, string>>;
  /** RUN: the image environment before the step (an ENV hides an ARG of the same name). */
  env?: Readonly<Record<string, string>>;
  /** COPY/ADD: what the sources were, and a digest of them. */
  copy?: { kind: CopySourceKind; digest: string };
}

/**
 * `created_by` of a history entry, as Docker's `docker build` (the classic builder of Docker
 * 20.10, the Docker Engine installed beside us) writes it: metadata instructions as
 * `<shell> #(nop)  ENV A=1`, WORKDIR/COPY/ADD as `<shell> #(nop) WORKDIR /abs`, RUN as its command
 * line prefixed by the build args in scope (`|1 V=1 /bin/sh -c make`). COPY/ADD name their sources
 * by a content digest (`file:<hex> in /dst `); Docker's digest uses its own tarsum, so the hex
 * differs from Docker's while its role (changing exactly when the content does) is the same.
 */
export function createdBy(ins: Instruction, ctx: CreatedByContext): string {
  const shell = (ctx.config.Shell ?? DEFAULT_SHELL).join(' ');
  const nop = (text: string): string => `${shell} #(nop)  ${text}`;
  switch (ins.kind) {
    case 'RUN': {
      const { argv, script } = runArgv(ins, ctx.config.Shell ?? DEFAULT_SHELL);
      const command = script !== undefined ? script : argv.join(' ');
      const hidden = ctx.env ?? {};
      const args = Object.entries(ctx.args ?? {})
        .filter(([k]) => !Object.hasOwn(hidden, k))
        .map(([k, v]) => `${k}=${v}`)
        .sort();
      return args.length > 0 ? `|${args.length} ${args.join(' ')} ${command}` : command;
    }
    case 'WORKDIR':
      return `${shell} #(nop) WORKDIR ${ctx.config.WorkingDir ?? ins.path}`;
    case 'COPY':
    case 'ADD': {
      const chown = ins.chown ? `--chown=${ins.chown}` : '';
      const copy = ctx.copy ?? { kind: 'multi', digest: '' };
      return `${shell} #(nop) ${ins.kind} ${chown}${copy.kind}:${copy.digest.replace(/^sha256:/, '')} in ${ins.destination} `;
    }
    case 'ENV':
      return nop(`ENV ${ins.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
    case 'LABEL':
      return nop(`LABEL ${ins.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
    case 'ARG':
      return nop(`ARG ${ins.args.map((a) => (a.value === undefined ? a.name : `${a.name}=${a.value}`)).join(' ')}`);
    case 'CMD':
    case 'ENTRYPOINT':
      return nop(`${ins.kind} ${goQuotedList(ins.kind === 'CMD' ? (ctx.config.Cmd ?? []) : (ctx.config.Entrypoint ?? []))}`);
    case 'SHELL':
      return nop(`SHELL [${ins.shell.join(' ')}]`);
    case 'USER':
      return nop(`USER ${ins.user}`);
    case 'EXPOSE':
      return nop(`EXPOSE ${[...ins.ports].sort().join(' ')}`);
    case 'VOLUME':
      return nop(`VOLUME [${ins.volumes.join(' ')}]`);
    case 'STOPSIGNAL':
      return nop(`STOPSIGNAL ${ins.signal}`);
    case 'ONBUILD':
      return nop(`ONBUILD ${ins.expression}`);
    case 'MAINTAINER':
      return nop(`MAINTAINER ${ins.maintainer}`);
    case 'HEALTHCHECK': {
      // Docker prints its HealthConfig with %q: &{Test Interval Timeout StartPeriod Retries}.
      const h = ctx.config.Healthcheck ?? { Test: ins.test };
      const fields = [goQuotedList(h.Test ?? []), goQuote(goDuration(h.Interval ?? 0)), goQuote(goDuration(h.Timeout ?? 0)), goQuote(goDuration(h.StartPeriod ?? 0)), goQuoteRune(h.Retries ?? 0)];
      return nop(`HEALTHCHECK &{${fields.join(' ')}}`);
    }
    case 'FROM':
      return nop(`FROM ${ins.image}`);
  }
}

/** Go's `%q` of a string (strconv.Quote), for the ASCII text Dockerfiles hold. */
function goQuote(text: string): string {
  return JSON.stringify(text).replace(/\\u00([0-7][0-9a-f])/g, '\\x$1');
}

/** Go's `%q` of a []string: `["a" "b"]`. */
function goQuotedList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(' ')}]`;
}

/** Go's `%q` of an int (strconv.QuoteRune). */
function goQuoteRune(n: number): string {
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: "\\'", 92: '\\\\' };
  if (named[n] !== undefined) return `'${named[n]}'`;
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCharCode(n)}'`;
  if (n < 0x100) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  return `'\\u${n.toString(16).padStart(4, '0')}'`;
}

/** Go's time.Duration.String() of nanoseconds: `0s`, `500ms`, `5s`, `1m30s`, `1h0m0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let u = Math.abs(ns);
  if (u < 1e9) {
    const [unit, scale] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    return `${sign}${trimFraction(u / (scale as number))}${unit as string}`;
  }
  const hours = Math.floor(u / 3.6e12);
  u -= hours * 3.6e12;
  const minutes = Math.floor(u / 6e10);
  u -= minutes * 6e10;
  const seconds = `${trimFraction(u / 1e9)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

function trimFraction(value: number): string {
  return value.toFixed(9).replace(/\.?0+$/, '');
}
