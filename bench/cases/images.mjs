/**
 * Images: `image load` of a ~100 MB saved image vs `docker load`; `image import` of a ~100 MB rootfs
 * vs `docker import`; `image ls` with 200 image rows vs `docker images`; `node -e 0` as the start-up
 * floor and `image ls` minus it; idle daemon RSS (measured at start, before any case ran).
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fsp, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import tarStream from 'tar-stream';
import { CLI, NODE, launcherEnv, median, out, printTable, timed } from '../lib.mjs';

const MB = Number(process.env.BENCH_MB ?? 100);
const ROWS = 200;

/** A rootfs of `mb` MB of random files (incompressible, as real binaries nearly are). */
function makeRootfs(work, file, mb) {
  const tree = path.join(work, `tree-${path.basename(file)}`);
  execFileSync('mkdir', ['-p', path.join(tree, 'bin'), path.join(tree, 'etc'), path.join(tree, 'usr/lib')]);
  writeFileSync(path.join(tree, 'etc/hostname'), 'bench\n');
  const files = Math.max(1, Math.round(mb / 2));
  for (let i = 0; i < files; i++) writeFileSync(path.join(tree, 'usr/lib', `lib${i}.so`), randomBytes((mb << 20) / files));
  execFileSync('tar', ['-cf', file, '--numeric-owner', '-C', tree, '.']);
  execFileSync('rm', ['-rf', tree]);
  return file;
}

/** One docker-archive holding `count` distinct images (distinct configs) over one tiny layer. */
async function manyImagesArchive(file, count) {
  const pack = tarStream.pack();
  const chunks = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c);
  })();
  const add = (name, body) =>
    new Promise((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body, (e) => (e ? reject(e) : resolve())));
  const layerPack = tarStream.pack();
  const layerChunks = [];
  const layerDone = (async () => {
    for await (const c of layerPack) layerChunks.push(c);
  })();
  layerPack.entry({ name: 'hello', mode: 0o644, mtime: new Date(0) }, 'hello\n');
  layerPack.finalize();
  await layerDone;
  const layer = Buffer.concat(layerChunks);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  await add('layer/layer.tar', layer);
  const manifest = [];
  const arch = { x64: 'amd64', arm64: 'arm64' }[os.arch()] ?? os.arch();
  for (let i = 0; i < count; i++) {
    const config = JSON.stringify({
      architecture: arch,
      os: 'linux',
      created: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
      config: { Cmd: ['/hello'], Labels: { 'bench.index': String(i) } },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created_by: `bench ${i}` }],
    });
    const hex = createHash('sha256').update(config).digest('hex');
    await add(`${hex}.json`, config);
    manifest.push({ Config: `${hex}.json`, RepoTags: [`bench/many-${i}:latest`], Layers: ['layer/layer.tar'] });
  }
  await add('manifest.json', JSON.stringify(manifest));
  pack.finalize();
  await done;
  writeFileSync(file, Buffer.concat(chunks));
}

export async function run(ctx) {
  const { N, T, work } = ctx;
  const ours = await ctx.ours();
  const docker = await ctx.docker();
  const rows = [];

  const rootfs = makeRootfs(work, path.join(work, 'rootfs.tar'), MB);
  out(CLI, T('image', 'import', rootfs, 'bench/big:1'), ours.env);
  const bigArchive = path.join(work, 'big.tar');
  out(CLI, T('image', 'save', '-o', bigArchive, 'bench/big:1'), ours.env);
  out(CLI, T('rmi', 'bench/big:1'), ours.env);
  const sizeMB = (await fsp.stat(bigArchive)).size / 1e6;

  const loadOurs = [];
  const loadDocker = [];
  for (let i = 0; i < N; i++) {
    loadOurs.push(timed(CLI, T('image', 'load', '-i', bigArchive), ours.env));
    out(CLI, T('rmi', 'bench/big:1'), ours.env);
    if (docker) {
      loadDocker.push(timed('docker', ['load', '-i', bigArchive], docker.env));
      out('docker', ['rmi', 'bench/big:1'], docker.env);
    }
  }
  rows.push({ name: `load ${sizeMB.toFixed(0)} MB archive`, ours: median(loadOurs), ref: median(loadDocker) });

  const impOurs = [];
  const impDocker = [];
  for (let i = 0; i < N; i++) {
    impOurs.push(timed(CLI, T('image', 'import', rootfs, 'bench/imp:1'), ours.env));
    out(CLI, T('rmi', 'bench/imp:1'), ours.env);
    if (docker) {
      impDocker.push(timed('docker', ['import', rootfs, 'bench/imp:1'], docker.env));
      out('docker', ['rmi', 'bench/imp:1'], docker.env);
    }
  }
  rows.push({ name: `import ${MB} MB rootfs`, ours: median(impOurs), ref: median(impDocker) });
  await fsp.rm(rootfs, { force: true });
  await fsp.rm(bigArchive, { force: true });

  const many = path.join(work, 'many.tar');
  await manyImagesArchive(many, ROWS);
  out(CLI, T('image', 'load', '-i', many), ours.env);
  if (docker) out('docker', ['load', '-i', many], docker.env);
  const ourRows = out(CLI, T('image', 'ls', '-q'), ours.env).split('\n').filter(Boolean).length;
  const dockerRows = docker ? out('docker', ['images', '-q'], docker.env).split('\n').filter(Boolean).length : undefined;
  const lsOurs = [];
  const lsDocker = [];
  const floor = [];
  const ver = [];
  const verDocker = [];
  timed(CLI, T('image', 'ls'), ours.env); // warm the daemon's caches once, as any later call finds them
  for (let i = 0; i < Math.max(N, 10); i++) {
    floor.push(timed(NODE, ['-e', '0'], launcherEnv(process.env)));
    lsOurs.push(timed(CLI, T('image', 'ls'), ours.env));
    ver.push(timed(CLI, T('version'), ours.env));
    if (docker) {
      lsDocker.push(timed('docker', ['images'], docker.env));
      verDocker.push(timed('docker', ['version'], docker.env));
    }
  }
  // Leave the 200 images out of later cases' way.
  const refs = Array.from({ length: ROWS }, (_, i) => `bench/many-${i}:latest`);
  out(CLI, T('rmi', ...refs), ours.env);
  if (docker) out('docker', ['rmi', ...refs], docker.env);
  const lsMed = median(lsOurs);
  const floorMed = median(floor);
  rows.push({ name: `image ls, ${ourRows} rows${dockerRows !== undefined ? ` (docker: ${dockerRows})` : ''}`, ours: lsMed, ref: median(lsDocker) });
  rows.push({ name: 'version (CLI start-up + one RPC)', ours: median(ver), ref: median(verDocker) });
  rows.push({ name: 'node -e 0 (start-up floor)', ours: floorMed });
  rows.push({ name: 'image ls minus floor', ours: lsMed - floorMed, target: { max: 60 } });
  rows.push({
    name: 'idle daemon RSS',
    unit: 'MB',
    ours: ctx.idle.ours / 1024,
    ref: ctx.idle.docker ? ctx.idle.docker / 1024 : undefined,
    target: { max: 60 },
    note: ctx.idle.docker ? `dockerd + its containerd: ${((ctx.idle.docker + ctx.idle.containerd) / 1024).toFixed(1)} MB` : undefined,
  });
  printTable(`images (N=${N}, ls/version ${Math.max(N, 10)}; medians; reference = Docker)`, rows);
  process.stdout.write(
    `throughput: load ${(sizeMB / (median(loadOurs) / 1000)).toFixed(0)} MB/s${docker ? ` (docker ${(sizeMB / (median(loadDocker) / 1000)).toFixed(0)} MB/s)` : ''}, import ${(MB / (median(impOurs) / 1000)).toFixed(0)} MB/s${docker ? ` (docker ${(MB / (median(impDocker) / 1000)).toFixed(0)} MB/s)` : ''}\n`,
  );
}
