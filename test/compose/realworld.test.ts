import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadProject, toYaml } from '../../manager/compose/index';

const SHOP = join(import.meta.dirname, '..', '..', 'examples', 'compose-config', 'shop');

describe('real-world projects', () => {
  test('the shop example loads with its override, .env, env files and anchors', async () => {
    const lp = await loadProject({ workingDir: SHOP, environment: { HOME: '/home/u' } });
    const s = lp.model.services;
    assert.deepEqual(Object.keys(s), ['cache', 'db', 'web', 'worker']);
    assert.equal(s.web?.image, 'shop/web:1.4.2');
    assert.equal(s.web?.environment?.DATABASE_URL, 'postgres://shop:s3cret@db:5432/shop');
    assert.equal(s.web?.environment?.NODE_ENV, 'production');
    assert.equal(s.web?.environment?.LOG_LEVEL, 'debug');
    assert.equal(s.web?.healthcheck?.interval, 15e9);
    assert.equal(s.web?.deploy?.resources?.limits?.memory, 512 * 1024 * 1024);
    assert.deepEqual(s.web?.ports, [{ mode: 'ingress', target: 3000, published: '8080', protocol: 'tcp' }]);
    assert.equal(s.worker?.build?.dockerfile, 'Dockerfile.worker');
    assert.deepEqual(s.cache?.command, ['redis-server', '--save', '60', '1', '--loglevel', 'warning']);
    assert.equal(s.db?.secrets?.[0]?.mode, 0o400);
    assert.equal(s.db?.shm_size, 128 * 1024 * 1024);
    assert.equal(s.web?.develop?.watch?.[1]?.path, join(SHOP, 'web', 'src'));
    assert.deepEqual(lp.model.disabled_services, ['adminer']);
  });

  test('with the debug profile, adminer joins; output is a fixed point', async () => {
    const lp = await loadProject({ workingDir: SHOP, environment: { HOME: '/home/u' }, profiles: ['debug'] });
    assert.ok(lp.model.services.adminer);
    const yaml = toYaml(lp);
    const again = await loadProject({ workingDir: SHOP, environment: { HOME: '/home/u' }, profiles: ['debug'], files: ['-'], stdinContent: yaml });
    assert.equal(toYaml(again), yaml);
    assert.deepEqual(again.canonical, lp.canonical);
  });
});
