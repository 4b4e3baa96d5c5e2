/**
 * Compose's images through the CLI against a real daemon and a loopback registry: `build` of
 * services with `build:` (a Dockerfile with RUN and COPY, args and labels; a `dockerfile_inline`),
 * `up -d --wait` building what is missing and pulling an `image:` service from the registry,
 * `pull`, containers recreated when their image was rebuilt or pulled anew, `pull_policy: never`
 * and an unpullable image failing with the service named, and `push` of the built image to the
 * registry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { startRegistry, type TestRegistry } from '../helpers/registry';

let d: TestDaemon;
let reg: TestRegistry;
let dir: string;

const compose = (args: string[], cwd = dir) => d.run(args, { cwd, timeoutMs: 120_000 });
const ok = (args: string[], cwd = dir) => d.ok(args, { cwd, timeoutMs: 120_000 });

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await fsp.writeFile(path.join(root, file), content);
  }
}

async function labelsOf(image: string): Promise<Record<string, string>> {
  return (JSON.parse(await d.ok(['image', 'inspect', image]))[0] as { Config: { Labels: Record<string, string> | null } }).Config.Labels ?? {};
}

async function exists(image: string): Promise<boolean> {
  return (await d.run(['image', 'inspect', image])).code === 0;
}

before(async () => {
  [d, reg] = await Promise.all([startTestDaemon(), startRegistry({ mode: 'none' })]);
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  // The `image:` service's image is in the registry only: pushed from a second tag, then untagged.
  await d.ok(['image', 'tag', 'busybox:latest', `${reg.host}/cache:1`]);
  await d.ok(['image', 'push', `${reg.host}/cache:1`]);
  await d.ok(['image', 'rm', `${reg.host}/cache:1`]);

  dir = path.join(d.dir, 'cb');
  await write(dir, {
    'compose.yaml': `name: cb
services:
  web:
    image: ${reg.host}/cb-web:1
    build:
      context: ./web
      args:
        GREETING: hello-from-args
      labels:
        org.example.role: frontend
      tags: ["${reg.host}/cb-web:extra"]
    command: ["sh", "-c", "exec sleep 1000"]
    depends_on: [cache]
  cache:
    image: ${reg.host}/cache:1
    command: ["sleep", "1000"]
  inline:
    build:
      context: .
      dockerfile_inline: |
        FROM busybox:latest
        RUN echo inline-built > /inline
    command: ["sleep", "1000"]
`,
    'web/Dockerfile': 'FROM busybox:latest\nARG GREETING\nRUN echo "$GREETING" > /greeting\nCOPY page.html /www/page.html\n',
    'web/page.html': 'copied-page\n',
    'web/.dockerignore': 'secret.txt\n',
    'web/secret.txt': 'not in the context\n',
  });
});
after(async () => {
  if (d) {
    await d.run(['down', '-t', '1'], { cwd: dir }).catch(() => undefined);
    await d.destroy();
  }
  await reg?.stop();
});

describe('compose build, pull, up and push', () => {
  test('build builds every service with a build section, named and labelled as Compose does', async () => {
    const r = await compose(['build']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ Service web {2}Built/);
    assert.match(r.stderr, /✔ Service inline {2}Built/);
    assert.doesNotMatch(r.stderr, /Service cache/);
    assert.match(r.stderr, /\[web\] .*RUN/);
    const labels = await labelsOf(`${reg.host}/cb-web:1`);
    assert.equal(labels['org.example.role'], 'frontend');
    assert.equal(labels['com.docker.compose.project'], 'cb');
    assert.equal(labels['com.docker.compose.service'], 'web');
    assert.ok(await exists(`${reg.host}/cb-web:extra`), 'build.tags are applied');
    assert.ok(await exists('cb-inline'), 'an image-less service is named <project>-<service>');
    assert.equal(await exists(`${reg.host}/cache:1`), false, 'build pulls nothing');
  });

  test('build -q prints nothing, and a named service without build is skipped', async () => {
    const r = await compose(['build', '-q', 'web', 'cache']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.doesNotMatch(r.stderr, /Built/);
    const bad = await compose(['build', 'nope']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no such service: nope/);
  });

  test('up -d --wait builds what is missing, pulls the image service, and runs both', async () => {
    await ok(['image', 'rm', 'cb-inline']);
    const r = await compose(['up', '-d', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ Service inline {2}Built/);
    assert.doesNotMatch(r.stderr, /Service web {2}Built/, 'a present image is not rebuilt');
    assert.match(r.stderr, /✔ cache {2}Pulled/);
    const running = (await ok(['ps', '--format', 'json']))
      .trim()
      .split('\n')
      .flatMap((l) => JSON.parse(l) as unknown)
      .map((c) => (c as { Service: string; State: string }))
      .filter((c) => c.State === 'running')
      .map((c) => c.Service)
      .sort();
    assert.deepEqual(running, ['cache', 'inline', 'web']);
    assert.equal((await ok(['exec', '-T', 'web', 'cat', '/greeting'])).trim(), 'hello-from-args');
    assert.equal((await ok(['exec', '-T', 'web', 'cat', '/www/page.html'])).trim(), 'copied-page');
    assert.equal((await ok(['exec', '-T', 'inline', 'cat', '/inline'])).trim(), 'inline-built');
  });

  test('up --build rebuilds; --no-build builds nothing', async () => {
    const r = await compose(['up', '-d', '--wait', '--build']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ Service web {2}Built/);
    assert.match(r.stderr, /✔ Service inline {2}Built/);
    const n = await compose(['up', '-d', '--wait', '--no-build']);
    assert.equal(n.code, 0, n.stderr);
    assert.doesNotMatch(n.stderr, /Built/);
  });

  test('pull refreshes the image service and skips what has no image to pull', async () => {
    const r = await compose(['pull']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ cache {2}Pulled/);
    assert.match(r.stderr, /inline {2}Skipped - No image to be pulled/);
    const q = await compose(['pull', '-q', 'cache']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stderr, '');
  });

  test('a container whose image was rebuilt or pulled anew is recreated by the next up, the others kept', async () => {
    await fsp.writeFile(path.join(dir, 'web/page.html'), 'copied-page-2\n');
    const built = await compose(['up', '-d', '--wait', '--build']);
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /✔ Container cb-web-1 {2}Recreated/);
    assert.match(built.stderr, /✔ Container cb-inline-1 {2}Running/, 'a rebuild from cache gives the same image');
    assert.equal((await ok(['exec', '-T', 'web', 'cat', '/www/page.html'])).trim(), 'copied-page-2');

    // A new image under the cache service's tag: `pull` fetches it, and `up` moves to it.
    await ok(['image', 'tag', 'cb-inline', `${reg.host}/cache:1`]);
    await ok(['image', 'push', `${reg.host}/cache:1`]);
    await ok(['image', 'tag', 'busybox:latest', `${reg.host}/cache:1`]);
    await ok(['pull', 'cache']);
    const pulled = await compose(['up', '-d', '--wait']);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stderr, /✔ Container cb-cache-1 {2}Recreated/);
    assert.doesNotMatch(pulled.stderr, /cb-inline-1 {2}Recreated/);
    assert.equal((await ok(['exec', '-T', 'cache', 'cat', '/inline'])).trim(), 'inline-built');
    const again = await compose(['up', '-d', '--wait']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /Recreate/);
  });

  test('push sends the built image and its tags to the registry', async () => {
    const r = await compose(['push']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`✔ Image ${reg.host}/cb-web:1 {2}Pushed`));
    const res = await fetch(`${reg.url}/v2/cb-web/tags/list`);
    const tags = ((await res.json()) as { tags: string[] }).tags.sort();
    assert.deepEqual(tags, ['1', 'extra']);
  });

  test('pull_policy: never with a missing image, and an image no registry has, fail naming the service', async () => {
    const other = path.join(d.dir, 'never');
    await write(other, {
      'compose.yaml': `name: nv
services:
  ghost:
    image: ${reg.host}/ghost:1
    pull_policy: never
    command: ["sleep", "1000"]
`,
    });
    const r = await compose(['up', '-d'], other);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[lines.length - 1] as string, /service "ghost".*ghost:1.*never/);

    await write(other, { 'compose.yaml': `name: nv\nservices:\n  ghost:\n    image: ${reg.host}/ghost:1\n    command: ["sleep", "1000"]\n` });
    const p = await compose(['up', '-d'], other);
    assert.notEqual(p.code, 0);
    assert.match(p.stderr.trim().split('\n').pop() as string, /service "ghost".*could not be pulled/);
    assert.equal((await compose(['ps', '-aq'], other)).stdout.trim(), '');
  });

  test('build.network and build.extra_hosts reach the RUN steps', async () => {
    const other = path.join(d.dir, 'runnet');
    await write(other, {
      'compose.yaml': `name: rn
services:
  app:
    image: rn/app:1
    build:
      context: .
      network: none
      extra_hosts:
        - "mirror=10.9.8.7"
`,
      Dockerfile: 'FROM busybox:latest\nRUN ls /sys/class/net > /nets; grep mirror /etc/hosts > /mirror\n',
    });
    const built = await compose(['build'], other);
    assert.equal(built.code, 0, built.stderr);
    assert.equal(await ok(['container', 'run', '--rm', 'rn/app:1', 'cat', '/nets', '/mirror'], other), 'lo\n10.9.8.7\tmirror\n');
  });

  test('image build pulls a missing base, uses the local one after, and --pull fetches a newer one', async () => {
    const base = `${reg.host}/base:1`;
    const labelOf = async (image: string) => (await labelsOf(image)).v;
    const ctx = path.join(d.dir, 'pull-ctx');
    // v1 in the registry only.
    await write(path.join(ctx, 'v1'), { Dockerfile: 'FROM busybox:latest\nLABEL v=1\n' });
    await ok(['image', 'build', '-q', '-t', base, path.join(ctx, 'v1')]);
    await ok(['image', 'push', '-q', base]);
    await ok(['image', 'rm', base]);

    await write(path.join(ctx, 'app'), { Dockerfile: `FROM ${base}\nLABEL app=yes\n` });
    await ok(['image', 'build', '-q', '-t', 'frompull:1', path.join(ctx, 'app')]);
    assert.equal(await labelOf('frompull:1'), '1', 'a missing base is pulled');

    // The registry moves on to v2; the store keeps v1 under the same name.
    const v1 = (await ok(['image', 'inspect', '--format', '{{.Id}}', base])).trim();
    await write(path.join(ctx, 'v2'), { Dockerfile: 'FROM busybox:latest\nLABEL v=2\n' });
    await ok(['image', 'build', '-q', '-t', base, path.join(ctx, 'v2')]);
    await ok(['image', 'push', '-q', base]);
    await ok(['image', 'tag', v1, base]);

    await ok(['image', 'build', '-q', '-t', 'frompull:2', path.join(ctx, 'app')]);
    assert.equal(await labelOf('frompull:2'), '1', 'without --pull the local base is used');
    await ok(['image', 'build', '-q', '--pull', '-t', 'frompull:3', path.join(ctx, 'app')]);
    assert.equal(await labelOf('frompull:3'), '2', '--pull fetches the registry\'s newer base');
  });
});
