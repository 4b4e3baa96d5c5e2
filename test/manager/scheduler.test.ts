import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodesForGlobal, schedule } from '../../manager/scheduler/index';
import type { NodeDescription, PendingTask } from '../../manager/scheduler/index';

const node = (id: string, over: Partial<NodeDescription> = {}): NodeDescription => ({
  id,
  hostname: id,
  role: 'worker',
  status: 'ready',
  availability: 'active',
  labels: {},
  platform: { os: 'linux', arch: 'amd64' },
  resources: { nanoCpus: 4e9, memoryBytes: 8 << 30 },
  ...over,
});

const task = (id: string, over: Partial<PendingTask> = {}): PendingTask => ({
  id,
  serviceKey: 'p/web',
  constraints: [],
  maxReplicasPerNode: 0,
  reservations: { nanoCpus: 0, memoryBytes: 0 },
  platform: '',
  ...over,
});

test('spreads replicas of a service across nodes', () => {
  const plan = schedule({ nodes: [node('b'), node('a')], tasks: [] }, [task('1'), task('2'), task('3')], 1000);
  assert.deepEqual(
    plan.assignments.map((a) => a.nodeId),
    ['a', 'b', 'a'],
  );
  assert.equal(plan.at, 1000);
  assert.deepEqual(plan.unplaced, []);
});

test('existing tasks count: the emptier node gets the next replica', () => {
  const plan = schedule({ nodes: [node('a'), node('b')], tasks: [{ id: 'x', nodeId: 'a', serviceKey: 'p/web', reservations: { nanoCpus: 0, memoryBytes: 0 } }] }, [task('1')], 0);
  assert.equal(plan.assignments[0]?.nodeId, 'b');
});

test('filters explain every refusal', () => {
  const nodes = [
    node('down', { status: 'down' }),
    node('small', { resources: { nanoCpus: 1e9, memoryBytes: 1 << 20 }, labels: { zone: 'a' } }),
    node('arm', { platform: { os: 'linux', arch: 'arm64' }, labels: { zone: 'b' } }),
  ];
  const plan = schedule({ nodes, tasks: [] }, [task('1', { reservations: { nanoCpus: 0, memoryBytes: 512 << 20 }, constraints: ['node.labels.zone == a'] })], 0);
  assert.deepEqual(plan.assignments, []);
  assert.deepEqual(plan.unplaced[0]?.reasons, [
    'arm: constraint node.labels.zone==a not met',
    'down: node is down',
    'small: insufficient memory (1048576 bytes free, 536870912 reserved)',
  ]);
});

test('reservations accumulate within one plan; max replicas per node holds', () => {
  const one = schedule({ nodes: [node('a', { resources: { nanoCpus: 2e9, memoryBytes: 0 } })], tasks: [] }, [1, 2, 3].map((i) => task(String(i), { reservations: { nanoCpus: 1e9, memoryBytes: 0 } })), 0);
  assert.equal(one.assignments.length, 2);
  assert.match(one.unplaced[0]?.reasons[0] ?? '', /insufficient CPU/);
  const capped = schedule({ nodes: [node('a')], tasks: [] }, [task('1', { maxReplicasPerNode: 1 }), task('2', { maxReplicasPerNode: 1 })], 0);
  assert.equal(capped.assignments.length, 1);
  assert.match(capped.unplaced[0]?.reasons[0] ?? '', /max replicas per node \(1\) reached/);
});

test('platform and role constraints', () => {
  const nodes = [node('m', { role: 'manager' }), node('w')];
  const plan = schedule({ nodes, tasks: [] }, [task('1', { constraints: ['node.role==manager'], platform: 'linux/amd64' }), task('2', { constraints: ['node.role!=manager'] })], 0);
  assert.deepEqual(plan.assignments, [
    { taskId: '1', nodeId: 'm' },
    { taskId: '2', nodeId: 'w' },
  ]);
  const wrong = schedule({ nodes, tasks: [] }, [task('1', { platform: 'linux/arm64' })], 0);
  assert.match(wrong.unplaced[0]?.reasons[0] ?? '', /platform linux\/arm64 not supported/);
});

test('a global service: one task per node that is ready and matches its platform and constraints', () => {
  const nodes = [node('c', { labels: { zone: 'a' } }), node('down', { status: 'down', labels: { zone: 'a' } }), node('arm', { platform: { os: 'linux', arch: 'arm64' }, labels: { zone: 'a' } }), node('a', { labels: { zone: 'a' } }), node('b', { labels: { zone: 'b' } })];
  const g = task('g', { constraints: ['node.labels.zone==a'], platform: 'linux/amd64', maxReplicasPerNode: 1 });
  assert.deepEqual(nodesForGlobal(nodes, g).map((n) => n.id), ['a', 'c']);
  // Scheduled with one task per chosen node and the cap of one, each node gets exactly one.
  const plan = schedule({ nodes, tasks: [] }, [task('1', g), task('2', g)].map((t, i) => ({ ...t, id: String(i) })), 0);
  assert.deepEqual(plan.assignments.map((a) => a.nodeId).sort(), ['a', 'c']);
  assert.deepEqual(nodesForGlobal([node('w', { status: 'down' })], g), []);
});
