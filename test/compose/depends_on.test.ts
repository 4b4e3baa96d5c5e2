import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rejects, service } from './helpers';

describe('depends_on', () => {
  test('list becomes a map with service_started and required', async () => {
    const s = await service('services:\n  web:\n    image: x\n    depends_on: [db, cache]\n  db: {image: x}\n  cache: {image: x}\n');
    assert.deepEqual(s.depends_on, {
      cache: { condition: 'service_started', required: true },
      db: { condition: 'service_started', required: true },
    });
  });
  test('long form keeps condition, restart, and defaults required', async () => {
    const s = await service('services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_healthy\n        restart: true\n  db: {image: x}\n');
    assert.deepEqual(s.depends_on, { db: { condition: 'service_healthy', required: true, restart: true } });
  });
  test('network_mode service:, links and volumes_from add implicit dependencies', async () => {
    const s = await service('services:\n  web:\n    image: x\n    network_mode: service:db\n    links: ["cache:c"]\n    volumes_from: ["data:ro", "container:other"]\n  db: {image: x}\n  cache: {image: x}\n  data: {image: x}\n');
    assert.deepEqual(Object.keys(s.depends_on as object).sort(), ['cache', 'data', 'db']);
    assert.equal(s.networks, undefined);
  });
  test('unknown, self and cyclic dependencies are errors', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    depends_on: [dbb]\n  db: {image: x}\n' }, [/depends on undefined service "dbb"; did you mean "db"/, /services\.web\.depends_on\.dbb/]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    depends_on: [web]\n' }, [/depends on itself/]);
    await rejects({ 'compose.yaml': 'services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n' }, [
      /dependency cycle: a → b → c → a/,
    ]);
  });
  test('condition must be one of the spec values', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: healthy\n  db: {image: x}\n' }, [
      /services\.web\.depends_on\.db\.condition: expected one of "service_started", "service_healthy", "service_completed_successfully"; got "healthy"/,
    ]);
  });
});
