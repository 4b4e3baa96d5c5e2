/**
 * A daemon killed with SIGKILL in the middle of `image load` of a large image: after a restart
 * no new image is visible, no ingest or unpack-in-progress data is left, no blob or layer beyond
 * what was there before, and the same load then succeeds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CLI, startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';

let d: TestDaemon;
let bigArchive: string;

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function duBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await listDir(dir)) {
    const st = await fsp.lstat(path.join(dir, name));
    total += st.isDirectory() ? await duBytes(path.join(dir, name)) : st.size;
  }
  return total;
}

async function state(): Promise<Record<string, unknown>> {
  return {
    ls: await d.ok(['image', 'ls', '-a', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']),
    blobs: await listDir(path.join(d.dataRoot, 'content', 'blobs', 'sha256')),
    layers: await listDir(path.join(d.dataRoot, 'overlay', 'layers')),
    ingest: await listDir(path.join(d.dataRoot, 'content', 'ingest')),
    tmp: await listDir(path.join(d.dataRoot, 'overlay', 'tmp')),
    shortLinks: await listDir(path.join(d.dataRoot, 'overlay', 'l')),
  };
}

before(async () => {
  d = await startTestDaemon();
  // ~100 MB of random (incompressible) files, on top of busybox.
  const tree = path.join(d.dir, 'tree');
  execFileSync('mkdir', ['-p', path.join(tree, 'data')]);
  const bb = await busyboxRootfsTar(path.join(d.dir, 'bb.tar'));
  execFileSync('tar', ['-xf', bb, '-C', tree]);
  for (let i = 0; i < 50; i++) await fsp.writeFile(path.join(tree, 'data', `blob-${i}`), randomBytes(2 << 20));
  const rootTar = path.join(d.dir, 'big-rootfs.tar');
  execFileSync('tar', ['-cf', rootTar, '--numeric-owner', '-C', tree, '.']);
  await fsp.rm(tree, { recursive: true, force: true });
  await d.ok(['image', 'import', rootTar, 'crash/big:1']);
  bigArchive = path.join(d.dir, 'big.tar');
  await d.ok(['image', 'save', '-o', bigArchive, 'crash/big:1']);
  await fsp.rm(rootTar);
  await d.ok(['rmi', 'crash/big:1']);
  // Something unrelated that must survive.
  await d.ok(['image', 'import', bb, 'crash/keep:1']);
});
after(async () => {
  await d?.destroy();
});

async function waitFor(pred: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const phase of ['streaming into the content store', 'unpacking the layer'] as const) {
  test(`kill -9 while ${phase} during a 100 MB load leaves nothing behind, and the load then succeeds`, async () => {
    const before = await state();
    assert.ok((await fsp.stat(bigArchive)).size > 100_000_000);

    // While streaming, feed slowly enough that the kill lands mid-way.
    const slow = phase === 'streaming into the content store';
    const client = spawn(process.execPath, [CLI, 'image', 'load'], { env: { ...process.env, ...d.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let clientErr = '';
    client.stderr.on('data', (c: Buffer) => (clientErr += c.toString()));
    client.stdin.on('error', () => undefined);
    const clientExit = new Promise<number | null>((r) => client.on('close', r));
    const feed = (async () => {
      for await (const chunk of createReadStream(bigArchive, { highWaterMark: 1 << 20 })) {
        if (client.stdin.destroyed) return;
        if (!client.stdin.write(chunk)) {
          await new Promise<void>((r) => {
            const done = () => {
              client.stdin.off('drain', done);
              client.stdin.off('close', done);
              r();
            };
            client.stdin.on('drain', done);
            client.stdin.on('close', done);
          });
        }
        if (slow) await new Promise((r) => setTimeout(r, 5));
      }
      client.stdin.end();
    })();

    const ingest = path.join(d.dataRoot, 'content', 'ingest');
    const tmp = path.join(d.dataRoot, 'overlay', 'tmp');
    if (slow) await waitFor(async () => (await duBytes(ingest)) > 10_000_000, 'ingest data');
    else await waitFor(async () => (await duBytes(tmp)) > 10_000_000, 'unpacked data in the snapshotter tmp dir');
    await d.kill9();
    const code = await clientExit;
    await feed.catch(() => undefined);
    assert.notEqual(code, 0, 'the client reports the failure');
    assert.ok(clientErr.trim().length > 0);
    assert.ok((await listDir(slow ? ingest : tmp)).length > 0, 'the killed load left data until the restart');

    await d.start();
    assert.deepEqual(await state(), before, 'after restart: no new image, no ingest, no tmp, no orphan blob or layer');

    const out = await d.ok(['image', 'load', '-i', bigArchive]);
    assert.match(out, /Loaded image: crash\/big:1/);
    const after = await state();
    assert.deepEqual(after['ingest'], []);
    assert.deepEqual(after['tmp'], []);
    assert.equal((after['layers'] as string[]).length, (before['layers'] as string[]).length + 1);
    await d.ok(['image', 'inspect', 'crash/keep:1']);
    // Back to the starting point for the next phase.
    await d.ok(['rmi', 'crash/big:1']);
    assert.deepEqual(await state(), before);
  });
}
