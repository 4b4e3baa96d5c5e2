/**
 * Compose volumes through the CLI against a real daemon: named volumes (kept by `down`, removed
 * by `down -v`), `external` volumes (must exist, always kept), `name:` and the local driver's
 * `driver_opts` (tmpfs, bind), bind mounts (created when missing by the short syntax, refused
 * with `create_host_path: false`, read-only), `tmpfs`, `volumes_from` and a read-only root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { TestDaemon } from '../helpers/daemon';
import { ComposeProject, inspectContainer, startBusyboxDaemon } from '../helpers/compose';

let d: TestDaemon;
let p: ComposeProject;
let hostDir: string;

const compose = (host: string) => `
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    read_only: true
    volumes:
      - data:/data
      - named:/named
      - ext:/ext
      - mem:/mem
      - bound:/bound
      - ${host}/ro:/ro:ro
      - ${host}/created/by/up:/created
      - type: bind
        source: ${host}/long
        target: /long
        read_only: true
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 1048576
    tmpfs:
      - /run:size=2m
      - /cache:mode=1770
      - /tmp
  reader:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    volumes_from:
      - app:ro
  seeded:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    volumes:
      - seed:/etc
      - type: volume
        source: bare
        target: /home
        volume:
          nocopy: true
volumes:
  data: {}
  seed: {}
  bare: {}
  named:
    name: volsem-custom-name
    labels:
      team: storage
  ext:
    external: true
    name: volsem-outside
  mem:
    driver: local
    driver_opts:
      type: tmpfs
      device: tmpfs
      o: size=4m
  bound:
    driver_opts:
      type: none
      o: bind
      device: ${host}/volume-dir
`;

before(async () => {
  d = await startBusyboxDaemon();
  hostDir = path.join(d.dir, 'host');
  await fsp.mkdir(path.join(hostDir, 'ro'), { recursive: true });
  await fsp.mkdir(path.join(hostDir, 'long'), { recursive: true });
  await fsp.mkdir(path.join(hostDir, 'volume-dir'), { recursive: true });
  await fsp.writeFile(path.join(hostDir, 'ro', 'hello.txt'), 'from the host\n');
  await fsp.writeFile(path.join(hostDir, 'volume-dir', 'seed.txt'), 'bound volume\n');
  p = await ComposeProject.create(d, 'volsem', compose(hostDir));
});
after(async () => {
  if (d) {
    await p?.down('-v');
    await d.run(['volume', 'rm', 'volsem-outside']);
    await d.destroy();
  }
});

describe('compose volumes', () => {
  test('an external volume must exist', async () => {
    const r = await p.run(['up', '-d']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /volume "?volsem-outside"? .*not found|external volume "volsem-outside" not found/);
    // Refused before anything was made.
    assert.equal((await d.ok(['volume', 'ls', '-q'])).trim(), '');
    assert.doesNotMatch(await d.ok(['network', 'ls']), /volsem_default/);
    await d.ok(['volume', 'create', 'volsem-outside']);
    const up = await p.run(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /✔ Volume "volsem_data" {2}Created/);
    assert.match(up.stderr, /✔ Network volsem_default {2}Created/);
    assert.match(up.stderr, /✔ Volume "volsem-custom-name" {2}Created/);
  });

  test('named volumes carry the project’s labels and their name:', async () => {
    const [custom] = JSON.parse(await d.ok(['volume', 'inspect', 'volsem-custom-name'])) as Array<{ Labels: Record<string, string> }>;
    assert.equal(custom?.Labels['com.docker.compose.project'], 'volsem');
    assert.equal(custom?.Labels['com.docker.compose.volume'], 'named');
    assert.equal(custom?.Labels.team, 'storage');
    const app = await inspectContainer(d, 'volsem-app-1');
    const byTarget = Object.fromEntries(app.Mounts.map((m) => [m.Destination, m]));
    assert.equal(byTarget['/data']?.Name, 'volsem_data');
    assert.equal(byTarget['/named']?.Name, 'volsem-custom-name');
    assert.equal(byTarget['/ext']?.Name, 'volsem-outside');
    assert.equal(byTarget['/ro']?.Type, 'bind');
    assert.equal(byTarget['/ro']?.RW, false);
  });

  test('the root filesystem is read-only; volumes and tmpfs are writable', async () => {
    const r = await p.run(['exec', '-T', 'app', 'touch', '/etc/nope']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /Read-only file system/);
    const dirs = ['/data', '/named', '/ext', '/mem', '/bound', '/created', '/scratch', '/run', '/tmp', '/cache'];
    const out = await p.sh('app', `for d in ${dirs.join(' ')}; do echo x > $d/w && echo "$d $(cat $d/w)"; done`);
    assert.deepEqual(out.split('\n'), dirs.map((dir) => `${dir} x`));
  });

  test('read-only binds refuse writes and show the host’s files', async () => {
    assert.equal(await p.exec('app', 'cat', '/ro/hello.txt'), 'from the host');
    for (const dir of ['/ro', '/long']) {
      const r = await p.run(['exec', '-T', 'app', 'touch', `${dir}/x`]);
      assert.notEqual(r.code, 0, dir);
    }
  });

  test('a missing bind source is created by the short syntax', async () => {
    assert.ok(existsSync(path.join(hostDir, 'created', 'by', 'up', 'w')));
  });

  test('tmpfs mounts have their size and mode', async () => {
    const mounts = await p.exec('app', 'cat', '/proc/mounts');
    assert.match(mounts, /^\S+ \/scratch tmpfs rw,.*size=1024k/m);
    assert.match(mounts, /^\S+ \/run tmpfs rw,.*size=2048k/m);
    assert.match(mounts, /^\S+ \/cache tmpfs rw,.*mode=1770/m);
    assert.match(mounts, /^\S+ \/tmp tmpfs rw/m);
    assert.equal(await p.sh('app', 'stat -c %a /cache'), '1770');
  });

  test('driver_opts mount a tmpfs volume and bind a host directory', async () => {
    const mounts = await p.exec('app', 'cat', '/proc/mounts');
    assert.match(mounts, /^\S+ \/mem tmpfs rw,.*size=4096k/m);
    assert.equal(await p.exec('app', 'cat', '/bound/seed.txt'), 'bound volume');
    // The written file shows up in the host directory the volume binds.
    assert.equal((await fsp.readFile(path.join(hostDir, 'volume-dir', 'w'), 'utf8')).trim(), 'x');
  });

  test('an empty named volume is filled from the image, unless nocopy', async () => {
    const seed = (await d.ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'volsem_seed'])).trim();
    assert.match(await fsp.readFile(path.join(seed, 'passwd'), 'utf8'), /^root:/);
    const bare = (await d.ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'volsem_bare'])).trim();
    assert.deepEqual(await fsp.readdir(bare), []);
    assert.equal(await p.exec('seeded', 'ls', '/home'), '');
  });

  test('volumes_from shares the volumes, read-only when asked', async () => {
    assert.equal(await p.exec('reader', 'cat', '/data/w'), 'x');
    assert.equal(await p.exec('reader', 'cat', '/ro/hello.txt'), 'from the host');
    const r = await p.run(['exec', '-T', 'reader', 'touch', '/data/other']);
    assert.notEqual(r.code, 0);
    const reader = await inspectContainer(d, 'volsem-reader-1');
    const data = reader.Mounts.find((m) => m.Destination === '/data');
    assert.equal(data?.Name, 'volsem_data');
    assert.equal(data?.RW, false);
  });

  test('create_host_path: false refuses a missing bind source, naming it', async () => {
    const q = await ComposeProject.create(
      d,
      'volstrict',
      `
services:
  strict:
    image: busybox:latest
    command: ["sleep", "3600"]
    volumes:
      - type: bind
        source: ${hostDir}/absent
        target: /absent
        bind:
          create_host_path: false
`,
    );
    try {
      const r = await q.run(['up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /bind source path does not exist: .*\/absent/);
      assert.equal(r.stderr.includes('    at '), false, r.stderr);
      assert.ok(!existsSync(path.join(hostDir, 'absent')));
      await q.write(`services:\n  strict:\n    image: busybox:latest\n    volumes:\n      - type: bind\n        source: ${hostDir}/absent-too\n        target: /absent-too\n`);
      const long = await q.run(['up', '-d']);
      assert.notEqual(long.code, 0);
      assert.match(long.stderr, /bind source path does not exist: .*\/absent-too/);
      assert.ok(!existsSync(path.join(hostDir, 'absent-too')));
    } finally {
      await q.down();
    }
  });

  test('down keeps named volumes; the data is there on the next up', async () => {
    const r = await p.run(['down', '-t', '1']);
    assert.equal(r.code, 0, r.stderr);
    const vols = (await d.ok(['volume', 'ls', '-q'])).trim().split('\n');
    for (const v of ['volsem_data', 'volsem-custom-name', 'volsem-outside', 'volsem_bound', 'volsem_mem']) assert.ok(vols.includes(v), `${v} in ${vols.join(',')}`);
    const up = await p.run(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await p.exec('app', 'cat', '/data/w'), 'x');
    assert.equal(await p.exec('app', 'cat', '/named/w'), 'x');
    // tmpfs and the tmpfs volume start empty again.
    assert.equal(await p.sh('app', 'ls -A /scratch; ls -A /mem'), '');
  });

  test('down -v removes the project’s volumes but not the external one', async () => {
    const r = await p.run(['down', '-v', '-t', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✔ Volume volsem_data {2}Removed/);
    const vols = (await d.ok(['volume', 'ls', '-q'])).trim().split('\n');
    assert.ok(vols.includes('volsem-outside'));
    for (const v of ['volsem_data', 'volsem-custom-name', 'volsem_bound', 'volsem_mem', 'volsem_seed', 'volsem_bare']) assert.ok(!vols.includes(v), `${v} left behind`);
    // A bind-backed volume's removal leaves the host directory and its files.
    assert.ok(existsSync(path.join(hostDir, 'volume-dir', 'seed.txt')));
  });
});
