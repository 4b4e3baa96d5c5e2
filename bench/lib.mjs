/**
 * Shared helpers of `bench/run.mjs`: timing, process memory, private servers (tscompose daemon,
 * dockerd, docker-registry) and their cleanup, the results table.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, openSync, promises as fsp, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export let CLI = path.join(REPO, 'bin', 'tscompose');

/**
 * Copies the built CLI (dist/, the launcher) into `dir` and uses that copy from then on: other
 * people's `npm run build` in the same checkout deletes dist/ while it rebuilds, which would fail
 * the bench's commands mid-run. node_modules is linked (the bundle leaves a few packages external).
 */
export function snapshotCli(dir) {
  if (!existsSync(path.join(REPO, 'dist', 'tscompose.cjs'))) throw new Error('dist/ is missing: run `npm run build` first');
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  execFileSync('cp', ['-r', path.join(REPO, 'dist'), path.join(dir, 'dist')]);
  for (const f of ['tscompose', 'package.json']) execFileSync('cp', [path.join(REPO, 'bin', f), path.join(dir, 'bin', f)]);
  execFileSync('cp', [path.join(REPO, 'package.json'), path.join(dir, 'package.json')]);
  execFileSync('ln', ['-s', path.join(REPO, 'node_modules'), path.join(dir, 'node_modules')]);
  CLI = path.join(dir, 'bin', 'tscompose');
  return CLI;
}
export const NODE = process.execPath;
/**
 * `env` as bin/tscompose starts node with it: without NODE_EXTRA_CA_CERTS (its first line), which
 * node would parse at each start. The `node -e 0` floors are measured with it, to compare alike.
 */
export function launcherEnv(env) {
  const out = { ...env };
  delete out.NODE_EXTRA_CA_CERTS;
  return out;
}
export const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

export function hasCmd(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export function median(xs) {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** No single command may take longer (a hung CLI must not hang the bench); BENCH_CMD_TIMEOUT s. */
export const CMD_TIMEOUT_MS = Number(process.env.BENCH_CMD_TIMEOUT ?? 300) * 1000;

export class CommandTimeout extends Error {}

function check(r, cmd, args, timeout) {
  if (r.error?.code === 'ETIMEDOUT' || (r.status === null && r.signal === 'SIGKILL' && r.error))
    throw new CommandTimeout(`${cmd} ${args.join(' ')} did not finish in ${timeout / 1000} s (killed)`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${String(r.stderr).slice(-800)}`);
}

/** Runs a command to completion; returns its wall time in ms. Throws on a non-zero exit or timeout. */
export function timed(cmd, args, env, opts = {}) {
  const t0 = process.hrtime.bigint();
  const timeout = opts.timeout ?? CMD_TIMEOUT_MS;
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20, killSignal: 'SIGKILL', ...opts, timeout });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  check(r, cmd, args, timeout);
  return ms;
}

/** As `timed`, without blocking the event loop (so samplers can run meanwhile). */
export function timedAsync(cmd, args, env, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    const timeout = opts.timeout ?? CMD_TIMEOUT_MS;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (timedOut) reject(new CommandTimeout(`${cmd} ${args.join(' ')} did not finish in ${timeout / 1000} s (killed)`));
      else if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? sig}: ${stderr.slice(-800)}`));
      else resolve(ms);
    });
  });
}

export function out(cmd, args, env, opts = {}) {
  const timeout = opts.timeout ?? CMD_TIMEOUT_MS;
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 << 20, killSignal: 'SIGKILL', ...opts, timeout });
  check(r, cmd, args, timeout);
  return r.stdout;
}

/** Runs `fn(i)` for i in [0, n) with at most `limit` in flight. */
export async function pool(n, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, limit) }, worker));
}

function statusField(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
export const rssKb = (pid) => statusField(pid, 'VmRSS');
export const hwmKb = (pid) => statusField(pid, 'VmHWM');
/** Resets VmHWM to the current RSS (`echo 5 > clear_refs`, Linux ≥ 4.0; needs root). */
export function resetHwm(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Every process whose command line (NUL-joined to spaces) satisfies `pred`. */
export function pidsWhere(pred) {
  const pids = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ');
      if (pred(cmd)) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export function childrenOf(pid) {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

export async function waitUntil(pred, what, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** CPU time counters of the whole machine (/proc/stat's first line): [idle incl. iowait, total]. */
function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  return [(f[3] ?? 0) + (f[4] ?? 0), f.reduce((a, b) => a + b, 0)];
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Waits (blocking) until the machine is quiet: at least `idleShare` of the CPU idle over a
 * `windowMs` window, for at most `maxMs`; with `sync`, dirty pages are written back first. A
 * command's background work after it returned (dockerd removing layers, shims and supervisors
 * exiting, writeback of a pull's 400 MB) would otherwise be charged to the next timed command,
 * whichever tool's it is. Called before every timed sample of both sides alike. Returns the ms
 * waited.
 */
export function settle({ idleShare = 0.85, windowMs = 250, maxMs = 15_000, sync = false } = {}) {
  const t0 = Date.now();
  if (sync) spawnSync('sync');
  let [idle, total] = cpuTimes();
  while (Date.now() - t0 < maxMs) {
    Atomics.wait(sleeper, 0, 0, windowMs);
    const [i2, t2] = cpuTimes();
    const quiet = t2 > total && (i2 - idle) / (t2 - total) >= idleShare;
    [idle, total] = [i2, t2];
    if (quiet) break;
  }
  return Date.now() - t0;
}

export async function stopChild(child, graceMs = 20_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

export function unmountUnder(dir) {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Deletes the iptables chains `<prefix>-*` of `table` and the jumps to them from other chains. */
function dropChains(table, prefix) {
  const r = spawnSync('iptables', ['-t', table, '-S'], { encoding: 'utf8' });
  if (r.status !== 0) return;
  const lines = r.stdout.split('\n');
  const ours = lines.filter((l) => l.startsWith('-N ') && l.slice(3).startsWith(`${prefix}-`)).map((l) => l.slice(3).trim());
  if (!ours.length) return;
  for (const l of lines) {
    const m = /^-A (\S+) (.*)$/.exec(l);
    if (m && !ours.includes(m[1]) && ours.some((c) => m[2].includes(`-j ${c}`))) spawnSync('sh', ['-c', `iptables -t ${table} -D ${m[1]} ${m[2]}`]);
  }
  for (const c of ours) spawnSync('iptables', ['-t', table, '-F', c]);
  for (const c of ours) spawnSync('iptables', ['-t', table, '-X', c]);
}

export function linkExists(name) {
  return spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;
}

/**
 * The environment the CLI gives a daemon it starts (cmd/daemon-env.ts): the bench measures the
 * daemon users get by default, though it starts it in the foreground to know its pid.
 */
async function autoStartedDaemonEnv(env) {
  const { tsImport } = await import('tsx/esm/api');
  const { daemonEnv } = await tsImport(path.join(REPO, 'cmd', 'daemon-env.ts'), import.meta.url);
  return daemonEnv(env);
}

/**
 * A private tscompose daemon under `dir`. Its cleanup removes whatever the daemon left on the
 * host: containers (by CLI, then by runc if the daemon is gone), networks, the per-data-root runtime
 * dir in /run/tscompose, its default bridge and firewall chains, and its subnet claims.
 */
export async function startOurs(dir, cleanups) {
  await fsp.mkdir(dir, { recursive: true });
  const sock = path.join(dir, 'tscompose.sock');
  const dataRoot = path.join(dir, 'root');
  const env = { ...process.env, TSCOMPOSE_HOST: `unix://${sock}`, TSCOMPOSE_DATA_ROOT: dataRoot };
  const logFd = openSync(path.join(dir, 'daemon.log'), 'a');
  const child = spawn(CLI, ['daemon', '--data-root', dataRoot, '--host', env.TSCOMPOSE_HOST], {
    stdio: ['ignore', logFd, logFd],
    detached: true,
    env: await autoStartedDaemonEnv(env),
  });
  const tag = createHash('sha256').update(dataRoot).digest('hex').slice(0, 8);
  const runDir = path.join('/run/tscompose', tag);
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const ids = spawnSync(CLI, ['container', 'ls', '-aq', '--no-trunc'], { env, encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (let i = 0; i < ids.length; i += 100) spawnSync(CLI, ['container', 'rm', '-f', ...ids.slice(i, i + 100)], { env, stdio: 'ignore' });
      spawnSync(CLI, ['network', 'prune', '-f'], { env, stdio: 'ignore' });
    }
    await stopChild(child, 10_000);
    // Whatever is still running (daemon crashed, rm failed): by runc directly.
    const runcRoot = path.join(runDir, 'runc');
    if (existsSync(runcRoot)) {
      const ids = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (const id of ids) spawnSync('runc', ['--root', runcRoot, 'delete', '-f', id], { stdio: 'ignore' });
    }
    for (const pid of pidsWhere((c) => c.startsWith('/usr/bin/conmon ') && c.includes(`${runDir}/`))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    unmountUnder(dir);
    // The daemon's tmpfs on its runtime dir, where /run is on disk.
    unmountUnder(runDir);
    await fsp.rm(runDir, { recursive: true, force: true });
    if (linkExists(`tscb${tag}`)) spawnSync('ip', ['link', 'del', `tscb${tag}`]);
    for (const t of ['filter', 'nat']) dropChains(t, `TSC${tag.toUpperCase()}`);
    try {
      for (const f of readdirSync('/run/tscompose/subnets')) {
        const p = path.join('/run/tscompose/subnets', f);
        if (readFileSync(p, 'utf8').startsWith(`${dir}/`)) await fsp.rm(p, { force: true });
      }
    } catch {
      /* no claims */
    }
  });
  await waitUntil(() => existsSync(sock) && spawnSync(CLI, ['version'], { env }).status === 0, 'the tscompose daemon');
  return { child, env, dir, dataRoot, runDir, tag };
}

function routesText() {
  return spawnSync('ip', ['-4', 'route'], { encoding: 'utf8' }).stdout ?? '';
}

/**
 * A private dockerd (own data root, exec root, pidfile and socket; no iptables). With `bridge`, its
 * default network is a bridge the bench creates (a free 10.213.x.0/24) and deletes afterwards;
 * without, `--bridge=none`. Cleanup removes its containers and networks, stops it, and deletes
 * any `br-*` bridge it made that is left.
 */
export async function startDocker(dir, cleanups, { bridge = false, insecureRegistries = [] } = {}) {
  await fsp.mkdir(dir, { recursive: true });
  const sock = path.join(dir, 'docker.sock');
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'config'), DOCKER_CLI_HINTS: 'false' };
  const args = [
    '--data-root', path.join(dir, 'data'),
    '--exec-root', path.join(dir, 'exec'),
    '--pidfile', path.join(dir, 'dockerd.pid'),
    '--host', `unix://${sock}`,
    '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    ...insecureRegistries.flatMap((r) => ['--insecure-registry', r]),
  ];
  let bridgeName;
  if (bridge) {
    bridgeName = `tscbench${randomBytes(2).toString('hex')}`;
    const used = routesText();
    let third = -1;
    for (let i = 0; i < 50 && third < 0; i++) {
      const x = 1 + Math.floor(Math.random() * 250);
      if (!used.includes(`10.213.${x}.`)) third = x;
    }
    if (third < 0) throw new Error('no free 10.213.x.0/24 for the dockerd bridge');
    execFileSync('ip', ['link', 'add', bridgeName, 'type', 'bridge']);
    cleanups.push(async () => {
      if (linkExists(bridgeName)) spawnSync('ip', ['link', 'del', bridgeName]);
    });
    execFileSync('ip', ['addr', 'add', `10.213.${third}.1/24`, 'dev', bridgeName]);
    execFileSync('ip', ['link', 'set', bridgeName, 'up']);
    args.push(`--bridge=${bridgeName}`);
  } else args.push('--bridge=none');
  const logFd = openSync(path.join(dir, 'dockerd.log'), 'a');
  const child = spawn('dockerd', args, { stdio: ['ignore', logFd, logFd], detached: true });
  const brBefore = new Set(bridgesNamed('br-'));
  cleanups.push(async () => {
    let nets = [];
    if (child.exitCode === null) {
      const ids = spawnSync('docker', ['ps', '-aq'], { env, encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (let i = 0; i < ids.length; i += 100) spawnSync('docker', ['rm', '-f', ...ids.slice(i, i + 100)], { env, stdio: 'ignore' });
      nets = spawnSync('docker', ['network', 'ls', '-q', '--no-trunc', '--filter', 'type=custom'], { env, encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      spawnSync('docker', ['network', 'prune', '-f'], { env, stdio: 'ignore' });
    }
    await stopChild(child, 30_000);
    unmountUnder(dir);
    for (const n of nets) if (linkExists(`br-${n.slice(0, 12)}`) && !brBefore.has(`br-${n.slice(0, 12)}`)) spawnSync('ip', ['link', 'del', `br-${n.slice(0, 12)}`]);
  });
  await waitUntil(() => spawnSync('docker', ['version'], { env }).status === 0, 'the private dockerd');
  const daemonPid = () => child.pid;
  const containerdPid = () => childrenOf(child.pid).find((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'containerd');
  return { child, env, dir, bridgeName, daemonPid, containerdPid, sock };
}

function bridgesNamed(prefix) {
  const r = spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').map((l) => l.split(':')[1]?.trim()).filter((n) => n && n.startsWith(prefix));
}

/** Debian's docker-registry (distribution 2.8) on 127.0.0.1:`port`, storage under `dir`. */
export async function startRegistry(dir, port, cleanups) {
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'config.yml');
  const data = path.join(dir, 'data');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${data}\n` +
      `  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString('hex')}\n`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', openSync(path.join(dir, 'registry.log'), 'a')] });
  cleanups.push(() => stopChild(child, 3000));
  await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode} (see ${dir}/registry.log)`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      return r.ok;
    } catch {
      return false;
    }
  }, 'docker-registry', 15_000);
  return { child, host: `127.0.0.1:${port}`, data, wipe: () => fsp.rm(data, { recursive: true, force: true }) };
}

/** A busybox root filesystem (from /usr/bin/busybox) as a tar file, for `image import`. */
export function busyboxRootfsTar(work) {
  const root = path.join(work, 'busybox-rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root']) mkdirSync(path.join(root, d), { recursive: true });
  execFileSync('cp', ['/usr/bin/busybox', path.join(root, 'bin', 'busybox')]);
  const applets = execFileSync('/usr/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) execFileSync('ln', ['-sf', 'busybox', path.join(root, 'bin', a)]);
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  const file = path.join(work, 'busybox-rootfs.tar');
  execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', file, '.']);
  execFileSync('rm', ['-rf', root]);
  return file;
}

export function fmtVal(x, unit = 'ms') {
  if (x === undefined || Number.isNaN(x)) return '—';
  if (unit === 'ms') return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`;
  if (unit === 'MB') return `${x.toFixed(1)} MB`;
  return `${x.toFixed(1)} ${unit}`;
}

/**
 * Prints one table. Rows: { name, ours, ref, refName?, unit?, target?: { ratio } | { max } |
 * { within, of } | text, note? }. Verdict PASS/MISS when a target is given.
 */
export function printTable(title, rows) {
  const L = [];
  L.push('', `## ${title}`);
  const head = `${'case'.padEnd(52)} ${'tscompose'.padStart(10)} ${'reference'.padStart(10)} ${'ratio'.padStart(6)}  ${'target'.padEnd(16)} verdict`;
  L.push(head, '-'.repeat(head.length));
  for (const r of rows) {
    const unit = r.unit ?? 'ms';
    const ratio = r.ours !== undefined && r.ref ? r.ours / r.ref : undefined;
    let target = '';
    let ok;
    if (r.target?.ratio !== undefined) {
      target = `≤ ${r.target.label ?? `${r.target.ratio.toFixed(2)}x`} ref`;
      ok = ratio === undefined ? undefined : ratio <= r.target.ratio;
    } else if (r.target?.max !== undefined) {
      target = `≤ ${fmtVal(r.target.max, unit)}`;
      ok = r.ours === undefined ? undefined : r.ours <= r.target.max;
    } else if (r.target?.within !== undefined) {
      target = `≤ floor+${r.target.within} ms`;
      ok = r.ours === undefined ? undefined : r.ours <= r.target.of + r.target.within;
    } else if (r.target?.ok !== undefined) {
      target = r.target.text ?? '';
      ok = r.target.ok;
    }
    const verdict = r.target ? (ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS') : '';
    const name = r.refName ? `${r.name} [vs ${r.refName}]` : r.name;
    L.push(
      `${name.padEnd(52)} ${fmtVal(r.ours, unit).padStart(10)} ${(r.ref === undefined ? '' : fmtVal(r.ref, unit)).padStart(10)} ${(ratio === undefined ? '' : `${ratio.toFixed(2)}x`).padStart(6)}  ${target.padEnd(16)} ${verdict}`,
    );
    if (r.note) L.push(`    ${r.note}`);
  }
  process.stdout.write(`${L.join('\n')}\n`);
}
