/**
 * The scheduler: a pure function from a snapshot of the nodes and their tasks, the tasks to
 * place, and the time, to a plan. It never talks to a node; the orchestrator acts on the plan.
 * Strategy (Swarm's spread): among the nodes every filter accepts, the one with the fewest
 * replicas of the task's service, then the fewest tasks, then the lowest id (deterministic).
 */
import { constraintFilter, DEFAULT_FILTERS, platformFilter, readyFilter, type Filter, type NodeLoad } from './filters';
import type { ClusterSnapshot, NodeDescription, PendingTask, SchedulePlan } from './types';

export function schedule(snapshot: ClusterSnapshot, pending: readonly PendingTask[], now: number, filters: readonly Filter[] = DEFAULT_FILTERS): SchedulePlan {
  const loads = new Map<string, NodeLoad>();
  for (const node of snapshot.nodes) loads.set(node.id, { nanoCpus: 0, memoryBytes: 0, tasksOfService: new Map(), tasks: 0 });
  const add = (nodeId: string, serviceKey: string, r: { nanoCpus: number; memoryBytes: number }) => {
    const load = loads.get(nodeId);
    if (!load) return;
    load.nanoCpus += r.nanoCpus;
    load.memoryBytes += r.memoryBytes;
    load.tasks += 1;
    load.tasksOfService.set(serviceKey, (load.tasksOfService.get(serviceKey) ?? 0) + 1);
  };
  for (const t of snapshot.tasks) add(t.nodeId, t.serviceKey, t.reservations);

  const plan: SchedulePlan = { assignments: [], unplaced: [], at: now };
  const nodes = [...snapshot.nodes].sort((a, b) => a.id.localeCompare(b.id));
  for (const task of pending) {
    const reasons: string[] = [];
    let best: { id: string; load: NodeLoad } | undefined;
    for (const node of nodes) {
      const load = loads.get(node.id) as NodeLoad;
      const refusal = firstRefusal(filters, node, task, load);
      if (refusal !== undefined) {
        reasons.push(`${node.hostname || node.id}: ${refusal}`);
        continue;
      }
      if (!best || better(task.serviceKey, load, best.load)) best = { id: node.id, load };
    }
    if (!best) {
      plan.unplaced.push({ taskId: task.id, reasons: reasons.length > 0 ? reasons : ['no nodes'] });
      continue;
    }
    plan.assignments.push({ taskId: task.id, nodeId: best.id });
    add(best.id, task.serviceKey, task.reservations);
  }
  return plan;
}

/**
 * The nodes a global service runs on (one task each, as Swarm's global mode): those that are
 * ready and match its platform and constraints. Resources are not asked here: a node without
 * room for the task refuses it when it is scheduled, and says why.
 */
export function nodesForGlobal(nodes: readonly NodeDescription[], task: PendingTask): NodeDescription[] {
  const empty: NodeLoad = { nanoCpus: 0, memoryBytes: 0, tasksOfService: new Map(), tasks: 0 };
  return [...nodes].sort((a, b) => a.id.localeCompare(b.id)).filter((n) => firstRefusal([readyFilter, platformFilter, constraintFilter], n, task, empty) === undefined);
}

function firstRefusal(filters: readonly Filter[], ...args: Parameters<Filter['check']>): string | undefined {
  for (const f of filters) {
    const why = f.check(...args);
    if (why !== undefined) return why;
  }
  return undefined;
}

function better(serviceKey: string, a: NodeLoad, b: NodeLoad): boolean {
  const sa = a.tasksOfService.get(serviceKey) ?? 0;
  const sb = b.tasksOfService.get(serviceKey) ?? 0;
  if (sa !== sb) return sa < sb;
  return a.tasks < b.tasks;
}

/** The one-line error for a task no node can take. */
export function refusalMessage(taskName: string, reasons: readonly string[]): string {
  return `no suitable node for ${taskName} (${reasons.join('; ')})`;
}
