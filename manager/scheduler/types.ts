/** What the scheduler sees and decides. Plain data: a snapshot in, a plan out. */

export interface NodeDescription {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  /** `ready` nodes take tasks; `down` and `unknown` ones don't. */
  status: 'ready' | 'down' | 'unknown';
  /** `active` takes new tasks; `pause` and `drain` don't (drain also loses its tasks, later). */
  availability: 'active' | 'pause' | 'drain';
  labels: Record<string, string>;
  platform: { os: string; arch: string };
  resources: { nanoCpus: number; memoryBytes: number };
}

/** A task already placed (running or about to): it uses its node's resources. */
export interface PlacedTask {
  id: string;
  nodeId: string;
  serviceKey: string;
  reservations: { nanoCpus: number; memoryBytes: number };
}

export interface ClusterSnapshot {
  nodes: NodeDescription[];
  tasks: PlacedTask[];
}

export interface PendingTask {
  id: string;
  /** `<project>/<service>`: replicas of one service are spread across nodes. */
  serviceKey: string;
  constraints: string[];
  maxReplicasPerNode: number;
  reservations: { nanoCpus: number; memoryBytes: number };
  /** `os/arch` the image needs; "" when any. */
  platform: string;
}

export interface Assignment {
  taskId: string;
  nodeId: string;
}

export interface Refusal {
  taskId: string;
  /** One line per node: why that node was not suitable (`node-1: insufficient memory`). */
  reasons: string[];
}

export interface SchedulePlan {
  assignments: Assignment[];
  unplaced: Refusal[];
  /** When the plan was made (the `now` given), for the orchestrator's records. */
  at: number;
}
