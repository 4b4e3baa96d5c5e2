/**
 * The agent: one per host, owner of the host's images, containers, networks and volumes.
 * On a single host it runs inside the same daemon process as the manager.
 */
import * as path from 'node:path';
import { EventLog } from './events';
import { ImageService } from './image/service';
import type { CompiledAgentOptions } from './options';

export class Agent {
  readonly events: EventLog;
  readonly images: ImageService;
  readonly startedAt = Date.now();

  constructor(readonly options: CompiledAgentOptions) {
    this.events = new EventLog(path.join(options.dataRoot, 'events.jsonl'));
    this.images = new ImageService(options.dataRoot, this.events);
  }

  async start(): Promise<void> {
    await this.events.load();
    await this.images.init();
  }

  async stop(): Promise<void> {
    await this.events.settle();
  }
}
