import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, rejects } from './helpers';

describe('healthcheck', () => {
  test('string test becomes CMD-SHELL; durations canonical; model in nanoseconds', async () => {
    const lp = await load({
      'compose.yaml': 'services:\n  web:\n    image: x\n    healthcheck:\n      test: curl -f http://localhost\n      interval: 1m30s\n      timeout: 10s\n      retries: "3"\n      start_period: 40s\n      start_interval: 5000ms\n',
    });
    assert.deepEqual((lp.canonical.services as any).web.healthcheck, {
      interval: '1m30s',
      retries: 3,
      start_interval: '5s',
      start_period: '40s',
      test: ['CMD-SHELL', 'curl -f http://localhost'],
      timeout: '10s',
    });
    const hc = lp.model.services.web?.healthcheck;
    assert.equal(hc?.interval, 90e9);
    assert.equal(hc?.start_interval, 5e9);
  });
  test('disable and NONE', async () => {
    const lp = await load({ 'compose.yaml': 'services:\n  web:\n    image: x\n    healthcheck:\n      disable: "true"\n  w2:\n    image: x\n    healthcheck:\n      test: [NONE]\n' });
    assert.deepEqual((lp.canonical.services as any).web.healthcheck, { disable: true });
    assert.deepEqual((lp.canonical.services as any).w2.healthcheck, { test: ['NONE'] });
  });
  test('a bad duration is a located error saying what is expected', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    healthcheck:\n      interval: 10 seconds\n' }, [
      /compose\.yaml:5:7: services\.web\.healthcheck\.interval: invalid duration "10 seconds"; expected a duration like/,
    ]);
  });
});
