import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredService, desiredTask } from '../../manager/project/desired';
import { buildGraph, shutdownLevels, startupLevels, withDependencies } from '../../manager/project/graph';
import { planService, type ActualContainer } from '../../manager/orchestrator/plan';
import { parseModel } from '../../manager/orchestrator/model';
import { model } from './helpers';

const identity = { project: 'proj', workingDir: '/srv/proj', configFiles: ['/srv/proj/compose.yaml'] };

const APP = `
services:
  web:
    image: busybox
    ports: ["127.0.0.1:8080:80"]
    depends_on:
      api: { condition: service_healthy }
  api:
    image: busybox
    depends_on:
      db: { condition: service_healthy, restart: true }
      migrate: { condition: service_completed_successfully }
    networks: [back]
  db:
    image: busybox
    volumes: ["data:/data"]
    healthcheck: { test: ["CMD", "true"], interval: 2s }
  migrate:
    image: busybox
    depends_on: [db]
  tool:
    image: busybox
networks:
  back: {}
volumes:
  data: {}
`;

test('dependency levels: independent services together, shutdown reversed', async () => {
  const m = await model(APP);
  const g = buildGraph(m.services);
  assert.deepEqual(startupLevels(g), [['db', 'tool'], ['migrate'], ['api'], ['web']]);
  assert.deepEqual(shutdownLevels(g), [['web'], ['api'], ['migrate'], ['db', 'tool']]);
  assert.deepEqual([...withDependencies(g, ['api'])].sort(), ['api', 'db', 'migrate']);
});

test('a dependency cycle is an error naming the services', () => {
  const g = new Map([
    ['a', [{ service: 'b', condition: 'service_started' as const, required: true, restart: false }]],
    ['b', [{ service: 'a', condition: 'service_started' as const, required: true, restart: false }]],
  ]);
  assert.throws(() => startupLevels(g), /dependency cycle between services "a", "b"/);
});

test('tasks carry Compose names, labels, networks and volumes', async () => {
  const m = await model(APP);
  const t = desiredTask(m, identity, m.services.api!, 2);
  assert.equal(t.containerName, 'proj-api-2');
  assert.equal(t.spec.name, 'proj-api-2');
  assert.equal(t.spec.labels['com.docker.compose.project'], 'proj');
  assert.equal(t.spec.labels['com.docker.compose.service'], 'api');
  assert.equal(t.spec.labels['com.docker.compose.container-number'], '2');
  assert.equal(t.spec.labels['com.docker.compose.oneoff'], 'False');
  assert.equal(t.spec.labels['com.docker.compose.project.working_dir'], '/srv/proj');
  assert.equal(t.spec.labels['com.docker.compose.project.config_files'], '/srv/proj/compose.yaml');
  assert.equal(t.spec.labels['com.docker.compose.config-hash'], t.configHash);
  assert.equal(t.spec.labels['com.docker.compose.depends_on'], 'db:service_healthy:true,migrate:service_completed_successfully:false');
  assert.equal(t.spec.network_mode, 'proj_back');
  assert.deepEqual(t.spec.networks[0]?.aliases, ['api']);
  const db = desiredTask(m, identity, m.services.db!, 1);
  assert.equal(db.spec.mounts[0]?.type, 'volume');
  assert.equal(db.spec.mounts[0]?.source, 'proj_data');
  assert.deepEqual(db.spec.healthcheck.test, ['CMD', 'true']);
  assert.equal(db.spec.healthcheck.interval, 2e9);
  const web = desiredTask(m, identity, m.services.web!, 1);
  assert.deepEqual(web.spec.ports, [{ container_port: 80, protocol: 'tcp', host_ip: '127.0.0.1', host_port: 8080 }]);
  assert.equal(web.spec.network_mode, 'proj_default');
});

test('replicas: --scale over deploy.replicas over scale', async () => {
  const m = await model('services:\n  a: { image: busybox, scale: 2 }\n  b: { image: busybox, deploy: { replicas: 3 } }\n');
  assert.equal(desiredService(m, m.services.a!, {}).replicas, 2);
  assert.equal(desiredService(m, m.services.b!, {}).replicas, 3);
  assert.equal(desiredService(m, m.services.b!, { b: 1 }).replicas, 1);
});
test('a global service is not scaled; its one-per-node cap is the scheduler\'s max replicas', async () => {
  const m = await model('services:\n  g: { image: busybox, deploy: { mode: global, placement: { constraints: [node.role==manager] } } }\n');
  const d = desiredService(m, m.services.g!, {});
  assert.equal(d.mode, 'global');
  assert.equal(d.maxReplicasPerNode, 1);
  assert.deepEqual(d.constraints, ['node.role==manager']);
  assert.throws(() => desiredService(m, m.services.g!, { g: 3 }), /service "g": scale can only be used with replicated or replicated-job mode/);
});


function container(task: ReturnType<typeof desiredTask>, over: Partial<ActualContainer> = {}): ActualContainer {
  return {
    id: `id-${task.number}`,
    names: [task.containerName],
    image: 'busybox',
    image_id: '',
    command: '',
    created: 1,
    state: 'running',
    status: '',
    ports: [],
    labels: { ...task.spec.labels },
    size_rw: 0,
    size_root_fs: 0,
    networks: [],
    mounts: [],
    health: '',
    exit_code: 0,
    started_at: 0,
    finished_at: 0,
    nodeId: 'n',
    ...over,
  };
}

const noForce = { forceRecreate: false, noRecreate: false, dependencyRecreated: false };

test('config hash: unchanged is kept, changed is recreated, scaling adds and removes', async () => {
  const m1 = await model('services:\n  a: { image: busybox, command: ["sleep", "1"] }\n');
  const m2 = await model('services:\n  a: { image: busybox, command: ["sleep", "2"] }\n');
  const m3 = await model('services:\n  a: { image: busybox, command: ["sleep", "1"], depends_on: [] , scale: 3 }\n');
  const old = desiredTask(m1, identity, m1.services.a!, 1);
  const running = [container(old)];

  const same = planService('a', [desiredTask(m1, identity, m1.services.a!, 1)], running, noForce);
  assert.deepEqual(same.slots.map((s) => s.kind), ['keep']);

  const changed = planService('a', [desiredTask(m2, identity, m2.services.a!, 1)], running, noForce);
  assert.deepEqual(changed.slots.map((s) => s.kind), ['recreate']);
  assert.equal(planService('a', [desiredTask(m2, identity, m2.services.a!, 1)], running, { ...noForce, noRecreate: true }).slots[0]?.kind, 'keep');
  assert.equal(planService('a', [desiredTask(m1, identity, m1.services.a!, 1)], running, { ...noForce, forceRecreate: true }).slots[0]?.kind, 'recreate');

  // scale is not part of the hash: scaling up keeps replica 1 and creates 2 and 3.
  const up = planService('a', [1, 2, 3].map((n) => desiredTask(m3, identity, m3.services.a!, n)), running, noForce);
  assert.deepEqual(up.slots.map((s) => s.kind), ['keep', 'create', 'create']);

  const three = [1, 2, 3].map((n) => container(desiredTask(m1, identity, m1.services.a!, n)));
  const down = planService('a', [desiredTask(m1, identity, m1.services.a!, 1)], three, noForce);
  assert.deepEqual(down.remove.map((c) => c.id), ['id-3', 'id-2']);

  const stopped = planService('a', [old], [container(old, { state: 'exited' })], noForce);
  assert.equal(stopped.slots[0]?.kind, 'start');
});

test('an image rebuilt or pulled since the container was made recreates it, on its own node', async () => {
  const m = await model('services:\n  a: { image: busybox }\n');
  const task = desiredTask(m, identity, m.services.a!, 1);
  const made = [container(task, { image_id: 'sha256:old', nodeId: 'n1' })];
  // Another node's copy of the image is not the one the container runs.
  const plan = (n1: string | undefined) => planService('a', [task], made, { ...noForce, imageIdOn: (node) => (node === 'n1' ? n1 : 'sha256:other') });
  assert.equal(plan('sha256:old').slots[0]?.kind, 'keep');
  assert.deepEqual(plan('sha256:new').slots.map((s) => (s.kind === 'recreate' ? s.reason : s.kind)), ['image']);
  assert.equal(plan(undefined).slots[0]?.kind, 'keep', 'an ID not known yet changes nothing');
  assert.equal(planService('a', [task], made, { ...noForce, noRecreate: true, imageIdOn: () => 'sha256:new' }).slots[0]?.kind, 'keep');
});

test('the model from the wire is checked', () => {
  assert.throws(() => parseModel('{', 'p'), /not valid JSON/);
  assert.throws(() => parseModel('{"name":"q","services":{}}', 'p'), /project "q", not "p"/);
  assert.throws(() => parseModel('{"name":"p","services":{"a":{"name":"b"}}}', 'p'), /service "a" of the model is malformed/);
});

test('a host port range goes to the engine whole, for every replica', async () => {
  const m = await model('services:\n  web: { image: busybox, deploy: { replicas: 3 }, ports: ["127.0.0.1:8080-8082:80", "9000:90"] }\n');
  for (const n of [1, 2, 3]) {
    assert.deepEqual(desiredTask(m, identity, m.services.web!, n).spec.ports, [
      { container_port: 80, protocol: 'tcp', host_ip: '127.0.0.1', host_port: 8080, host_port_end: 8082 },
      { container_port: 90, protocol: 'tcp', host_ip: '', host_port: 9000 },
    ]);
  }
});

test('links: a linked service answers to the link’s alias on the networks it shares with the linker', async () => {
  const m = await model(`
services:
  db:
    image: busybox
    networks: [back, other]
  app:
    image: busybox
    networks: [back]
    links: ["db:database", "db"]
networks:
  back: {}
  other: {}
`);
  const db = desiredTask(m, identity, m.services.db!, 1);
  const aliases = Object.fromEntries(db.spec.networks.map((n) => [n.network, n.aliases]));
  assert.deepEqual(aliases, { proj_back: ['db', 'database'], proj_other: ['db'] });
  assert.deepEqual(desiredTask(m, identity, m.services.app!, 1).spec.networks[0]?.aliases, ['app']);
});
