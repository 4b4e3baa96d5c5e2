/**
 * The areas of the Engine service beyond images and system, each with its own handler file.
 * Registries and builds load on their first call: an idle daemon doesn't hold their code.
 */
import type { Agent } from '../agent';
import type { Handlers } from './grpc-util';
import { containerHandlers } from './container-handlers';
import { containerExtraHandlers } from './container-extra-handlers';
import { toServiceError } from '../../common/rpc/status';

export function engineAreas(agent: Agent): Handlers[] {
  return [
    containerHandlers(agent),
    containerExtraHandlers(agent),
    lazyArea(['ImageSearch', 'ImagePull', 'ImagePush', 'Login', 'Logout'], async () =>
      (await import('./registry-handlers')).registryHandlers(agent),
    ),
    lazyArea(['ImageBuild'], async () => (await import('./build-handlers')).buildHandlers(agent)),
  ];
}

/**
 * Handlers for `methods` that load the area's module on the first call and hand every call to
 * its handler. A call's messages wait in its stream until the handler reads them.
 */
export function lazyArea(methods: string[], load: () => Promise<Handlers>): Handlers {
  let loading: Promise<Handlers> | undefined;
  const area = () => {
    loading ??= load();
    loading.catch(() => (loading = undefined));
    return loading;
  };
  const handlers: Handlers = {};
  for (const method of methods) {
    handlers[method] = (...args: any[]) => {
      area()
        .then((loaded) => {
          const handler = loaded[method];
          if (!handler) throw new Error(`engine: the area that serves ${method} has no handler for it`);
          handler(...args);
        })
        .catch((err: unknown) => {
          // Unary and client-stream handlers get a callback; streams report through the call.
          const [call, callback] = args as [{ emit(e: string, err: unknown): void }, ((err: unknown) => void) | undefined];
          if (typeof callback === 'function') callback(toServiceError(err));
          else call.emit('error', toServiceError(err));
        });
    };
  }
  return handlers;
}
