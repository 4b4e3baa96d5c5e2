/**
 * The manager's public face. `setupManager` is called by the daemon's wiring: it opens the state
 * store, registers this host as the local node (reached through the AgentConnection the wiring
 * provides) and serves the Manager gRPC service. Nothing happens on import.
 *
 * The orchestrator (and with it the Compose model and its YAML) loads on the first Manager call:
 * an idle daemon that serves only the Engine API never pays for it.
 */
import type { Server, ServiceDefinition } from '@grpc/grpc-js';
import { managerHandlers } from './api/index';
import { Dispatcher, type AgentConnection } from './dispatcher/index';
import type { Orchestrator } from './orchestrator/index';
import { FileStore } from './store/index';

export interface ManagerSetup {
  dataRoot: string;
  /** The local node's agent. On one host: an EngineAgentConnection on the daemon's own socket. */
  connectLocalAgent: () => Promise<AgentConnection>;
}

export interface RunningManager {
  /** The orchestrator, loaded (once) on first use. */
  orchestrator: () => Promise<Orchestrator>;
  dispatcher: Dispatcher;
}

export async function setupManager(server: Server, service: ServiceDefinition, setup: ManagerSetup): Promise<RunningManager> {
  const store = new FileStore(setup.dataRoot);
  await store.open();
  // The first write persists the local node id chosen by a fresh store.
  await store.update(() => undefined);
  const dispatcher = new Dispatcher();
  dispatcher.register({ id: store.state.localNodeId, role: 'manager', labels: {}, connect: setup.connectLocalAgent });
  let loading: Promise<Orchestrator> | undefined;
  const orchestrator = () => {
    loading ??= import('./orchestrator/index').then(({ Orchestrator }) => new Orchestrator({ store, dispatcher }));
    // A failed load (a missing chunk) is retried by the next call rather than remembered.
    loading.catch(() => (loading = undefined));
    return loading;
  };
  server.addService(service, managerHandlers(orchestrator));
  return { orchestrator, dispatcher };
}

export { EngineAgentConnection, Dispatcher } from './dispatcher/index';
export type { AgentConnection, EngineCaller } from './dispatcher/index';
export type { Orchestrator } from './orchestrator/index';
