/**
 * Images without the network, through the CLI against a real daemon: import, tag, ls, inspect,
 * history, rmi (Docker's untag/delete/conflict rules), prune, save/load, events, info, df.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';

let d: TestDaemon;
let tarball: string;
let gzTarball: string;

before(async () => {
  d = await startTestDaemon();
  tarball = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  gzTarball = path.join(d.dir, 'busybox.tar.gz');
  await fsp.writeFile(gzTarball, gzipSync(await fsp.readFile(tarball)));
});
after(async () => {
  await d?.destroy();
});

describe('image import', () => {
  test('a rootfs tarball becomes a tagged image with --change applied', async () => {
    const id = (
      await d.ok([
        'image', 'import',
        '-c', 'CMD ["sh", "-c", "echo hi"]',
        '-c', 'ENV A=1 B="two words"',
        '-c', 'ENTRYPOINT ["/bin/env"]',
        '-c', 'WORKDIR /srv',
        '-c', 'EXPOSE 8080',
        '-c', 'USER 1000',
        '-c', 'LABEL org.example=yes',
        '-m', 'first import',
        tarball, 'bb:1',
      ])
    ).trim();
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    const inspect = JSON.parse(await d.ok(['image', 'inspect', 'bb:1']))[0];
    assert.equal(inspect.Id, id);
    assert.deepEqual(inspect.RepoTags, ['bb:1']);
    assert.deepEqual(inspect.Config.Cmd, ['sh', '-c', 'echo hi']);
    assert.deepEqual(inspect.Config.Entrypoint, ['/bin/env']);
    assert.deepEqual(inspect.Config.Env, ['A=1', 'B=two words']);
    assert.equal(inspect.Config.WorkingDir, '/srv');
    assert.equal(inspect.Config.User, '1000');
    assert.deepEqual(inspect.Config.ExposedPorts, { '8080/tcp': {} });
    assert.deepEqual(inspect.Config.Labels, { 'org.example': 'yes' });
    assert.equal(inspect.Comment, 'first import');
    assert.equal(inspect.RootFS.Layers.length, 1);
    assert.ok(inspect.Size > 1_000_000);
  });

  test('gzip from stdin, same content gives the same layer', async () => {
    const data = await fsp.readFile(gzTarball);
    const id = (await d.ok(['import', '-', 'bbgz:latest'], { input: data })).trim();
    const a = JSON.parse(await d.ok(['image', 'inspect', 'bbgz']))[0];
    const b = JSON.parse(await d.ok(['image', 'inspect', 'bb:1']))[0];
    assert.equal(a.Id, id);
    assert.deepEqual(a.RootFS.Layers, b.RootFS.Layers, 'gzip and plain tar of one tree unpack to the same diffID');
  });

  test('bad input: missing file, empty stdin, not a tarball, bad change', async () => {
    let r = await d.run(['image', 'import', '/nonexistent.tar']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /nonexistent\.tar/);
    r = await d.run(['image', 'import', '-'], { input: '' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /empty/);
    r = await d.run(['image', 'import', '-', 'junk:1'], { input: 'this is not a tar archive at all'.repeat(40) });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    r = await d.run(['image', 'import', '-c', 'RUN echo', tarball]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /run is not a valid change command/);
    const ls = await d.ok(['image', 'ls', '--format', '{{.Repository}}']);
    assert.doesNotMatch(ls, /junk/);
  });
});

describe('image ls', () => {
  test('table, quiet, no-trunc, json, filters and repository argument', async () => {
    const table = await d.ok(['image', 'ls']);
    assert.match(table.split('\n')[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(table, /^bb\s+1\s+[a-f0-9]{12}\s+.+ago\s+\d/m);
    const quiet = (await d.ok(['image', 'ls', '-q'])).trim().split('\n');
    assert.ok(quiet.every((l) => /^[a-f0-9]{12}$/.test(l)), quiet.join(','));
    const full = await d.ok(['image', 'ls', '--no-trunc', '-q']);
    assert.match(full, /^sha256:[a-f0-9]{64}$/m);
    const json = (await d.ok(['image', 'ls', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l));
    const bb = json.find((j) => j.Repository === 'bb');
    assert.ok(bb);
    assert.equal(bb.Tag, '1');
    assert.ok('SharedSize' in bb && 'UniqueSize' in bb);
    const byRef = await d.ok(['image', 'ls', '--filter', 'reference=bb*', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.deepEqual(byRef.trim().split('\n').sort(), ['bb:1', 'bbgz:latest']);
    const byArg = await d.ok(['image', 'ls', 'bbgz', '--format', '{{.Repository}}']);
    assert.equal(byArg.trim(), 'bbgz');
    const dangling = await d.ok(['image', 'ls', '--filter', 'dangling=true', '-q']);
    assert.equal(dangling.trim(), '');
  });

  test('200 images list quickly enough to be useful and shared sizes add up', async () => {
    await d.ok(['tag', 'bb:1', 'shared:a']);
    const json = (await d.ok(['image', 'ls', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l));
    const bb = json.find((j) => j.Repository === 'bb');
    assert.notEqual(bb.SharedSize, '0B', 'bb and bbgz share their one layer');
  });
});

describe('tag and rmi', () => {
  test('untag versus delete, by name, ID and prefix', async () => {
    const id = (await d.ok(['image', 'import', tarball, 'rm-me:1'])).trim();
    await d.ok(['tag', 'rm-me:1', 'rm-me:2']);
    let out = await d.ok(['rmi', 'rm-me:1']);
    assert.equal(out.trim(), 'Untagged: rm-me:1');
    // sha256:<prefix> is an ID prefix too.
    assert.equal((await d.ok(['image', 'inspect', '-f', '{{.Id}}', id.slice(0, 13)])).trim(), id);
    out = await d.ok(['image', 'rm', id.slice(7, 17)]);
    assert.match(out, /Untagged: rm-me:2/);
    assert.match(out, new RegExp(`Deleted: ${id}`));
    const r = await d.run(['rmi', 'rm-me:2']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error response from daemon: No such image: rm-me:2');
    // ps shows the name a container was made from while it names that image, then the image's ID.
    await d.ok(['tag', 'bb:1', 'ps-name:1']);
    const ctr = (await d.ok(['container', 'create', 'ps-name:1', 'true'])).trim();
    const shown = async () => (await d.ok(['container', 'ls', '-a', '--filter', `id=${ctr}`, '--format', '{{.Image}}'])).trim();
    assert.equal(await shown(), 'ps-name:1');
    await d.ok(['rmi', 'ps-name:1']);
    const busyboxId = (await d.ok(['image', 'inspect', '-f', '{{.Id}}', 'bb:1'])).trim();
    assert.equal(await shown(), busyboxId.slice(7, 19));
    await d.ok(['container', 'rm', ctr]);
    // The only name of an image a running container uses: refused, then with -f untagged, the image kept.
    const inUseId = (await d.ok(['image', 'import', '-c', 'LABEL only=in-use', tarball, 'in-use:1'])).trim();
    const runner = (await d.ok(['container', 'run', '-d', 'in-use:1', 'sleep', '600'])).trim();
    const refused = await d.run(['rmi', 'in-use:1']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /conflict: unable to remove repository reference "in-use:1" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}/);
    assert.equal((await d.ok(['rmi', '-f', 'in-use:1'])).trim(), 'Untagged: in-use:1');
    assert.equal((await d.ok(['image', 'inspect', '-f', '{{.Id}}', inUseId])).trim(), inUseId);
    await d.ok(['container', 'rm', '-f', runner]);
    await d.ok(['rmi', inUseId]);
    // A name without a tag is repeated with the one it implies, as Docker's daemon does.
    const untagged = await d.run(['rmi', 'rm-me']);
    assert.equal(untagged.stderr.trim(), 'Error response from daemon: No such image: rm-me:latest');
  });

  test('an ID referenced by several repositories needs -f', async () => {
    const id = (await d.ok(['image', 'import', tarball, 'multi-a:1'])).trim();
    await d.ok(['tag', 'multi-a:1', 'multi-b:1']);
    const r = await d.run(['rmi', id.slice(7, 19)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /conflict: unable to delete [a-f0-9]{12} \(must be forced\) - image is referenced in multiple repositories/);
    const out = await d.ok(['rmi', '-f', id.slice(7, 19)]);
    assert.match(out, /Untagged: multi-a:1/);
    assert.match(out, /Untagged: multi-b:1/);
    assert.match(out, /Deleted: sha256:/);
  });

  test('racing removals of one image: one wins, the other gets a clean error', async () => {
    await d.ok(['image', 'import', tarball, 'race:1']);
    const [a, b] = await Promise.all([d.run(['rmi', 'race:1']), d.run(['rmi', 'race:1'])]);
    assert.deepEqual([a.code, b.code].sort(), [0, 1]);
    const loser = a.code === 1 ? a : b;
    assert.match(loser.stderr, /No such image: race:1/);
  });
});

describe('history, prune, df, info, version, events', () => {
  test('history shows the import', async () => {
    const out = await d.ok(['history', 'bb:1']);
    assert.match(out.split('\n')[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(out, /first import/);
  });

  test('prune removes dangling images and, with -a, unused ones; filters apply', async () => {
    const id = (await d.ok(['image', 'import', tarball, 'dangle:1'])).trim();
    await d.ok(['image', 'import', '-c', 'LABEL keep=yes', tarball, 'dangle:1']); // the first becomes dangling
    const dangling = await d.ok(['image', 'ls', '-f', 'dangling=true', '--no-trunc', '-q']);
    assert.ok(dangling.includes(id));
    const out = await d.ok(['image', 'prune', '-f']);
    assert.match(out, new RegExp(`deleted: ${id}`));
    assert.match(out, /Total reclaimed space:/);
    const pruneLabel = await d.ok(['image', 'prune', '-a', '-f', '--filter', 'label=keep=yes']);
    assert.match(pruneLabel, /untagged: dangle:1/);
    assert.equal((await d.ok(['image', 'ls', 'dangle', '-q'])).trim(), '');
    const until = await d.ok(['image', 'prune', '-a', '-f', '--filter', 'until=48h']);
    assert.doesNotMatch(until, /untagged/, 'nothing is older than 48h');
  });

  test('system df, info and version', async () => {
    const df = await d.ok(['system', 'df']);
    assert.match(df, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE/);
    assert.match(df, /^Images\s+\d+/m);
    const dfv = await d.ok(['system', 'df', '-v']);
    assert.match(dfv, /SHARED SIZE\s+UNIQUE SIZE/);
    const info = JSON.parse(await d.ok(['info', '--format', '{{json .}}']));
    assert.equal(info.Driver, 'overlay2');
    assert.equal(info.DockerRootDir, d.dataRoot);
    assert.equal(info.IndexServerAddress, 'https://index.docker.io/v1/');
    // Every field of Docker 20.10's info, in its order, with the CLI's ClientInfo last.
    assert.deepEqual(Object.keys(info), [
      'ID', 'Containers', 'ContainersRunning', 'ContainersPaused', 'ContainersStopped', 'Images', 'Driver', 'DriverStatus', 'Plugins',
      'MemoryLimit', 'SwapLimit', 'KernelMemory', 'KernelMemoryTCP', 'CpuCfsPeriod', 'CpuCfsQuota', 'CPUShares', 'CPUSet', 'PidsLimit',
      'IPv4Forwarding', 'BridgeNfIptables', 'BridgeNfIp6tables', 'Debug', 'NFd', 'OomKillDisable', 'NGoroutines', 'SystemTime',
      'LoggingDriver', 'CgroupDriver', 'CgroupVersion', 'NEventsListener', 'KernelVersion', 'OperatingSystem', 'OSVersion', 'OSType',
      'Architecture', 'IndexServerAddress', 'RegistryConfig', 'NCPU', 'MemTotal', 'GenericResources', 'DockerRootDir', 'HttpProxy',
      'HttpsProxy', 'NoProxy', 'Name', 'Labels', 'ExperimentalBuild', 'ServerVersion', 'Runtimes', 'DefaultRuntime', 'Swarm',
      'LiveRestoreEnabled', 'Isolation', 'InitBinary', 'ContainerdCommit', 'RuncCommit', 'InitCommit', 'SecurityOptions', 'Warnings',
      'ClientInfo',
    ]);
    assert.match(info.RuncCommit.ID, /\S/);
    assert.ok(info.NFd > 0);
    assert.match(await d.ok(['info']), /^ Registry: https:\/\/index\.docker\.io\/v1\/$/m);
    const v = await d.ok(['version']);
    assert.match(v, /Client:[\s\S]*Server:/);
    // The helper programs' own versions, as Docker shows runc's and containerd's.
    assert.match(v, /^ runc:\n {2}Version: {10}\d+\.\d+\.\d+\S*\n {2}GitCommit: {8}\S+$/m);
    assert.match(v, /^ conmon:\n {2}Version: {10}\d+\.\d+\.\d+/m);
    const components = JSON.parse(await d.ok(['version', '--format', '{{json .Server.Components}}'])) as Array<{ Name: string }>;
    assert.deepEqual(components.map((c) => c.Name), ['Engine', 'runc', 'conmon']);
    assert.equal(await d.ok(['-v']), 'tscompose version 0.1.0\n');
  });

  test('events: history with --since/--until and filters, as JSON', async () => {
    const since = new Date().toISOString();
    await d.ok(['tag', 'bb:1', 'evt:1']);
    await d.ok(['rmi', 'evt:1']);
    const until = new Date(Date.now() + 10).toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const out = await d.ok(['system', 'events', '--since', since, '--until', until, '--filter', 'type=image', '--format', '{{json .}}']);
    const evs = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      evs.map((e) => `${e.Action} ${e.Actor.Attributes.name}`),
      ['tag evt:1', 'untag evt:1'],
    );
    // Docker's deprecated fields: status and id for an image, no from (a container's image).
    for (const e of evs) assert.deepEqual([e.status, e.id, 'from' in e], [e.Action, e.Actor.ID, false]);
    const onlyUntag = await d.ok(['system', 'events', '--since', since, '--until', until, '--filter', 'event=untag']);
    assert.match(onlyUntag, /image untag sha256:[a-f0-9]{64} \(name=evt:1\)/);
    assert.equal(onlyUntag.trim().split('\n').length, 1);
    // Templates see Docker's field names; times print as whole numbers without rounding noise.
    const fields = await d.ok(['system', 'events', '--since', since, '--until', until, '--filter', 'type=image', '--format', '{{.Status}} {{.Time}} {{.TimeNano}}']);
    const lines = fields.trim().split('\n');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      const [status, time, nano] = line.split(' ');
      assert.match(status!, /^(tag|untag)$/);
      assert.match(nano!, /^\d+000$/, `${nano} is whole microseconds`);
      assert.equal(nano!.slice(0, -9), time);
    }
    assert.match(onlyUntag, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}000Z image untag/);
  });

  test('events: live stream sees a tag made after it started', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/daemon');
    const child = spawn(process.execPath, [CLI, 'system', 'events', '--filter', 'event=tag', '--format', '{{.Actor.Attributes.name}}'], {
      env: { ...process.env, ...d.env },
    });
    let buf = '';
    child.stdout.on('data', (c: Buffer) => (buf += c.toString()));
    try {
      await new Promise((r) => setTimeout(r, 700));
      await d.ok(['tag', 'bb:1', 'live:1']);
      const deadline = Date.now() + 5000;
      while (!buf.includes('live:1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(buf, /live:1/);
    } finally {
      child.kill('SIGINT');
    }
  });
});
