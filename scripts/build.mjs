// Builds the CLI into dist/: CommonJS bundles, `dist/tscompose.cjs` (every command) and
// `dist/engine.cjs` (the engine's commands only), that bin/tscompose compiles with a V8 code cache
// (see there), and the daemon beside them (`dist/daemon.cjs`), with the gRPC contracts pre-compiled to static codecs
// and the compose schema to a standalone validator, both bundled in (no .proto file or schema is
// compiled at start-up).
//
// Why one CommonJS file rather than ESM chunks: Node 20 caches no compiled code for ES modules,
// so every command re-parsed each chunk it loaded, and its ESM loader costs start-up time of its
// own. A command still runs only the modules it uses: esbuild turns each `await import()` of a
// bundled module into a lazy initialiser.
import { build, transformSync } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import protobuf from 'protobufjs';
import { execFileSync } from 'node:child_process';
import { generateRpcModule } from './gen-rpc.mjs';

const dist = 'dist';
const gen = join(dist, 'generated');
rmSync(dist, { recursive: true, force: true });
mkdirSync(gen, { recursive: true });

const protoFiles = readdirSync('proto').filter((f) => f.endsWith('.proto')).map((f) => join('proto', f));
const root = new protobuf.Root();
root.loadSync(protoFiles, { keepCase: true });
// Static serializers and method tables: no proto-loader or protobufjs at run time.
writeFileSync(join(gen, 'rpc-codec.mjs'), transformSync(generateRpcModule(root), { target: 'node20', format: 'esm' }).code);

// The compose schema compiled to a standalone ajv validator: compiling it at run time would cost
// ~150 ms per command that loads a compose file.
execFileSync(process.execPath, ['--import', 'tsx', 'scripts/gen-validator.mts', join(gen, 'compose-validator.mjs')], {
  stdio: 'inherit',
});

/** `import('tscompose-generated:NAME')` in the sources is dist/generated/NAME.mjs, bundled. */
const generatedModules = {
  name: 'tscompose-generated',
  setup(b) {
    b.onResolve({ filter: /^tscompose-generated:/ }, (args) => ({
      path: resolve(gen, `${args.path.slice('tscompose-generated:'.length)}.mjs`),
    }));
  },
};

/**
 * The CLI's bundles leave the daemon out: `tscompose daemon` requires dist/daemon.cjs, so that no
 * other command reads the engine's code at start-up. The engine bundle hands what it doesn't
 * define to the full program (`./full-program` in cmd/main.ts).
 */
const bundlesApart = {
  name: 'bundles-apart',
  setup(b) {
    const fromMain = (args) => args.importer.endsWith(join('cmd', 'main.ts'));
    b.onResolve({ filter: /^\.\/daemon$/ }, (args) => (fromMain(args) ? { path: './daemon.cjs', external: true } : undefined));
    b.onResolve({ filter: /^\.\/full-program$/ }, (args) => (fromMain(args) ? { path: './tscompose.cjs', external: true } : undefined));
  },
};

/**
 * In the CLI's bundles, node:child_process loads on first use rather than at start-up: commander
 * requires it at its own load (for executable subcommands, which tscompose has none of), and so
 * does the daemon auto-start of cmd/client.ts; loading it (with net's dgram and socket lists) cost
 * every command a few milliseconds. Its users only ever call its functions, after start-up.
 */
const CHILD_PROCESS_EXPORTS = Object.keys(await import('node:child_process')).filter((k) => k !== 'default');
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      // The stand-in's own require is the real module.
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: 'child_process', namespace: 'lazy-builtin' },
    );
    // Getters per export, not a Proxy: esbuild's ESM interop copies a module's property names
    // (lazily read getters) at import, which would load a Proxy's target at once.
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
      loader: 'js',
      contents: `let real;\nconst load = () => (real ??= require('node:child_process'));\nfor (const name of ${JSON.stringify(CHILD_PROCESS_EXPORTS)}) Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] });\n`,
    }));
  },
};

const options = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  legalComments: 'none',
  // Less to read on every start-up (source maps keep stack traces readable). TSCOMPOSE_NO_MINIFY=1
  // keeps names, for a CPU profile (node --cpu-prof bin/tscompose …) that says where time goes.
  minify: process.env.TSCOMPOSE_NO_MINIFY !== '1',
  // bin/tscompose reads the bundle as latin1, a one-byte string: no UTF-8 decoding at start-up.
  charset: 'ascii',
  // A native addon (conmon's SOCK_SEQPACKET attach socket): loaded from node_modules at run time.
  // proto-loader (and its protobufjs) too: only code run without the generated codecs (tests
  // from source) or grpc-js's channelz loads it.
  external: ['node-unix-socket', '@grpc/proto-loader'],
  // import() of what stays outside the bundle (the daemon's bundle, node-unix-socket, Node's own
  // modules) becomes require(): a bundle compiled through node:vm has no ES module loader.
  supported: { 'dynamic-import': false },
  inject: ['scripts/build/import-meta-url.cjs'],
  define: { 'import.meta.url': 'import_meta_url' },
  logLevel: 'warning',
};
await Promise.all([
  build({ ...options, entryPoints: ['cmd/main.ts'], outfile: join(dist, 'tscompose.cjs'), plugins: [generatedModules, bundlesApart, lazyChildProcess], define: { ...options.define, TSCOMPOSE_ENGINE_BUNDLE: 'false' } }),
  // The engine's commands without Compose's (no YAML, compose loader or validator): less to read
  // and compile at each start-up. bin/tscompose picks it by the top-level command.
  build({ ...options, entryPoints: ['cmd/main.ts'], outfile: join(dist, 'engine.cjs'), plugins: [generatedModules, bundlesApart, lazyChildProcess], define: { ...options.define, TSCOMPOSE_ENGINE_BUNDLE: 'true' } }),
  // The daemon keeps functions' and classes' names (in stack traces of its logs, and for any
  // dependency that reads them); the CLI saves the ~1000 __name calls of its start-up.
  build({ ...options, keepNames: true, entryPoints: ['cmd/daemon.ts'], outfile: join(dist, 'daemon.cjs'), plugins: [generatedModules] }),
]);

// esbuild's charset leaves regular expression literals as they are, and one non-ASCII character
// there would be read as two latin1 ones by bin/tscompose, and make the daemon's whole source a
// two-byte string (twice its size, for as long as the daemon runs). Write them as \u escapes.
for (const bundle of ['tscompose.cjs', 'engine.cjs', 'daemon.cjs']) {
  const bytes = readFileSync(join(dist, bundle));
  const at = bytes.findIndex((b) => b > 0x7f);
  if (at !== -1) {
    const context = bytes.subarray(Math.max(0, at - 60), at + 20).toString('utf8');
    throw new Error(`build: dist/${bundle} has a non-ASCII byte at ${at}, in: ${context}`);
  }
}

// The top-level commands the engine bundle defines, for bin/tscompose (cmd/families.ts).
const families = transformSync(readFileSync('cmd/families.ts', 'utf8'), { loader: 'ts', format: 'esm' }).code;
const { FAMILY_OF } = await import(`data:text/javascript,${encodeURIComponent(families)}`);
writeFileSync(join(dist, 'engine-commands.json'), JSON.stringify(Object.keys(FAMILY_OF)));
