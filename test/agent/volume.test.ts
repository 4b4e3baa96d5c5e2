/**
 * The volume service on the real filesystem: temp roots, real tmpfs and bind mounts (needs
 * root). Everything mounted under the temp directory is unmounted in `after`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { VolumeService, ANONYMOUS_LABEL, type VolumeDriver, type VolumeReference } from '../../agent/volume';
import { isMountPoint, mountFilesystem, mountPoints, unmountAllUnder } from '../../agent/volume/mounts';
import { TsError, isKind } from '../../common/errors';

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 ? 'needs root' : undefined;

let base = '';
let counter = 0;
before(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'tsc-volume-test-'));
});
after(async () => {
  if (!base) return;
  await unmountAllUnder(base);
  await fsp.rm(base, { recursive: true, force: true });
});

async function freshRoot(): Promise<string> {
  const root = path.join(base, `root-${++counter}`);
  await fsp.mkdir(root, { recursive: true });
  return root;
}

interface Emitted {
  type: string;
  action: string;
  actor: string;
  attributes: Record<string, string>;
}

async function newService(root?: string, extra: { drivers?: VolumeDriver[] } = {}) {
  const events: Emitted[] = [];
  const service = new VolumeService({
    root: root ?? (await freshRoot()),
    events: { emit: (type, action, actor, attributes = {}) => void events.push({ type, action, actor, attributes }) },
    ...extra,
  });
  await service.init();
  return { service, events };
}

/** Asserts `promise` rejects with a TsError of `kind` and exactly `message`. */
async function rejectsWith(promise: Promise<unknown>, kind: TsError['kind'], message: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof TsError, `not a TsError: ${String(err)}`);
    assert.equal(err.message, message);
    assert.equal(err.kind, kind);
    return true;
  });
}

async function fsType(p: string): Promise<string> {
  return (await run('stat', ['-f', '-c', '%T', p])).stdout.trim();
}

/** A driver that keeps nothing, to stand for a plugin in conflict tests. */
function fakeDriver(name: string, root: string): VolumeDriver {
  return {
    name,
    scope: 'local',
    validateOptions: () => undefined,
    create: async (n) => void (await fsp.mkdir(path.join(root, `${name}-${n}`), { recursive: true })),
    remove: async (n) => fsp.rm(path.join(root, `${name}-${n}`), { recursive: true, force: true }),
    path: (n) => path.join(root, `${name}-${n}`),
    needsMount: () => false,
    mount: async () => undefined,
    unmount: async () => undefined,
    isMounted: async () => false,
    listStored: async () => [],
  };
}

describe('volume create / inspect', { skip }, () => {
  test('a named volume has Docker\'s layout and inspect shape', async () => {
    const root = await freshRoot();
    const { service, events } = await newService(root);
    const v = await service.create({ name: 'data', labels: { tier: 'db' } });
    assert.deepEqual(Object.keys(v).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.equal(v.Name, 'data');
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.equal(v.Mountpoint, path.join(root, 'data', '_data'));
    assert.deepEqual(v.Labels, { tier: 'db' });
    assert.deepEqual(v.Options, {});
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    assert.ok((await fsp.stat(v.Mountpoint)).isDirectory());
    assert.deepEqual(await service.inspect('data'), v);
    const meta = JSON.parse(await fsp.readFile(path.join(root, 'metadata.json'), 'utf8'));
    assert.equal(meta.volumes.data.driver, 'local');
    assert.equal(meta.volumes.data.anonymous, false);
    assert.deepEqual(events, [{ type: 'volume', action: 'create', actor: 'data', attributes: { driver: 'local' } }]);
  });

  test('creating an existing name returns it unchanged', async () => {
    const { service } = await newService();
    const first = await service.create({ name: 'same', labels: { a: '1' } });
    const again = await service.create({ name: 'same', labels: { b: '2' }, driver: 'local' });
    assert.deepEqual(again, first);
  });

  test('anonymous volumes get a 64-hex name and Docker\'s anonymous label', async () => {
    const { service } = await newService();
    const v = await service.create();
    assert.match(v.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(v.Labels, { [ANONYMOUS_LABEL]: '' });
    assert.equal(service.get(v.Name).anonymous, true);
  });

  test('names and drivers are checked with Docker\'s messages', async () => {
    const { service } = await newService();
    await rejectsWith(
      service.create({ name: 'x' }),
      'InvalidArgument',
      'create x: volume name is too short, names should be at least two alphanumeric characters',
    );
    await rejectsWith(
      service.create({ name: 'x!' }),
      'InvalidArgument',
      'create x!: "x!" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    );
    await rejectsWith(
      service.create({ name: './dir' }),
      'InvalidArgument',
      'create ./dir: "./dir" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    );
    await rejectsWith(
      service.create({ name: 'v1', driver: 'nope' }),
      'NotFound',
      'create v1: error looking up volume plugin nope: plugin "nope" not found',
    );
    await rejectsWith(service.create({ name: 'v1', options: { foo: 'bar' } }), 'InvalidArgument', 'create v1: invalid option: "foo"');
    await rejectsWith(
      service.create({ name: 'v1', options: { device: 'tmpfs' } }),
      'InvalidArgument',
      'create v1: missing required option: "type"',
    );
    await rejectsWith(
      service.create({ name: 'v1', options: { type: 'ext4', device: '/dev/x', size: '10g' } }),
      'InvalidArgument',
      'create v1: quota size requested but no quota support',
    );
    assert.deepEqual(await service.list(), []);
  });

  test('the same name under another driver is a conflict', async () => {
    const root = await freshRoot();
    const { service } = await newService(root, { drivers: [fakeDriver('other', path.join(base, `fake-${counter}`))] });
    await service.create({ name: 'shared' });
    await rejectsWith(
      service.create({ name: 'shared', driver: 'other' }),
      'Conflict',
      "create shared: driver 'local' already has volume 'shared': volume name must be unique",
    );
    const other = await service.create({ name: 'plugged', driver: 'other' });
    assert.equal(other.Driver, 'other');
  });

  test('unknown names are NotFound with Docker\'s wording', async () => {
    const { service } = await newService();
    await rejectsWith(service.inspect('ghost'), 'NotFound', 'No such volume: ghost');
    await rejectsWith(service.remove('ghost'), 'NotFound', 'get ghost: no such volume');
    await service.remove('ghost', { force: true });
    await rejectsWith(service.acquire('ghost', 'c1'), 'NotFound', 'No such volume: ghost');
  });
});

describe('volume list / remove / prune / usage', { skip }, () => {
  test('list filters: dangling, driver, label, name', async () => {
    const { service } = await newService();
    await service.create({ name: 'web-data', labels: { app: 'web', tier: 'front' } });
    await service.create({ name: 'db-data', labels: { app: 'db' } });
    await service.create({ name: 'cache' });
    await service.acquire('db-data', 'c-db');
    const names = async (filters: { key: string; values: string[] }[]) =>
      (await service.list({ filters })).map((v) => v.Name);
    assert.deepEqual(await names([]), ['cache', 'db-data', 'web-data']);
    assert.deepEqual(await names([{ key: 'dangling', values: ['true'] }]), ['cache', 'web-data']);
    assert.deepEqual(await names([{ key: 'dangling', values: ['false'] }]), ['db-data']);
    assert.deepEqual(await names([{ key: 'name', values: ['data'] }]), ['db-data', 'web-data']);
    assert.deepEqual(await names([{ key: 'name', values: ['^web'] }]), ['web-data']);
    assert.deepEqual(await names([{ key: 'label', values: ['app'] }]), ['db-data', 'web-data']);
    assert.deepEqual(await names([{ key: 'label', values: ['app=web'] }]), ['web-data']);
    assert.deepEqual(await names([{ key: 'label', values: ['app', 'tier=front'] }]), ['web-data']);
    assert.deepEqual(await names([{ key: 'driver', values: ['local'] }]), ['cache', 'db-data', 'web-data']);
    assert.deepEqual(await names([{ key: 'driver', values: ['other'] }]), []);
    await rejectsWith(service.list({ filters: [{ key: 'until', values: ['1h'] }] }), 'InvalidArgument', "invalid filter 'until'");
    await rejectsWith(
      service.list({ filters: [{ key: 'dangling', values: ['maybe'] }] }),
      'InvalidArgument',
      "invalid filter 'dangling=maybe'",
    );
    await service.release('db-data', 'c-db');
  });

  test('a volume in use cannot be removed, even with force', async () => {
    const { service, events } = await newService();
    await service.create({ name: 'busy' });
    await service.acquire('busy', 'c1');
    await service.acquire('busy', 'c2');
    await rejectsWith(service.remove('busy'), 'Conflict', 'remove busy: volume is in use - [c1, c2]');
    await rejectsWith(service.remove('busy', { force: true }), 'Conflict', 'remove busy: volume is in use - [c1, c2]');
    await service.release('busy', 'c1');
    await service.release('busy', 'c2');
    // A stopped container still names it.
    const refs: VolumeReference[] = [{ containerId: 'stopped1', volume: 'busy' }];
    service.containerReferences = () => refs;
    await rejectsWith(service.remove('busy'), 'Conflict', 'remove busy: volume is in use - [stopped1]');
    refs.length = 0;
    const dir = path.dirname((await service.inspect('busy')).Mountpoint);
    await service.remove('busy');
    assert.equal(service.has('busy'), false);
    await assert.rejects(fsp.access(dir));
    assert.deepEqual(
      events.filter((e) => e.action === 'destroy'),
      [{ type: 'volume', action: 'destroy', actor: 'busy', attributes: { driver: 'local' } }],
    );
  });

  test('prune removes unused anonymous volumes, all unused with all, and reports bytes', async () => {
    const { service, events } = await newService();
    const anon1 = await service.create();
    const anon2 = await service.create();
    const anonBusy = await service.create();
    await service.create({ name: 'named', labels: { keep: 'yes' } });
    await service.create({ name: 'named2' });
    await fsp.writeFile(path.join(anon1.Mountpoint, 'f'), Buffer.alloc(1000));
    await fsp.writeFile(path.join(anon2.Mountpoint, 'g'), Buffer.alloc(24));
    await service.acquire(anonBusy.Name, 'c1');

    const first = await service.prune();
    assert.deepEqual(first.deleted.sort(), [anon1.Name, anon2.Name].sort());
    assert.equal(first.reclaimed, 1024);
    assert.deepEqual((await service.list()).map((v) => v.Name).sort(), [anonBusy.Name, 'named', 'named2'].sort());
    assert.deepEqual(events.at(-1), { type: 'volume', action: 'prune', actor: '', attributes: { reclaimed: '1024' } });

    const labelled = await service.prune({ all: true, filters: [{ key: 'label!', values: ['keep=yes'] }] });
    assert.deepEqual(labelled.deleted, ['named2']);
    const viaFilter = await service.prune({ filters: [{ key: 'all', values: ['true'] }, { key: 'label', values: ['keep'] }] });
    assert.deepEqual(viaFilter.deleted, ['named']);
    assert.deepEqual((await service.list()).map((v) => v.Name), [anonBusy.Name]);
    await rejectsWith(service.prune({ filters: [{ key: 'dangling', values: ['true'] }] }), 'InvalidArgument', "invalid filter 'dangling'");
    await service.release(anonBusy.Name, 'c1');
  });

  test('usage counts apparent bytes, hard links once, and users', async () => {
    const { service } = await newService();
    const v = await service.create({ name: 'sized' });
    await fsp.mkdir(path.join(v.Mountpoint, 'sub'));
    await fsp.writeFile(path.join(v.Mountpoint, 'sub', 'a'), Buffer.alloc(4096));
    await fsp.link(path.join(v.Mountpoint, 'sub', 'a'), path.join(v.Mountpoint, 'hard'));
    await fsp.writeFile(path.join(v.Mountpoint, 'b'), 'hello');
    await fsp.symlink('sub/a', path.join(v.Mountpoint, 'link'));
    await service.acquire('sized', 'c1');
    service.containerReferences = () => [{ containerId: 'c2', volume: 'sized' }];
    assert.deepEqual(await service.usage('sized'), { size: 4096 + 5 + 'sub/a'.length, refCount: 2 });
    const view = await service.inspect('sized', { usage: true });
    assert.deepEqual(view.UsageData, { Size: 4096 + 5 + 5, RefCount: 2 });
    await service.release('sized', 'c1');
  });
});

describe('volume crash safety', { skip }, () => {
  test('storage without committed metadata is removed at init, without touching bind sources', async () => {
    const root = await freshRoot();
    const { service } = await newService(root);
    await service.create({ name: 'kept' });
    // A create cut short before its metadata commit.
    await fsp.mkdir(path.join(root, 'halfmade', '_data'), { recursive: true });
    await fsp.writeFile(path.join(root, 'halfmade', '_data', 'x'), 'x');
    // A remove cut short with its bind still mounted: the host directory must survive.
    const host = path.join(base, `host-${counter}`);
    await fsp.mkdir(host);
    await fsp.writeFile(path.join(host, 'precious'), 'keep me');
    await fsp.mkdir(path.join(root, 'stray', '_data'), { recursive: true });
    assert.equal(await mountFilesystem(host, path.join(root, 'stray', '_data'), 'none', 'bind'), undefined);

    const { service: restarted } = await newService(root);
    assert.deepEqual((await restarted.list()).map((v) => v.Name), ['kept']);
    await assert.rejects(fsp.access(path.join(root, 'halfmade')));
    await assert.rejects(fsp.access(path.join(root, 'stray')));
    assert.equal(await fsp.readFile(path.join(host, 'precious'), 'utf8'), 'keep me');
    assert.ok((await fsp.stat(path.join(root, 'kept', '_data'))).isDirectory());
  });

  test('a committed volume whose directory vanished gets it back at init', async () => {
    const root = await freshRoot();
    const { service } = await newService(root);
    const v = await service.create({ name: 'lost' });
    await fsp.rm(path.join(root, 'lost'), { recursive: true });
    await newService(root);
    assert.ok((await fsp.stat(v.Mountpoint)).isDirectory());
  });

  test('a copy-up cut short is emptied at init so the next mount copies again', async () => {
    const root = await freshRoot();
    const { service } = await newService(root);
    const v = await service.create({ name: 'half' });
    await fsp.writeFile(path.join(v.Mountpoint, 'partial'), 'half a file');
    const metaFile = path.join(root, 'metadata.json');
    const meta = JSON.parse(await fsp.readFile(metaFile, 'utf8'));
    meta.volumes.half.seeding = true;
    await fsp.writeFile(metaFile, JSON.stringify(meta));
    const { service: restarted } = await newService(root);
    assert.deepEqual(await fsp.readdir(v.Mountpoint), []);
    assert.equal(restarted.get('half').seeding, undefined);
  });
});

describe('mount-backed volumes', { skip }, () => {
  test('a tmpfs volume is mounted for its first user and unmounted after its last', async () => {
    const { service, events } = await newService();
    const v = await service.create({ name: 'scratch', options: { type: 'tmpfs', device: 'tmpfs', o: 'size=16m,uid=1000' } });
    assert.deepEqual(v.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=16m,uid=1000' });
    assert.equal(await isMountPoint(v.Mountpoint), false);

    const hostPath = await service.acquire('scratch', 'c1');
    assert.equal(hostPath, v.Mountpoint);
    assert.equal(await fsType(hostPath), 'tmpfs');
    assert.equal((await fsp.stat(hostPath)).uid, 1000);
    await fsp.writeFile(path.join(hostPath, 'shared'), 'between containers');
    await service.acquire('scratch', 'c2');
    await service.acquire('scratch', 'c2');
    assert.equal((await mountPoints()).filter((m) => m === hostPath).length, 1, 'mounted once');
    assert.deepEqual(service.users('scratch'), ['c1', 'c2']);
    assert.equal((await service.usage('scratch')).refCount, 2);

    await service.release('scratch', 'c1');
    assert.equal(await fsp.readFile(path.join(hostPath, 'shared'), 'utf8'), 'between containers');
    await service.release('scratch', 'c2');
    assert.equal(await isMountPoint(hostPath), false);
    assert.deepEqual(await fsp.readdir(hostPath), []);
    await service.release('scratch', 'c2');
    assert.deepEqual(
      events.filter((e) => e.action === 'mount' || e.action === 'unmount').map((e) => `${e.action} ${e.attributes.container}`),
      ['mount c1', 'mount c2', 'unmount c1', 'unmount c2'],
    );
  });

  test('users survive a restart: the volume stays (or is put back) mounted until they release', async () => {
    const root = await freshRoot();
    const { service } = await newService(root);
    const v = await service.create({ name: 'persist', options: { type: 'tmpfs', device: 'tmpfs', o: 'size=4m' } });
    await service.acquire('persist', 'c1');
    await fsp.writeFile(path.join(v.Mountpoint, 'state'), 'alive');

    // Daemon restart while the container keeps running.
    const { service: second } = await newService(root);
    assert.deepEqual(second.users('persist'), ['c1']);
    assert.equal(await isMountPoint(v.Mountpoint), true);
    assert.equal(await fsp.readFile(path.join(v.Mountpoint, 'state'), 'utf8'), 'alive');
    await rejectsWith(second.remove('persist'), 'Conflict', 'remove persist: volume is in use - [c1]');

    // A host reboot loses the mount; the recorded user gets it back.
    await unmountAllUnder(v.Mountpoint);
    const { service: third } = await newService(root);
    assert.equal(await isMountPoint(v.Mountpoint), true);

    // The runtime finds c1 dead.
    await third.releaseUsersExcept(['c-other']);
    assert.deepEqual(third.users('persist'), []);
    assert.equal(await isMountPoint(v.Mountpoint), false);

    // A mount with no recorded user (crash between mount and commit) is undone at init.
    assert.equal(await mountFilesystem('tmpfs', v.Mountpoint, 'tmpfs', 'size=1m'), undefined);
    await newService(root);
    assert.equal(await isMountPoint(v.Mountpoint), false);
    await third.remove('persist');
  });

  test('a bind-backed volume shows the host directory and removing it leaves the host data', async () => {
    const { service } = await newService();
    const host = path.join(base, `bind-src-${counter}`);
    await fsp.mkdir(host);
    await fsp.writeFile(path.join(host, 'config'), 'from host');
    await service.create({ name: 'hostdir', options: { type: 'none', o: 'bind', device: host } });
    const p = await service.acquire('hostdir', 'c1');
    assert.equal(await fsp.readFile(path.join(p, 'config'), 'utf8'), 'from host');
    await service.release('hostdir', 'c1');
    await service.remove('hostdir');
    assert.equal(await fsp.readFile(path.join(host, 'config'), 'utf8'), 'from host');
  });

  test('a failing mount is reported and records no user', async () => {
    const { service } = await newService();
    await service.create({ name: 'broken', options: { type: 'none', o: 'bind', device: path.join(base, 'does-not-exist') } });
    await assert.rejects(service.acquire('broken', 'c1'), (err: unknown) => {
      assert.ok(isKind(err, 'Internal'));
      assert.match((err as Error).message, /^failed to mount local volume: /);
      return true;
    });
    assert.deepEqual(service.users('broken'), []);
    await service.remove('broken');
  });
});

describe('copy-up from the image', { skip }, () => {
  let image = '';
  before(async () => {
    image = path.join(base, 'image-rootfs', 'var', 'lib', 'app');
    await fsp.mkdir(path.join(image, 'nested', 'deeper'), { recursive: true });
    await fsp.writeFile(path.join(image, 'nested', 'deeper', 'file.txt'), 'seed content');
    await fsp.writeFile(path.join(image, 'setuid'), '#!/bin/sh\n');
    await fsp.chmod(path.join(image, 'setuid'), 0o4755);
    await fsp.chown(path.join(image, 'nested'), 1234, 5678);
    await fsp.symlink('nested/deeper/file.txt', path.join(image, 'link'));
    await fsp.link(path.join(image, 'nested', 'deeper', 'file.txt'), path.join(image, 'hardlink'));
    await run('setfattr', ['-n', 'user.origin', '-v', 'image', path.join(image, 'setuid')]);
    await fsp.utimes(path.join(image, 'setuid'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    await fsp.chown(image, 999, 998);
    await fsp.chmod(image, 0o750);
  });

  test('an empty volume receives the image content with owners, modes, links and xattrs', async () => {
    const { service } = await newService();
    const v = await service.create({ name: 'seeded' });
    assert.equal(await service.seedFromImage('seeded', image), true);
    const d = v.Mountpoint;
    assert.equal(await fsp.readFile(path.join(d, 'nested', 'deeper', 'file.txt'), 'utf8'), 'seed content');
    const root = await fsp.stat(d);
    assert.deepEqual([root.uid, root.gid, root.mode & 0o7777], [999, 998, 0o750]);
    const nested = await fsp.stat(path.join(d, 'nested'));
    assert.deepEqual([nested.uid, nested.gid], [1234, 5678]);
    const setuid = await fsp.stat(path.join(d, 'setuid'));
    assert.equal(setuid.mode & 0o7777, 0o4755);
    assert.equal(setuid.mtime.toISOString(), '2020-01-02T03:04:05.000Z');
    assert.equal(await fsp.readlink(path.join(d, 'link')), 'nested/deeper/file.txt');
    const [a, b] = await Promise.all([fsp.stat(path.join(d, 'hardlink')), fsp.stat(path.join(d, 'nested', 'deeper', 'file.txt'))]);
    assert.equal(a.ino, b.ino);
    const xattr = await run('getfattr', ['--only-values', '-n', 'user.origin', path.join(d, 'setuid')]);
    assert.equal(xattr.stdout, 'image');
    assert.equal(service.get('seeded').seeding, undefined);
  });

  test('no copy into a volume with content, nor from a path the image lacks', async () => {
    const { service } = await newService();
    const v = await service.create({ name: 'used' });
    await fsp.writeFile(path.join(v.Mountpoint, 'mine'), 'user data');
    assert.equal(await service.seedFromImage('used', image), false);
    assert.deepEqual(await fsp.readdir(v.Mountpoint), ['mine']);
    await service.create({ name: 'nothing' });
    assert.equal(await service.seedFromImage('nothing', path.join(image, 'no-such-dir')), false);
    assert.equal(await service.seedFromImage('nothing', path.join(image, 'setuid')), false);
    assert.deepEqual(await fsp.readdir((await service.inspect('nothing')).Mountpoint), []);
  });

  test('an empty image directory still gives the volume its owner and mode', async () => {
    const { service } = await newService();
    const empty = path.join(base, `empty-image-dir-${counter}`);
    await fsp.mkdir(empty);
    await fsp.chown(empty, 1000, 1000);
    await fsp.chmod(empty, 0o700);
    const v = await service.create({ name: 'owned' });
    assert.equal(await service.seedFromImage('owned', empty), true);
    const st = await fsp.stat(v.Mountpoint);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1000, 0o700]);
  });

  test('seeding a held tmpfs volume keeps the copy for its users', async () => {
    const { service } = await newService();
    await service.create({ name: 'tmpseed', options: { type: 'tmpfs', device: 'tmpfs', o: 'size=8m' } });
    const p = await service.acquire('tmpseed', 'c1');
    assert.equal(await service.seedFromImage('tmpseed', image), true);
    assert.equal(await fsType(p), 'tmpfs');
    assert.equal(await fsp.readFile(path.join(p, 'nested', 'deeper', 'file.txt'), 'utf8'), 'seed content');
    await service.release('tmpseed', 'c1');
    assert.equal(await isMountPoint(p), false);
  });
});
