import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Command } from 'commander';
import { runConfig } from '../../cmd/commands/config';
import { registerComposeCommands } from '../../cmd/commands/register-compose';
import { setGlobals } from '../../cmd/cli';
import type { ConfigFlags } from '../../cmd/commands/config';
import { loadProject, serviceConfigHash } from '../../manager/compose/index';
import { project } from './helpers';

async function run(dir: string, flags: ConfigFlags, opts: { files?: string[]; stdin?: string; services?: string[] } = {}): Promise<{ out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    await runConfig(opts.files ? { file: opts.files } : {}, flags, opts.services ?? [], { stdout, stderr, stdin: Readable.from([opts.stdin ?? '']) });
  } finally {
    process.chdir(cwd);
  }
  return { out, err };
}

const APP = `name: shop
services:
  web:
    build: ./web
    ports: ["8080:80"]
    environment:
      PRICE: "$$5"
      DB: "\${DB_HOST:-db}"
    depends_on: [db]
    volumes: ["./static:/static:ro", "cache:/cache"]
    healthcheck:
      test: curl -f localhost
      interval: 30s
  db:
    image: postgres:16
  adminer:
    image: adminer
    profiles: [debug]
volumes:
  cache: {}
`;

describe('tscompose config', () => {
  test('config | config -f - is a fixed point', async () => {
    const dir = project({ 'compose.yaml': APP });
    const first = await run(dir, {});
    assert.match(first.out, /PRICE: "\$\$5"/);
    const second = await run(dir, {}, { files: ['-'], stdin: first.out });
    assert.equal(second.out, first.out);
    const json1 = await run(dir, { format: 'json' });
    assert.equal(JSON.parse(json1.out).services.web.environment.DB, 'db');
  });

  test('listing flags', async () => {
    const dir = project({ 'compose.yaml': APP });
    assert.equal((await run(dir, { services: true })).out, 'db\nweb\n');
    assert.equal((await run(dir, { volumes: true })).out, 'cache\n');
    assert.equal((await run(dir, { networks: true })).out, 'default\n');
    assert.equal((await run(dir, { profiles: true })).out, 'debug\n');
    assert.equal((await run(dir, { images: true })).out, 'postgres:16\nshop-web\n');
    assert.equal((await run(dir, { quiet: true })).out, '');
    assert.match((await run(dir, { variables: true })).out, /^NAME\s+REQUIRED\s+DEFAULT VALUE\s+ALTERNATE VALUE\nDB_HOST\s+false\s+db\n$/);
    assert.match((await run(dir, { environment: true })).out, /^[A-Z_]/m);
  });

  test('--hash prints service hash lines; the hash ignores replicas but not the image', async () => {
    const dir = project({ 'compose.yaml': APP });
    const { out } = await run(dir, { hash: '*' });
    assert.match(out, /^db [0-9a-f]{64}\nweb [0-9a-f]{64}\n$/);
    const lp = await loadProject({ workingDir: dir, environment: {} });
    const web = lp.model.services.web;
    assert.ok(web);
    assert.ok(out.endsWith(`web ${serviceConfigHash(web)}\n`));
    const base = serviceConfigHash({ image: 'a', deploy: { replicas: 1 } });
    assert.equal(serviceConfigHash({ deploy: { replicas: 5 }, image: 'a' }), base);
    assert.notEqual(serviceConfigHash({ image: 'b', deploy: { replicas: 1 } }), base);
  });

  test('-o writes a file; naming services restricts the output', async () => {
    const dir = project({ 'compose.yaml': APP });
    await run(dir, { output: join(dir, 'out.yaml') }, { services: ['db'] });
    const text = readFileSync(join(dir, 'out.yaml'), 'utf8');
    assert.match(text, /db:/);
    assert.doesNotMatch(text, /web:/);
  });

  test('--no-interpolate and --no-path-resolution', async () => {
    const dir = project({ 'compose.yaml': APP });
    const raw = await run(dir, { interpolate: false });
    assert.match(raw.out, /DB: "\$\{DB_HOST:-db\}"/);
    const rel = await run(dir, { pathResolution: false });
    assert.match(rel.out, /context: \.\/web/);
  });

  test('the config command wires its flags into commander', async () => {
    const dir = project({ 'compose.yaml': APP });
    const program = new Command().enablePositionalOptions().exitOverride();
    registerComposeCommands(program);
    setGlobals({ file: [join(dir, 'compose.yaml')] });
    const writes: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    // Only our text: the test runner itself reports the file's earlier results to its parent
    // process as binary writes to stdout, maybe just now; swallowing those lost whole tests.
    process.stdout.write = ((c: unknown, ...rest: unknown[]) => {
      if (typeof c === 'string') {
        writes.push(c);
        return true;
      }
      return (orig as (...a: unknown[]) => boolean)(c, ...rest);
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'tscompose', 'config', '--services']);
    } finally {
      process.stdout.write = orig;
    }
    assert.equal(writes.join(''), 'db\nweb\n');
  });
});

test('--variables lists the variables of services whose profiles are off, too', async () => {
  const dir = project({ 'compose.yaml': 'services:\n  a:\n    image: "x:${A_TAG:-1}"\n  b:\n    image: "y:${B_TAG:?B_TAG must be set}"\n    profiles: [extra]\n' });
  const { out } = await run(dir, { variables: true });
  assert.match(out, /^A_TAG\s+false\s+1$/m);
  assert.match(out, /^B_TAG\s+true$/m);
});
