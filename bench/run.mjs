#!/usr/bin/env node
/**
 * `npm run bench`: the image engine against Docker's, on this machine.
 *
 * Starts a private tscompose daemon and, when `dockerd` is installed, a private dockerd (own data
 * root, exec root, pidfile and socket; no bridge, no iptables), runs each case N times and prints
 * medians, then stops both and removes every temp dir, on failure too.
 *
 * Cases: `image load` of a ~100 MB saved image vs `docker load` of the same tarball; `image
 * import` of a ~100 MB rootfs vs `docker import`; `image ls` with 200 image rows vs `docker
 * images`; `node -e 0` as the start-up floor and `image ls` minus it; idle daemon RSS.
 *
 * Env: BENCH_N (repetitions, default 5), BENCH_MB (size of the big image, default 100),
 * BENCH_NO_DOCKER=1 to leave Docker out.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import tarStream from 'tar-stream';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'bin', 'tscompose');
const N = Math.max(1, Number(process.env.BENCH_N ?? 5));
const MB = Number(process.env.BENCH_MB ?? 100);
const ROWS = 200;
const TARGET_LS_MS = 60;
const TARGET_RSS_MB = 60;

const work = mkdtempSync(path.join(os.tmpdir(), 'tsc-bench-'));
const cleanups = [];
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

function hasCmd(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a command to completion; returns its wall time in ms. Throws on a non-zero exit. */
function timed(cmd, args, env, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20, ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${String(r.stderr).slice(0, 500)}`);
  return ms;
}

function out(cmd, args, env) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout;
}

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function childrenOf(pid) {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

async function waitUntil(pred, what, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function stopChild(child, graceMs = 20_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

function unmountUnder(dir) {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}

async function startOurs(name) {
  const dir = path.join(work, name);
  await fsp.mkdir(dir, { recursive: true });
  const sock = path.join(dir, 'tscompose.sock');
  const env = { ...process.env, TSCOMPOSE_HOST: `unix://${sock}`, TSCOMPOSE_DATA_ROOT: path.join(dir, 'root') };
  const logFd = openSync(path.join(dir, 'daemon.log'), 'a');
  const child = spawn(process.execPath, [CLI, 'daemon', '--data-root', env.TSCOMPOSE_DATA_ROOT, '--host', env.TSCOMPOSE_HOST], {
    stdio: ['ignore', logFd, logFd],
    detached: true,
  });
  cleanups.push(async () => {
    await stopChild(child, 10_000);
    unmountUnder(dir);
  });
  await waitUntil(() => existsSync(sock) && spawnSync(process.execPath, [CLI, 'version'], { env }).status === 0, 'the tscompose daemon');
  return { child, env, dir };
}

async function startDocker() {
  const dir = path.join(work, 'dockerd');
  await fsp.mkdir(dir, { recursive: true });
  const sock = path.join(dir, 'docker.sock');
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'config') };
  const logFd = openSync(path.join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    [
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'dockerd.pid'),
      '--host', `unix://${sock}`,
      '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    ],
    { stdio: ['ignore', logFd, logFd], detached: true },
  );
  cleanups.push(async () => {
    await stopChild(child, 30_000);
    unmountUnder(dir);
  });
  await waitUntil(() => spawnSync('docker', ['version'], { env }).status === 0, 'the private dockerd');
  return { child, env, dir };
}

/** A rootfs of `mb` MB of random files (incompressible, as real binaries nearly are). */
function makeRootfs(file, mb, seed = '') {
  const tree = path.join(work, `tree-${path.basename(file)}`);
  execFileSync('mkdir', ['-p', path.join(tree, 'bin'), path.join(tree, 'etc'), path.join(tree, 'usr/lib')]);
  writeFileSync(path.join(tree, 'etc/hostname'), `bench${seed}\n`);
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

function dockerVersion(docker) {
  const xs = [];
  for (let i = 0; i < Math.max(N, 10); i++) xs.push(timed('docker', ['version'], docker.env));
  return xs;
}

function fmtMs(x) {
  return x === undefined ? '—' : `${x.toFixed(0)} ms`;
}

async function main() {
  const withDocker = process.env.BENCH_NO_DOCKER !== '1' && hasCmd('dockerd') && hasCmd('docker');
  log(`bench: N=${N}, image ${MB} MB, ${ROWS} rows, Docker ${withDocker ? 'yes' : 'no (dockerd not installed or BENCH_NO_DOCKER=1)'}; work dir ${work}`);
  const [ours, docker] = await Promise.all([startOurs('ours'), withDocker ? startDocker() : Promise.resolve(undefined)]);
  const T = (args) => [CLI, ...args];
  const node = process.execPath;
  const rows = [];

  // Idle RSS first, before anything has been loaded.
  await new Promise((r) => setTimeout(r, 1500));
  const ourRss = rssKb(ours.child.pid);
  let dockerRss;
  let dockerTreeRss;
  if (docker) {
    dockerRss = rssKb(docker.child.pid);
    dockerTreeRss = dockerRss + childrenOf(docker.child.pid).reduce((s, p) => s + rssKb(p), 0);
  }

  // Inputs.
  log('bench: generating inputs…');
  const rootfs = makeRootfs(path.join(work, 'rootfs.tar'), MB);
  out(node, T(['image', 'import', rootfs, 'bench/big:1']), ours.env);
  const bigArchive = path.join(work, 'big.tar');
  out(node, T(['image', 'save', '-o', bigArchive, 'bench/big:1']), ours.env);
  out(node, T(['rmi', 'bench/big:1']), ours.env);
  const sizeMB = (await fsp.stat(bigArchive)).size / 1e6;

  // load
  log('bench: load…');
  const loadOurs = [];
  const loadDocker = [];
  for (let i = 0; i < N; i++) {
    loadOurs.push(timed(node, T(['image', 'load', '-i', bigArchive]), ours.env));
    out(node, T(['rmi', 'bench/big:1']), ours.env);
    if (docker) {
      loadDocker.push(timed('docker', ['load', '-i', bigArchive], docker.env));
      out('docker', ['rmi', 'bench/big:1'], docker.env);
    }
  }
  rows.push({ name: `load ${sizeMB.toFixed(0)} MB archive`, ours: median(loadOurs), docker: docker ? median(loadDocker) : undefined });

  // import
  log('bench: import…');
  const impOurs = [];
  const impDocker = [];
  for (let i = 0; i < N; i++) {
    impOurs.push(timed(node, T(['image', 'import', rootfs, 'bench/imp:1']), ours.env));
    out(node, T(['rmi', 'bench/imp:1']), ours.env);
    if (docker) {
      impDocker.push(timed('docker', ['import', rootfs, 'bench/imp:1'], docker.env));
      out('docker', ['rmi', 'bench/imp:1'], docker.env);
    }
  }
  rows.push({ name: `import ${MB} MB rootfs`, ours: median(impOurs), docker: docker ? median(impDocker) : undefined });

  // image ls with 200 rows
  log('bench: image ls…');
  const many = path.join(work, 'many.tar');
  await manyImagesArchive(many, ROWS);
  out(node, T(['image', 'load', '-i', many]), ours.env);
  const ourRows = out(node, T(['image', 'ls', '-q']), ours.env).split('\n').filter(Boolean).length;
  if (docker) out('docker', ['load', '-i', many], docker.env);
  const dockerRows = docker ? out('docker', ['images', '-q'], docker.env).split('\n').filter(Boolean).length : undefined;
  const lsOurs = [];
  const lsDocker = [];
  const floor = [];
  const ver = [];
  timed(node, T(['image', 'ls']), ours.env); // warm the daemon's caches once, as any later call finds them
  for (let i = 0; i < Math.max(N, 10); i++) {
    floor.push(timed(node, ['-e', '0'], process.env));
    lsOurs.push(timed(node, T(['image', 'ls']), ours.env));
    ver.push(timed(node, T(['version']), ours.env));
    if (docker) lsDocker.push(timed('docker', ['images'], docker.env));
  }
  const lsMed = median(lsOurs);
  const floorMed = median(floor);
  rows.push({ name: `image ls, ${ourRows} rows${dockerRows !== undefined ? ` (docker: ${dockerRows})` : ''}`, ours: lsMed, docker: docker ? median(lsDocker) : undefined });
  rows.push({ name: 'version (CLI start-up + one RPC)', ours: median(ver), docker: docker ? median(dockerVersion(docker)) : undefined });
  rows.push({ name: 'node -e 0 (start-up floor)', ours: floorMed });
  rows.push({ name: `image ls minus floor (target ≤ ${TARGET_LS_MS} ms)`, ours: lsMed - floorMed, verdict: lsMed - floorMed <= TARGET_LS_MS ? 'ok' : 'MISSED' });

  // Print.
  const lines = [];
  lines.push(`N=${N} (image ls: ${Math.max(N, 10)}), medians; ratio = ours / docker`);
  lines.push(`${'case'.padEnd(44)} ${'tscompose'.padStart(12)} ${'docker'.padStart(12)} ${'ratio'.padStart(7)}`);
  for (const r of rows) {
    const ratio = r.docker ? `${(r.ours / r.docker).toFixed(2)}x` : '';
    lines.push(`${r.name.padEnd(44)} ${fmtMs(r.ours).padStart(12)} ${(r.docker === undefined ? '' : fmtMs(r.docker)).padStart(12)} ${ratio.padStart(7)}${r.verdict ? `  ${r.verdict}` : ''}`);
  }
  const rssLine = `idle daemon RSS (target ≤ ${TARGET_RSS_MB} MB)`;
  const ourMB = ourRss / 1024;
  lines.push(
    `${rssLine.padEnd(44)} ${`${ourMB.toFixed(1)} MB`.padStart(12)} ${(dockerRss ? `${(dockerRss / 1024).toFixed(1)} MB` : '').padStart(12)} ${(dockerRss ? `${(ourRss / dockerRss).toFixed(2)}x` : '').padStart(7)}  ${ourMB <= TARGET_RSS_MB ? 'ok' : 'MISSED'}`,
  );
  if (dockerTreeRss) lines.push(`${'  (dockerd + its containerd)'.padEnd(44)} ${''.padStart(12)} ${`${(dockerTreeRss / 1024).toFixed(1)} MB`.padStart(12)}`);
  lines.push(`throughput: load ${(sizeMB / (median(loadOurs) / 1000)).toFixed(0)} MB/s${docker ? ` (docker ${(sizeMB / (median(loadDocker) / 1000)).toFixed(0)} MB/s)` : ''}, import ${(MB / (median(impOurs) / 1000)).toFixed(0)} MB/s${docker ? ` (docker ${(MB / (median(impDocker) / 1000)).toFixed(0)} MB/s)` : ''}`);
  lines.push(`samples: load ${loadOurs.map((x) => x.toFixed(0)).join(' ')} | import ${impOurs.map((x) => x.toFixed(0)).join(' ')} | ls ${lsOurs.map((x) => x.toFixed(0)).join(' ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
} finally {
  for (const c of cleanups.reverse()) await c().catch((e) => process.stderr.write(`cleanup: ${e}\n`));
  unmountUnder(work);
  await fsp.rm(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
