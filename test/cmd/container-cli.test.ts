/**
 * The container commands against a fake engine speaking the real contract over a unix socket:
 * run's pull fallback, attach-before-start, exit codes, per-name errors and list output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server, ServerDuplexStream, ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import { loadGrpc, loadProtos } from '../../common/rpc/proto';
import type { ContainerSummary } from '../../common/rpc/engine-types';

let server: Server;
let dir: string;
let host: string;
let pulled = false;
const created: Array<{ image: string; cmd: string[]; auto_remove: boolean }> = [];
const events: string[] = [];
let startedResolve: () => void = () => undefined;
let started = new Promise<void>((r) => (startedResolve = r));

type Unary<Req = any, Res = any> = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void;

const status = { NOT_FOUND: 5 };
const fail = (cb: sendUnaryData<unknown>, code: number, details: string) => cb({ code, details, name: 'Error', message: details }, null);

before(async () => {
  const grpc = await loadGrpc();
  const protos = await loadProtos();
  const Engine = (protos['tscompose'] as any).engine.v1.Engine;
  dir = mkdtempSync(join(tmpdir(), 'container-cli-'));
  const sock = join(dir, 'engine.sock');
  server = new grpc.Server();
  const handlers: Record<string, Unary | ((call: ServerDuplexStream<any, any>) => void) | ((call: ServerWritableStream<any, any>) => void)> = {
    ContainerCreate: ((call, cb) => {
      const spec = call.request;
      if (spec.image === 'missing' || (spec.image === 'pullme' && !pulled)) return fail(cb, status.NOT_FOUND, `No such image: ${spec.image}:latest`);
      created.push({ image: spec.image, cmd: spec.cmd, auto_remove: spec.auto_remove });
      events.push('create');
      cb(null, { id: 'f'.repeat(64), warnings: [] });
    }) as Unary,
    ContainerStart: ((call, cb) => {
      events.push('start');
      if (created.at(-1)?.cmd[0] === 'nope') {
        return fail(cb, 13, 'failed to create task: exec: "nope": executable file not found in $PATH');
      }
      startedResolve();
      cb(null, {});
    }) as Unary,
    ContainerWait: ((call, cb) => {
      events.push(`wait:${call.request.condition}`);
      void started.then(() => setTimeout(() => cb(null, { exit_code: 3, error: '' }), 20));
    }) as Unary,
    ContainerAttach: (call: ServerDuplexStream<any, any>) => {
      call.once('data', (first: { open?: { id: string } }) => {
        events.push(`attach:${first.open?.id.slice(0, 4)}`);
        call.sendMetadata(new grpc.Metadata());
        void started.then(() => {
          call.write({ stdout: Buffer.from('hello\n') });
          call.write({ stderr: Buffer.from('oops\n') });
          call.write({ exit_code: 3 });
          call.end();
        });
      });
      call.on('error', () => undefined);
    },
    ImagePull: (call: ServerWritableStream<any, any>) => {
      if (call.request.reference === 'missing') {
        call.emit('error', { code: status.NOT_FOUND, details: "pull access denied for missing, repository does not exist or may require 'docker login'" });
        return;
      }
      pulled = true;
      call.write({ id: 'latest', status: 'Pulling from library/pullme', current: 0, total: 0 });
      call.write({ id: '', status: 'Status: Downloaded newer image for pullme:latest', current: 0, total: 0 });
      call.end();
    },
    ContainerRemove: ((call, cb) => {
      if (call.request.id === 'nope') return fail(cb, status.NOT_FOUND, 'No such container: nope');
      cb(null, {});
    }) as Unary,
    ContainerList: ((call, cb) => {
      const c: ContainerSummary = {
        id: 'a'.repeat(64),
        names: ['/web'],
        image: 'busybox',
        image_id: '',
        command: 'sleep 1000',
        created: Date.now() - 5000,
        state: 'running',
        status: 'Up 4 seconds',
        ports: [{ ip: '0.0.0.0', private_port: 80, public_port: 8080, type: 'tcp' }],
        labels: {},
        size_rw: 0,
        size_root_fs: 0,
        networks: [],
        mounts: [],
        health: '',
        exit_code: 0,
        started_at: 0,
        finished_at: 0,
      };
      cb(null, { containers: call.request.all ? [c, { ...c, id: 'b'.repeat(64), names: ['/old'], state: 'exited' }] : [c] });
    }) as Unary,
  };
  server.addService(Engine.service, handlers as any);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  host = `unix://${sock}`;
});

after(() => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

const REPO = join(import.meta.dirname, '..', '..');

/**
 * Runs one command action in a child process (the test runner owns our stdout), the way
 * main() does: a returned number or an ExitError becomes the exit status.
 */
function cli(module: string, action: string, args: unknown[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `
    import { setGlobals, closeEngine, ExitError } from ${JSON.stringify(join(REPO, 'cmd/cli.ts'))};
    const mod = await import(${JSON.stringify(join(REPO, 'cmd/commands', module + '.ts'))});
    setGlobals({ host: ${JSON.stringify(host)} });
    try {
      const code = await mod[${JSON.stringify(action)}](...${JSON.stringify(args)});
      process.exitCode = typeof code === 'number' ? code : 0;
    } catch (err) {
      if (!(err instanceof ExitError)) throw err;
      if (err.message) process.stderr.write(err.message + '\\n');
      process.exitCode = err.status;
    } finally {
      closeEngine();
    }`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('run: attaches before starting, streams output, exits with the container’s code', async () => {
  events.length = 0;
  const r = await cli('container-run', 'containerRun', ['busybox', ['echo', 'hello'], { rm: true }]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'hello\n');
  assert.equal(r.stderr, 'oops\n');
  assert.deepEqual(events.slice(0, 4), ['create', 'attach:ffff', 'wait:removed', 'start']);
  assert.deepEqual(created.at(-1), { image: 'busybox', cmd: ['echo', 'hello'], auto_remove: true });
});

test('run -d prints the full ID', async () => {
  const r = await cli('container-run', 'containerRun', ['busybox', [], { detach: true }]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${'f'.repeat(64)}\n`);
});

test('run: a missing image is pulled, with the progress on stderr', async () => {
  const r = await cli('container-run', 'containerRun', ['pullme', [], { detach: true }]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${'f'.repeat(64)}\n`);
  assert.equal(
    r.stderr,
    "Unable to find image 'pullme:latest' locally\nlatest: Pulling from library/pullme\nStatus: Downloaded newer image for pullme:latest\n",
  );
});

test('run: a failed pull is the daemon’s error, exit 125', async () => {
  const r = await cli('container-run', 'containerRun', ['missing', [], { detach: true }]);
  assert.equal(r.code, 125);
  assert.equal(
    r.stderr,
    "Unable to find image 'missing:latest' locally\ntscompose: Error response from daemon: pull access denied for missing, repository does not exist or may require 'docker login'\n",
  );
});

test('run: a command that is not found exits 127', async () => {
  started = new Promise<void>((r) => (startedResolve = r));
  const r = await cli('container-run', 'containerRun', ['busybox', ['nope'], { detach: true }]);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /^tscompose: Error response from daemon: failed to create task: exec: "nope": executable file not found/);
  startedResolve();
});

test('run: a bad flag exits 125 before anything is created', async () => {
  const before = created.length;
  const r = await cli('container-run', 'containerRun', ['busybox', [], { memory: 'abc' }]);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'\n`);
  assert.equal(created.length, before);
});

test('rm: names as given, an error line per failure, exit 1', async () => {
  const r = await cli('container', 'containerRm', [['web', 'nope', 'db'], {}]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'web\ndb\n');
  assert.equal(r.stderr, 'Error response from daemon: No such container: nope\n');
});

test('ls: Docker’s table, -a and -q', async () => {
  const r = await cli('container', 'containerLs', [{}]);
  assert.equal(r.code, 0);
  const [header, row] = r.stdout.split('\n');
  assert.equal(header, 'CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS         PORTS                  NAMES');
  assert.match(row!, /^aaaaaaaaaaaa {3}busybox {3}"sleep 1000" {3}5 seconds ago {3}Up 4 seconds {3}0\.0\.0\.0:8080->80\/tcp {3}web$/);
  const quiet = await cli('container', 'containerLs', [{ all: true, quiet: true }]);
  assert.equal(quiet.stdout, 'aaaaaaaaaaaa\nbbbbbbbbbbbb\n');
});
