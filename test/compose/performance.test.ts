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

// How fast is the bench's to say (`node bench/run.mjs config`), not a test's: this checks that a
// project this big loads and prints whole, in a fresh process as the CLI does.
test('500 services load and print whole (precompiled validator)', async () => {
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
process.stdout.write(JSON.stringify({ ms: performance.now() - t0, services: Object.keys(lp.model.services).length, yaml: out }));
`,
  );
  const { execFileSync } = await import('node:child_process');
  const result = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, TSCOMPOSE_COMPOSE_VALIDATOR: validator }, encoding: 'utf8' }),
  ) as { ms: number; services: number; yaml: string };
  assert.equal(result.services, 500);
  // (ok/includes, not match: a failure would print the whole 400 kB document)
  assert.ok(result.yaml.includes('  svc499:\n'), 'svc499 is printed');
  assert.ok(result.yaml.includes('image: "registry.example.com/team/svc499:1"'), 'its image is interpolated');
  assert.ok(result.yaml.includes('published: "10499"'), 'its port is normalised');
  assert.equal((result.yaml.match(/^ {2}svc\d+:$/gm) ?? []).length, 500);
  console.log(`# 500 services: ${Math.round(result.ms)} ms (informational; the config bench case times it)`);
});
