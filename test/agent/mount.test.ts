/**
 * common/mount: mount points found in mountinfo (odd paths included), overlay mounts asked for
 * together made by one mount(8) with each failure its own, unmounts likewise, and the in-memory
 * check behind the runtime root's tmpfs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isInMemory, isMountPoint, mountOne, mountTmpfs, unmount } from '../../common/mount';
import { closeLauncher } from '../../common/process';

const skip = process.getuid?.() !== 0 ? 'needs root' : undefined;

describe('common/mount', { skip }, () => {
  let base: string;

  before(async () => {
    base = await fsp.mkdtemp(path.join(tmpdir(), 'tsc-mount-'));
  });

  after(async () => {
    await closeLauncher();
    await fsp.rm(base, { recursive: true, force: true });
  });

  test('a mount point is found by its path, spaces and backslashes included, and not by its parent or child', async () => {
    const odd = path.join(base, 'a b\\c');
    await fsp.mkdir(odd, { recursive: true });
    assert.equal(await isMountPoint(odd), false);
    assert.equal(await mountTmpfs(odd), true);
    try {
      assert.equal(await isMountPoint(odd), true);
      assert.equal(await isMountPoint(path.join(base, 'a b')), false);
      assert.equal(await isMountPoint(path.join(odd, 'x')), false);
      assert.equal(await isMountPoint(base), false);
    } finally {
      await unmount(odd);
    }
    assert.equal(await isMountPoint(odd), false);
  });

  test('overlays asked for together are all mounted, and a bad one fails alone with mount\'s word', async () => {
    const root = path.join(base, 'ovl');
    await fsp.mkdir(path.join(root, 'lower'), { recursive: true });
    await fsp.writeFile(path.join(root, 'lower', 'f'), 'lower\n');
    const targets: string[] = [];
    const asks: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      for (const d of [`upper${i}`, `work${i}`, `m ${i}`]) await fsp.mkdir(path.join(root, d));
      const target = path.join(root, `m ${i}`);
      targets.push(target);
      asks.push(mountOne({ type: 'overlay', source: 'overlay', cwd: root, options: ['lowerdir=lower', `upperdir=upper${i}`, `workdir=work${i}`] }, target));
    }
    await fsp.mkdir(path.join(root, 'mbad'));
    const bad = mountOne({ type: 'overlay', source: 'overlay', cwd: root, options: ['lowerdir=missing', 'upperdir=upper0', 'workdir=work0'] }, path.join(root, 'mbad'));
    const results = await Promise.allSettled([...asks, bad]);
    try {
      for (const r of results.slice(0, 4)) assert.equal(r.status, 'fulfilled');
      const failed = results[4]!;
      assert.equal(failed.status, 'rejected');
      assert.match(String((failed as PromiseRejectedResult).reason), /missing|No such file|special device/i);
      for (const t of targets) {
        assert.equal(await isMountPoint(t), true);
        assert.equal(await fsp.readFile(path.join(t, 'f'), 'utf8'), 'lower\n');
      }
      assert.equal(await isMountPoint(path.join(root, 'mbad')), false);
    } finally {
      await Promise.all(targets.map((t) => unmount(t)));
    }
    for (const t of targets) assert.equal(await isMountPoint(t), false);
  });

  test('a tmpfs is in memory, a directory on the root file system is not (unless / is)', async () => {
    const dir = path.join(base, 'mem');
    await fsp.mkdir(dir);
    const rootInMemory = await isInMemory(base);
    assert.equal(await isInMemory(dir), rootInMemory);
    assert.equal(await mountTmpfs(dir), true);
    try {
      assert.equal(await isInMemory(dir), true);
    } finally {
      await unmount(dir);
    }
  });
});
