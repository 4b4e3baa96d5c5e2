import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { load, rejects } from './helpers';

describe('extends', () => {
  test('within a file, at any depth, local values merged over the base', async () => {
    const lp = await load({
      'compose.yaml': `services:
  base:
    image: busybox
    environment: [A=1]
    command: base
  middle:
    extends: base
    environment: [B=2]
  web:
    extends:
      service: middle
    environment:
      A: "9"
    command: web
`,
    });
    const s = lp.canonical.services as any;
    assert.deepEqual(s.web.environment, { A: '9', B: '2' });
    assert.equal(s.web.image, 'busybox');
    assert.deepEqual(s.web.command, ['web']);
    assert.equal(s.web.extends, undefined);
    assert.deepEqual(s.middle.command, ['base']);
  });

  test('across files, with paths relative to the extended file', async () => {
    const lp = await load({
      'compose.yaml': `services:
  web:
    extends:
      file: common/base.yaml
      service: app
    volumes:
      - ./local:/local
`,
      'common/base.yaml': `services:
  app:
    extends:
      file: ../deep/root.yaml
      service: root
    build: ./ctx
    env_file: app.env
    volumes:
      - ./shared:/shared
`,
      'common/app.env': 'FROM_ENV_FILE=yes\n',
      'deep/root.yaml': 'services:\n  root:\n    image: root-image\n    volumes: ["./r:/r"]\n',
    });
    const web = (lp.canonical.services as any).web;
    assert.equal(web.image, 'root-image');
    assert.equal(web.build.context, join(lp.dir, 'common', 'ctx'));
    assert.deepEqual(web.environment, { FROM_ENV_FILE: 'yes' });
    assert.deepEqual(
      web.volumes.map((v: any) => v.source),
      [join(lp.dir, 'deep', 'r'), join(lp.dir, 'common', 'shared'), join(lp.dir, 'local')],
    );
  });

  test('a cycle is an error that prints the chain', async () => {
    await rejects({ 'compose.yaml': 'services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: c\n  c:\n    extends: a\n' }, [/extends cycle: a → b → c → a/]);
  });

  test('a service that is not a mapping is reported as such, not as a missing base', async () => {
    const err = await rejects({ 'compose.yaml': 'services:\n  web: nginx:alpine\n  db:\n    image: postgres\n' }, [/compose\.yaml:2:3: services\.web: expected a mapping/]);
    assert.doesNotMatch(err.message, /extend/);
  });

  test('extending an unknown service is an error', async () => {
    await rejects({ 'compose.yaml': 'services:\n  a:\n    extends: nope\n' }, [/cannot extend service "nope": not found/, /services\.a/]);
  });
});
