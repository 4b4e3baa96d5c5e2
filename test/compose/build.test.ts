import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { load } from './helpers';

describe('build', () => {
  test('string becomes long syntax with an absolute context and the default Dockerfile', async () => {
    const lp = await load({ 'compose.yaml': 'services:\n  web:\n    build: ./app\n' });
    assert.deepEqual((lp.canonical.services as any).web.build, { context: join(lp.dir, 'app'), dockerfile: 'Dockerfile' });
  });
  test('long syntax: args list/map, URL context kept, inline dockerfile, sizes and booleans', async () => {
    const lp = await load(
      {
        'compose.yaml': `services:
  web:
    build:
      context: https://github.com/example/repo.git#main
      dockerfile_inline: "FROM alpine"
      args: [VERSION=1, FROM_SHELL]
      shm_size: 1g
      no_cache: "true"
      additional_contexts:
        base: ./base
        img: docker-image://alpine
      ssh: [default]
      secrets: [token]
      tags: ["x:1"]
secrets:
  token: {environment: TOKEN}
`,
      },
      { environment: { FROM_SHELL: 'shell' } },
    );
    const b = (lp.canonical.services as any).web.build;
    assert.deepEqual(b, {
      additional_contexts: { base: join(lp.dir, 'base'), img: 'docker-image://alpine' },
      args: { FROM_SHELL: 'shell', VERSION: '1' },
      context: 'https://github.com/example/repo.git#main',
      dockerfile_inline: 'FROM alpine',
      no_cache: true,
      secrets: [{ source: 'token' }],
      shm_size: 1073741824,
      ssh: ['default'],
      tags: ['x:1'],
    });
  });
});
