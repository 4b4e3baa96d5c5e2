/**
 * Pull, push, login and logout through the CLI against real daemons and real registries on
 * 127.0.0.1 (distribution's `docker-registry`, with no auth, htpasswd and token auth).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { spawn } from 'node:child_process';
import { CLI } from '../helpers/daemon';
import { FaultProxy, buildTestImage, skopeoCopy, startRegistry, writeOciLayout, type TestImage, type TestRegistry } from '../helpers/registry';
import { ProgressDisplay, progressText } from '../../cmd/progress';
import { ComposeProject } from '../helpers/compose';
import { freePort } from '../helpers/http';

// The daemons keep credentials in (and read Docker's from) private dirs, never the user's.
const configRoot = mkdtempSync(path.join(os.tmpdir(), 'tsc-registry-config-'));
process.env['TSCOMPOSE_CONFIG'] = path.join(configRoot, 'tscompose');
process.env['DOCKER_CONFIG'] = path.join(configRoot, 'docker');

/** Places images in a registry as an independent client does: an OCI layout, copied by skopeo. */
async function placeWithSkopeo(images: TestImage[], target: TestRegistry, repoTag: string, opts: { all?: boolean } = {}): Promise<void> {
  const layout = mkdtempSync(path.join(os.tmpdir(), 'tsc-layout-'));
  try {
    writeOciLayout(layout, 'v1', images);
    skopeoCopy(layout, 'v1', target, repoTag, opts);
  } finally {
    await fsp.rm(layout, { recursive: true, force: true });
  }
}

let pusher: TestDaemon;
let puller: TestDaemon;
let reg: TestRegistry;
const registries: TestRegistry[] = [];

async function registry(auth: Parameters<typeof startRegistry>[0]): Promise<TestRegistry> {
  const r = await startRegistry(auth);
  registries.push(r);
  return r;
}

async function inspect(d: TestDaemon, name: string): Promise<{ Id: string; RepoTags: string[]; RepoDigests: string[] }> {
  return JSON.parse(await d.ok(['image', 'inspect', name]))[0];
}

async function imageList(d: TestDaemon): Promise<string> {
  return d.ok(['image', 'ls', '-a', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']);
}

async function layerDirs(d: TestDaemon): Promise<string[]> {
  return (await fsp.readdir(path.join(d.dataRoot, 'overlay', 'layers')).catch(() => [])).sort();
}

before(async () => {
  [pusher, puller, reg] = await Promise.all([startTestDaemon(), startTestDaemon(), registry({ mode: 'none' })]);
  const tarball = await busyboxRootfsTar(path.join(pusher.dir, 'busybox.tar'));
  await pusher.ok(['image', 'import', tarball, `${reg.host}/bb:1.0`]);
  // Same layer, other config: a second image that shares the first one's blob.
  await pusher.ok(['image', 'import', '-c', 'ENV SECOND=1', tarball, `${reg.host}/bb:2.0`]);
});

after(async () => {
  await Promise.all([pusher?.destroy(), puller?.destroy(), ...registries.map((r) => r.stop())]);
  await fsp.rm(configRoot, { recursive: true, force: true });
});

describe('push, then pull into another daemon', () => {
  let pushedDigest = '';

  test('push shows Docker’s progress and records the repo digest', async () => {
    const out = await pusher.ok(['image', 'push', `${reg.host}/bb:1.0`]);
    assert.match(out, new RegExp(`^The push refers to repository \\[${reg.host}/bb\\]$`, 'm'));
    assert.match(out, /^[a-f0-9]{12}: Preparing$/m);
    assert.match(out, /^[a-f0-9]{12}: Pushed$/m);
    const final = /^1\.0: digest: (sha256:[a-f0-9]{64}) size: (\d+)$/m.exec(out);
    assert.ok(final, out);
    pushedDigest = final[1]!;
    const local = await inspect(pusher, `${reg.host}/bb:1.0`);
    assert.deepEqual(local.RepoDigests, [`${reg.host}/bb@${pushedDigest}`]);
  });

  test('pull gives the same image, tag and repo digest', async () => {
    // `latest` was never pushed: the default tag is announced, then the registry's answer.
    const latest = await puller.run(['image', 'pull', `${reg.host}/bb`]);
    assert.equal(latest.code, 1);
    assert.equal(latest.stdout.split('\n')[0], 'Using default tag: latest');
    assert.equal(latest.stderr, `Error response from daemon: manifest for ${reg.host}/bb:latest not found: manifest unknown: manifest unknown\n`);

    const out = await puller.ok(['image', 'pull', `${reg.host}/bb:1.0`]);
    const outLines = out.trimEnd().split('\n');
    assert.equal(outLines[0], '1.0: Pulling from bb');
    assert.match(out, /^[a-f0-9]{12}: Pull complete$/m);
    assert.ok(outLines.includes(`Digest: ${pushedDigest}`), out);
    assert.ok(outLines.includes(`Status: Downloaded newer image for ${reg.host}/bb:1.0`), out);
    assert.equal(outLines.at(-1), `${reg.host}/bb:1.0`);
    // Not a terminal: every status of a layer once, no bars.
    const statuses = outLines.filter((l) => /^[a-f0-9]{12}: /.test(l));
    assert.equal(new Set(statuses).size, statuses.length, out);
    assert.doesNotMatch(out, /\[=*>/);

    const pulled = await inspect(puller, `${reg.host}/bb:1.0`);
    const original = await inspect(pusher, `${reg.host}/bb:1.0`);
    assert.equal(pulled.Id, original.Id);
    assert.deepEqual(pulled.RepoTags, [`${reg.host}/bb:1.0`]);
    assert.deepEqual(pulled.RepoDigests, [`${reg.host}/bb@${pushedDigest}`]);
    const events = await puller.ok(['system', 'events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'event=pull']);
    assert.match(events, new RegExp(`image pull ${reg.host}/bb:1.0`));
  });

  test('a second pull is up to date and downloads nothing', async () => {
    // --disable-content-trust is Docker's default, accepted as such; asking for verification is refused.
    const out = await puller.ok(['image', 'pull', '--disable-content-trust', `${reg.host}/bb:1.0`]);
    assert.match(out, new RegExp(`^Status: Image is up to date for ${reg.host}/bb:1\\.0$`, 'm'));
    assert.doesNotMatch(out, /Downloading|Pull complete|Already exists/);
    const trust = await puller.run(['image', 'pull', '--disable-content-trust=false', `${reg.host}/bb:1.0`]);
    assert.notEqual(trust.code, 0);
    assert.match(trust.stderr, /content trust \(image signing and verification\) is not supported/);
    const bad = await puller.run(['image', 'pull', '--disable-content-trust=maybe', `${reg.host}/bb:1.0`]);
    assert.equal(bad.code, 125, 'a command line that does not parse');
    assert.match(bad.stderr, /invalid argument "maybe" for "--disable-content-trust" flag/);
  });

  test('-q prints only the reference', async () => {
    const out = await puller.ok(['image', 'pull', '-q', `${reg.host}/bb:1.0`]);
    assert.equal(out, `${reg.host}/bb:1.0\n`);
  });

  test('pull by digest', async () => {
    await puller.ok(['rmi', `${reg.host}/bb:1.0`]);
    const ref = `${reg.host}/bb@${pushedDigest}`;
    const out = await puller.ok(['image', 'pull', ref]);
    assert.match(out, new RegExp(`^${pushedDigest}: Pulling from bb$`, 'm'));
    assert.match(out, new RegExp(`^Status: Downloaded newer image for ${ref.replace(/[.]/g, '\\.')}$`, 'm'));
    const pulled = await inspect(puller, ref);
    assert.deepEqual(pulled.RepoTags, []);
    assert.deepEqual(pulled.RepoDigests, [ref]);
  });

  test('the pusher pulls what it pushed by digest without downloading its layers again', async () => {
    const ref = `${reg.host}/bb@${pushedDigest}`;
    const before = await inspect(pusher, `${reg.host}/bb:1.0`);
    const out = await pusher.ok(['image', 'pull', ref]);
    // All of it is here: Docker's two lines, no line per layer.
    assert.doesNotMatch(out, /Already exists|Downloading|Pull complete/);
    assert.match(out, new RegExp(`^Status: Image is up to date for ${ref.replace(/[.]/g, '\\.')}$`, 'm'));
    const after = await inspect(pusher, ref);
    assert.equal(after.Id, before.Id);
    assert.deepEqual(after.RepoTags, [`${reg.host}/bb:1.0`]);
    assert.deepEqual(after.RepoDigests, [ref]);
    // The image keeps its plain layer: it is still pushed from what the store holds.
    const again = await pusher.ok(['image', 'push', `${reg.host}/bb:1.0`]);
    assert.match(again, /^[a-f0-9]{12}: Layer already exists$/m);
  });

  test('the imported (plain) layer went out gzip; re-push after a restart: Layer already exists', async () => {
    const res = await fetch(`${reg.url}/v2/bb/manifests/1.0`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    const manifest = (await res.json()) as { layers: { mediaType: string; digest: string }[] };
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar+gzip']);
    const blob = Buffer.from(await (await fetch(`${reg.url}/v2/bb/blobs/${manifest.layers[0]!.digest}`)).arrayBuffer());
    assert.deepEqual([...blob.subarray(0, 2)], [0x1f, 0x8b]);
    // What the layer was pushed as is kept across restarts, as Docker's v2 metadata.
    await pusher.stop();
    await pusher.start();
    const out = await pusher.ok(['image', 'push', `${reg.host}/bb:1.0`]);
    assert.match(out, /^[a-f0-9]{12}: Layer already exists$/m);
    assert.doesNotMatch(out, /: Pushed$/m);
  });

  test('push -a and pull -a move every tag', async () => {
    const pushed = await pusher.ok(['image', 'push', '-a', `${reg.host}/bb`]);
    assert.equal(pushed.match(/The push refers to repository/g)?.length, 1, pushed);
    assert.match(pushed, /^1\.0: digest: sha256:/m);
    assert.match(pushed, /^2\.0: digest: sha256:/m);

    const out = await puller.ok(['image', 'pull', '-a', `${reg.host}/bb`]);
    assert.match(out, /^1\.0: Pulling from bb$/m);
    assert.match(out, /^2\.0: Pulling from bb$/m);
    assert.match(out, new RegExp(`^Status: Downloaded newer image for ${reg.host}/bb$`, 'm'));
    assert.equal(out.trimEnd().split('\n').at(-1), `${reg.host}/bb`);
    assert.equal((await inspect(puller, `${reg.host}/bb:2.0`)).Id, (await inspect(pusher, `${reg.host}/bb:2.0`)).Id);
    assert.deepEqual((await inspect(puller, `${reg.host}/bb:1.0`)).RepoTags, [`${reg.host}/bb:1.0`]);

    const rejected = await puller.run(['image', 'pull', '-a', `${reg.host}/bb:1.0`]);
    assert.equal(rejected.code, 1);
    assert.equal(rejected.stderr.trim(), "tag can't be used with --all-tags/-a");
  });

  test('a multi-layer gzip image placed by skopeo is pulled and unpacked', async () => {
    const img = await buildTestImage({ note: 'two layers' });
    await placeWithSkopeo([img], reg, 'layered:v1');
    const out = await puller.ok(['image', 'pull', '--platform', 'linux/amd64', `${reg.host}/layered:v1`]);
    assert.equal(out.match(/: Pull complete$/gm)?.length, 2, out);
    const pulled = await inspect(puller, `${reg.host}/layered:v1`);
    assert.equal(pulled.Id, img.config.digest);
    assert.deepEqual(pulled.RepoDigests, [`${reg.host}/layered@${img.manifestDigest}`]);
    assert.ok((await layerDirs(puller)).length >= 2);
  });
});

describe('compose services and their platform', () => {
  test('compose pull takes the platform a service names from a multi-platform image', async () => {
    const amd = await buildTestImage({ architecture: 'amd64' });
    const arm = await buildTestImage({ architecture: 'arm64' });
    await placeWithSkopeo([amd, arm], reg, 'multi/app:1', { all: true });
    const ref = `${reg.host}/multi/app:1`;
    const q = await ComposeProject.create(puller, 'plat', `services:\n  armed:\n    image: ${ref}\n    platform: linux/arm64\n  native:\n    image: ${ref}\n    profiles: [native]\n`);
    try {
      await q.ok(['pull', 'armed']);
      assert.equal((await inspect(puller, ref)).Id, arm.config.digest);
      await q.ok(['--profile', 'native', 'pull', '--policy', 'always', 'native']);
      assert.equal((await inspect(puller, ref)).Id, amd.config.digest, 'without a platform, the host’s');
    } finally {
      await q.down();
    }
  });
});

describe('search', () => {
  test('search host:port/term lists the matching repositories from the catalog', async () => {
    const out = await pusher.ok(['search', `${reg.host}/bb`]);
    assert.match(out.split('\n')[0]!, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL\s+AUTOMATED$/);
    assert.match(out, new RegExp(`^${reg.host.replace(/[.]/g, '\\.')}/bb\\s`, 'm'));
    const none = await pusher.ok(['search', '--format', '{{.Name}}', `${reg.host}/no-such-thing`]);
    assert.equal(none.trim(), '');
  });
});

describe('errors', () => {
  test('unknown repository and unknown tag: Docker’s wording, exit 1, nothing added', async () => {
    const before = await imageList(puller);
    const repo = await puller.run(['image', 'pull', `${reg.host}/nope`]);
    assert.equal(repo.code, 1);
    assert.equal(repo.stderr, `Error response from daemon: manifest for ${reg.host}/nope:latest not found: manifest unknown: manifest unknown\n`);
    const tag = await puller.run(['image', 'pull', `${reg.host}/bb:nope`]);
    assert.equal(tag.code, 1);
    assert.equal(tag.stderr, `Error response from daemon: manifest for ${reg.host}/bb:nope not found: manifest unknown: manifest unknown\n`);
    assert.equal(await imageList(puller), before);
  });

  test('a registry that is down: the address it was asked at and why, exit 1', async () => {
    const port = await freePort();
    const down = await puller.run(['image', 'pull', `127.0.0.1:${port}/app`]);
    assert.equal(down.code, 1);
    assert.equal(down.stderr, `Error response from daemon: Get "http://127.0.0.1:${port}/v2/": connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });

  test('a pull failing mid-way (corrupt layer) leaves images and layers as they were', async () => {
    const broken = await registry({ mode: 'none' });
    const img = await buildTestImage({ note: 'to be corrupted' });
    await placeWithSkopeo([img], broken, 'app:v1');
    const top = img.layers[1]!.digest.slice(7);
    const blobFile = path.join(broken.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', top.slice(0, 2), top, 'data');
    const bytes = await fsp.readFile(blobFile);
    const at = bytes.length - 10;
    bytes[at] = bytes[at]! ^ 0xff;
    await fsp.writeFile(blobFile, bytes);

    const imagesBefore = await imageList(puller);
    const layersBefore = await layerDirs(puller);
    const r = await puller.run(['image', 'pull', `${broken.host}/app:v1`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^Error response from daemon: .*verification failed/);
    assert.equal(await imageList(puller), imagesBefore);
    assert.deepEqual(await layerDirs(puller), layersBefore);
  });
});

describe('blobs the registry holds wrong, and what is no image', () => {
  let broken: TestRegistry;
  let img: Awaited<ReturnType<typeof buildTestImage>>;
  const blobFile = (digest: string) =>
    path.join(broken.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data');
  before(async () => {
    broken = await registry({ mode: 'none' });
    img = await buildTestImage({ note: 'held wrong', randomLayers: [256 << 10] });
    await placeWithSkopeo([img], broken, 'app:v1');
  });

  test('a layer the registry has only part of: one line naming it, at once, nothing added', async () => {
    const top = img.layers[img.layers.length - 1]!;
    const whole = await fsp.readFile(blobFile(top.digest));
    await fsp.writeFile(blobFile(top.digest), whole.subarray(0, whole.length >> 1));
    try {
      const imagesBefore = await imageList(puller);
      const r = await puller.run(['image', 'pull', `${broken.host}/app:v1`], { timeoutMs: 60_000 });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `Error response from daemon: registry: blob ${top.digest} is truncated: ${broken.host} has ${whole.length >> 1} of its ${whole.length} bytes\n`,
      );
      assert.equal(await imageList(puller), imagesBefore);
    } finally {
      await fsp.writeFile(blobFile(top.digest), whole);
    }
  });

  test('a manifest whose layers are no image layers is refused before any download, in Docker’s words', async () => {
    const accept = 'application/vnd.oci.image.manifest.v1+json';
    const manifest = (await (await fetch(`${broken.url}/v2/app/manifests/v1`, { headers: { Accept: accept } })).json()) as {
      layers: { mediaType: string }[];
    };
    for (const l of manifest.layers) l.mediaType = 'application/vnd.example.artifact.v1';
    const put = await fetch(`${broken.url}/v2/app/manifests/artifact`, {
      method: 'PUT',
      headers: { 'Content-Type': accept },
      body: JSON.stringify(manifest),
    });
    assert.equal(put.status, 201);
    const r = await puller.run(['image', 'pull', `${broken.host}/app:artifact`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error response from daemon: unsupported media type application/vnd.example.artifact.v1\n');
  });
});

describe('Ctrl-C during a pull', () => {
  test('cancels it in the daemon, tags nothing, keeps verified layers; the next pull completes', async () => {
    // The last layer starts when the small base layer is done and is far from done when the
    // others are: one download is surely cut, however late a loaded machine delivers the SIGINT.
    const img = await buildTestImage({ note: 'interrupted', randomLayers: [4 << 20, 4 << 20, 16 << 20] });
    await placeWithSkopeo([img], reg, 'slow:v1');
    const proxy = new FaultProxy(Number(reg.host.split(':')[1]));
    await proxy.start();
    try {
      // 1 MB/s per blob: the small layers arrive in a second, each 4 MB one takes four, the last sixteen.
      proxy.plan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 0, redirectOnce: false, throttleBytesPerSec: 1 << 20 };
      const ref = `${proxy.host}/slow:v1`;
      const imagesBefore = await imageList(puller);
      const layersBefore = await layerDirs(puller);

      const cli = spawn(process.execPath, [CLI, 'image', 'pull', ref], { env: { ...process.env, ...puller.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      cli.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      cli.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
      // Interrupt once some layers are verified and a big one is on its way.
      const completed = () => [...stdout.matchAll(/^([a-f0-9]{12}): Download complete$/gm)].map((m) => m[1]!);
      const deadline = Date.now() + 30_000;
      while (!(completed().length >= 2 && proxy.blobBytesSent > (3 << 20))) {
        assert.ok(Date.now() < deadline, `pull never got under way: ${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const verified = completed();
      const sentAtInterrupt = proxy.blobBytesSent;
      const interruptedAt = Date.now();
      cli.kill('SIGINT');
      const code = await exited;
      const tookMs = Date.now() - interruptedAt;
      assert.equal(code, 130, `exit ${code}: ${stderr}`);
      assert.ok(tookMs < 3000, `the CLI took ${tookMs} ms to exit`);
      // Layers that arrived may be unpacked already (and are removed again); the image never completes.
      assert.doesNotMatch(stdout, /^(Digest|Status):/m);

      // The daemon stopped downloading: no blob response stays open, no more bytes flow.
      const stopBy = Date.now() + 3000;
      while (proxy.openBlobResponses.size > 0) {
        assert.ok(Date.now() < stopBy, `downloads still open after the interrupt at ${interruptedAt}: ${[...proxy.openBlobResponses].join(', ')} of ${JSON.stringify(proxy.log)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const sentAfterStop = proxy.blobBytesSent;
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(proxy.blobBytesSent, sentAfterStop);
      assert.ok(sentAfterStop - sentAtInterrupt < (2 << 20), `${sentAfterStop - sentAtInterrupt} bytes after the interrupt`);

      // Nothing partial is visible: no image, no tag, no unpacked layer left behind.
      assert.equal((await puller.run(['image', 'inspect', ref])).code, 1);
      assert.equal(await imageList(puller), imagesBefore);
      assert.deepEqual(await layerDirs(puller), layersBefore);
      // The layers verified before the interrupt are kept in the content store.
      const blobs = await fsp.readdir(path.join(puller.dataRoot, 'content', 'blobs', 'sha256'));
      for (const id of verified) assert.ok(blobs.some((b) => b.startsWith(id)), `layer ${id} was verified but is gone`);

      // A later pull completes, without fetching the kept layers again.
      proxy.plan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 0, redirectOnce: false };
      proxy.log.length = 0;
      const out = await puller.ok(['image', 'pull', ref]);
      for (const id of verified) assert.match(out, new RegExp(`^${id}: Already exists$`, 'm'));
      assert.ok(!proxy.log.some((l) => verified.some((id) => l.path.includes(`sha256:${id}`))), JSON.stringify(proxy.log));
      // The interrupted downloads resume from what they had.
      assert.ok(proxy.log.some((l) => /^bytes=[1-9]\d*-$/.test(l.range ?? '') && l.status === 206), JSON.stringify(proxy.log));
      assert.equal((await inspect(puller, ref)).Id, img.config.digest);
      await puller.ok(['rmi', ref]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('login and logout', () => {
  test('htpasswd registry: wrong password refused, login lets push and pull, logout forgets', async () => {
    const secured = await registry({ mode: 'htpasswd', users: { alice: 's3cret' } });
    const ref = `${secured.host}/private/bb:1.0`;
    await pusher.ok(['tag', `${reg.host}/bb:1.0`, ref]);

    const anonymous = await pusher.run(['image', 'push', ref]);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /^Error response from daemon: .*unauthorized/);

    const wrong = await pusher.run(['login', '-u', 'alice', '--password-stdin', secured.host], { input: 'nope\n' });
    assert.notEqual(wrong.code, 0);
    assert.equal(wrong.stderr, 'Error response from daemon: unauthorized: incorrect username or password\n');

    const withFlag = await pusher.run(['login', '-u', 'alice', '-p', 's3cret', secured.host]);
    assert.equal(withFlag.code, 0, withFlag.stderr);
    assert.match(withFlag.stderr, /Using --password via the CLI is insecure/);
    const ok = await pusher.run(['login', '-u', 'alice', '--password-stdin', secured.host], { input: 's3cret\n' });
    assert.equal(ok.stdout, 'Login Succeeded\n');
    const credentialsFile = path.join(process.env['TSCOMPOSE_CONFIG']!, 'config.json');
    assert.equal(ok.stderr.split('\n')[0], `WARNING! Your password will be stored unencrypted in ${credentialsFile}.`);
    const saved = JSON.parse(await fsp.readFile(credentialsFile, 'utf8'));
    assert.ok(saved.auths[secured.host], JSON.stringify(saved));

    await pusher.ok(['image', 'push', ref]);
    // Both daemons read the same config dir here, so the login serves the puller too.
    await puller.ok(['image', 'pull', ref]);

    assert.equal(await pusher.ok(['logout', secured.host]), `Removing login credentials for ${secured.host}\n`);
    assert.equal(await pusher.ok(['logout', secured.host]), `Not logged in to ${secured.host}\n`);
    await puller.ok(['rmi', ref]);
    const denied = await puller.run(['image', 'pull', ref]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^Error response from daemon: /);
  });

  test('token registry: login to push, anonymous pull of a public repository, denial of a private one', async () => {
    const tokens = await registry({ mode: 'token', users: { bob: 'pw' }, publicRepos: ['pub'] });
    await pusher.ok(['tag', `${reg.host}/bb:1.0`, `${tokens.host}/pub:1`]);
    await pusher.ok(['tag', `${reg.host}/bb:1.0`, `${tokens.host}/priv:1`]);
    await pusher.ok(['login', '-u', 'bob', '--password-stdin', tokens.host], { input: 'pw' });
    await pusher.ok(['image', 'push', `${tokens.host}/pub:1`]);
    await pusher.ok(['image', 'push', `${tokens.host}/priv:1`]);
    await pusher.ok(['logout', tokens.host]);
    assert.ok(tokens.tokenRequests.some((t) => t.account === 'bob' && t.status === 200));

    const out = await puller.ok(['image', 'pull', `${tokens.host}/pub:1`]);
    assert.match(out, new RegExp(`^Status: Downloaded newer image for ${tokens.host}/pub:1$`, 'm'));
    assert.ok(tokens.tokenRequests.some((t) => t.account === undefined && t.scopes.includes('repository:pub:pull')));

    const denied = await puller.run(['image', 'pull', `${tokens.host}/priv:1`]);
    assert.equal(denied.code, 1);
    assert.match(
      denied.stderr,
      new RegExp(`^Error response from daemon: pull access denied for ${tokens.host}/priv, repository does not exist or may require 'docker login'`),
    );
    assert.equal(denied.stderr.trim().split('\n').length, 1);
  });
});

describe('terminal progress display', () => {
  test('a layer line is redrawn in place with a bar; other lines start a new group', () => {
    let written = '';
    const sink = { write: (s: string) => ((written += s), true), columns: 120 } as unknown as NodeJS.WritableStream & { columns: number };
    const display = new ProgressDisplay(sink, true);
    display.show({ id: 'latest', status: 'Pulling from library/busybox', current: 0, total: 0 });
    display.show({ id: 'aaaaaaaaaaaa', status: 'Pulling fs layer', current: 0, total: 0 });
    display.show({ id: 'bbbbbbbbbbbb', status: 'Pulling fs layer', current: 0, total: 0 });
    display.show({ id: 'aaaaaaaaaaaa', status: 'Downloading', current: 1_200_000, total: 4_500_000 });
    assert.equal(
      written,
      'latest: Pulling from library/busybox\n' +
        'aaaaaaaaaaaa: Pulling fs layer\n' +
        'bbbbbbbbbbbb: Pulling fs layer\n' +
        `\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Downloading${progressText({ current: 1_200_000, total: 4_500_000 }, 120)}\n\x1b[1B\r`,
    );
    assert.equal(progressText({ current: 1_200_000, total: 4_500_000 }, 120), ` [${'='.repeat(13)}>${' '.repeat(37)}]    1.2MB/4.5MB`);
  });
});
