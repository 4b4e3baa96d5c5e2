/** The agent's public face: what the daemon and tests may use. */
export { Agent } from './agent';
export { withDefaults, DEFAULT_DATA_ROOT, type AgentOptions, type CompiledAgentOptions } from './options';
export { registerEngineService, engineHandlers } from './api/engine-server';
export { VERSION, API_VERSION } from './version';
