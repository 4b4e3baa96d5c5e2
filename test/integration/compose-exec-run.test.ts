/**
 * `exec` (-T, -e, -u and the groups it gives, -w, --index, -d) and `run` (--rm, -e, --entrypoint, --no-deps, -p,
 * --service-ports, -v, -w, -u, -d, --name, --cap-add, --cap-drop, -i, --use-aliases, --build,
 * --pull, --quiet-pull, -q, --remove-orphans) through the CLI against a real daemon, exit codes
 * propagated; and attached `up` in a child process on projects that end by themselves:
 * `--abort-on-container-exit`, `--exit-code-from`, `--attach`, `--no-attach`, `--timestamps`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { TestDaemon } from '../helpers/daemon';
import { expectCode, lines, projectDir, startBusyboxDaemon } from '../helpers/compose';
import { freePort, get } from '../helpers/http';

let d: TestDaemon;
let dir: string;
let attachedDir: string;
let servicePort: number;

const compose = (args: string[], input?: string) => d.run(args, { cwd: dir, input });
const ok = (args: string[]) => d.ok(args, { cwd: dir });
const names = async () =>
  lines(await ok(['ps', '-a', '--format', 'json']))
    .map((l) => (JSON.parse(l) as { Name: string }).Name)
    .sort();

/** GETs until the server answers (a detached container takes a moment to listen); bounded. */
async function getWhenUp(url: string): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await get(url);
    } catch (err) {
      if (i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

before(async () => {
  d = await startBusyboxDaemon();
  servicePort = await freePort();
  dir = await projectDir(d, 'xr', {
    'compose.yaml': `services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    environment:
      APP_ENV: base
    group_add: ["2222"]
    depends_on: [dep]
    deploy:
      replicas: 2
  dep:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:${servicePort}:8080"]
    stop_signal: SIGKILL
    profiles: [web]
  capped:
    image: busybox:latest
    cap_add: [SYS_TIME]
    profiles: [extra]
  built:
    build:
      context: .
      dockerfile_inline: |
        FROM busybox:latest
        COPY stamp.txt /stamp
    profiles: [extra]
  far:
    image: 127.0.0.1:9/none:1
    profiles: [extra]
`,
    'shared.txt': 'from-the-host\n',
    'stamp.txt': 'one\n',
  });
  attachedDir = await projectDir(d, 'att', {
    'compose.yaml': `services:
  quick:
    image: busybox:latest
    command: ["sh", "-c", "echo quick-hi; sleep 1; echo quick-bye; exit 3"]
  long:
    image: busybox:latest
    command: ["sh", "-c", "trap 'echo long-term; exit 5' TERM; echo long-hi; while :; do sleep 0.2; done"]
  brief:
    image: busybox:latest
    command: ["sh", "-c", "echo brief-hi; sleep 0.3"]
`,
  });
  const r = await compose(['up', '-d']);
  if (r.code !== 0) throw new Error(`up failed: ${r.stderr}`);
});
after(async () => {
  if (d) {
    await d.run(['--profile', 'web', 'down', '-t', '0'], { cwd: dir });
    await d.run(['down', '-t', '0'], { cwd: attachedDir });
    await d.destroy();
  }
});

describe('compose exec', () => {
  test('-e, -u, -w and the exit code', async () => {
    assert.equal(await ok(['exec', '-T', '-e', 'FOO=bar', '-u', 'nobody', '-w', '/tmp', 'app', 'sh', '-c', 'echo $FOO $APP_ENV $(id -u) $(pwd)']), 'bar base 65534 /tmp\n');
    assert.equal(await ok(['exec', '-T', '-u', '1000:50', 'app', 'sh', '-c', 'echo $(id -u):$(id -g)']), '1000:50\n');
    assert.equal((await compose(['exec', '-T', 'app', 'sh', '-c', 'exit 7'])).code, 7);
    // Input reaches the command.
    assert.equal((await compose(['exec', '-T', 'app', 'cat'], 'piped-in\n')).stdout, 'piped-in\n');
  });

  // What Docker 20.10 prints for `id -G` in this image (app is 1000:1000, a member of staff, 50).
  test('-u gives Docker’s groups: the gid, the passwd entry’s memberships when no group is given, group_add', async () => {
    const cases: Array<[string, string]> = [
      ['1000', '1000 50 2222'],
      ['app', '1000 50 2222'],
      ['1000:1000', '1000 2222'],
      ['app:staff', '50 2222'],
      ['4242:7', '7 2222'],
      ['4242', '0 2222'],
    ];
    for (const [user, groups] of cases) {
      assert.equal(await ok(['exec', '-T', '-u', user, 'app', 'id', '-G']), `${groups}\n`, `-u ${user}`);
    }
    const id = lines(await ok(['ps', '-q', 'app']))[0] as string;
    assert.equal(await d.ok(['container', 'exec', '-u', '1000:1000', id, 'id', '-G']), '1000 2222\n');
    assert.equal(await d.ok(['container', 'exec', '-u', '4242:7', id, 'id', '-G']), '7 2222\n');
    // The service's own process has them too.
    assert.equal(await ok(['exec', '-T', 'app', 'sh', '-c', 'cat /proc/1/status | grep ^Groups']), 'Groups:\t0 2222 \n');
  });

  test('--index picks the replica', async () => {
    const ids = lines(await ok(['ps', '-q', 'app']));
    const one = (await ok(['exec', '-T', '--index', '1', 'app', 'hostname'])).trim();
    const two = (await ok(['exec', '-T', '--index', '2', 'app', 'hostname'])).trim();
    assert.notEqual(one, two);
    for (const h of [one, two]) assert.ok(ids.some((id) => id.startsWith(h)), `${h} not in ${ids.join(' ')}`);
    const missing = await compose(['exec', '-T', '--index', '3', 'app', 'true']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /service "app" is not running container #3/);
  });

  test('-d runs in the background; a stopped service is refused', async () => {
    const r = expectCode(await compose(['exec', '-d', 'app', 'sh', '-c', 'sleep 0.3; echo done > /tmp/bg']), 0);
    assert.equal(r.stdout, '');
    let content = '';
    for (let i = 0; i < 50 && content !== 'done\n'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      content = (await compose(['exec', '-T', 'app', 'cat', '/tmp/bg'])).stdout;
    }
    assert.equal(content, 'done\n');
    expectCode(await compose(['stop', 'dep']), 0);
    const stopped = await compose(['exec', '-T', 'dep', 'true']);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /service "dep" is not running/);
    assert.equal((await compose(['exec', '-T', 'nosuch', 'true'])).code, 1);
    expectCode(await compose(['start', 'dep']), 0);
  });
});

describe('compose run', () => {
  test('--rm, -e and the exit code', async () => {
    const r = expectCode(await compose(['run', '--rm', '-T', '-e', 'X=1', 'app', 'sh', '-c', 'echo $APP_ENV $X']), 0);
    assert.equal(r.stdout, 'base 1\n');
    assert.equal((await compose(['run', '--rm', '-T', 'app', 'sh', '-c', 'exit 5'])).code, 5);
    assert.ok(!(await names()).some((n) => n.includes('-run-')), (await names()).join(' '));
  });

  test('--entrypoint replaces the entrypoint and drops the service’s command', async () => {
    const env = expectCode(await compose(['run', '--rm', '-T', '--entrypoint', 'env', 'app']), 0).stdout;
    assert.match(env, /^APP_ENV=base$/m);
    assert.equal(expectCode(await compose(['run', '--rm', '-T', '--entrypoint', 'echo', 'app', 'given']), 0).stdout, 'given\n');
  });

  test('-w, -u and -v', async () => {
    const out = await ok(['run', '--rm', '-T', '-w', '/tmp', '-u', '1000', '-v', `${path.join(dir, 'shared.txt')}:/mnt/shared.txt:ro`, 'app', 'sh', '-c', 'pwd; id -u; cat /mnt/shared.txt; touch /mnt/shared.txt || echo read-only']);
    assert.deepEqual(lines(out), ['/tmp', '1000', 'from-the-host', 'read-only']);
  });

  test('-d prints the ID; --name names it; run containers are one-offs', async () => {
    const id = expectCode(await compose(['run', '-d', 'app', 'sleep', '600']), 0).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const [doc] = JSON.parse(await d.ok(['container', 'inspect', id])) as Array<{ Name: string; Config: { Labels: Record<string, string> } }>;
    assert.match(doc!.Name, /^\/xr-app-run-[0-9a-f]{12}$/);
    assert.equal(doc!.Config.Labels['com.docker.compose.oneoff'], 'True');
    assert.equal(doc!.Config.Labels['com.docker.compose.service'], 'app');
    expectCode(await compose(['run', '-d', '--name', 'xr-custom', 'app', 'sleep', '600']), 0);
    assert.match(await ok(['ps']), /^xr-custom\s+busybox:latest\s+"sleep 600"\s+app\s/m);
    // One-offs are not replicas: exec and logs go to the service's own containers.
    assert.equal(lines(await ok(['ps', '-q', 'app'])).length, 4);
    await d.ok(['container', 'rm', '-f', id, 'xr-custom']);
  });

  test('dependencies are started unless --no-deps', async () => {
    expectCode(await compose(['down', '-t', '1']), 0);
    // `run --rm` returns once its container is gone, not only exited (as Docker's CLI waits).
    for (let i = 0; i < 3; i++) {
      expectCode(await compose(['run', '--rm', '-T', '--no-deps', 'app', 'true']), 0);
      assert.deepEqual(await names(), []);
    }
    const r = expectCode(await compose(['run', '--rm', '-T', 'app', 'true']), 0);
    assert.match(r.stderr, /✔ Container xr-dep-1 {2}Started/);
    assert.deepEqual(await names(), ['xr-dep-1']);
  });

  test('-p publishes a port; --service-ports publishes the service’s', async () => {
    const port = await freePort();
    const id = expectCode(await compose(['--profile', 'web', 'run', '-d', '-p', `127.0.0.1:${port}:8080`, 'web']), 0).stdout.trim();
    assert.equal(await getWhenUp(`http://127.0.0.1:${port}/`), 'served\n');
    // Without --service-ports the service's own port stays closed.
    await assert.rejects(get(`http://127.0.0.1:${servicePort}/`));
    await d.ok(['container', 'rm', '-f', id]);
    const withPorts = expectCode(await compose(['--profile', 'web', 'run', '-d', '--service-ports', 'web']), 0).stdout.trim();
    assert.equal(await getWhenUp(`http://127.0.0.1:${servicePort}/`), 'served\n');
    await d.ok(['container', 'rm', '-f', withPorts]);
  });

  const extra = (args: string[]) => compose(['--profile', 'extra', ...args]);
  /** The effective capability set of a one-off's process, as a bit mask. */
  const capEff = (out: string) => BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(out)?.[1] ?? 'x'}`);

  test('--cap-add and --cap-drop add to the service’s own; -i is accepted', async () => {
    const CHOWN = 1n << 0n;
    const NET_ADMIN = 1n << 12n;
    const SYS_TIME = 1n << 25n;
    const plain = capEff(expectCode(await extra(['run', '--rm', '-T', 'capped', 'cat', '/proc/self/status']), 0).stdout);
    assert.equal(plain & SYS_TIME, SYS_TIME);
    assert.equal(plain & NET_ADMIN, 0n);
    assert.equal(plain & CHOWN, CHOWN);
    const r = expectCode(await extra(['run', '--rm', '-T', '-i', '--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN', 'capped', 'cat', '/proc/self/status']), 0);
    const caps = capEff(r.stdout);
    assert.equal(caps & SYS_TIME, SYS_TIME);
    assert.equal(caps & NET_ADMIN, NET_ADMIN);
    assert.equal(caps & CHOWN, 0n);
  });

  test('a one-off answers to the service’s name only with --use-aliases', async () => {
    const resolves = async () => (await compose(['exec', '-T', 'dep', 'nslookup', 'web'])).code === 0;
    const bare = expectCode(await compose(['--profile', 'web', 'run', '-d', 'web']), 0).stdout.trim();
    assert.equal(await resolves(), false);
    await d.ok(['container', 'rm', '-f', bare]);
    const aliased = expectCode(await compose(['--profile', 'web', 'run', '-d', '--use-aliases', 'web']), 0).stdout.trim();
    assert.equal(await resolves(), true);
    await d.ok(['container', 'rm', '-f', aliased]);
  });

  test('the service’s image is built when missing, rebuilt with --build', async () => {
    assert.equal(expectCode(await extra(['run', '--rm', '-T', 'built', 'cat', '/stamp']), 0).stdout, 'one\n');
    await fsp.writeFile(path.join(dir, 'stamp.txt'), 'two\n');
    assert.equal(expectCode(await extra(['run', '--rm', '-T', 'built', 'cat', '/stamp']), 0).stdout, 'one\n');
    assert.equal(expectCode(await extra(['run', '--rm', '-T', '--build', 'built', 'cat', '/stamp']), 0).stdout, 'two\n');
  });

  test('--pull decides the pull; --quiet-pull and -q hide the progress', async () => {
    assert.equal(expectCode(await extra(['run', '--rm', '-T', '--pull', 'sometimes', 'capped', 'true']), 1).stderr.trim(), 'invalid --pull option "sometimes": expected always, missing, never');
    const never = expectCode(await extra(['run', '--rm', '-T', '--pull', 'never', 'far', 'true']), 1);
    assert.match(never.stderr, /image 127\.0\.0\.1:9\/none:1 not found/);
    assert.doesNotMatch(never.stderr, /Pulling/);
    assert.match(expectCode(await extra(['run', '--rm', '-T', 'far', 'true']), 1).stderr, /far {2}Pulling/);
    assert.doesNotMatch(expectCode(await extra(['run', '--rm', '-T', '--quiet-pull', 'far', 'true']), 1).stderr, /Pulling/);
    // -q: no progress at all, the dependency still started; the command's output is kept.
    expectCode(await compose(['stop', '-t', '1', 'dep']), 0);
    const quiet = expectCode(await compose(['run', '--rm', '-T', '-q', 'app', 'echo', 'said']), 0);
    assert.equal(quiet.stdout, 'said\n');
    assert.equal(quiet.stderr, '');
    assert.match(await ok(['ps', 'dep']), /xr-dep-1 .*Up/);
  });

  test('--remove-orphans removes the containers of services the file lacks', async () => {
    expectCode(await d.run(['-p', 'xr', '-f', '-', 'up', '-d'], { cwd: dir, input: 'services:\n  ghost:\n    image: busybox:latest\n    command: ["sleep", "600"]\n    stop_signal: SIGKILL\n' }), 0);
    const warned = expectCode(await compose(['run', '--rm', '-T', '--no-deps', 'app', 'true']), 0);
    assert.match(warned.stderr, /Found orphan containers \(\[xr-ghost-1\]\)/);
    assert.ok((await names()).includes('xr-ghost-1'));
    const r = expectCode(await compose(['run', '--rm', '-T', '--no-deps', '--remove-orphans', 'app', 'true']), 0);
    assert.match(r.stderr, /Container xr-ghost-1 {2}Removed/);
    assert.ok(!(await names()).includes('xr-ghost-1'), (await names()).join(' '));
  });
});

describe('attached up', () => {
  const attached = (args: string[]) => d.run(args, { cwd: attachedDir, timeoutMs: 90_000 });

  test('--abort-on-container-exit stops the rest and returns the first exit code', async () => {
    const r = await attached(['up', '--abort-on-container-exit', '-t', '2', 'quick', 'long']);
    assert.equal(r.code, 3, r.stderr);
    assert.doesNotMatch(r.stdout, /brief/);
    assert.match(r.stdout, /^quick-1 {2}\| quick-hi$/m);
    assert.match(r.stdout, /^long-1 {3}\| long-hi$/m);
    assert.match(r.stdout, /^quick-1 exited with code 3$/m);
    assert.match(r.stderr, /Aborting on container exit\.\.\./);
    assert.match(r.stderr, /✔ Container att-long-1 {2}Stopped/);
    assert.match(await d.ok(['ps', '-a', 'long'], { cwd: attachedDir }), /Exited \(5\)/);
    // The first to exit decides: here brief, with 0.
    const all = await attached(['up', '--abort-on-container-exit', '-t', '2']);
    assert.equal(all.code, 0, all.stderr);
  });

  test('--exit-code-from returns that service’s code', async () => {
    const r = await attached(['up', '--exit-code-from', 'long', '-t', '2']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /long-term/);
    const bad = await attached(['up', '--exit-code-from', 'nosuch']);
    assert.equal(bad.code, 1);
    assert.equal((await attached(['up', '-d', '--abort-on-container-exit'])).code, 1);
  });

  test('--attach, --no-attach, --timestamps, --no-log-prefix', async () => {
    const only = await attached(['up', '--attach', 'quick', '--timestamps', 'quick', 'brief']);
    assert.equal(only.code, 0, only.stderr);
    assert.match(only.stdout, /^quick-1 {2}\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z quick-hi$/m);
    assert.doesNotMatch(only.stdout, /brief/);
    const without = await attached(['up', '--no-attach', 'quick', 'quick', 'brief']);
    assert.equal(without.code, 0, without.stderr);
    assert.match(without.stdout, /^brief-1 {2}\| brief-hi$/m);
    assert.match(without.stdout, /^brief-1 exited with code 0$/m);
    assert.doesNotMatch(without.stdout, /quick/);
    const bare = await attached(['up', '--no-log-prefix', 'brief']);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /^brief-hi$/m);
    assert.equal((await attached(['up', '--attach', 'nosuch', 'brief'])).code, 1);
  });
});

describe('exec and run leave their project clean', () => {
  test('down removes the one-offs and the network', async () => {
    expectCode(await compose(['run', '-d', 'app', 'sleep', '600']), 0);
    expectCode(await compose(['down', '-t', '1']), 0);
    assert.deepEqual(await names(), []);
    await fsp.access(dir);
  });
});
