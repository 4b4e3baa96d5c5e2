import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { load, rejects } from './helpers';

describe('volumes', () => {
  test('short syntax: bind (relative, absolute, ~), named, anonymous, modes', async () => {
    const lp = await load({
      'compose.yaml': `services:
  web:
    image: x
    volumes:
      - /var/lib/mysql
      - /opt/data:/var/lib/mysql
      - ./cache:/tmp/cache:ro,z
      - ~/configs:/etc/configs/:ro
      - datavolume:/var/lib/db:nocopy
      - ../shared:/shared:rslave
volumes:
  datavolume:
`,
    });
    const svc = (lp.canonical.services as any).web;
    assert.deepEqual(svc.volumes, [
      { type: 'volume', target: '/var/lib/mysql', volume: {} },
      { type: 'bind', source: '/opt/data', target: '/var/lib/mysql', bind: { create_host_path: true } },
      { type: 'bind', source: join(lp.dir, 'cache'), target: '/tmp/cache', read_only: true, bind: { create_host_path: true, selinux: 'z' } },
      { type: 'bind', source: '/home/user/configs', target: '/etc/configs/', read_only: true, bind: { create_host_path: true } },
      { type: 'volume', source: 'datavolume', target: '/var/lib/db', volume: { nocopy: true } },
      { type: 'bind', source: join(lp.dir, '..', 'shared'), target: '/shared', bind: { create_host_path: true, propagation: 'rslave' } },
    ]);
    assert.deepEqual(lp.canonical.volumes, { datavolume: { name: 'proj_datavolume' } });
  });

  test('long syntax: types, tmpfs size in bytes, read_only from a string', async () => {
    const lp = await load({
      'compose.yaml': `services:
  web:
    image: x
    volumes:
      - type: tmpfs
        target: /run
        tmpfs: { size: 64m, mode: "1777" }
      - type: bind
        source: ./static
        target: /opt/static
        read_only: "true"
      - type: volume
        source: db
        target: /db
        volume: { subpath: sub }
volumes:
  db:
    external: true
`,
    });
    const v = (lp.canonical.services as any).web.volumes;
    assert.deepEqual(v[0], { type: 'tmpfs', target: '/run', tmpfs: { size: 67108864, mode: 0o1777 } });
    assert.deepEqual(v[1], { type: 'bind', source: join(lp.dir, 'static'), target: '/opt/static', read_only: true });
    assert.deepEqual(v[2], { type: 'volume', source: 'db', target: '/db', volume: { subpath: 'sub' } });
    assert.deepEqual(lp.canonical.volumes, { db: { external: true, name: 'db' } });
    assert.equal(lp.model.services.web?.volumes?.[0]?.tmpfs?.size, 67108864);
  });

  test('undefined named volume is an error naming it', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    volumes: ["dta:/data"]\nvolumes:\n  data: {}\n' }, [
      /services\.web\.volumes\[0\]/,
      /undefined volume "dta"/,
      /did you mean "data"/,
      /compose\.yaml:4:/,
    ]);
  });

  test('invalid mode is rejected', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    volumes: ["./a:/a:rx"]\n' }, [/invalid mode "rx"/]);
  });
});
