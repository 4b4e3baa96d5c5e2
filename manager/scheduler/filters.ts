/**
 * Node filters: each says whether a node can take a task and, when it cannot, why. The scheduler
 * runs them in order and reports the first refusal per node, so a task that cannot be placed
 * explains itself (`no suitable node (node-1: constraint node.labels.zone==b not met)`).
 */
import type { NodeDescription, PendingTask } from './types';

/** What a node already holds while a plan is being made (earlier assignments included). */
export interface NodeLoad {
  nanoCpus: number;
  memoryBytes: number;
  tasksOfService: Map<string, number>;
  tasks: number;
}

export interface Filter {
  name: string;
  /** undefined: the node can take the task; a string: why not. */
  check(node: NodeDescription, task: PendingTask, load: NodeLoad): string | undefined;
}

export const readyFilter: Filter = {
  name: 'ready',
  check: (node) => {
    if (node.status !== 'ready') return `node is ${node.status}`;
    if (node.availability !== 'active') return `node availability is ${node.availability}`;
    return undefined;
  },
};

export const resourcesFilter: Filter = {
  name: 'resources',
  check: (node, task, load) => {
    const { nanoCpus, memoryBytes } = task.reservations;
    if (nanoCpus > 0 && node.resources.nanoCpus > 0 && load.nanoCpus + nanoCpus > node.resources.nanoCpus) {
      return `insufficient CPU (${formatCpus(node.resources.nanoCpus - load.nanoCpus)} free, ${formatCpus(nanoCpus)} reserved)`;
    }
    if (memoryBytes > 0 && node.resources.memoryBytes > 0 && load.memoryBytes + memoryBytes > node.resources.memoryBytes) {
      return `insufficient memory (${node.resources.memoryBytes - load.memoryBytes} bytes free, ${memoryBytes} reserved)`;
    }
    return undefined;
  },
};

export const maxReplicasFilter: Filter = {
  name: 'max-replicas',
  check: (_node, task, load) => {
    if (task.maxReplicasPerNode <= 0) return undefined;
    const have = load.tasksOfService.get(task.serviceKey) ?? 0;
    return have >= task.maxReplicasPerNode ? `max replicas per node (${task.maxReplicasPerNode}) reached` : undefined;
  },
};

export const platformFilter: Filter = {
  name: 'platform',
  check: (node, task) => {
    if (!task.platform) return undefined;
    const [os, arch] = task.platform.split('/');
    if (os && os !== node.platform.os) return `platform ${task.platform} not supported (node is ${node.platform.os}/${node.platform.arch})`;
    if (arch && normalizeArch(arch) !== normalizeArch(node.platform.arch)) {
      return `platform ${task.platform} not supported (node is ${node.platform.os}/${node.platform.arch})`;
    }
    return undefined;
  },
};

export const constraintFilter: Filter = {
  name: 'constraint',
  check: (node, task) => {
    for (const c of task.constraints) {
      const parsed = parseConstraint(c);
      if (!parsed) return `invalid constraint ${JSON.stringify(c)}`;
      const actual = nodeAttribute(node, parsed.key);
      const equal = actual !== undefined && actual === parsed.value;
      if (parsed.op === '==' ? !equal : equal) return `constraint ${c.replace(/\s+/g, '')} not met`;
    }
    return undefined;
  },
};

export const DEFAULT_FILTERS: readonly Filter[] = [readyFilter, platformFilter, constraintFilter, resourcesFilter, maxReplicasFilter];

function parseConstraint(c: string): { key: string; op: '==' | '!='; value: string } | undefined {
  const m = /^\s*([\w.-]+)\s*(==|!=)\s*(.*?)\s*$/.exec(c);
  if (!m) return undefined;
  return { key: m[1] as string, op: m[2] as '==' | '!=', value: m[3] as string };
}

/** Swarm's constraint keys: node.id, node.hostname, node.role, node.platform.os|arch, node.labels.X. */
function nodeAttribute(node: NodeDescription, key: string): string | undefined {
  switch (key) {
    case 'node.id':
      return node.id;
    case 'node.hostname':
      return node.hostname;
    case 'node.role':
      return node.role;
    case 'node.platform.os':
      return node.platform.os;
    case 'node.platform.arch':
      return node.platform.arch;
    default:
      if (key.startsWith('node.labels.')) return node.labels[key.slice('node.labels.'.length)];
      return undefined;
  }
}

function normalizeArch(a: string): string {
  if (a === 'x86_64' || a === 'x64') return 'amd64';
  if (a === 'aarch64') return 'arm64';
  return a;
}

function formatCpus(nano: number): string {
  return `${(nano / 1e9).toFixed(2)} CPUs`;
}
