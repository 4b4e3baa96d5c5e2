/**
 * Compose config (issue 4): `tscompose -f big.yaml config` of a generated 500-service file (ports,
 * volumes, depends_on, interpolation) vs `docker-compose -f big.yaml config`; target ≤ 300 ms wall.
 * No daemon is involved.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CLI, NODE, launcherEnv, hasCmd, median, out, printTable, timed } from '../lib.mjs';

/**
 * Copy of `generateLargeCompose` of test/compose/performance.test.ts (bench does not import tests),
 * with one change: svc2's depends_on lists svc1 once, not twice (`floor(2/2)` is `2 - 1`);
 * docker-compose rejects duplicate items, as the compose-spec schema (uniqueItems) says.
 */
export function generateLargeCompose(n) {
  const lines = ['services:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  svc${i}:`,
      `    image: "registry.example.com/team/svc${i}:\${TAG:-latest}"`,
      '    ports:',
      `      - "\${BIND:-127.0.0.1}:${10000 + i}:80"`,
      '    volumes:',
      `      - ./data/svc${i}:/data`,
      '      - shared:/shared:ro',
      '    environment:',
      `      SERVICE_INDEX: "${i}"`,
      '      LOG_LEVEL: ${LOG_LEVEL:-info}',
      '    healthcheck:',
      '      test: curl -f http://localhost/health',
      '      interval: 30s',
    );
    if (i > 0) lines.push('    depends_on:', `      - svc${i - 1}`, ...(i > 2 ? [`      - svc${Math.floor(i / 2)}`] : []));
  }
  lines.push('volumes:', '  shared: {}');
  return `${lines.join('\n')}\n`;
}

export async function run(ctx) {
  const { N, T, work } = ctx;
  const dir = path.join(work, 'config500');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'compose.yaml');
  writeFileSync(file, generateLargeCompose(500));
  const env = { ...process.env, TAG: '1' };
  delete env.TSCOMPOSE_HOST;
  const R = Math.max(N, 10);
  const args = T('-f', file, '-p', 'big', 'config');
  const services = out(CLI, T('-f', file, '-p', 'big', 'config', '--services'), env).split('\n').filter(Boolean).length;
  const dc = hasCmd('docker-compose') && ctx.withDocker;
  if (dc) out('docker-compose', ['-f', file, '-p', 'big', 'config', '--services'], env);
  const ours = [];
  const theirs = [];
  const floor = [];
  for (let i = 0; i < R; i++) {
    floor.push(timed(NODE, ['-e', '0'], launcherEnv(env)));
    ours.push(timed(CLI, args, env, { cwd: dir }));
    if (dc) theirs.push(timed('docker-compose', ['-f', file, '-p', 'big', 'config'], env, { cwd: dir }));
  }
  const bytes = out(CLI, args, env, { cwd: dir }).length;
  printTable(`compose config (median of ${R}; reference = docker-compose 1.29)`, [
    { name: `config, ${services} services (${(bytes / 1024).toFixed(0)} kB out)`, ours: median(ours), ref: median(theirs), target: { max: 300 } },
    { name: '  node -e 0 (start-up floor)', ours: median(floor) },
  ]);
  process.stdout.write(`samples: ours ${ours.map((x) => x.toFixed(0)).join(' ')}\n`);
}
