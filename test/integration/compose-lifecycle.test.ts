/**
 * Compose's lifecycle verbs through the CLI against a real daemon: `create`, `start` (and its
 * error when there is nothing to start), `pause`,
 * `unpause`, `kill -s`, `stop -t`, `restart`, `rm -f|-s|-v`, `wait`, `scale`, `up` with `--scale`,
 * `--no-deps`, `--force-recreate`, `--no-recreate`, `--no-start`, `--remove-orphans` (and the
 * orphan warning), `down -v|--rmi|--remove-orphans|-t`, global flags on every verb, and two
 * projects of one file side by side.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { TestDaemon } from '../helpers/daemon';
import { expectCode, lines, projectDir, startBusyboxDaemon } from '../helpers/compose';

let d: TestDaemon;
let dir: string;

// `db` and `web` stop at once on SIGTERM (their shells trap it); `stubborn` ignores it, so only
// `-t` decides how long its stop takes.
const COMPOSE = `services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'echo web-term; exit 0' TERM; echo web-up; while :; do sleep 0.2; done"]
    depends_on: [db]
  db:
    image: busybox:latest
    command: ["sh", "-c", "trap 'echo db-term; exit 0' TERM; echo db-up; while :; do sleep 0.2; done"]
    volumes: ["data:/data", "/scratch"]
  job:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5; exit 3"]
    profiles: [jobs]
  stubborn:
    image: busybox:latest
    command: ["sleep", "600"]
    profiles: [slow]
volumes:
  data: {}
`;

const compose = (args: string[]) => d.run(args, { cwd: dir });
const ok = (args: string[]) => d.ok(args, { cwd: dir });
const idOf = async (service: string) => (await ok(['ps', '-a', '-q', service])).trim();
const states = async () =>
  lines(await ok(['ps', '-a', '--format', 'json']))
    .map((l) => JSON.parse(l) as { Name: string; State: string })
    .map((j) => `${j.Name}=${j.State}`)
    .sort();
const volumes = async () => lines(await d.ok(['volume', 'ls', '-q'])).sort();

before(async () => {
  d = await startBusyboxDaemon();
  dir = await projectDir(d, 'life', { 'compose.yaml': COMPOSE });
});
after(async () => {
  if (d) {
    await d.run(['--profile', 'jobs', '--profile', 'slow', 'down', '-v', '-t', '0', '--remove-orphans'], { cwd: dir });
    await d.destroy();
  }
});

describe('compose lifecycle', () => {
  test('start with nothing created: Compose’s error naming the first service, exit 1, nothing made', async () => {
    const r = expectCode(await compose(['start']), 1);
    assert.equal(r.stderr.trim(), 'service "db" has no container to start');
    // Known by name only (no files where it runs): the project has no container at all.
    const byName = expectCode(await d.run(['-p', 'life', 'start'], { cwd: d.dir }), 1);
    assert.equal(byName.stderr.trim(), 'no container found for project "life": not found');
    assert.deepEqual(await states(), []);
    assert.doesNotMatch(await d.ok(['network', 'ls']), /life_default/);
  });

  test('create makes the containers without starting them', async () => {
    const r = expectCode(await compose(['create']), 0);
    assert.match(r.stderr, /✔ Network life_default {2}Created/);
    assert.match(r.stderr, /✔ Container life-db-1 {2}Created/);
    assert.match(r.stderr, /✔ Container life-web-1 {2}Created/);
    assert.doesNotMatch(r.stderr, /Started/);
    assert.deepEqual(await states(), ['life-db-1=created', 'life-web-1=created']);
    assert.equal((await ok(['ps', '-q'])).trim(), '');
    assert.match(await ok(['ps', '-a']), /^life-web-1\s+busybox:latest\s+.*\s+web\s+.*\s+Created\s*$/m);
    assert.match(await ok(['ls', '-a']), /^life\s+created\(2\)\s+\S+compose\.yaml$/m);
    assert.doesNotMatch(await ok(['ls']), /^life\s/m);
  });

  test('start starts them, dependencies first', async () => {
    const r = expectCode(await compose(['start']), 0);
    const out = lines(r.stderr);
    const db = out.indexOf(' ✔ Container life-db-1  Started');
    const web = out.indexOf(' ✔ Container life-web-1  Started');
    assert.ok(db >= 0 && web > db, r.stderr);
    assert.deepEqual(await states(), ['life-db-1=running', 'life-web-1=running']);
    assert.match(await ok(['ls']), /^life\s+running\(2\)\s/m);
  });

  test('pause and unpause', async () => {
    const r = expectCode(await compose(['pause', 'web']), 0);
    assert.match(r.stderr, /✔ Container life-web-1 {2}Paused/);
    assert.match(await ok(['ps', '--status', 'paused']), /life-web-1 .*Up .*\(Paused\)/);
    assert.equal((await ok(['ps', '--status', 'paused', '--services'])).trim(), 'web');
    assert.match(await ok(['ls']), /^life\s+paused\(1\), running\(1\)\s/m);
    assert.match(expectCode(await compose(['unpause', 'web']), 0).stderr, /✔ Container life-web-1 {2}Unpaused/);
    assert.equal((await ok(['ps', '--status', 'paused', '-q'])).trim(), '');
  });

  test('kill -s sends the signal', async () => {
    // A signal that is none is refused before any container is told anything.
    const bogus = expectCode(await compose(['kill', '-s', 'BOGUS', 'db']), 1);
    assert.equal(bogus.stderr, 'Invalid signal: BOGUS\n');
    const r = expectCode(await compose(['kill', '-s', 'SIGTERM', 'db']), 0);
    assert.match(r.stderr, /✔ Container life-db-1 {2}Killed/);
    await ok(['wait', 'db']);
    assert.match(await ok(['logs', '--no-log-prefix', 'db']), /db-term/);
    assert.match(await ok(['ps', '--status', 'exited']), /life-db-1 .*Exited \(0\)/);
    // Compose's default signal is SIGKILL.
    expectCode(await compose(['kill', 'web']), 0);
    assert.match(await ok(['ps', '-a', 'web']), /Exited \(137\)/);
  });

  test('restart and stop', async () => {
    expectCode(await compose(['start']), 0);
    const r = expectCode(await compose(['restart', '-t', '1', 'web']), 0);
    assert.match(r.stderr, /Container life-web-1 {2}Restarting/);
    assert.match(r.stderr, /✔ Container life-web-1 {2}Started/);
    assert.equal((await ok(['logs', '--no-log-prefix', 'web'])).match(/web-up/g)?.length, 3);
    const stopped = expectCode(await compose(['stop', '-t', '1']), 0);
    assert.match(stopped.stderr, /✔ Container life-web-1 {2}Stopped/);
    assert.match(stopped.stderr, /✔ Container life-db-1 {2}Stopped/);
    assert.deepEqual(await states(), ['life-db-1=exited', 'life-web-1=exited']);
    assert.match(await ok(['ls', '-a']), /^life\s+exited\(2\)\s/m);
    // Stopped containers list no ports, as Docker's.
    assert.match(await ok(['ps', '-a', 'db']), /Exited \(0\) .* ago\s*$/m);
  });

  test('stop -t bounds the grace period of a process that ignores SIGTERM', async () => {
    expectCode(await compose(['--profile', 'slow', 'up', '-d', 'stubborn']), 0);
    const started = Date.now();
    expectCode(await compose(['--profile', 'slow', 'stop', '-t', '1', 'stubborn']), 0);
    // The default grace period is 10 s; -t 1 kills it after one.
    assert.ok(Date.now() - started < 9500, `stop -t 1 took ${Date.now() - started} ms`);
    assert.match(await ok(['--profile', 'slow', 'ps', '-a', 'stubborn']), /Exited \(137\)/);
    expectCode(await compose(['--profile', 'slow', 'rm', '-f', 'stubborn']), 0);
  });

  test('a service named on the command line activates its profiles, as Compose’s do', async () => {
    // No --profile anywhere: naming `stubborn` is enough for every verb.
    const up = expectCode(await compose(['up', '-d', 'stubborn']), 0);
    assert.match(up.stderr, /✔ Container life-stubborn-1 {2}Started/);
    assert.match(await ok(['ps', 'stubborn']), /life-stubborn-1 .* Up /);
    assert.equal(await ok(['exec', 'stubborn', 'echo', 'in-stubborn']), 'in-stubborn\n');
    assert.equal(await ok(['run', '--rm', '--no-deps', 'stubborn', 'echo', 'one-off']), 'one-off\n');
    expectCode(await compose(['stop', '-t', '0', 'stubborn']), 0);
    expectCode(await compose(['rm', '-f', 'stubborn']), 0);
    assert.equal(await ok(['ps', '-a', '-q', 'stubborn']), '');
    // An unknown name is still the verb's plain error.
    const unknown = expectCode(await compose(['stop', 'stubbornn']), 1);
    assert.equal(unknown.stderr.trim(), 'no such service: stubbornn');
  });

  test('rm removes stopped containers, keeps volumes unless -v; -s stops first', async () => {
    const before = await volumes();
    assert.equal(before.length, 2, before.join(' ')); // life_data and /scratch's anonymous one
    const r = expectCode(await compose(['rm', '-f', 'db']), 0);
    assert.match(r.stderr, /✔ Container life-db-1 {2}Removed/);
    assert.deepEqual(await states(), ['life-web-1=exited']);
    assert.deepEqual(await volumes(), before);
    // rm without -s leaves running containers alone.
    expectCode(await compose(['up', '-d']), 0);
    expectCode(await compose(['rm', '-f', 'db']), 0);
    assert.deepEqual(await states(), ['life-db-1=running', 'life-web-1=running']);
    const anon = (await volumes()).filter((v) => !before.includes(v) && v !== 'life_data');
    assert.equal(anon.length, 1);
    const removed = expectCode(await compose(['rm', '-s', '-f', '-v', 'db']), 0);
    assert.match(removed.stderr, /✔ Container life-db-1 {2}Stopped/);
    assert.match(removed.stderr, /✔ Container life-db-1 {2}Removed/);
    assert.deepEqual(await states(), ['life-web-1=running']);
    // -v removes the container's anonymous volume, never a named one.
    const after = await volumes();
    assert.ok(!after.includes(anon[0]!), after.join(' '));
    assert.ok(after.includes('life_data'));
    // With nothing stopped there is nothing to confirm.
    assert.equal(expectCode(await compose(['rm']), 0).stdout, 'No stopped containers\n');
    assert.deepEqual(await states(), ['life-web-1=running']);
  });

  test('rm without -f and without a TTY asks on stdout and reads the answer from stdin, as Compose', async () => {
    expectCode(await compose(['up', '-d', 'db']), 0);
    expectCode(await compose(['stop', '-t', '1', 'db']), 0);
    const rmWith = (input: string | undefined) => d.run(['rm', 'db'], { cwd: dir, input });
    // No answer (an empty stdin), a no or anything else: the question, and nothing removed.
    for (const input of [undefined, '', 'n\n', 'no\n', 'maybe\n', '\n']) {
      const r = expectCode(await rmWith(input), 0);
      assert.equal(r.stdout, 'Going to remove life-db-1\n', JSON.stringify(input));
      assert.doesNotMatch(r.stderr, /Removed/);
      assert.deepEqual(await states(), ['life-db-1=exited', 'life-web-1=running'], JSON.stringify(input));
    }
    const yes = expectCode(await rmWith('Y\n'), 0);
    assert.equal(yes.stdout, 'Going to remove life-db-1\n');
    assert.match(yes.stderr, /✔ Container life-db-1 {2}Removed/);
    assert.deepEqual(await states(), ['life-web-1=running']);
    // The other yeses Compose takes, without a final newline too; -f tells and never asks.
    for (const input of ['yes', 'TRUE\n', '1\n']) {
      expectCode(await compose(['up', '-d', 'db']), 0);
      expectCode(await compose(['stop', '-t', '1', 'db']), 0);
      expectCode(await rmWith(input), 0);
      assert.deepEqual(await states(), ['life-web-1=running'], input);
    }
    expectCode(await compose(['up', '-d', 'db']), 0);
    expectCode(await compose(['stop', '-t', '1', 'db']), 0);
    const forced = expectCode(await d.run(['rm', '-f', 'db'], { cwd: dir, input: 'n\n' }), 0);
    assert.equal(forced.stdout, 'Going to remove life-db-1\n');
    assert.deepEqual(await states(), ['life-web-1=running']);
  });

  test('wait exits with the container’s code', async () => {
    expectCode(await compose(['--profile', 'jobs', 'up', '-d', 'job']), 0);
    const r = await compose(['--profile', 'jobs', 'wait', 'job']);
    assert.equal(r.code, 3, r.stderr);
    expectCode(await compose(['--profile', 'jobs', 'rm', '-f', 'job']), 0);
  });

  test('scale and up --scale', async () => {
    expectCode(await compose(['up', '-d']), 0);
    const r = expectCode(await compose(['scale', 'web=3']), 0);
    assert.match(r.stderr, /✔ Container life-web-3 {2}Started/);
    assert.equal((await ok(['ps', '-q', 'web'])).trim().split('\n').length, 3);
    assert.deepEqual(lines(await ok(['ps', '--format', 'json', 'web'])).map((l) => (JSON.parse(l) as { Name: string }).Name).sort(), [
      'life-web-1',
      'life-web-2',
      'life-web-3',
    ]);
    const down = expectCode(await compose(['up', '-d', '-t', '1', '--scale', 'web=1']), 0);
    assert.match(down.stderr, /✔ Container life-web-3 {2}Removed/);
    assert.match(down.stderr, /✔ Container life-web-2 {2}Removed/);
    assert.deepEqual(await states(), ['life-db-1=running', 'life-web-1=running']);
    expectCode(await compose(['scale', 'nosuch=2']), 1);
  });

  test('up --force-recreate recreates the services named, not their unchanged dependencies', async () => {
    const web = await idOf('web');
    const db = await idOf('db');
    const r = expectCode(await compose(['up', '-d', '-t', '1', '--force-recreate', 'web']), 0);
    assert.match(r.stderr, /✔ Container life-web-1 {2}Recreated/);
    assert.match(r.stderr, /✔ Container life-db-1 {2}Running/);
    assert.notEqual(await idOf('web'), web);
    assert.equal(await idOf('db'), db);
    // --always-recreate-deps: the dependency too, though unchanged.
    const withDeps = expectCode(await compose(['up', '-d', '-t', '1', '--always-recreate-deps', 'web']), 0);
    assert.match(withDeps.stderr, /✔ Container life-db-1 {2}Recreated/);
    assert.notEqual(await idOf('db'), db);
    expectCode(await compose(['up', '-d', '--always-recreate-deps', '--no-recreate']), 1);
    // Without services, every one is recreated; db's anonymous volume goes with it to the new container.
    await ok(['exec', '-T', 'db', 'sh', '-c', 'echo kept > /scratch/f']);
    const volumesBefore = await volumes();
    const dbNow = await idOf('db');
    expectCode(await compose(['up', '-d', '-t', '1', '--force-recreate']), 0);
    assert.notEqual(await idOf('db'), dbNow);
    assert.equal((await ok(['exec', '-T', 'db', 'cat', '/scratch/f'])).trim(), 'kept');
    assert.deepEqual(await volumes(), volumesBefore);
    // -V: the recreated container starts on a new anonymous volume; the old one goes with its container.
    const renewed = expectCode(await compose(['up', '-d', '-t', '1', '--force-recreate', '-V', 'db']), 0);
    assert.match(renewed.stderr, /✔ Container life-db-1 {2}Recreated/);
    assert.equal((await compose(['exec', '-T', 'db', 'cat', '/scratch/f'])).code, 1);
    const volumesAfter = await volumes();
    assert.equal(volumesAfter.length, volumesBefore.length);
    assert.notDeepEqual(volumesAfter, volumesBefore);
    expectCode(await compose(['up', '-d', '--force-recreate', '--no-recreate']), 1);
  });

  test('up --no-recreate keeps a changed service; a plain up recreates it', async () => {
    const web = await idOf('web');
    await fsp.writeFile(path.join(dir, 'compose.yaml'), COMPOSE.replace('echo web-up', 'echo web-v2'));
    const kept = expectCode(await compose(['up', '-d', '--no-recreate']), 0);
    assert.doesNotMatch(kept.stderr, /Recreate/);
    assert.equal(await idOf('web'), web);
    const changed = expectCode(await compose(['up', '-d', '-t', '1']), 0);
    assert.match(changed.stderr, /✔ Container life-web-1 {2}Recreated/);
    assert.notEqual(await idOf('web'), web);
    assert.match(await ok(['logs', 'web']), /^web-1 {2}\| web-v2$/m);
  });

  test('up --no-deps leaves the dependencies out; --no-start creates only', async () => {
    expectCode(await compose(['down', '-t', '1']), 0);
    expectCode(await compose(['up', '-d', '--no-deps', 'web']), 0);
    assert.deepEqual(await states(), ['life-web-1=running']);
    expectCode(await compose(['down', '-t', '1']), 0);
    const r = expectCode(await compose(['up', '--no-start']), 0);
    assert.doesNotMatch(r.stderr, /Start/);
    assert.deepEqual(await states(), ['life-db-1=created', 'life-web-1=created']);
    expectCode(await compose(['up', '-d']), 0);
    assert.deepEqual(await states(), ['life-db-1=running', 'life-web-1=running']);
  });

  test('orphans are warned about, and removed with --remove-orphans', async () => {
    // The same project without db, from another file, named with -p.
    await fsp.writeFile(path.join(dir, 'web-only.yaml'), `services:\n  web:\n    image: busybox:latest\n    command: ["sh", "-c", "trap 'exit 0' TERM; echo web-up; while :; do sleep 0.2; done"]\n`);
    const warned = expectCode(await compose(['-f', 'web-only.yaml', '-p', 'life', 'up', '-d', '-t', '1']), 0);
    assert.match(
      warned.stderr,
      /WARN\[0000\] Found orphan containers \(\[life-db-1\]\) for this project\. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up\./,
    );
    assert.deepEqual(await states(), ['life-db-1=running', 'life-web-1=running']);
    // ps shows the orphan unless --orphans=false.
    const psNames = async (...args: string[]) => lines((await ok(['-f', 'web-only.yaml', '-p', 'life', 'ps', '--format', '{{.Name}}', ...args])).trim()).sort();
    assert.deepEqual(await psNames(), ['life-db-1', 'life-web-1']);
    assert.deepEqual(await psNames('--orphans=false'), ['life-web-1']);
    assert.deepEqual(await psNames('--orphans=true'), ['life-db-1', 'life-web-1']);
    // The flag never takes the next word: it is no value, but a service.
    assert.deepEqual(await psNames('--orphans', 'web'), ['life-web-1']);
    // Other verbs act on the files' services and leave the orphan alone; kill --remove-orphans
    // kills it too (Compose's meaning of that flag for kill).
    expectCode(await compose(['-f', 'web-only.yaml', '-p', 'life', 'stop', '-t', '1']), 0);
    assert.deepEqual(await states(), ['life-db-1=running', 'life-web-1=exited']);
    expectCode(await compose(['-f', 'web-only.yaml', '-p', 'life', 'start']), 0);
    expectCode(await compose(['-f', 'web-only.yaml', '-p', 'life', 'kill']), 0);
    assert.deepEqual(await states(), ['life-db-1=running', 'life-web-1=exited']);
    expectCode(await compose(['-f', 'web-only.yaml', '-p', 'life', 'kill', '--remove-orphans']), 0);
    assert.deepEqual(await states(), ['life-db-1=exited', 'life-web-1=exited']);
    const removed = expectCode(await compose(['-f', 'web-only.yaml', '-p', 'life', 'up', '-d', '--remove-orphans']), 0);
    assert.match(removed.stderr, /✔ Container life-db-1 {2}Removed/);
    assert.doesNotMatch(removed.stderr, /orphan/);
    assert.deepEqual(await states(), ['life-web-1=running']);
    // A profile's service is no orphan when that profile is off.
    expectCode(await compose(['up', '-d']), 0);
    expectCode(await compose(['--profile', 'jobs', 'up', '-d', 'job']), 0);
    assert.doesNotMatch(expectCode(await compose(['up', '-d']), 0).stderr, /orphan/);
    // The job (`sleep 0.5; exit 3`) has ended before the next test counts running containers.
    expectCode(await compose(['--profile', 'jobs', 'wait', 'job']), 3);
  });

  test('two projects of one file live side by side', async () => {
    expectCode(await compose(['-p', 'twin', 'up', '-d']), 0);
    assert.match(await ok(['ls']), /^life\s+running\(2\)\s/m);
    assert.match(await ok(['ls', '-a']), /^life\s+exited\(1\), running\(2\)\s/m);
    assert.match(await ok(['ls']), /^twin\s+running\(2\)\s/m);
    assert.deepEqual(lines(await ok(['-p', 'twin', 'ps', '--services'])), ['db', 'web']);
    assert.ok(await d.ok(['volume', 'inspect', 'twin_data']));
    expectCode(await compose(['-p', 'twin', 'down', '-v', '-t', '1']), 0);
    assert.doesNotMatch(await ok(['ls', '-a']), /^twin\s/m);
    assert.equal((await d.run(['volume', 'inspect', 'twin_data'])).code, 1);
    assert.deepEqual(await states(), ['life-db-1=running', 'life-job-1=exited', 'life-web-1=running']);
  });

  test('down -v --remove-orphans --rmi all leaves nothing of the project', async () => {
    // `down` without -v left earlier anonymous volumes behind, as Compose's does: clear them.
    await d.ok(['volume', 'prune', '-f']);
    // The project's own image (--rmi all removes it) and an orphan: job, gone from the file.
    await d.ok(['image', 'tag', 'busybox:latest', 'life-tool:1']);
    const withoutJob = COMPOSE.replace(/ {2}job:[^]*?profiles: \[jobs\]\n/, '').replaceAll('image: busybox:latest', 'image: life-tool:1');
    await fsp.writeFile(path.join(dir, 'compose.yaml'), withoutJob);
    expectCode(await compose(['up', '-d', '-t', '1']), 0);
    const r = expectCode(await compose(['down', '-v', '--remove-orphans', '--rmi', 'all', '-t', '1']), 0);
    assert.match(r.stderr, /✔ Container life-job-1 {2}Removed/);
    assert.match(r.stderr, /✔ Network life_default {2}Removed/);
    assert.match(r.stderr, /✔ Volume life_data {2}Removed/);
    assert.match(r.stderr, /✔ Image life-tool:1 {2}Removed/);
    assert.equal((await ok(['ps', '-a', '-q'])).trim(), '');
    assert.doesNotMatch(await d.ok(['network', 'ls']), /life_default/);
    assert.deepEqual(await volumes(), []);
    assert.doesNotMatch(await d.ok(['image', 'ls']), /life-tool/);
    assert.match(await d.ok(['image', 'ls']), /busybox/);
    assert.doesNotMatch(await ok(['ls', '-a']), /^life\s/m);
    expectCode(await compose(['down', '--rmi', 'some']), 1);
  });

  test('global flags apply to every verb: -p without files, --project-directory, -f -, --env-file', async () => {
    const other = await projectDir(d, 'elsewhere', { 'compose.yaml': 'services:\n  one:\n    image: busybox:latest\n    command: ["sleep", "600"]\n    stop_signal: SIGKILL\n' });
    const content = await fsp.readFile(path.join(other, 'compose.yaml'), 'utf8');
    // From stdin with -p: no file on disk is read.
    expectCode(await d.run(['-f', '-', '-p', 'piped', 'up', '-d'], { input: content }), 0);
    assert.deepEqual(lines(await d.ok(['-p', 'piped', 'ps', '--services'])), ['one']);
    assert.match(await d.ok(['-p', 'piped', 'top']), /sleep 600/);
    expectCode(await d.run(['-p', 'piped', 'stop']), 0);
    assert.match(await d.ok(['-p', 'piped', 'ps', '-a']), /piped-one-1 .*Exited/);
    expectCode(await d.run(['-p', 'piped', 'down']), 0);
    // --project-directory names the project after it and finds its compose.yaml.
    expectCode(await d.run(['--project-directory', other, 'up', '-d']), 0);
    assert.deepEqual(lines(await d.ok(['--project-directory', other, 'ps', '--format', 'json'])).map((l) => (JSON.parse(l) as { Name: string }).Name), ['elsewhere-one-1']);
    expectCode(await d.run(['--project-directory', other, 'restart', 'one']), 0);
    expectCode(await d.run(['--project-directory', other, 'down']), 0);
    // --env-file feeds interpolation, the project's name included, for every verb.
    const envDir = await projectDir(d, 'envfile', {
      'compose.yaml': 'name: ${PNAME:-unset}\nservices:\n  s:\n    image: busybox:latest\n    command: ["sh", "-c", "echo val=${VAL}; exec sleep 600"]\n    stop_signal: SIGKILL\n',
      'alt.env': 'PNAME=fromenv\nVAL=one\n',
    });
    const withEnv = (args: string[]) => d.run(['--env-file', 'alt.env', ...args], { cwd: envDir });
    expectCode(await withEnv(['up', '-d']), 0);
    assert.match(expectCode(await withEnv(['logs']), 0).stdout, /^s-1 {2}\| val=one$/m);
    assert.equal(expectCode(await withEnv(['exec', '-T', 's', 'echo', 'in-fromenv']), 0).stdout, 'in-fromenv\n');
    assert.match(expectCode(await withEnv(['ps']), 0).stdout, /^fromenv-s-1\s/m);
    expectCode(await withEnv(['down']), 0);
    assert.equal((await d.ok(['container', 'ls', '-aq'])).trim(), '');
  });

  test('a project name the user gives is refused unless normal, as compose-go; derived names are normalised', async () => {
    const refusal = (name: string) =>
      `Error: invalid project name "${name}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`;
    const byFlag = expectCode(await compose(['-p', 'ABC', 'up', '-d']), 1);
    assert.equal(byFlag.stderr.trim(), refusal('ABC'));
    const byEnv = expectCode(await d.run(['ps'], { cwd: dir, env: { COMPOSE_PROJECT_NAME: 'Bad' } }), 1);
    assert.equal(byEnv.stderr.trim(), refusal('Bad'));
    // Without files -p names the project alone: the same rule.
    assert.equal(expectCode(await d.run(['-p', 'Life', 'down']), 1).stderr.trim(), refusal('Life'));
    // A top-level name and a directory's name are the project's own: normalised silently.
    const upper = await projectDir(d, 'Upper.Dir', { 'compose.yaml': 'services:\n  one:\n    image: busybox:latest\n' });
    assert.match(await d.ok(['config'], { cwd: upper }), /^name: upperdir$/m);
    await fsp.writeFile(path.join(upper, 'compose.yaml'), 'name: My_App\nservices:\n  one:\n    image: busybox:latest\n');
    assert.match(await d.ok(['config'], { cwd: upper }), /^name: my_app$/m);
    assert.doesNotMatch(await ok(['ls', '-a']), /^abc\s/m);
  });
});
