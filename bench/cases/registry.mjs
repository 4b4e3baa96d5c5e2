/**
 * Registry (issue 6): a 200 MB image of 5 layers (40 MB of random bytes each) to and from a private
 * docker-registry on 127.0.0.1 (storage wiped before every push, so each push uploads everything):
 * - push: `image push` vs `docker push` vs `skopeo copy docker-archive:… docker://…`;
 * - pull: `image pull` (image absent locally) vs `docker pull` vs `skopeo copy docker://… dir:…` (the
 *   blobs, downloaded and checked, nothing unpacked) and `skopeo copy docker://… containers-storage:…`
 *   (a private overlay store: decompressed and applied as layers, as a pull does);
 * - the daemon's peak RSS during the pull: VmHWM reset before (clear_refs), read after, and
 *   VmRSS sampled every 10 ms; target ≤ 150 MB.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, promises as fsp, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CLI, hasCmd, hwmKb, median, out, printTable, resetHwm, rssKb, startRegistry, timedAsync, unmountUnder, settle } from '../lib.mjs';

const LAYERS = 5;
const LAYER_MB = 40;

async function sha256File(file) {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c);
  return h.digest('hex');
}

/** A docker-archive (`docker save` layout) of one image, tagged `ref`. */
async function bigArchive(work, ref) {
  const dir = path.join(work, 'big5');
  mkdirSync(dir, { recursive: true });
  const diffIds = [];
  const layers = [];
  for (let i = 0; i < LAYERS; i++) {
    const tree = path.join(work, `big5-tree-${i}`);
    mkdirSync(path.join(tree, `data${i}`), { recursive: true });
    for (let j = 0; j < 4; j++) writeFileSync(path.join(tree, `data${i}`, `blob${j}.bin`), randomBytes((LAYER_MB << 20) / 4));
    mkdirSync(path.join(dir, `l${i}`));
    const tar = path.join(dir, `l${i}`, 'layer.tar');
    execFileSync('tar', ['-cf', tar, '--numeric-owner', '--mtime=@0', '-C', tree, '.']);
    execFileSync('rm', ['-rf', tree]);
    diffIds.push(`sha256:${await sha256File(tar)}`);
    layers.push(`l${i}/layer.tar`);
  }
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created_by: `bench layer ${i}` })),
  });
  const cfgName = `${createHash('sha256').update(config).digest('hex')}.json`;
  writeFileSync(path.join(dir, cfgName), config);
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: cfgName, RepoTags: [ref], Layers: layers }]));
  const file = path.join(work, 'big5.tar');
  execFileSync('tar', ['-cf', file, '-C', dir, 'manifest.json', cfgName, ...layers]);
  execFileSync('rm', ['-rf', dir]);
  return file;
}

export async function run(ctx) {
  const { N, T, work } = ctx;
  const R = Math.min(N, 3);
  const ours = await ctx.ours();
  const docker = await ctx.docker();
  const skopeo = hasCmd('skopeo');
  const reg = await startRegistry(path.join(work, 'registry'), ctx.registryPort, ctx.cleanups);
  const ref = `${reg.host}/bench/big5:1`;
  const archive = await bigArchive(work, ref);
  const sizeMB = (await fsp.stat(archive)).size / 1e6;
  out(CLI, T('image', 'load', '-i', archive), ours.env);
  if (docker) out('docker', ['load', '-i', archive], docker.env);

  const push = { ours: [], docker: [], skopeo: [] };
  for (let i = 0; i < R; i++) {
    await reg.wipe();
    settle({ sync: true });
    push.ours.push(await timedAsync(CLI, T('image', 'push', ref), ours.env));
    if (docker) {
      await reg.wipe();
      settle({ sync: true });
      push.docker.push(await timedAsync('docker', ['push', ref], docker.env));
    }
    if (skopeo) {
      await reg.wipe();
      settle({ sync: true });
      push.skopeo.push(await timedAsync('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${ref}`], process.env));
    }
  }
  // The registry now holds the image (as the last pusher wrote it); pull it back.
  await reg.wipe();
  await timedAsync(CLI, T('image', 'push', ref), ours.env);
  await fsp.rm(archive, { force: true });
  const accept = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');
  const manifest = await (await fetch(`http://${reg.host}/v2/bench/big5/manifests/1`, { headers: { Accept: accept } })).json();
  const pushed = `our push wrote ${manifest.mediaType ?? '?'}, ${manifest.layers?.length} layers of ${[...new Set(manifest.layers?.map((l) => l.mediaType))].join(', ')}, ${(manifest.layers?.reduce((a, l) => a + l.size, 0) / 1e6).toFixed(0)} MB`;

  const pull = { ours: [], docker: [], skopeo: [], skopeoStore: [] };
  const peaks = [];
  const sampled = [];
  for (let i = 0; i < R; i++) {
    out(CLI, T('rmi', ref), ours.env);
    settle({ sync: true });
    const pid = ours.child.pid;
    const canReset = resetHwm(pid);
    const before = rssKb(pid);
    let maxRss = before;
    const timer = setInterval(() => (maxRss = Math.max(maxRss, rssKb(pid))), 10);
    try {
      pull.ours.push(await timedAsync(CLI, T('image', 'pull', ref), ours.env));
    } finally {
      clearInterval(timer);
    }
    sampled.push({ before, max: maxRss });
    if (canReset) peaks.push(hwmKb(pid));
    if (docker) {
      out('docker', ['rmi', ref], docker.env);
      settle({ sync: true });
      pull.docker.push(await timedAsync('docker', ['pull', ref], docker.env));
    }
    if (skopeo) {
      const dest = path.join(work, `skopeo-pull-${i}`);
      settle({ sync: true });
      pull.skopeo.push(await timedAsync('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `dir:${dest}`], process.env));
      await fsp.rm(dest, { recursive: true, force: true });
      // The like-for-like pull: into containers/storage's overlay driver (private root and run
      // root), which decompresses, verifies and applies each layer, as `image pull` does.
      const store = path.join(work, `skopeo-store-${i}`);
      const storeRef = `containers-storage:[overlay@${store}/root+${store}/run]${ref}`;
      try {
        settle({ sync: true });
        pull.skopeoStore.push(await timedAsync('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, storeRef], process.env));
      } finally {
        // The overlay driver bind-mounts its home onto itself.
        unmountUnder(store);
        await fsp.rm(store, { recursive: true, force: true });
      }
    }
  }
  const inspect = JSON.parse(out(CLI, T('image', 'inspect', ref), ours.env));
  const layersOk = inspect[0]?.RootFS?.Layers?.length === LAYERS;
  out(CLI, T('rmi', ref), ours.env);
  if (docker) out('docker', ['rmi', ref], docker.env);

  const rows = [];
  const m = (xs) => median(xs);
  // Issue 6: at least as fast as the fastest of them, so no worse than 1.00x against each.
  const asFast = { ratio: 1 };
  const pushName = `push ${sizeMB.toFixed(0)} MB, ${LAYERS} layers`;
  const pullName = `pull ${sizeMB.toFixed(0)} MB, ${LAYERS} layers`;
  rows.push({ name: pushName, ours: m(push.ours), ref: m(push.docker), refName: 'docker push', target: asFast });
  if (skopeo) rows.push({ name: pushName, ours: m(push.ours), ref: m(push.skopeo), refName: 'skopeo copy', target: asFast });
  rows.push({ name: `${pullName}${layersOk ? '' : ' (LAYERS WRONG)'}`, ours: m(pull.ours), ref: m(pull.docker), refName: 'docker pull', target: asFast });
  if (skopeo) {
    rows.push({ name: pullName, ours: m(pull.ours), ref: m(pull.skopeoStore), refName: 'skopeo copy to containers-storage: (unpacked)', target: asFast });
    rows.push({ name: pullName, ours: m(pull.ours), ref: m(pull.skopeo), refName: 'skopeo copy to dir: (blobs only)', target: asFast });
  }
  const peakKb = peaks.length ? Math.max(...peaks) : Math.max(...sampled.map((s) => s.max));
  rows.push({
    name: `peak daemon RSS during pull (${peaks.length ? 'VmHWM' : 'sampled'})`,
    unit: 'MB',
    ours: peakKb / 1024,
    target: { max: 150 },
    note: `${pushed}\n    sampled VmRSS before → max per pull: ${sampled.map((s) => `${(s.before / 1024).toFixed(0)} → ${(s.max / 1024).toFixed(0)} MB`).join(', ')}`,
  });
  printTable(`registry (median of ${R}; private docker-registry 2.8 on loopback)`, rows);
  const s = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
  process.stdout.write(`samples: push ours ${s(push.ours)} docker ${s(push.docker)} skopeo ${s(push.skopeo)} | pull ours ${s(pull.ours)} docker ${s(pull.docker)} skopeo dir: ${s(pull.skopeo)} containers-storage: ${s(pull.skopeoStore)}\n`);
}
