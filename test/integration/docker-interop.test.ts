/**
 * Archives exchanged with a real Docker Engine, run privately (own data root, exec root, socket,
 * no bridge, no iptables) and stopped afterwards: `docker save` → `tscompose image load` keeps
 * tags, ID and layers; `tscompose image save` → `docker load` → `docker run` works.
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
  async docker(args: string[]): Promise<string> {
    const r = await run('docker', args, { env: this.env, maxBuffer: 64 << 20 });
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
});
