import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, rejects } from './helpers';

describe('networks', () => {
  test('implicit default network for services and at top level, named after the project', async () => {
    const lp = await load({ 'compose.yaml': 'services:\n  web:\n    image: x\n  host:\n    image: x\n    network_mode: host\n' });
    const s = lp.canonical.services as any;
    assert.deepEqual(s.web.networks, { default: null });
    assert.equal(s.host.networks, undefined);
    assert.deepEqual(lp.canonical.networks, { default: { name: 'proj_default' } });
  });
  test('lists become maps; options kept; external and named networks', async () => {
    const lp = await load({
      'compose.yaml': `services:
  web:
    image: x
    networks:
      front:
        aliases: [www]
        ipv4_address: 172.16.238.10
      back:
  worker:
    image: x
    networks: [back]
networks:
  front:
    driver: bridge
    ipam:
      config:
        - subnet: 172.16.238.0/24
  back:
    external:
      name: shared-back
  named:
    name: exact
    internal: "true"
`,
    });
    const s = lp.canonical.services as any;
    assert.deepEqual(s.web.networks, { back: null, front: { aliases: ['www'], ipv4_address: '172.16.238.10' } });
    assert.deepEqual(s.worker.networks, { back: null });
    assert.deepEqual(lp.canonical.networks, {
      back: { external: true, name: 'shared-back' },
      front: { driver: 'bridge', ipam: { config: [{ subnet: '172.16.238.0/24' }] }, name: 'proj_front' },
      named: { internal: true, name: 'exact' },
    });
    assert.equal(lp.canonical.networks && (lp.canonical.networks as any).default, undefined);
  });
  test('an undefined network is an error', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    networks: [frnt]\nnetworks:\n  front: {}\n' }, [/undefined network "frnt"; did you mean "front"/]);
  });
});
