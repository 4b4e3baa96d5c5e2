// Builds the CLI+daemon bundle into dist/: one ESM entry with lazily loaded chunks (so a command
// pays only for the modules it uses), and the gRPC contracts pre-compiled to a JSON descriptor
// (so no .proto file is parsed at start-up).
import { build, transformSync } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { execFileSync } from 'node:child_process';
import { generateRpcModule } from './gen-rpc.mjs';

const dist = 'dist';
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const protoFiles = readdirSync('proto').filter((f) => f.endsWith('.proto')).map((f) => join('proto', f));
const root = new protobuf.Root();
root.loadSync(protoFiles, { keepCase: true });
writeFileSync(join(dist, 'proto-descriptor.json'), JSON.stringify(root.toJSON()));
// Static serializers and grpc-js method tables: no proto-loader or protobufjs at run time.
writeFileSync(join(dist, 'rpc-codec.mjs'), transformSync(generateRpcModule(root), { minify: true, target: 'node20', format: 'esm' }).code);

const REQUIRE_BANNER = "import { createRequire as __tscCreateRequire } from 'node:module'; const require = __tscCreateRequire(import.meta.url);";

await build({
  entryPoints: { tscompose: 'cmd/main.ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  outdir: dist,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'none',
  // Less to parse on every start-up (source maps keep stack traces readable).
  minify: true,
  keepNames: true,
  // A native addon (conmon's SOCK_SEQPACKET attach socket): loaded from node_modules at run time.
  // proto-loader (and its protobufjs) too: only a bundle without dist/rpc-codec.mjs, or grpc-js's
  // channelz, would load it; bundled, every command would parse its 330 kB chunk.
  external: ['node-unix-socket', '@grpc/proto-loader'],
  logLevel: 'warning',
  banner: {
    // Bundled CommonJS dependencies (grpc-js, yaml…) call require() for Node built-ins.
    js: REQUIRE_BANNER,
  },
  define: { 'process.env.TSCOMPOSE_BUILD_TIME': JSON.stringify(new Date().toISOString()) },
});

// The banner goes on every file, but most never call require(): on those it only costs each
// command a createRequire per loaded chunk. Its line stays (empty), so source maps still match.
for (const file of [join(dist, 'tscompose.mjs'), ...readdirSync(join(dist, 'chunks')).filter((f) => f.endsWith('.mjs')).map((f) => join(dist, 'chunks', f))]) {
  const text = readFileSync(file, 'utf8');
  if (text.startsWith(REQUIRE_BANNER) && !/\brequire\b/.test(text.slice(REQUIRE_BANNER.length))) writeFileSync(file, text.slice(REQUIRE_BANNER.length));
}

// The compose schema compiled to a standalone ajv validator beside the bundle: compiling it at
// run time would cost ~150 ms per command that loads a compose file.
execFileSync(process.execPath, ['--import', 'tsx', 'scripts/gen-validator.mts', join(dist, 'chunks', 'compose-validator.mjs')], {
  stdio: 'inherit',
});
