export { Dispatcher, type NodeEntry } from './dispatcher';
export { EngineAgentConnection, type EngineCaller } from './engine-connection';
export type * from './agent-connection';
