/**
 * The dispatcher knows each node's agent connection and hands tasks to the node the scheduler
 * chose. On one host there is one node (the daemon's own agent); a cluster registers more.
 */
import { unavailable } from '../../common/errors';
import type { AgentConnection, NodeInfo } from './agent-connection';
import type { NodeDescription } from '../scheduler/index';

export interface NodeEntry {
  id: string;
  role: NodeDescription['role'];
  labels: Record<string, string>;
  connect: () => Promise<AgentConnection>;
}

export class Dispatcher {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly connections = new Map<string, Promise<AgentConnection>>();
  private readonly infos = new Map<string, NodeInfo>();

  register(node: NodeEntry): void {
    this.nodes.set(node.id, node);
    this.connections.delete(node.id);
  }

  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  /** The agent of a node, connected on first use. */
  agent(nodeId: string): Promise<AgentConnection> {
    const node = this.nodes.get(nodeId);
    if (!node) return Promise.reject(unavailable(`dispatcher: node ${nodeId} is not known`));
    let c = this.connections.get(nodeId);
    if (!c) {
      c = node.connect();
      // A failed connection is retried on the next use rather than remembered.
      c.catch(() => this.connections.delete(nodeId));
      this.connections.set(nodeId, c);
    }
    return c;
  }

  /** Every node as the scheduler sees it; a node whose agent does not answer is `down`. */
  async describeNodes(): Promise<NodeDescription[]> {
    const out: NodeDescription[] = [];
    for (const node of this.nodes.values()) {
      let info = this.infos.get(node.id);
      let status: NodeDescription['status'] = 'ready';
      try {
        if (!info) {
          info = await (await this.agent(node.id)).info();
          this.infos.set(node.id, info);
        }
      } catch {
        status = 'down';
      }
      out.push({
        id: node.id,
        hostname: info?.hostname ?? '',
        role: node.role,
        status,
        availability: 'active',
        labels: node.labels,
        platform: { os: info?.os ?? '', arch: info?.arch ?? '' },
        resources: { nanoCpus: info?.nanoCpus ?? 0, memoryBytes: info?.memoryBytes ?? 0 },
      });
    }
    return out;
  }
}
