/** The areas of the Engine service beyond images and system, each with its own handler file. */
import type { Agent } from '../agent';
import type { Handlers } from './grpc-util';
import { containerHandlers } from './container-handlers';
import { containerExtraHandlers } from './container-extra-handlers';
import { registryHandlers } from './registry-handlers';
import { buildHandlers } from './build-handlers';

export function engineAreas(agent: Agent): Handlers[] {
  return [containerHandlers(agent), containerExtraHandlers(agent), registryHandlers(agent), buildHandlers(agent)];
}
