/**
 * `image save` / `image load` through the CLI against real daemons: files and pipes, gzip,
 * several images per archive carried to a second daemon with their tags, IDs and layers, OCI
 * layouts and legacy docker-archives built here by hand, the usual shell idioms, and bad input
 * (each a one-line error that leaves the store exactly as it was), a full disk included.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { startTestDaemon, TestDaemon, type RunResult } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { craftTar, sha256, type CraftedEntry } from '../fixtures/layers/helpers';

let d1: TestDaemon;
let d2: TestDaemon;
let rootfs: string;

before(async () => {
  [d1, d2] = await Promise.all([startTestDaemon(), startTestDaemon()]);
  rootfs = await busyboxRootfsTar(path.join(d1.dir, 'busybox.tar'));
  await d1.ok(['image', 'import', '-c', 'CMD ["sh"]', rootfs, 'arch/a:1']);
  await d1.ok(['image', 'tag', 'arch/a:1', 'arch/a:2']);
  await d1.ok(['image', 'import', '-m', 'second', rootfs, 'arch/b:latest']);
  // A two-layer image: a small layer on top of busybox, loaded from a hand-built archive below.
});
after(async () => {
  await Promise.all([d1?.destroy(), d2?.destroy()]);
});

interface StoreState {
  ls: string;
  blobs: string[];
  layers: string[];
  ingest: string[];
  tmp: string[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function storeState(d: TestDaemon): Promise<StoreState> {
  return {
    // CREATED is relative to now, so it's left out.
    ls: await d.ok(['image', 'ls', '-a', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}']),
    blobs: await listDir(path.join(d.dataRoot, 'content', 'blobs', 'sha256')),
    layers: await listDir(path.join(d.dataRoot, 'overlay', 'layers')),
    ingest: await listDir(path.join(d.dataRoot, 'content', 'ingest')),
    tmp: await listDir(path.join(d.dataRoot, 'overlay', 'tmp')),
  };
}

/** Runs a load that must fail with one line matching `re` and leave the store as it was. */
async function failsCleanly(d: TestDaemon, args: string[], input: Buffer | undefined, re: RegExp): Promise<RunResult> {
  const before = await storeState(d);
  const r = await d.run(args, input === undefined ? {} : { input });
  assert.notEqual(r.code, 0, `expected failure, got: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one-line error: ${r.stderr}`);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(await storeState(d), before, 'store unchanged');
  return r;
}

const inspect = async (d: TestDaemon, name: string) => JSON.parse(await d.ok(['image', 'inspect', name]))[0];

function idsOf(ls: string): string[] {
  return [...new Set(ls.split('\n').filter(Boolean))].sort();
}

describe('save and load', () => {
  test('save -o file and to stdout give the same archive; load -i and stdin carry images to a second daemon', async () => {
    const file = path.join(d1.dir, 'ab.tar');
    await d1.ok(['image', 'save', '-o', file, 'arch/a:1', 'arch/a:2', 'arch/b']);
    const viaStdout = await d1.run(['image', 'save', 'arch/a:1', 'arch/a:2', 'arch/b']);
    assert.equal(viaStdout.code, 0, viaStdout.stderr);
    const onDisk = await fsp.readFile(file);
    assert.equal(sha256(viaStdout.stdoutBuffer), sha256(onDisk), 'save is deterministic, file or pipe');

    const out = await d2.ok(['image', 'load', '-q', '-i', file]);
    assert.match(out, /Loaded image: arch\/a:1/);
    assert.match(out, /Loaded image: arch\/a:2/);
    assert.match(out, /Loaded image: arch\/b:latest/);
    for (const name of ['arch/a:1', 'arch/a:2', 'arch/b']) {
      const [a, b] = [await inspect(d1, name), await inspect(d2, name)];
      assert.equal(b.Id, a.Id, `${name}: same ID`);
      assert.deepEqual(b.RootFS, a.RootFS, `${name}: same layers`);
      assert.deepEqual(b.Config, a.Config, `${name}: same config`);
      assert.equal(b.Size, a.Size);
    }
    assert.deepEqual((await inspect(d2, 'arch/a:1')).RepoTags.sort(), ['arch/a:1', 'arch/a:2']);

    // The same archive again from stdin: nothing changes, tags stay.
    const before = await storeState(d2);
    await d2.ok(['load'], { input: viaStdout.stdoutBuffer });
    assert.deepEqual((await storeState(d2)).blobs, before.blobs);
    assert.equal((await storeState(d2)).ls, before.ls);
  });

  test('save | gzip | load', async () => {
    const d = await startTestDaemon();
    try {
      const r = await d1.run(['save', 'arch/b']);
      assert.equal(r.code, 0, r.stderr);
      const out = await d.ok(['load'], { input: gzipSync(r.stdoutBuffer) });
      assert.match(out, /Loaded image: arch\/b:latest/);
      assert.equal((await inspect(d, 'arch/b')).Id, (await inspect(d1, 'arch/b')).Id);
      const gz = path.join(d.dir, 'b.tar.gz');
      await fsp.writeFile(gz, gzipSync(r.stdoutBuffer));
      await d.ok(['rmi', 'arch/b']);
      await d.ok(['load', '-i', gz]);
      assert.deepEqual((await inspect(d, 'arch/b')).RootFS, (await inspect(d1, 'arch/b')).RootFS);
    } finally {
      await d.destroy();
    }
  });

  test('the seeds: save -o all.tar $(image ls -q), load < file, image rm -f <prefix>, rmi $(image ls -q)', async () => {
    const d = await startTestDaemon();
    try {
      const ids = idsOf(await d1.ok(['image', 'ls', '-q']));
      assert.ok(ids.length >= 2);
      const all = path.join(d.dir, 'all.tar');
      // $(image ls -q) repeats an ID once per tag, as Docker's does.
      await d1.ok(['image', 'save', '-o', all, ...(await d1.ok(['image', 'ls', '-q'])).split(/\s+/).filter(Boolean)]);
      await d.ok(['image', 'load'], { input: await fsp.readFile(all) });
      assert.deepEqual(idsOf(await d.ok(['image', 'ls', '-q'])), ids);
      // Saved by ID, every tag of each image goes along.
      assert.deepEqual((await inspect(d, 'arch/a:1')).RepoTags.sort(), ['arch/a:1', 'arch/a:2']);
      // Only the images' blobs stay: not manifest.json, index.json or oci-layout.
      const expected = new Set<string>();
      for (const id of ids) {
        const img = await inspect(d, id);
        for (const x of [img.Id, img.Descriptor.digest, ...img.RootFS.Layers]) expected.add(x.slice(7));
      }
      assert.deepEqual(await listDir(path.join(d.dataRoot, 'content', 'blobs', 'sha256')), [...expected].sort());

      const prefix = (await inspect(d, 'arch/a:1')).Id.slice(7, 12);
      const rm = await d.ok(['image', 'rm', '-f', prefix]);
      assert.match(rm, /Untagged: arch\/a:1/);
      assert.match(rm, /Deleted: sha256:/);
      assert.equal((await d.run(['image', 'inspect', 'arch/a:1'])).code, 1);

      const left = (await d.ok(['image', 'ls', '-q'])).split(/\s+/).filter(Boolean);
      assert.ok(left.length >= 1);
      await d.ok(['rmi', ...new Set(left)]);
      assert.equal((await d.ok(['image', 'ls', '-q'])).trim(), '');
      assert.deepEqual(await listDir(path.join(d.dataRoot, 'content', 'blobs', 'sha256')), [], 'no blobs left');
      assert.deepEqual(await listDir(path.join(d.dataRoot, 'overlay', 'layers')), [], 'no layers left');
    } finally {
      await d.destroy();
    }
  });
});

/** A gzip layer with a few files, and its diffID. */
async function smallLayer(tag: string): Promise<{ tar: Buffer; gz: Buffer; diffId: string }> {
  const tar = await craftTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hello', body: `hello from ${tag}\n` },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/tool', body: randomBytes(4096), mode: 0o755 },
  ]);
  return { tar, gz: gzipSync(tar), diffId: sha256(tar) };
}

function configFor(diffIds: string[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: os.arch() === 'x64' ? 'amd64' : os.arch(),
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'test' })),
      ...extra,
    }),
  );
}

const blobEntry = (b: Buffer): CraftedEntry => ({ name: `blobs/sha256/${sha256(b).slice(7)}`, body: b });

describe('hand-built archives', () => {
  test('an OCI image layout with gzip layers and name annotations loads and gets its tags', async () => {
    const base = await smallLayer('base');
    const top = await smallLayer('top');
    const config = configFor([base.diffId, top.diffId], { config: { Cmd: ['/bin/true'], Labels: { from: 'oci' } } });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [base.gz, top.gz].map((g) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(g), size: g.length })),
      }),
    );
    const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length };
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...desc, annotations: { 'io.containerd.image.name': 'registry.example.com/team/oci-img:v1', 'org.opencontainers.image.ref.name': 'v1' } },
        { ...desc, annotations: { 'org.opencontainers.image.ref.name': 'oci-other:v2' } },
      ],
    };
    const archive = await craftTar([
      { name: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
      { name: 'blobs/', type: 'directory' },
      { name: 'blobs/sha256/', type: 'directory' },
      blobEntry(base.gz),
      blobEntry(top.gz),
      blobEntry(config),
      blobEntry(manifest),
      { name: 'index.json', body: JSON.stringify(index) },
    ]);
    const out = await d2.ok(['image', 'load'], { input: gzipSync(archive) });
    assert.match(out, /Loaded image: registry\.example\.com\/team\/oci-img:v1/);
    assert.match(out, /Loaded image: oci-other:v2/);
    const img = await inspect(d2, 'registry.example.com/team/oci-img:v1');
    assert.equal(img.Id, sha256(config));
    assert.deepEqual(img.RootFS.Layers, [base.diffId, top.diffId]);
    assert.deepEqual(img.Config.Labels, { from: 'oci' });
    assert.equal(img.Descriptor.digest, sha256(manifest), 'the manifest is kept as given');
    assert.deepEqual(img.RepoTags.sort(), ['oci-other:v2', 'registry.example.com/team/oci-img:v1']);
    // Saved again and loaded elsewhere, it keeps its ID and layers.
    const saved = await d2.run(['save', 'oci-other:v2']);
    const d = await startTestDaemon();
    try {
      await d.ok(['load'], { input: saved.stdoutBuffer });
      assert.deepEqual((await inspect(d, 'oci-other:v2')).RootFS, img.RootFS);
      assert.equal((await inspect(d, 'oci-other:v2')).Id, img.Id);
    } finally {
      await d.destroy();
    }
  });

  test('a legacy docker-archive (<hex>/layer.tar, <hex>.json, repositories) loads', async () => {
    const base = await smallLayer('legacy-base');
    const top = await smallLayer('legacy-top');
    const config = configFor([base.diffId, top.diffId], { config: { Cmd: ['/bin/legacy'] } });
    const cfgHex = sha256(config).slice(7);
    const v1a = randomBytes(32).toString('hex');
    const v1b = randomBytes(32).toString('hex');
    const archive = await craftTar([
      { name: `${v1a}/`, type: 'directory' },
      { name: `${v1a}/VERSION`, body: '1.0' },
      { name: `${v1a}/json`, body: JSON.stringify({ id: v1a }) },
      { name: `${v1a}/layer.tar`, body: base.tar },
      { name: `${v1b}/`, type: 'directory' },
      { name: `${v1b}/VERSION`, body: '1.0' },
      { name: `${v1b}/json`, body: JSON.stringify({ id: v1b, parent: v1a }) },
      { name: `${v1b}/layer.tar`, body: top.tar },
      { name: `${cfgHex}.json`, body: config },
      {
        name: 'manifest.json',
        body: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['legacy:1.0', 'example.org/legacy/app:latest'], Layers: [`${v1a}/layer.tar`, `${v1b}/layer.tar`] }]),
      },
      { name: 'repositories', body: JSON.stringify({ legacy: { '1.0': v1b } }) },
    ]);
    const file = path.join(d2.dir, 'legacy.tar');
    await fsp.writeFile(file, archive);
    const out = await d2.ok(['load', '-i', file]);
    assert.match(out, /Loaded image: legacy:1\.0/);
    assert.match(out, /Loaded image: example\.org\/legacy\/app:latest/);
    const img = await inspect(d2, 'legacy:1.0');
    assert.equal(img.Id, sha256(config));
    assert.deepEqual(img.RootFS.Layers, [base.diffId, top.diffId]);
    assert.deepEqual(img.Config.Cmd, ['/bin/legacy']);
  });
});

describe('bad input leaves the store unchanged', () => {
  let good: Buffer;
  before(async () => {
    good = (await d1.run(['save', 'arch/b'])).stdoutBuffer;
    // Compare against a store that has content, so "unchanged" means something.
    await d2.ok(['load'], { input: good });
  });

  test('a malformed tarball', async () => {
    await failsCleanly(d2, ['load'], Buffer.from('this is not a tar archive, not even close. '.repeat(50)), /image load: .*(tar|archive)/i);
    await failsCleanly(d2, ['load'], gzipSync(Buffer.from('gzip of junk '.repeat(100))), /image load: /);
    await failsCleanly(d2, ['load'], Buffer.alloc(0), /image load: .*empty/i);
  });

  test('a truncated archive', async () => {
    const other = (await d1.run(['save', 'arch/a:1'])).stdoutBuffer;
    await failsCleanly(d2, ['load'], other.subarray(0, Math.floor(other.length / 2)), /truncated/);
    const gz = gzipSync(other);
    await failsCleanly(d2, ['load'], gz.subarray(0, Math.floor(gz.length * 0.7)), /truncated/);
    const file = path.join(d2.dir, 'trunc.tar');
    await fsp.writeFile(file, other.subarray(0, other.length - 3000));
    await failsCleanly(d2, ['load', '-i', file], undefined, /truncated|not in the archive|missing/);
  });

  test('a blob whose content does not match its name', async () => {
    const layer = await smallLayer('mismatch');
    const config = configFor([layer.diffId]);
    const wrongName = sha256(Buffer.from('something else entirely'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: wrongName, size: layer.gz.length }],
      }),
    );
    const archive = await craftTar([
      { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      blobEntry(config),
      blobEntry(manifest),
      { name: `blobs/sha256/${wrongName.slice(7)}`, body: layer.gz },
      { name: 'index.json', body: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': 'docker.io/library/mismatch:1' } }] }) },
    ]);
    await failsCleanly(d2, ['load'], archive, new RegExp(`digest mismatch.*${wrongName.slice(7, 19)}|${wrongName.slice(7, 19)}.*digest mismatch`));
  });

  test('a config referencing a missing layer', async () => {
    const layer = await smallLayer('missing');
    const config = configFor([layer.diffId, sha256(Buffer.from('absent'))]);
    const archive = await craftTar([
      { name: 'cfg.json', body: config },
      { name: 'l1/layer.tar', body: layer.tar },
      { name: 'manifest.json', body: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['missing:1'], Layers: ['l1/layer.tar', 'l2/layer.tar'] }]) },
    ]);
    await failsCleanly(d2, ['load'], archive, /l2\/layer\.tar.*not in the archive/);
    // The manifest lists one layer, the config two.
    const archive2 = await craftTar([
      { name: 'cfg.json', body: config },
      { name: 'l1/layer.tar', body: layer.tar },
      { name: 'manifest.json', body: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['missing:1'], Layers: ['l1/layer.tar'] }]) },
    ]);
    await failsCleanly(d2, ['load'], archive2, /2 layers in its config but 1/);
  });

  test('a layer with a ../ escape: the error names the entry and nothing lands outside', async () => {
    const hostile = await craftTar([
      { name: 'ok/', type: 'directory' },
      { name: 'ok/file', body: 'fine' },
      { name: '../../../../../../tmp/tscompose-escape-archive-test', body: 'escaped' },
    ]);
    const config = configFor([sha256(hostile)]);
    const archive = await craftTar([
      { name: 'cfg.json', body: config },
      { name: 'l/layer.tar', body: hostile },
      { name: 'manifest.json', body: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['hostile:1'], Layers: ['l/layer.tar'] }]) },
    ]);
    await fsp.rm('/tmp/tscompose-escape-archive-test', { force: true });
    await failsCleanly(d2, ['load'], archive, /tmp\/tscompose-escape-archive-test/);
    await assert.rejects(fsp.access('/tmp/tscompose-escape-archive-test'), 'nothing written outside');
  });
});

describe('a full disk', () => {
  let d: TestDaemon | undefined;
  let big: string;
  after(async () => {
    await d?.destroy();
  });

  test('loading an image bigger than the data root fails with "no space", and the store is as before', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tsc-daemon-'));
    d = new TestDaemon(dir);
    await fsp.mkdir(d.dataRoot, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', d.dataRoot]);
    await d.start();
    // Something there before, to compare.
    await d.ok(['load'], { input: (await d1.run(['save', 'arch/b'])).stdoutBuffer });

    const tree = path.join(dir, 'bigtree');
    await fsp.mkdir(tree);
    for (let i = 0; i < 12; i++) await fsp.writeFile(path.join(tree, `r${i}`), randomBytes(1 << 20));
    const rootTar = path.join(dir, 'big-rootfs.tar');
    execFileSync('tar', ['-cf', rootTar, '-C', tree, '.']);
    await d1.ok(['import', rootTar, 'big:1']);
    big = path.join(dir, 'big.tar');
    await d1.ok(['save', '-o', big, 'big:1']);
    await d1.ok(['rmi', 'big:1']);

    const r = await failsCleanly(d, ['load', '-i', big], undefined, /no space/i);
    assert.doesNotMatch(r.stderr, /not a valid tar/);
    // The same with the stream from stdin and gzip.
    await failsCleanly(d, ['load'], gzipSync(await fsp.readFile(big)), /no space/i);
    // Still usable afterwards.
    await d.ok(['tag', 'arch/b', 'arch/b:again']);
  });
});
