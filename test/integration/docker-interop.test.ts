/**
 * Archives exchanged with a real Docker Engine, run privately (own data root, exec root, socket,
 * no bridge, no iptables) and stopped afterwards: `docker save` → `tscompose image load` keeps
 * tags, ID and layers; `tscompose image save` → `docker load` → `docker run` works, for an
 * imported and for a built image; `docker build` and `tscompose image build` of one Dockerfile give
 * the same config and history (but for timestamps, IDs and COPY's source digests).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTestDaemon, unmountUnder, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';

const run = promisify(execFile);

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const missing = ['dockerd', 'docker', 'containerd', 'runc'].filter((c) => !which(c));
const skip = missing.length > 0 ? `dockerd is not installed: ${missing.join(', ')} not found in PATH` : false;

class PrivateDockerd {
  child: ChildProcess | undefined;
  readonly sock: string;
  constructor(readonly dir: string) {
    this.sock = path.join(dir, 'docker.sock');
  }
  get env(): Record<string, string> {
    return { ...(process.env as Record<string, string>), DOCKER_HOST: `unix://${this.sock}`, DOCKER_CONFIG: path.join(this.dir, 'config') };
  }
  async start(): Promise<void> {
    const log = openSync(path.join(this.dir, 'dockerd.log'), 'a');
    this.child = spawn(
      'dockerd',
      [
        '--data-root', path.join(this.dir, 'data'),
        '--exec-root', path.join(this.dir, 'exec'),
        '--pidfile', path.join(this.dir, 'dockerd.pid'),
        '--host', `unix://${this.sock}`,
        '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
      ],
      { stdio: ['ignore', log, log], detached: true },
    );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      try {
        await this.docker(['version']);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`private dockerd did not start: ${readFileSync(path.join(this.dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
  }
  async docker(args: string[], env: Record<string, string> = {}): Promise<string> {
    const r = await run('docker', args, { env: { ...this.env, ...env }, maxBuffer: 64 << 20 });
    return r.stdout;
  }
  async stop(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
    this.child = undefined;
    await unmountUnder(this.dir);
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

describe('Docker interop', { skip }, () => {
  let docker: PrivateDockerd | undefined;
  let d: TestDaemon | undefined;
  let rootfs: string;

  before(async () => {
    docker = new PrivateDockerd(mkdtempSync(path.join(os.tmpdir(), 'tsc-dockerd-')));
    [d] = await Promise.all([startTestDaemon(), docker.start()]);
    rootfs = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  });
  after(async () => {
    await Promise.all([docker?.stop(), d?.destroy()]);
  });

  test('docker save → tscompose image load keeps tags, ID and layers', async () => {
    const dk = docker!;
    const t = d!;
    await dk.docker(['import', '-c', 'CMD ["/bin/sh"]', '-c', 'ENV FROM=docker', rootfs, 'interop/from-docker:1']);
    await dk.docker(['tag', 'interop/from-docker:1', 'interop/from-docker:also']);
    const archive = path.join(t.dir, 'from-docker.tar');
    await dk.docker(['save', '-o', archive, 'interop/from-docker:1', 'interop/from-docker:also']);
    const out = await t.ok(['image', 'load', '-i', archive]);
    assert.match(out, /Loaded image: interop\/from-docker:1/);
    assert.match(out, /Loaded image: interop\/from-docker:also/);
    const theirs = JSON.parse(await dk.docker(['image', 'inspect', 'interop/from-docker:1']))[0];
    const ours = JSON.parse(await t.ok(['image', 'inspect', 'interop/from-docker:1']))[0];
    assert.equal(ours.Id, theirs.Id);
    assert.deepEqual(ours.RootFS, theirs.RootFS);
    assert.deepEqual(ours.RepoTags.sort(), theirs.RepoTags.sort());
    assert.deepEqual(ours.Config.Env, theirs.Config.Env);
    assert.deepEqual(ours.Config.Cmd, theirs.Config.Cmd);
  });

  test('tscompose image save → docker load → docker run', async () => {
    const dk = docker!;
    const t = d!;
    const id = (await t.ok(['image', 'import', '-c', 'CMD ["echo", "default"]', rootfs, 'interop/from-us:1'])).trim();
    await t.ok(['tag', 'interop/from-us:1', 'example.org/interop/from-us:v2']);
    const archive = path.join(t.dir, 'from-us.tar');
    await t.ok(['image', 'save', '-o', archive, 'interop/from-us:1', 'example.org/interop/from-us:v2']);
    const out = await dk.docker(['load', '-i', archive]);
    assert.match(out, /Loaded image: interop\/from-us:1/);
    assert.match(out, /Loaded image: example\.org\/interop\/from-us:v2/);
    const theirs = JSON.parse(await dk.docker(['image', 'inspect', 'interop/from-us:1']))[0];
    const ours = JSON.parse(await t.ok(['image', 'inspect', 'interop/from-us:1']))[0];
    assert.equal(theirs.Id, id);
    assert.deepEqual(theirs.RootFS, ours.RootFS);
    assert.equal((await dk.docker(['run', '--rm', '--network', 'none', 'interop/from-us:1', 'echo', 'ok'])).trim(), 'ok');
    assert.equal((await dk.docker(['run', '--rm', '--network', 'none', 'example.org/interop/from-us:v2'])).trim(), 'default');
  });

  test('tscompose image build → save → docker load → docker run behaves the same', async () => {
    const dk = docker!;
    const t = d!;
    await t.ok(['image', 'import', '-c', 'CMD ["sh"]', rootfs, 'interop/base:1']);
    const ctx = await writeContext(path.join(t.dir, 'built-ctx'), {
      'greeting.txt': 'hello from a built image\n',
      Dockerfile: 'FROM interop/base:1\nWORKDIR /app\nCOPY greeting.txt .\nRUN cat greeting.txt > /app/out && echo ran >> /app/out\nENV WHO=docker\nENTRYPOINT ["sh", "-c"]\nCMD ["cat /app/out; echo $WHO"]\n',
    });
    await t.ok(['image', 'build', '-q', '-t', 'interop/built:1', ctx]);
    const ours = await t.ok(['container', 'run', '--rm', 'interop/built:1']);
    assert.equal(ours, 'hello from a built image\nran\ndocker\n');
    const archive = path.join(t.dir, 'built.tar');
    await t.ok(['image', 'save', '-o', archive, 'interop/built:1']);
    assert.match(await dk.docker(['load', '-i', archive]), /Loaded image: interop\/built:1/);
    assert.equal(await dk.docker(['run', '--rm', '--network', 'none', 'interop/built:1']), ours);
  });

  test('docker build and tscompose image build give the same config and history', async () => {
    const dk = docker!;
    const t = d!;
    await Promise.all([
      dk.docker(['import', '-c', 'CMD ["sh"]', rootfs, 'parity/base:1']),
      t.ok(['image', 'import', '-c', 'CMD ["sh"]', rootfs, 'parity/base:1']),
    ]);
    const ctx = await writeContext(path.join(t.dir, 'parity-ctx'), {
      'a.txt': 'a\n',
      'b.txt': 'b\n',
      'dir/sub/c.txt': 'c\n',
      Dockerfile: [
        'FROM parity/base:1 AS base',
        'RUN echo base > /base',
        '',
        'FROM base',
        'MAINTAINER Jane <jane@example.org>',
        'ARG VERSION=1.0',
        'ARG NODEF',
        'ENV A=1 B="two words"',
        'ENV C 3',
        'LABEL one=1 "two"="2 2" three= version=$VERSION',
        'WORKDIR /srv',
        'WORKDIR sub',
        'COPY a.txt ./',
        'COPY a.txt b.txt /multi/',
        'COPY dir /dir/',
        'COPY --chown=1:1 a.txt /owned',
        'COPY --from=base /base /from-base',
        'ADD b.txt /added',
        'RUN true',
        'RUN ["sh", "-c", "echo exec > /exec"]',
        'SHELL ["/bin/sh", "-ec"]',
        'RUN echo shell2 > /s2',
        'USER 1000:1000',
        'EXPOSE 80 443/tcp 53/udp',
        'VOLUME /v1 /v2',
        'HEALTHCHECK NONE',
        'HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=2 CMD ["test", "-e", "/srv"]',
        'STOPSIGNAL SIGQUIT',
        'ONBUILD COPY . /app',
        'ENTRYPOINT echo hi',
        'CMD echo there',
        '',
      ].join('\n'),
    });
    await Promise.all([
      dk.docker(['build', '--network', 'none', '-q', '-t', 'parity/app:1', ctx], { DOCKER_BUILDKIT: '0' }),
      t.ok(['image', 'build', '-q', '-t', 'parity/app:1', ctx]),
    ]);
    const theirsTar = path.join(t.dir, 'parity-docker.tar');
    const oursTar = path.join(t.dir, 'parity-ours.tar');
    await Promise.all([dk.docker(['save', '-o', theirsTar, 'parity/app:1']), t.ok(['image', 'save', '-o', oursTar, 'parity/app:1'])]);
    const theirs = archivedConfig(theirsTar);
    const ours = archivedConfig(oursTar);

    const fields = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Healthcheck', 'Labels', 'StopSignal', 'OnBuild', 'Shell'];
    const pick = (c: ArchivedConfig) => Object.fromEntries(fields.map((f) => [f, c.config[f] ?? null]));
    assert.deepEqual(pick(ours), pick(theirs));
    assert.equal(ours.author, theirs.author);

    // The base image's own entries differ by importer; the build's entries follow it.
    const built = (c: ArchivedConfig) =>
      c.history.slice(1).map((h) => ({
        created_by: h.created_by.replace(/(file|dir|multi):[0-9a-f]{64}/g, '$1:<digest>'),
        empty_layer: h.empty_layer === true,
        author: h.author ?? '',
      }));
    assert.deepEqual(built(ours), built(theirs));
    assert.equal(ours.rootfs.diff_ids.length, theirs.rootfs.diff_ids.length);
  });
});

interface ArchivedConfig {
  author?: string;
  config: Record<string, unknown>;
  history: Array<{ created_by: string; empty_layer?: boolean; author?: string }>;
  rootfs: { diff_ids: string[] };
}

/** The image config inside a `docker save` archive (one image). */
function archivedConfig(archive: string): ArchivedConfig {
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' })) as Array<{ Config: string }>;
  return JSON.parse(execFileSync('tar', ['-xOf', archive, manifest[0]!.Config], { encoding: 'utf8' })) as ArchivedConfig;
}

async function writeContext(dir: string, files: Record<string, string>): Promise<string> {
  for (const [file, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fsp.writeFile(path.join(dir, file), content);
  }
  return dir;
}
