/**
 * What `up` must do to one service's containers: a pure comparison of its desired tasks with the
 * containers that exist. A container is kept when its config hash and image match (so an unchanged
 * project is left alone), recreated when either differs, and removed when its slot is beyond the
 * replica count or taken twice.
 */
import type { ContainerSummary } from '../../common/rpc/engine-types';
import type { DesiredTask } from '../project/desired';
import { LABEL, numberOf } from '../project/naming';

export interface ActualContainer extends ContainerSummary {
  /** The node the container is on. */
  nodeId: string;
}

export type SlotAction =
  | { kind: 'create'; task: DesiredTask }
  | { kind: 'recreate'; task: DesiredTask; container: ActualContainer; reason: 'config' | 'image' | 'forced' | 'dependency' }
  /** Exists, unchanged, not running: started by the start phase. */
  | { kind: 'start'; task: DesiredTask; container: ActualContainer }
  /** Exists, unchanged, running. */
  | { kind: 'keep'; task: DesiredTask; container: ActualContainer };

export interface ServicePlan {
  service: string;
  slots: SlotAction[];
  /** Containers beyond the replica count, or a second container in one slot. */
  remove: ActualContainer[];
}

export interface PlanOptions {
  forceRecreate: boolean;
  noRecreate: boolean;
  /** A dependency this service's containers point at (network_mode, volumes_from) was recreated. */
  dependencyRecreated: boolean;
  /**
   * The ID the service's image has now on a node, once known: a container made from another one
   * (the image was rebuilt or pulled since) is out of date, as with Compose's image digest label.
   */
  imageIdOn?: (nodeId: string) => string | undefined;
}

const isRunning = (c: ContainerSummary) => c.state === 'running' || c.state === 'restarting' || c.state === 'paused';

export function planService(service: string, tasks: readonly DesiredTask[], actual: readonly ActualContainer[], opts: PlanOptions): ServicePlan {
  const bySlot = new Map<number, ActualContainer[]>();
  for (const c of actual) {
    const n = numberOf(c.labels);
    const list = bySlot.get(n) ?? [];
    list.push(c);
    bySlot.set(n, list);
  }
  const plan: ServicePlan = { service, slots: [], remove: [] };
  const wanted = new Set(tasks.map((t) => t.number));
  for (const task of tasks) {
    // Of two containers in one slot, the running (then the newest) one is kept.
    const candidates = [...(bySlot.get(task.number) ?? [])].sort((a, b) => Number(isRunning(b)) - Number(isRunning(a)) || b.created - a.created);
    const [container, ...duplicates] = candidates;
    plan.remove.push(...duplicates);
    if (!container) {
      plan.slots.push({ kind: 'create', task });
      continue;
    }
    const changed = container.labels[LABEL.configHash] !== task.configHash;
    const imageId = opts.imageIdOn?.(container.nodeId);
    const imageChanged = imageId !== undefined && container.image_id !== imageId;
    if (!opts.noRecreate && (opts.forceRecreate || changed || imageChanged || opts.dependencyRecreated)) {
      const reason = opts.forceRecreate ? 'forced' : changed ? 'config' : imageChanged ? 'image' : 'dependency';
      plan.slots.push({ kind: 'recreate', task, container, reason });
    } else if (isRunning(container)) {
      plan.slots.push({ kind: 'keep', task, container });
    } else {
      plan.slots.push({ kind: 'start', task, container });
    }
  }
  for (const [n, list] of bySlot) if (!wanted.has(n)) plan.remove.push(...list);
  // Scaling down removes the highest numbers first, as Compose does.
  plan.remove.sort((a, b) => numberOf(b.labels) - numberOf(a.labels));
  return plan;
}

/** Whether a plan recreates anything (its dependents may have to follow). */
export function recreates(plan: ServicePlan): boolean {
  return plan.slots.some((s) => s.kind === 'recreate' || s.kind === 'create');
}
