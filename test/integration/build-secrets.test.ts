/**
 * Build secrets and named build contexts against a real daemon: `image build --secret` (file and
 * environment) for `RUN --mount=type=secret`, with the secret in no layer, config, history, cache
 * or file of the data root, and no cache miss when only its content changes; `--build-context`
 * with a directory and a `docker-image://` reference, used by `FROM`, `COPY --from` and
 * `RUN --mount=from=`; and Compose's `build.secrets` and `build.additional_contexts`, including
 * `service:` (the other service's image, built first).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { TestDaemon } from '../helpers/daemon';
import { startBusyboxDaemon } from '../helpers/compose';

let d: TestDaemon;

before(async () => {
  d = await startBusyboxDaemon();
});
after(async () => {
  await d?.destroy();
});

async function write(root: string, files: Record<string, string>): Promise<string> {
  for (const [file, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await fsp.writeFile(path.join(root, file), content);
  }
  return root;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

const build = (args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) =>
  d.run(['image', 'build', '--progress', 'plain', ...args], { timeoutMs: 120_000, ...opts });

/** Files under `dir` whose bytes contain `needle` (grep exits 1 when there are none). */
function filesContaining(dir: string, needle: string): string[] {
  const lines = (text: string) => text.trim().split('\n').filter(Boolean);
  try {
    // netns/ holds network namespaces' mount points (the daemon's spare ones among them), which
    // are not files to read: grep fails on them with EINVAL.
    return lines(execFileSync('grep', ['-rlaF', '--exclude-dir=netns', needle, dir], { encoding: 'utf8' }));
  } catch (err) {
    const { status, stdout, stderr } = err as { status?: number; stdout?: string; stderr?: string };
    if (status === 1) return [];
    // The daemon keeps writing its state as the walk goes (an atomic write's temporary file, say):
    // a file gone between listing and reading held nothing to find; any other error is real.
    if (status === 2 && lines(stderr ?? '').every((l) => l.endsWith(': No such file or directory'))) return lines(stdout ?? '');
    throw err;
  }
}

describe('build secrets', () => {
  test('--secret from a file and from the environment reaches RUN and nothing else', async () => {
    const dir = await write(path.join(d.dir, 'secret-ctx'), {
      'token.txt': 'file-secret-4711\n',
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=secret,id=token md5sum < /run/secrets/token | cut -c1-32 > /seen',
        'RUN --mount=type=secret,id=token,target=/etc/app/token,mode=0440,uid=1000,gid=50 stat -c "%a %u:%g" /etc/app/token > /stat',
        'RUN --mount=type=secret,id=api,env=API_KEY printf %s "$API_KEY" | md5sum | cut -c1-32 > /env-seen',
        'RUN --mount=type=secret,id=absent ls /run/secrets > /absent 2>&1 || echo none > /absent',
        'CMD ["sh"]',
        '',
      ].join('\n'),
    });
    const r = await build(['-t', 'sec:1', '--secret', `id=token,src=${path.join(dir, 'token.txt')}`, '--secret', 'id=api,env=API_SECRET', dir], {
      env: { API_SECRET: 'env-secret-0815' },
    });
    assert.equal(r.code, 0, r.stderr);
    const out = await d.ok(['container', 'run', '--rm', 'sec:1', 'sh', '-c', 'cat /seen /stat /env-seen /absent; ls -a /run/secrets /etc/app 2>&1 | wc -l']);
    const lines = out.trim().split('\n');
    // The Dockerfile only holds digests, so any copy of a secret found below is a leak.
    assert.deepEqual(lines.slice(0, 4), [md5('file-secret-4711\n'), '440 1000:50', md5('env-secret-0815'), 'none']);
    // The mount points runc made for the secrets are not in the image.
    assert.doesNotMatch(await d.ok(['container', 'run', '--rm', 'sec:1', 'sh', '-c', 'ls /run/secrets /etc/app 2>&1; true']), /token/);
    assert.equal(r.stderr.includes('file-secret-4711') || r.stderr.includes('env-secret-0815'), false);

    const inspect = await d.ok(['image', 'inspect', 'sec:1']);
    const history = await d.ok(['image', 'history', '--no-trunc', 'sec:1']);
    for (const text of [inspect, history]) {
      assert.doesNotMatch(text, /file-secret-4711|env-secret-0815/);
    }
    assert.deepEqual(filesContaining(d.dataRoot, 'file-secret-4711'), [], 'no file of the data root holds the file secret');
    assert.deepEqual(filesContaining(d.dataRoot, 'env-secret-0815'), [], 'no file of the data root holds the env secret');
    const saved = path.join(d.dir, 'sec.tar');
    await d.ok(['image', 'save', '-o', saved, 'sec:1']);
    assert.deepEqual(filesContaining(saved, 'file-secret-4711'), []);

    // Docker's rule: a secret's content is not part of the cache key.
    await fsp.writeFile(path.join(dir, 'token.txt'), 'changed-secret\n');
    const again = await build(['-t', 'sec:2', '--secret', `id=token,src=${path.join(dir, 'token.txt')}`, '--secret', 'id=api,env=API_SECRET', dir], {
      env: { API_SECRET: 'other' },
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /\[2\/5\] RUN --mount=type=secret,id=token md5sum[^\n]*\n#\d+ CACHED/);
    assert.equal((await d.ok(['image', 'inspect', '--format', '{{.Id}}', 'sec:2'])).trim(), (await d.ok(['image', 'inspect', '--format', '{{.Id}}', 'sec:1'])).trim());
  });

  test('a required secret that was not given fails naming it; bad --secret flags are refused', async () => {
    const dir = await write(path.join(d.dir, 'secret-missing'), {
      Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=deploy_key,required=true cat /run/secrets/deploy_key\n',
    });
    const r = await build(['-t', 'sec:missing', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ERROR: failed to solve: Dockerfile:2: secret "deploy_key" is required but was not provided/m);
    assert.notEqual((await d.run(['image', 'inspect', 'sec:missing'])).code, 0);

    const noFile = await build(['--secret', 'id=deploy_key,src=/nonexistent/key', dir]);
    assert.equal(noFile.code, 1);
    assert.equal(noFile.stderr.trim(), 'secret "deploy_key": cannot read /nonexistent/key: ENOENT');
    const badKey = await build(['--secret', 'id=x,path=/etc/hostname', dir]);
    assert.equal(badKey.code, 125);
    assert.match(badKey.stderr, /invalid argument "id=x,path=\/etc\/hostname" for "--secret" flag: unexpected key 'path'/);
  });
});

describe('named build contexts', () => {
  test('--build-context: a directory and an image, for FROM, COPY --from and RUN --mount', async () => {
    const extra = await write(path.join(d.dir, 'extra-ctx'), { 'data/file.txt': 'from-extra\n', '.dockerignore': 'ignored.txt\n', 'ignored.txt': 'x' });
    const rootfs = await write(path.join(d.dir, 'rootfs-ctx'), { 'etc/marker': 'rootfs-marker\n' });
    const dir = await write(path.join(d.dir, 'main-ctx'), {
      Dockerfile: [
        'FROM files AS bare',
        'FROM base',
        'COPY --from=extra /data/file.txt /copied.txt',
        'COPY --from=bare /etc/marker /marker',
        'RUN --mount=type=bind,from=extra,target=/mnt ls -A /mnt > /listing',
        '',
      ].join('\n'),
    });
    const r = await build([
      '-t', 'ctx:1',
      '--build-context', `extra=${extra}`,
      '--build-context', 'base=docker-image://busybox:latest',
      '--build-context', `files=${rootfs}`,
      dir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await d.ok(['container', 'run', '--rm', 'ctx:1', 'cat', '/copied.txt', '/marker', '/listing']), 'from-extra\nrootfs-marker\n.dockerignore\ndata\n');
    assert.deepEqual(JSON.parse(await d.ok(['image', 'inspect', '--format', '{{json .Config.Cmd}}', 'ctx:1'])), ['sh'], 'FROM base is busybox');

    // Editing a file of the named context invalidates the COPY that reads it, and only from there.
    await fsp.writeFile(path.join(extra, 'data/file.txt'), 'edited\n');
    const again = await build(['-t', 'ctx:2', '--build-context', `extra=${extra}`, '--build-context', 'base=docker-image://busybox:latest', '--build-context', `files=${rootfs}`, dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /\[bare 1\/1\] FROM files\n#\d+ CACHED/);
    assert.match(again.stderr, /\[stage-1 2\/4\] COPY --from=extra \/data\/file.txt \/copied.txt\n#\d+ DONE/);
    assert.equal(await d.ok(['container', 'run', '--rm', 'ctx:2', 'cat', '/copied.txt']), 'edited\n');

    const bad = await build(['--build-context', 'extra=https://example.invalid/repo.git', dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /build context "extra": https:\/\/example.invalid\/repo.git is not supported/);
  });
});

describe('compose build secrets and additional contexts', () => {
  test('build.secrets (file, environment, long syntax) and additional_contexts (dir, image, service:)', async () => {
    const dir = await write(path.join(d.dir, 'compose-sec'), {
      'compose.yaml': `name: csec
services:
  app:
    build:
      context: ./app
      secrets:
        - token
        - source: envtoken
          target: api_key
          mode: 0440
          uid: "1000"
      additional_contexts:
        assets: ./assets
        tools: docker-image://busybox:latest
        basesvc: service:base
    command: ["sleep", "1000"]
  base:
    build:
      context: .
      dockerfile_inline: |
        FROM busybox:latest
        RUN echo built-by-base > /base-marker
secrets:
  token:
    file: ./token.txt
  envtoken:
    environment: CSEC_API_KEY
`,
      'token.txt': 'compose-file-secret-1\n',
      'assets/logo.txt': 'logo\n',
      'app/Dockerfile': [
        'FROM basesvc',
        'COPY --from=assets /logo.txt /logo.txt',
        'COPY --from=tools /bin/busybox /tools-busybox',
        'RUN --mount=type=secret,id=token md5sum < /run/secrets/token | cut -c1-32 > /file-ok',
        'RUN --mount=type=secret,id=api_key stat -c "%a %u" /run/secrets/api_key > /api-stat && md5sum < /run/secrets/api_key | cut -c1-32 >> /api-stat',
        '',
      ].join('\n'),
    });
    const r = await d.run(['--progress', 'plain', 'build'], { cwd: dir, timeoutMs: 120_000, env: { CSEC_API_KEY: 'compose-env-secret-2' } });
    assert.equal(r.code, 0, r.stderr);
    const out = await d.ok(['container', 'run', '--rm', 'csec-app', 'sh', '-c', 'cat /base-marker /logo.txt /file-ok /api-stat; test -x /tools-busybox && echo tools']);
    assert.equal(out, `built-by-base\nlogo\n${md5('compose-file-secret-1\n')}\n440 1000\n${md5('compose-env-secret-2')}\ntools\n`);
    assert.equal((await d.run(['image', 'inspect', 'csec-base'])).code, 0, 'the service: dependency was built and named');
    assert.deepEqual(filesContaining(d.dataRoot, 'compose-file-secret-1'), []);
    assert.deepEqual(filesContaining(d.dataRoot, 'compose-env-secret-2'), []);

    // up --build goes through the same builds: secrets and the service: context included.
    const up = await d.run(['up', '-d', '--build', 'app'], { cwd: dir, timeoutMs: 120_000, env: { CSEC_API_KEY: 'compose-env-secret-2' } });
    try {
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stderr, /Service base\s+Built/);
      assert.equal((await d.ok(['exec', 'app', 'cat', '/file-ok'], { cwd: dir })).trim(), md5('compose-file-secret-1\n'));
    } finally {
      await d.run(['down', '-t', '0'], { cwd: dir, timeoutMs: 120_000 });
    }

    const unset = await d.run(['build', 'app'], { cwd: dir, timeoutMs: 120_000 });
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /^service "app": secret "api_key": environment variable CSEC_API_KEY is not set$/m);
  });
});
