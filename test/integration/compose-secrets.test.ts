/**
 * Compose secrets and configs through the CLI against a real daemon: files from a file, the
 * environment and inline content, mounted read-only at their targets with owner and mode; a
 * secret that can't be resolved fails `up` before anything is created.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';

let d: TestDaemon;
let dir: string;

const COMPOSE = `
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    secrets:
      - pw
      - { source: tok, target: token, uid: "65534", mode: 0400 }
    configs:
      - cfg
      - { source: inline, target: /etc/app.conf, mode: 0440 }
secrets:
  pw: { file: ./pw.txt }
  tok: { environment: TOKEN }
configs:
  cfg: { file: ./app.cfg }
  inline: { content: "port=\${PORT:-80}" }
`;

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  dir = path.join(d.dir, 'vault');
  await fsp.mkdir(dir);
  await fsp.writeFile(path.join(dir, 'compose.yaml'), COMPOSE);
  await fsp.writeFile(path.join(dir, 'pw.txt'), 's3cret');
  await fsp.writeFile(path.join(dir, 'app.cfg'), 'level=debug');
});

after(async () => {
  await d?.run(['down', '-v'], { cwd: dir }).catch(() => undefined);
  await d?.destroy();
});

test('a secret that cannot be resolved fails up with one line, before anything is created', async () => {
  const r = await d.run(['up', '-d'], { cwd: dir });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr.trim(), /^service "app": secret "tok": environment variable TOKEN is not set$/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal((await d.ok(['ps', '-a', '-q'], { cwd: dir })).trim(), '');
  assert.doesNotMatch(await d.ok(['network', 'ls']), /vault_default/);
});

test('secrets and configs are read-only files at their targets, with owner and mode', async () => {
  await d.ok(['up', '-d'], { cwd: dir, env: { TOKEN: 'tk123', PORT: '8080' } });
  const show = (file: string) => d.ok(['exec', '-T', 'app', 'sh', '-c', `stat -c '%u %g %a' ${file}; cat ${file}`], { cwd: dir });
  assert.equal(await show('/run/secrets/pw'), '0 0 444\ns3cret');
  assert.equal(await show('/run/secrets/token'), '65534 0 400\ntk123');
  assert.equal(await show('/cfg'), '0 0 444\nlevel=debug');
  assert.equal(await show('/etc/app.conf'), '0 0 440\nport=8080');
  const write = await d.run(['exec', '-T', 'app', 'sh', '-c', 'echo x > /run/secrets/pw'], { cwd: dir });
  assert.notEqual(write.code, 0);
  assert.match(write.stderr, /Read-only file system/);
  // The secret's content is not in the container record the engine keeps.
  const inspect = await d.ok(['inspect', 'vault-app-1']);
  assert.doesNotMatch(inspect, /s3cret|tk123/);
});
