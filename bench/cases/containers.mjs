/**
 * Containers (issue 3), each on the daemons' default bridge network:
 * - `container run --rm bench/busybox:1 true`, median of max(N, 10), vs `docker run --rm` (≤ 1/3);
 * - 50 × `container run -d … sleep 1000` one after another, then one `rm -f` of all 50 (≤ 1/4);
 * - memory per running container with those 50 up: the daemon's RSS growth over the 50 runs / 50
 *   + mean conmon RSS, vs (dockerd + containerd)'s growth / 50 + mean containerd-shim RSS (≤ 3 MB).
 *   The growth is measured from just before the runs, not from the idle daemon at the bench's
 *   start: earlier cases (loading a 100 MB image) leave memory that no container adds;
 * - 200 containers running at once (started 8 at a time): `container ls -a` median of 5 (≤ 200 ms).
 */
import { CLI, CommandTimeout, median, out, pidsWhere, pool, printTable, rssKb, timed, timedAsync } from '../lib.mjs';

const MANY = 50;
const LOTS = 200;

function ids(text) {
  return text.split(/\s+/).filter(Boolean);
}

export async function run(ctx) {
  const { N, T } = ctx;
  const ours = await ctx.oursBusybox();
  const docker = await ctx.dockerBusybox();
  const rows = [];
  const R = Math.max(N, 10);

  // run --rm true
  const runOurs = [];
  const runDocker = [];
  // A run that hangs (seen: the container exits and is removed, the CLI never returns) is killed
  // after 30 s and counted, not timed.
  let hangs = 0;
  const runRm = () => {
    try {
      return timed(CLI, T('container', 'run', '--rm', 'bench/busybox:1', 'true'), ours.env, { timeout: 30_000 });
    } catch (e) {
      if (!(e instanceof CommandTimeout)) throw e;
      hangs++;
      return undefined;
    }
  };
  runRm(); // the first run sets up the bridge
  if (docker) timed('docker', ['run', '--rm', 'bench/busybox:1', 'true'], docker.env);
  for (let i = 0; i < R; i++) {
    const ms = runRm();
    if (ms !== undefined) runOurs.push(ms);
    if (docker) runDocker.push(timed('docker', ['run', '--rm', 'bench/busybox:1', 'true'], docker.env));
  }
  rows.push({ name: 'run --rm busybox true', ours: median(runOurs), ref: median(runDocker), target: { ratio: 1 / 3, label: '1/3' } });
  rows.push({ name: `  run --rm that hung (killed after 30 s), of ${R + 1}`, ours: hangs, unit: '', target: { ok: hangs === 0, text: 'none' } });
  if (ids(out(CLI, T('container', 'ls', '-aq'), ours.env)).length) rows.push({ name: 'containers left after run --rm', ours: ids(out(CLI, T('container', 'ls', '-aq'), ours.env)).length, unit: '', target: { ok: false, text: 'none' } });

  // 50 × run -d, then rm -f of all, with memory sampled in between.
  const fifty = async (label, cli, env, memory) => {
    const before = memory();
    const t0 = performance.now();
    const started = [];
    for (let i = 0; i < MANY; i++) started.push(out(cli[0], [...cli.slice(1), 'run', '-d', 'bench/busybox:1', 'sleep', '1000'], env).trim());
    const runMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    const after = memory();
    const mem = { ...after, before: before.daemon, perKb: (after.daemon - before.daemon) / MANY + after.supKb / Math.max(1, after.supervisors) };
    const rmMs = timed(cli[0], [...cli.slice(1), 'rm', '-f', ...started], env);
    return { runMs, rmMs, mem, label };
  };
  const oursCli = [CLI, ...T('container')];
  const o50 = await fifty('ours', oursCli, ours.env, () => {
    const daemon = rssKb(ours.child.pid);
    const conmons = pidsWhere((c) => c.startsWith('/usr/bin/conmon ') && c.includes(`${ours.runDir}/`));
    const conmonKb = conmons.reduce((s, p) => s + rssKb(p), 0);
    return { daemon, supervisors: conmons.length, supKb: conmonKb };
  });
  let d50;
  if (docker) {
    d50 = await fifty('docker', ['docker'], docker.env, () => {
      const daemon = rssKb(docker.daemonPid()) + rssKb(docker.containerdPid());
      const shims = pidsWhere((c) => c.includes('containerd-shim') && c.includes(docker.dir));
      const shimKb = shims.reduce((s, p) => s + rssKb(p), 0);
      return { daemon, supervisors: shims.length, supKb: shimKb };
    });
  }
  rows.push({ name: `${MANY} × run -d sleep (sequential, total)`, ours: o50.runMs, ref: d50?.runMs, target: { ratio: 0.25, label: '1/4' } });
  rows.push({ name: `rm -f of the ${MANY}`, ours: o50.rmMs, ref: d50?.rmMs, target: { ratio: 0.25, label: '1/4' } });
  rows.push({ name: `${MANY} × run -d + rm -f`, ours: o50.runMs + o50.rmMs, ref: d50 ? d50.runMs + d50.rmMs : undefined, target: { ratio: 0.25, label: '1/4' } });
  rows.push({
    name: `memory per container, ${MANY} running`,
    unit: 'MB',
    ours: o50.mem.perKb / 1024,
    ref: d50 ? d50.mem.perKb / 1024 : undefined,
    target: { max: 3 },
    note:
      `ours: daemon ${(o50.mem.before / 1024).toFixed(1)} → ${(o50.mem.daemon / 1024).toFixed(1)} MB (idle at start ${(ctx.idle.ours / 1024).toFixed(1)}), ${o50.mem.supervisors} conmon, ${(o50.mem.supKb / 1024 / Math.max(1, o50.mem.supervisors)).toFixed(1)} MB each` +
      (d50 ? `; docker: dockerd+containerd ${(d50.mem.before / 1024).toFixed(1)} → ${(d50.mem.daemon / 1024).toFixed(1)} MB (idle at start ${((ctx.idle.docker + ctx.idle.containerd) / 1024).toFixed(1)}), ${d50.mem.supervisors} shims, ${(d50.mem.supKb / 1024 / Math.max(1, d50.mem.supervisors)).toFixed(1)} MB each` : ''),
  });

  // 200 running at once: ls -a.
  const lots = async (cli, env, lsArgs) => {
    const t0 = performance.now();
    const started = [];
    await pool(LOTS, 8, async () => {
      const id = await new Promise((resolve, reject) => {
        import('node:child_process').then(({ execFile }) =>
          execFile(cli[0], [...cli.slice(1), 'run', '-d', 'bench/busybox:1', 'sleep', '1000'], { env }, (e, so, se) => (e ? reject(new Error(`${e.message}: ${se}`)) : resolve(so.trim()))),
        );
      });
      started.push(id);
    });
    const startMs = performance.now() - t0;
    const running = ids(out(cli[0], [...cli.slice(1), ...lsArgs.filter((a) => a !== '-a'), '-q'], env)).length;
    const xs = [];
    timed(cli[0], [...cli.slice(1), ...lsArgs], env);
    for (let i = 0; i < 5; i++) xs.push(timed(cli[0], [...cli.slice(1), ...lsArgs], env));
    let rmMs = 0;
    for (let i = 0; i < started.length; i += 100) rmMs += await timedAsync(cli[0], [...cli.slice(1), 'rm', '-f', ...started.slice(i, i + 100)], env);
    return { startMs, running, ls: median(xs), rmMs };
  };
  const empty = [];
  for (let i = 0; i < 5; i++) empty.push(timed(CLI, T('container', 'ls', '-a'), ours.env));
  const oL = await lots(oursCli, ours.env, ['ls', '-a']);
  const dL = docker ? await lots(['docker'], docker.env, ['ps', '-a']) : undefined;
  rows.push({ name: `container ls -a, ${oL.running} running (docker: ${dL?.running ?? '—'})`, ours: oL.ls, ref: dL?.ls, target: { max: 200 } });
  rows.push({ name: '  container ls -a, no containers (info)', ours: median(empty) });
  rows.push({ name: `  start ${LOTS} (8 at a time) (info)`, ours: oL.startMs, ref: dL?.startMs });
  rows.push({ name: `  rm -f ${LOTS} (info)`, ours: oL.rmMs, ref: dL?.rmMs });
  printTable(`containers (run --rm: median of ${R}; reference = Docker 20.10)`, rows);
  process.stdout.write(`samples: run --rm ours ${runOurs.map((x) => x.toFixed(0)).join(' ')} | docker ${runDocker.map((x) => x.toFixed(0)).join(' ')}\n`);
}
