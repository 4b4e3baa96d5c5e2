/**
 * What each instruction does to the image config (Env, Cmd, Entrypoint, WorkingDir, User,
 * ExposedPorts, Volumes, Healthcheck, Labels, StopSignal, OnBuild, Shell), as buildkit's
 * Dockerfile frontend applies it, and the history entry it leaves.
 */
import * as path from 'node:path';
import type { ContainerConfig, HistoryEntry } from '../../image/oci';
import { parseExposedPorts, type Instruction } from '../dockerfile/instructions';

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

/** buildkit's history line: the instruction text, marked for steps that ran in the builder. */
export function historyEntry(text: string, created: string, layer: boolean, ranInBuilder: boolean): HistoryEntry {
  const entry: HistoryEntry = {
    created,
    created_by: ranInBuilder ? `${text} # buildkit` : text,
    comment: 'buildkit.dockerfile.v0',
  };
  if (!layer) entry.empty_layer = true;
  return entry;
}
