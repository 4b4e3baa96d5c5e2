/**
 * Build (issue 7): a small two-stage Dockerfile (COPY of 20 files, a RUN, COPY --from) built with
 * `image build` vs `docker build` (legacy builder, DOCKER_BUILDKIT=0; BuildKit when the docker CLI
 * has its buildx plugin): cold (`--no-cache`), no-change rebuild, rebuild after one file's content
 * changed. Targets: cold and one-file ≤ 1/2 of Docker's; no-change within 50 ms of `node -e 0`.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CLI, NODE, launcherEnv, median, printTable, timed } from '../lib.mjs';

const DOCKERFILE = `FROM bench/busybox:1 AS build
COPY src/ /src/
RUN mkdir -p /out && cat /src/*.txt > /out/all.txt && wc -l /out/all.txt > /out/lines
FROM bench/busybox:1
COPY --from=build /out/ /app/
CMD ["cat", "/app/lines"]
`;

export async function run(ctx) {
  const { N, T, work } = ctx;
  const ours = await ctx.oursBusybox();
  const docker = await ctx.dockerBusybox();
  const dir = path.join(work, 'buildctx');
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
  for (let i = 0; i < 20; i++) writeFileSync(path.join(dir, 'src', `f${i}.txt`), `file ${i}\n`.repeat(50));
  const builders = [['ours', (extra) => [CLI, T('image', 'build', '-q', ...extra, '-t', 'bench/built:1', dir), ours.env]]];
  let buildkitNote = '';
  if (docker) {
    builders.push(['legacy', (extra) => ['docker', ['build', '-q', ...extra, '-t', 'bench/built:1', dir], { ...docker.env, DOCKER_BUILDKIT: '0' }]]);
    if (spawnSync('docker', ['buildx', 'version'], { env: docker.env, stdio: 'ignore' }).status === 0)
      builders.push(['buildkit', (extra) => ['docker', ['build', '-q', ...extra, '-t', 'bench/built:1', dir], { ...docker.env, DOCKER_BUILDKIT: '1' }]]);
    else buildkitNote = 'BuildKit: not measured (the docker CLI has no buildx plugin; DOCKER_BUILDKIT=1 fails)';
  }
  const res = Object.fromEntries(builders.map(([k]) => [k, { cold: [], same: [], one: [] }]));
  const floor = [];
  const R = Math.min(N, 5);
  for (let r = 0; r < R; r++) {
    for (const [k, cmd] of builders) {
      res[k].cold.push(timed(...cmd(['--no-cache'])));
      res[k].same.push(timed(...cmd([])));
      floor.push(timed(NODE, ['-e', '0'], launcherEnv(process.env)));
    }
    for (const [k, cmd] of builders) {
      appendFileSync(path.join(dir, 'src', 'f7.txt'), `change ${k} ${r}\n`);
      res[k].one.push(timed(...cmd([])));
    }
  }
  const f = median(floor);
  const rows = [];
  const m = (k, p) => (res[k] ? median(res[k][p]) : undefined);
  for (const ref of builders.slice(1).map(([k]) => k).concat(docker ? [] : ['none'])) {
    const refName = { legacy: 'docker build, legacy builder', buildkit: 'docker build, BuildKit', none: undefined }[ref];
    rows.push({ name: 'cold (--no-cache)', ours: m('ours', 'cold'), ref: m(ref, 'cold'), refName, target: { ratio: 0.5, label: '1/2' } });
    rows.push({ name: 'no-change rebuild', ours: m('ours', 'same'), ref: m(ref, 'same'), refName, target: { within: 50, of: f } });
    rows.push({ name: 'one file changed', ours: m('ours', 'one'), ref: m(ref, 'one'), refName, target: { ratio: 0.5, label: '1/2' } });
  }
  rows.push({ name: 'node -e 0 (start-up floor)', ours: f, note: buildkitNote || undefined });
  printTable(`build (median of ${R})`, rows);
  const s = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
  process.stdout.write(`samples: ${builders.map(([k]) => `${k} cold ${s(res[k].cold)} same ${s(res[k].same)} one ${s(res[k].one)}`).join(' | ')}\n`);
}
