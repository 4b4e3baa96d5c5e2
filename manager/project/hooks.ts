/**
 * Compose's lifecycle hooks (`post_start`, `pre_stop`). They travel on the container as a
 * label, so that every verb that starts or stops it finds them, those that run without the
 * Compose files (`stop`, `start`, `restart` by project name) included. Where the files are
 * loaded (`up`, `down`), the service's hooks as written now win, as in Compose: a fixed file
 * fixes a failing pre_stop hook.
 */
import type { ProcessSpec } from '../../common/rpc/engine-types';
import type { ServiceConfig, ServiceHook } from '../compose/model';

export const HOOKS_LABEL = 'org.tscompose.hooks';

export interface ContainerHooks {
  postStart: ProcessSpec[];
  preStop: ProcessSpec[];
}

/** A hook (or a watch rule's `exec`) as the process an exec runs. */
export function processOf(hook: ServiceHook): ProcessSpec {
  return {
    cmd: hook.command ?? [],
    env: Object.entries(hook.environment ?? {}).map(([k, v]) => (v === null ? k : `${k}=${v}`)),
    user: hook.user ?? '',
    workingDir: hook.working_dir ?? '',
    privileged: hook.privileged ?? false,
  };
}

/** A service's hooks as it is written now. */
export function serviceHooks(service: ServiceConfig): ContainerHooks {
  return { postStart: (service.post_start ?? []).map(processOf), preStop: (service.pre_stop ?? []).map(processOf) };
}

/** The label for a service's containers; none when the service has no hooks. */
export function hooksLabel(service: ServiceConfig): Record<string, string> {
  const hooks = serviceHooks(service);
  if (hooks.postStart.length === 0 && hooks.preStop.length === 0) return {};
  return { [HOOKS_LABEL]: JSON.stringify(hooks) };
}

/** The hooks a container carries; none for a label that is absent or not ours. */
export function hooksOf(labels: Record<string, string> | undefined): ContainerHooks {
  const raw = labels?.[HOOKS_LABEL];
  if (!raw) return { postStart: [], preStop: [] };
  try {
    const parsed = JSON.parse(raw) as Partial<ContainerHooks>;
    return { postStart: parsed.postStart ?? [], preStop: parsed.preStop ?? [] };
  } catch {
    return { postStart: [], preStop: [] };
  }
}
