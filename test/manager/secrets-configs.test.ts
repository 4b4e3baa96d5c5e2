/** Compose `secrets` and `configs` become files in the container spec (manager/project/container-spec.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadProject } from '../../manager/compose/index';
import { filesOf } from '../../manager/project/container-spec';

async function load(yaml: string, environment: Record<string, string> = {}) {
  const workingDir = mkdtempSync(path.join(tmpdir(), 'tsc-secrets-'));
  writeFileSync(path.join(workingDir, 'pw.txt'), 's3cret\n');
  const loaded = await loadProject({ files: ['-'], stdinContent: yaml, projectName: 'proj', workingDir, environment });
  return loaded.model;
}

test('secrets and configs: sources, default and relative targets, owner and mode', async () => {
  const m = await load(
    `
services:
  app:
    image: busybox
    secrets:
      - pw
      - { source: tok, target: token, uid: "65534", gid: "100", mode: 0400 }
    configs:
      - cfg
      - { source: inline, target: /etc/app.conf }
secrets:
  pw: { file: ./pw.txt }
  tok: { environment: TOKEN }
configs:
  cfg: { content: "a=1" }
  inline: { content: "key=value" }
`,
    { TOKEN: 'tk123' },
  );
  const files = filesOf(m, m.services.app!).map((f) => ({ ...f, content: f.content.toString() }));
  assert.deepEqual(files, [
    { target: '/run/secrets/pw', content: 's3cret\n', uid: 0, gid: 0, mode: 0o444 },
    { target: '/run/secrets/token', content: 'tk123', uid: 65534, gid: 100, mode: 0o400 },
    { target: '/cfg', content: 'a=1', uid: 0, gid: 0, mode: 0o444 },
    { target: '/etc/app.conf', content: 'key=value', uid: 0, gid: 0, mode: 0o444 },
  ]);
});

test('a secret that cannot be resolved is an error naming the service and the secret', async () => {
  const yaml = (def: string) => `
services:
  app:
    image: busybox
    secrets: [s]
secrets:
  s: ${def}
`;
  const unset = await load(yaml('{ environment: NOPE }'));
  assert.throws(() => filesOf(unset, unset.services.app!), /service "app": secret "s": environment variable NOPE is not set/);
  const missing = await load(yaml('{ file: ./missing.txt }'));
  assert.throws(() => filesOf(missing, missing.services.app!), /service "app": secret "s": cannot read .*missing\.txt: ENOENT/);
  const external = await load(yaml('{ external: true }'));
  assert.throws(() => filesOf(external, external.services.app!), /service "app": secret "s" is external/);
});
