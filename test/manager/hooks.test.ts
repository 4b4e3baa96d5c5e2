/** Compose's lifecycle hooks travel on the container as a label. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerSpecOf } from '../../manager/project/container-spec';
import { HOOKS_LABEL, hooksOf } from '../../manager/project/hooks';
import { model } from './helpers';

test('post_start and pre_stop become exec processes on a label; no hooks, no label', async () => {
  const m = await model(`services:
  s:
    image: busybox
    post_start:
      - command: chown -R 1001 /data
        user: root
        environment: { A: "1", B: null }
    pre_stop:
      - command: ["sh", "-c", "flush"]
        working_dir: /work
        privileged: true
  plain:
    image: busybox
`);
  const labels = containerSpecOf({ project: m, service: m.services.s!, number: 1, labels: {} }).labels;
  assert.deepEqual(hooksOf(labels), {
    postStart: [{ cmd: ['chown', '-R', '1001', '/data'], env: ['A=1', 'B'], user: 'root', workingDir: '', privileged: false }],
    preStop: [{ cmd: ['sh', '-c', 'flush'], env: [], user: '', workingDir: '/work', privileged: true }],
  });
  const plain = containerSpecOf({ project: m, service: m.services.plain!, number: 1, labels: {} }).labels;
  assert.equal(plain[HOOKS_LABEL], undefined);
  assert.deepEqual(hooksOf(plain), { postStart: [], preStop: [] });
  assert.deepEqual(hooksOf({ [HOOKS_LABEL]: 'not json' }), { postStart: [], preStop: [] });
});
