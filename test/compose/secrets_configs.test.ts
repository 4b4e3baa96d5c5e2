import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { load, rejects } from './helpers';

describe('secrets and configs', () => {
  test('short and long syntax; files absolute; modes octal', async () => {
    const lp = await load({
      'compose.yaml': `services:
  web:
    image: x
    secrets:
      - server-certificate
      - source: db_pw
        target: /run/pw
        uid: 103
        gid: "103"
        mode: 0440
    configs:
      - my_config
      - source: other
        target: /etc/other
        mode: 0o644
secrets:
  server-certificate:
    file: ./server.cert
  db_pw:
    environment: DB_PW
configs:
  my_config:
    content: "hello"
  other:
    external: true
`,
    });
    const s = (lp.canonical.services as any).web;
    assert.deepEqual(s.secrets, [{ source: 'server-certificate' }, { source: 'db_pw', target: '/run/pw', uid: '103', gid: '103', mode: 0o440 }]);
    assert.deepEqual(s.configs, [{ source: 'my_config' }, { source: 'other', target: '/etc/other', mode: 0o644 }]);
    assert.deepEqual(lp.canonical.secrets, {
      db_pw: { environment: 'DB_PW', name: 'proj_db_pw' },
      'server-certificate': { file: join(lp.dir, 'server.cert'), name: 'proj_server-certificate' },
    });
    assert.deepEqual(lp.canonical.configs, { my_config: { content: 'hello', name: 'proj_my_config' }, other: { external: true, name: 'other' } });
  });
  test('undefined secrets and configs are errors', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    secrets: [nope]\n' }, [/undefined secret "nope"/, /services\.web\.secrets\[0\]/]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    configs: [nope]\n' }, [/undefined config "nope"/]);
  });
});
