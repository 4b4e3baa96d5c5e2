import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './helpers';

const web = async (base: string, override: string): Promise<any> => {
  const lp = await load({ 'compose.yaml': base, 'compose.override.yaml': override });
  return (lp.canonical.services as any).web;
};

describe('merging compose files', () => {
  test('mappings merge; scalars override (spec example)', async () => {
    const s = await web('services:\n  web:\n    image: a\n    hostname: h1\n', 'services:\n  web:\n    hostname: h2\n    user: u\n');
    assert.equal(s.image, 'a');
    assert.equal(s.hostname, 'h2');
    assert.equal(s.user, 'u');
  });

  test('sequences append, unique ones de-duplicate', async () => {
    const s = await web('services:\n  web:\n    image: a\n    dns: [1.1.1.1]\n    cap_add: [NET_ADMIN]\n', 'services:\n  web:\n    dns: [8.8.8.8, 1.1.1.1]\n    cap_add: [SYS_ADMIN]\n');
    assert.deepEqual(s.dns, ['1.1.1.1', '8.8.8.8']);
    assert.deepEqual(s.cap_add, ['NET_ADMIN', 'SYS_ADMIN']);
  });

  test('command, entrypoint and healthcheck.test replace', async () => {
    const s = await web(
      'services:\n  web:\n    image: a\n    command: ["echo", "foo"]\n    entrypoint: [sh, -c]\n    healthcheck:\n      test: [CMD, a]\n      retries: 3\n',
      'services:\n  web:\n    command: ["echo", "bar"]\n    entrypoint: bash -c\n    healthcheck:\n      test: [CMD, b]\n',
    );
    assert.deepEqual(s.command, ['echo', 'bar']);
    assert.deepEqual(s.entrypoint, ['bash', '-c']);
    assert.deepEqual(s.healthcheck, { retries: 3, test: ['CMD', 'b'] });
  });

  test('volumes merge by target, ports by their key, secrets by target', async () => {
    const s = await web(
      'services:\n  web:\n    image: a\n    volumes: ["foo:/work", "./a:/a"]\n    ports: ["8080:80", "9000:90"]\n    secrets: [s1]\nvolumes: {foo: {}, bar: {}}\nsecrets: {s1: {file: ./s}, s2: {file: ./s}}\n',
      'services:\n  web:\n    volumes: ["bar:/work"]\n    ports: ["8080:80", "8443:443"]\n    secrets: [{source: s2, target: s1}]\n',
    );
    assert.equal(s.volumes.length, 2);
    assert.equal(s.volumes[0].source, 'bar');
    assert.deepEqual(s.ports.map((p: any) => `${p.published}:${p.target}`), ['8080:80', '9000:90', '8443:443']);
    assert.deepEqual(s.secrets, [{ source: 's2', target: 's1' }]);
  });

  test('environment, labels and extra_hosts merge by key across list and map forms', async () => {
    const s = await web(
      'services:\n  web:\n    image: a\n    environment: [A=1, B=2]\n    labels: {x: "1"}\n    extra_hosts: ["a=1.1.1.1"]\n',
      'services:\n  web:\n    environment:\n      B: "3"\n      C: "4"\n    labels: [y=2]\n    extra_hosts: {b: 2.2.2.2}\n',
    );
    assert.deepEqual(s.environment, { A: '1', B: '3', C: '4' });
    assert.deepEqual(s.labels, { x: '1', y: '2' });
    assert.deepEqual(s.extra_hosts, { a: ['1.1.1.1'], b: ['2.2.2.2'] });
  });

  test('!reset removes and !override replaces (spec examples)', async () => {
    const s = await web(
      'services:\n  web:\n    image: myapp\n    ports: ["8080:80"]\n    environment:\n      FOO: BAR\n      KEEP: "1"\n    dns: [1.1.1.1]\n',
      'services:\n  web:\n    image: myapp\n    ports: !reset []\n    environment:\n      FOO: !reset null\n    dns: !override [9.9.9.9]\n',
    );
    assert.equal(s.ports, undefined);
    assert.deepEqual(s.environment, { KEEP: '1' });
    assert.deepEqual(s.dns, ['9.9.9.9']);
  });

  test('build string merges with long syntax; depends_on list merges with map', async () => {
    const s = await web(
      'services:\n  web:\n    build: ./app\n    depends_on: [db]\n  db:\n    image: p\n  cache:\n    image: r\n',
      'services:\n  web:\n    build:\n      target: dev\n    depends_on:\n      cache:\n        condition: service_healthy\n',
    );
    assert.equal(s.build.target, 'dev');
    assert.match(s.build.context, /\/app$/);
    assert.deepEqual(s.depends_on, {
      cache: { condition: 'service_healthy', required: true },
      db: { condition: 'service_started', required: true },
    });
  });

  test('-f files merge in order; COMPOSE_FILE with its separator', async () => {
    const files = {
      'a.yaml': 'services:\n  web:\n    image: a\n',
      'b.yaml': 'services:\n  web:\n    image: b\n',
    };
    const viaFlags = await load(files, { files: ['a.yaml', 'b.yaml'] });
    assert.equal((viaFlags.canonical.services as any).web.image, 'b');
    const viaEnv = await load(files, { environment: { COMPOSE_FILE: 'b.yaml;a.yaml', COMPOSE_PATH_SEPARATOR: ';' } });
    assert.equal((viaEnv.canonical.services as any).web.image, 'a');
  });
});
