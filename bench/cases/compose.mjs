/**
 * Compose up (issue 5): a project of 50 services (bench/busybox:1 `sleep 1000`, `init: true`):
 * `up -d` cold, `up -d` again unchanged, `ps`, `down`, each ≤ 1/4 of docker-compose 1.29's on a
 * private dockerd (bridge networking, no iptables); BENCH_COMPOSE_N rounds (default 3). Then a
 * 200-service project `up -d` and `down` once (success and times only).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CLI, hasCmd, median, out, printTable, settle, timed } from '../lib.mjs';

function project(n) {
  const lines = ['services:'];
  for (let i = 0; i < n; i++) lines.push(`  s${i}:`, '    image: bench/busybox:1', '    command: ["sleep", "1000"]', '    init: true');
  return `${lines.join('\n')}\n`;
}

export async function run(ctx) {
  const { T, work } = ctx;
  const rounds = Math.max(1, Number(process.env.BENCH_COMPOSE_N ?? 3));
  const ours = await ctx.oursBusybox();
  const docker = hasCmd('docker-compose') ? await ctx.dockerBusybox() : undefined;
  const dir = path.join(work, 'compose50');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'compose.yaml');
  writeFileSync(file, project(50));
  const ourCmd = (...a) => [CLI, T('-f', file, '-p', 'bench50', ...a), ours.env, { cwd: dir }];
  const dcCmd = (...a) => ['docker-compose', ['--no-ansi', '-f', file, '-p', 'bench50', ...a], docker?.env, { cwd: dir }];
  const phases = ['up', 'up2', 'ps', 'down'];
  const res = { ours: {}, dc: {} };
  for (const k of Object.keys(res)) for (const p of phases) res[k][p] = [];
  const count = (cmd) => out(cmd[0], [...cmd[1].filter((a) => a !== '--no-ansi'), 'ps', '-q'], cmd[2], cmd[3]);
  // A failure of ours ends the case. One of docker-compose's (seen under heavy load: dockerd's
  // "network … has active endpoints" on down) loses that round's reference figures only: it is
  // counted and shown, the project is taken down again, and the rounds go on.
  const dcFailures = [];
  for (let r = 0; r < rounds; r++) {
    for (const [k, mk] of [['ours', ourCmd], ['dc', docker ? dcCmd : undefined]]) {
      if (!mk) continue;
      const run1 = (p, ...a) => {
        settle();
        res[k][p].push(timed(...mk(...a)));
      };
      try {
        run1('up', 'up', '-d');
        const n = count(mk()).split('\n').filter(Boolean).length;
        if (n !== 50) throw new Error(`${k}: ${n} containers after up, not 50`);
        run1('up2', 'up', '-d');
        run1('ps', 'ps');
        run1('down', 'down');
      } catch (e) {
        if (k === 'ours') throw e;
        dcFailures.push(String(e.message).split('\n').filter(Boolean).slice(-1)[0]);
        try {
          timed(...mk('down'));
        } catch {
          /* the next round's up reports what is still wrong */
        }
      }
    }
  }
  const rows = [];
  const names = { up: 'up -d, cold', up2: 'up -d again, unchanged', ps: 'ps', down: 'down' };
  for (const p of phases) rows.push({ name: `50 services: ${names[p]}`, ours: median(res.ours[p]), ref: median(res.dc[p]), target: { ratio: 0.25, label: '1/4' } });
  if (dcFailures.length) rows.push({ name: `  docker-compose rounds that failed, of ${rounds}`, ours: dcFailures.length, unit: '', note: dcFailures.join(' | ') });

  // 200 services, once.
  const dir2 = path.join(work, 'compose200');
  mkdirSync(dir2, { recursive: true });
  const file2 = path.join(dir2, 'compose.yaml');
  writeFileSync(file2, project(200));
  let up200;
  let down200;
  let n200;
  let err200;
  try {
    settle();
    up200 = timed(CLI, T('-f', file2, '-p', 'bench200', 'up', '-d'), ours.env, { cwd: dir2 });
    n200 = out(CLI, T('-f', file2, '-p', 'bench200', 'ps', '-q'), ours.env, { cwd: dir2 }).split('\n').filter(Boolean).length;
    settle();
    down200 = timed(CLI, T('-f', file2, '-p', 'bench200', 'down'), ours.env, { cwd: dir2 });
  } catch (e) {
    err200 = String(e.message).split('\n').slice(0, 3).join(' | ');
  }
  const ok200 = !err200 && n200 === 200;
  rows.push({ name: `200 services: up -d (${n200 ?? '?'} running)`, ours: up200, target: { ok: ok200, text: 'no error' }, note: err200 });
  rows.push({ name: '200 services: down', ours: down200, target: { ok: !err200 && down200 !== undefined, text: 'no error' } });
  printTable(`compose (median of ${rounds} rounds; reference = docker-compose 1.29 on dockerd 20.10)`, rows);
  const s = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
  process.stdout.write(`samples: ${phases.map((p) => `${p} ours ${s(res.ours[p])} / dc ${s(res.dc[p])}`).join(' | ')}\n`);
}
