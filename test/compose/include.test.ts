import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { load, rejects } from './helpers';

describe('include', () => {
  test('short syntax: own project directory and .env, local environment wins', async () => {
    const lp = await load(
      {
        'compose.yaml': 'include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n',
        'sub/compose.yaml': 'services:\n  db:\n    image: "postgres:${PG}"\n    hostname: "${WHO}"\n    build: ./db\nvolumes:\n  data: {}\n',
        'sub/.env': 'PG=15\nWHO=sub\n',
      },
      { environment: { WHO: 'local', HOME: '/h' } },
    );
    const s = lp.canonical.services as any;
    assert.equal(s.db.image, 'postgres:15');
    assert.equal(s.db.hostname, 'local');
    assert.equal(s.db.build.context, join(lp.dir, 'sub', 'db'));
    assert.deepEqual(Object.keys(lp.canonical.volumes as object), ['data']);
    assert.equal((lp.canonical.volumes as any).data.name, 'proj_data');
  });

  test('long syntax: several paths merged, project_directory and env_file', async () => {
    const lp = await load({
      'compose.yaml': 'include:\n  - path: [lib/a.yaml, lib/b.yaml]\n    project_directory: other\n    env_file: lib/vars.env\nservices: {}\n',
      'lib/a.yaml': 'services:\n  a:\n    image: "a:${V}"\n    volumes: ["./x:/x"]\n',
      'lib/b.yaml': 'services:\n  a:\n    hostname: b\n',
      'lib/vars.env': 'V=7\n',
    });
    const a = (lp.canonical.services as any).a;
    assert.equal(a.image, 'a:7');
    assert.equal(a.hostname, 'b');
    assert.equal(a.volumes[0].source, join(lp.dir, 'other', 'x'));
  });

  test('conflicting definitions and include cycles are errors', async () => {
    await rejects(
      { 'compose.yaml': 'include: [sub.yaml]\nservices:\n  db:\n    image: mine\n', 'sub.yaml': 'services:\n  db:\n    image: theirs\n' },
      [/services\.db: conflicts with the service "db" imported from .*sub\.yaml/],
    );
    await rejects(
      { 'compose.yaml': 'include: [a.yaml]\nservices: {}\n', 'a.yaml': 'include: [b.yaml]\nservices: {}\n', 'b.yaml': 'include: [a.yaml]\nservices: {}\n' },
      [/include cycle: .*a\.yaml → .*b\.yaml → .*a\.yaml/],
    );
  });
});
