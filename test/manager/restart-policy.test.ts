/** `restart` and `deploy.restart_policy` as the engine's restart policy. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerSpecOf } from '../../manager/project/container-spec';
import { model } from './helpers';

async function policyOf(service: string) {
  const m = await model(`services:\n  s:\n    image: busybox\n${service}`);
  return containerSpecOf({ project: m, service: m.services.s!, number: 1, labels: {} }).restart_policy;
}

test('restart: the engine policy as written', async () => {
  assert.deepEqual(await policyOf(''), { name: '', max_retries: 0 });
  assert.deepEqual(await policyOf('    restart: on-failure:3\n'), { name: 'on-failure', max_retries: 3 });
  assert.deepEqual(await policyOf('    restart: unless-stopped\n'), { name: 'unless-stopped', max_retries: 0 });
});

test('deploy.restart_policy wins over restart, with Swarm conditions mapped as Compose maps them', async () => {
  const deploy = (p: string) => policyOf(`    restart: always\n    deploy:\n      restart_policy: ${p}\n`);
  assert.deepEqual(await deploy('{condition: on-failure, max_attempts: 2, delay: 1s}'), { name: 'on-failure', max_retries: 2 });
  assert.deepEqual(await deploy('{condition: none}'), { name: 'no', max_retries: 0 });
  assert.deepEqual(await deploy('{condition: any, max_attempts: 5}'), { name: 'always', max_retries: 0 });
  assert.deepEqual(await deploy('{max_attempts: 1}'), { name: 'always', max_retries: 0 });
});
