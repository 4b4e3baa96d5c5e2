import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStandaloneValidator } from '../../manager/compose/schema';
import { project } from './helpers';

/** A project of `n` services with ports, volumes, depends_on and interpolation. */
export function generateLargeCompose(n: number): string {
  const lines = ['services:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  svc${i}:`,
      `    image: "registry.example.com/team/svc${i}:\${TAG:-latest}"`,
      '    ports:',
      `      - "\${BIND:-127.0.0.1}:${10000 + i}:80"`,
      '    volumes:',
      `      - ./data/svc${i}:/data`,
      `      - shared:/shared:ro`,
      '    environment:',
      `      SERVICE_INDEX: "${i}"`,
      '      LOG_LEVEL: ${LOG_LEVEL:-info}',
      '    healthcheck:',
      '      test: curl -f http://localhost/health',
      '      interval: 30s',
    );
    // svc2's half is svc1, its predecessor: listed once, as Compose refuses duplicates.
    if (i > 0) lines.push('    depends_on:', `      - svc${i - 1}`, ...(i > 2 ? [`      - svc${Math.floor(i / 2)}`] : []));
  }
  lines.push('volumes:', '  shared: {}');
  return `${lines.join('\n')}\n`;
}

test('500 services load and print quickly (precompiled validator)', async () => {
  const validator = join(mkdtempSync(join(tmpdir(), 'tsc-validator-')), 'compose-validator.mjs');
  await writeStandaloneValidator(validator);
  const dir = project({ 'compose.yaml': generateLargeCompose(500) });
  // A fresh process: cold module loading and validator import count, as they do for the CLI.
  const script = join(dir, 'run.mts');
  writeFileSync(
    script,
    `import { loadProject, toYaml } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'manager', 'compose', 'index'))};
const t0 = performance.now();
const lp = await loadProject({ workingDir: ${JSON.stringify(dir)}, environment: { TAG: '1' } });
const out = toYaml(lp);
process.stdout.write(JSON.stringify({ ms: performance.now() - t0, services: Object.keys(lp.model.services).length, bytes: out.length }));
`,
  );
  const { execFileSync } = await import('node:child_process');
  const result = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, TSCOMPOSE_COMPOSE_VALIDATOR: validator }, encoding: 'utf8' }),
  ) as { ms: number; services: number };
  assert.equal(result.services, 500);
  // The CLI budget is 300 ms wall including Node's start-up (~40 ms); this measures the loader alone.
  assert.ok(result.ms < 1000, `load + print took ${Math.round(result.ms)} ms`);
  console.log(`# 500 services: ${Math.round(result.ms)} ms`);
});
