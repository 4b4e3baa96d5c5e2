import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, rejects } from './helpers';

describe('deploy and resources', () => {
  test('sizes, cpus, durations and counts normalised; model units', async () => {
    const lp = await load({
      'compose.yaml': `services:
  web:
    image: x
    cpus: 1.5
    mem_limit: 1gb
    memswap_limit: -1
    shm_size: "64M"
    stop_grace_period: 1m
    ulimits:
      nproc: 65535
      nofile: {soft: 20000, hard: "40000"}
    deploy:
      replicas: "3"
      resources:
        limits: {cpus: "0.50", memory: 50M, pids: 1}
        reservations:
          memory: 20M
          devices:
            - capabilities: [gpu]
              count: all
      restart_policy: {condition: on-failure, delay: 5s, max_attempts: "3", window: 120s}
      update_config: {parallelism: 2, delay: 10s, order: stop-first}
`,
    });
    const w = (lp.canonical.services as any).web;
    assert.equal(w.cpus, 1.5);
    assert.equal(w.mem_limit, 1073741824);
    assert.equal(w.memswap_limit, -1);
    assert.equal(w.shm_size, 67108864);
    assert.equal(w.stop_grace_period, '1m0s');
    assert.deepEqual(w.ulimits, { nofile: { soft: 20000, hard: 40000 }, nproc: { soft: 65535, hard: 65535 } });
    assert.deepEqual(w.deploy, {
      replicas: 3,
      resources: {
        limits: { cpus: 0.5, memory: 52428800, pids: 1 },
        reservations: { devices: [{ capabilities: ['gpu'], count: -1 }], memory: 20971520 },
      },
      restart_policy: { condition: 'on-failure', delay: '5s', max_attempts: 3, window: '2m0s' },
      update_config: { delay: '10s', order: 'stop-first', parallelism: 2 },
    });
    const m = lp.model.services.web;
    assert.equal(m?.stop_grace_period, 60e9);
    assert.equal(m?.deploy?.restart_policy?.window, 120e9);
  });
  test('deploy.mode: Swarm\'s four modes; replicas with a global mode and unknown modes are errors', async () => {
    for (const mode of ['replicated', 'global', 'replicated-job', 'global-job']) {
      const lp = await load({ 'compose.yaml': `services:\n  web:\n    image: x\n    deploy:\n      mode: ${mode}\n` });
      assert.equal((lp.canonical.services as any).web.deploy.mode, mode);
    }
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    deploy:\n      mode: global\n      replicas: 2\n' }, [
      /services\.web\.deploy\.replicas: service "web": replicas can only be used with replicated or replicated-job mode/,
    ]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    scale: 2\n    deploy:\n      mode: global-job\n' }, [/services\.web\.scale: .*replicas can only be used with replicated/]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    deploy:\n      mode: daemonset\n' }, [/services\.web\.deploy\.mode: service "web": unknown deploy mode "daemonset"; use replicated, global, replicated-job, global-job/]);
  });
  test('container_name with several replicas is an error', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    container_name: web\n    deploy:\n      replicas: 2\n' }, [/services\.web\.container_name: .*2 replicas/]);
  });
});
