import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { TsError } from '../../common/errors';
import { loadProject } from '../../manager/compose/index';
import { project } from './helpers';

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  `name: demo
x-common: &common
  restart: always
  labels: [a=1]
include:
  - path: sub.yaml
services:
  app:
    <<: *common
    build: {context: ., args: {V: "\${V-1}"}}
    env_file: [{path: none.env, required: false}]
    ports: !override ["3000"]
    expose: ["3001"]
    ulimits: {nofile: 10}
    command: ["a", "b"]
`,
  `services:
  web:
    image: "x:\${TAG:-1}"
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp", {target: 81, published: 8081}]
    volumes: ["./a:/a:ro", "data:/data", {type: tmpfs, target: /t, tmpfs: {size: 1m}}]
    depends_on: {db: {condition: service_healthy}}
    extends: base
    environment: [A=1, B]
    healthcheck: {test: "true", interval: 1s}
    deploy: {replicas: 2, resources: {limits: {memory: 1g, cpus: "0.5"}}}
    secrets: [s]
    networks: {n: {aliases: [w]}}
  base:
    image: b
    command: echo hi
  db:
    image: p
    profiles: [x]
volumes: {data: {}}
secrets: {s: {environment: S}}
networks: {n: {}}
`,
];
const TOKENS = ['${', '$', '}', ':', '- ', '[', ']', '{', '}', '"', "'", '!reset ', '!override ', '<<: *a', '&a ', '*a', '\n', '  ', '#', '0440', '-1', 'null', '~', '.', '/', '\t', '\\', 'x-', '${X:?e}', '${Y:-${Z}}', '9999999', '1e400'];
const KEYS = ['image', 'ports', 'volumes', 'depends_on', 'extends', 'environment', 'build', 'networks', 'secrets', 'healthcheck', 'deploy', 'profiles', 'include', 'command', 'container_name', 'scale', 'ulimits'];
const VALUES: unknown[] = [null, 0, -1, 1.5, true, 'x', '', '80:80', './p:/p', [], {}, ['a'], { a: null }, { service: 'base' }, '1m', 'service:db'];

function mutateText(text: string, rnd: () => number): string {
  let out = text;
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (out.length + 1));
    const r = rnd();
    if (r < 0.35) out = out.slice(0, at) + (TOKENS[Math.floor(rnd() * TOKENS.length)] as string) + out.slice(at);
    else if (r < 0.6) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 8));
    else if (r < 0.8) {
      const lines = out.split('\n');
      const a = Math.floor(rnd() * lines.length);
      const b = Math.floor(rnd() * lines.length);
      [lines[a], lines[b]] = [lines[b] as string, lines[a] as string];
      out = lines.join('\n');
    } else out = out.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 128)) + out.slice(at);
  }
  return out;
}

function mutateTree(v: unknown, rnd: () => number, depth = 0): unknown {
  if (Array.isArray(v)) return v.map((x) => (rnd() < 0.1 ? VALUES[Math.floor(rnd() * VALUES.length)] : mutateTree(x, rnd, depth + 1)));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = rnd();
      if (r < 0.05) continue;
      const key = r < 0.1 ? (KEYS[Math.floor(rnd() * KEYS.length)] as string) : k;
      out[key] = r > 0.9 ? VALUES[Math.floor(rnd() * VALUES.length)] : mutateTree(x, rnd, depth + 1);
    }
    return out;
  }
  return rnd() < 0.15 ? VALUES[Math.floor(rnd() * VALUES.length)] : v;
}

test('fuzz: 10,000 mutated compose files load or fail with a clean one-line TsError', async () => {
  const dir = project({ 'compose.yaml': 'services: {}\n' });
  const { parse } = await import('yaml');
  const trees = SEEDS.map((s) => parse(s) as unknown);
  const rnd = prng(0xc0ffee);
  const started = Date.now();
  // Bounded: the case count is fixed, and the run must stay well inside the time budget.
  let ok = 0;
  let failed = 0;
  const CASES = 10_000;
  for (let i = 0; i < CASES; i++) {
    const seedIdx = Math.floor(rnd() * SEEDS.length);
    const input = rnd() < 0.5 ? mutateText(SEEDS[seedIdx] as string, rnd) : stringify(mutateTree(trees[seedIdx], rnd));
    try {
      await loadProject({ files: ['-'], stdinContent: input, workingDir: dir, environment: { TAG: '2', S: 's' }, profiles: rnd() < 0.5 ? ['x'] : [] });
      ok++;
    } catch (err) {
      if (!(err instanceof TsError)) assert.fail(`case ${i}: ${String((err as Error)?.stack ?? err)}\n--- input ---\n${input}`);
      assert.ok(err.message.length > 0 && !err.message.includes('\n'), `case ${i}: message must be one line: ${JSON.stringify(err.message)}`);
      failed++;
    }
  }
  const elapsed = Date.now() - started;
  assert.equal(ok + failed, CASES);
  assert.ok(ok > 100 && failed > 100, `both outcomes exercised (ok ${ok}, failed ${failed})`);
  // ~20 s on an idle machine; the margin absorbs shared CI runners.
  assert.ok(elapsed < 60_000, `fuzzing took ${elapsed} ms`);
});
