import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore, putBlob } from '../../agent/image/content';
import { gunzipSync } from 'node:zlib';
import type { ImageManifest } from '../../agent/image/oci';
import {
  MemoryBlobSources,
  MemoryCompressedLayers,
  RegistryClient,
  familiarName,
  familiarString,
  isInsecureHost,
  parseReference,
  parseWwwAuthenticate,
  pullImage,
  pushImage,
  referenceString,
  withDefaultTag,
  withDefaults,
  type ProgressEvent,
} from '../../agent/registry';
import { FaultProxy, blobsOf, buildTestImage, skopeoCopy, startRegistry, writeOciLayout, type TestImage, type TestRegistry } from '../helpers/registry';

const FAST_RETRY = { baseDelayMs: 10, maxDelayMs: 50 };

describe('registry: references', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app:1.0', 'docker.io/user/app:1.0', 'user/app:1.0'],
    ['localhost:5000/app', 'localhost:5000/app:latest', 'localhost:5000/app:latest'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
    ['index.docker.io/library/redis:7', 'docker.io/library/redis:7', 'redis:7'],
    ['ghcr.io/org/tool', 'ghcr.io/org/tool:latest', 'ghcr.io/org/tool:latest'],
    [`host:5000/ns/app@sha256:${'a'.repeat(64)}`, `host:5000/ns/app@sha256:${'a'.repeat(64)}`, `host:5000/ns/app@sha256:${'a'.repeat(64)}`],
    [`busybox:1.36@sha256:${'b'.repeat(64)}`, `docker.io/library/busybox:1.36@sha256:${'b'.repeat(64)}`, `busybox:1.36@sha256:${'b'.repeat(64)}`],
  ];
  for (const [input, full, familiar] of cases)
    it(`normalises ${input}`, () => {
      const ref = withDefaultTag(parseReference(input));
      assert.equal(referenceString(ref), full);
      assert.equal(familiarString(ref), familiar);
    });

  it('shows repositories as docker images does', () => {
    assert.equal(familiarName(parseReference('busybox')), 'busybox');
    assert.equal(familiarName(parseReference('user/app')), 'user/app');
    assert.equal(familiarName(parseReference('localhost:5000/app')), 'localhost:5000/app');
    assert.equal(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b');
  });

  it('rejects what Docker rejects', () => {
    assert.throws(() => parseReference('Busybox'), /^InvalidArgument: invalid reference format: repository name must be lowercase$/);
    assert.throws(() => parseReference('docker.io/User/app'), /repository name must be lowercase/);
    assert.throws(() => parseReference(''), /invalid reference format/);
    assert.throws(() => parseReference('app:bad tag'), /invalid reference format/);
    assert.throws(() => parseReference('app@sha256:xyz'), /invalid reference format/);
    assert.throws(() => parseReference('a'.repeat(64)), /cannot specify 64-byte hexadecimal strings/);
    assert.throws(() => parseReference('-app'), /invalid reference format/);
  });

  it('treats a first component as a domain only when it looks like one', () => {
    assert.equal(parseReference('user/app').domain, 'docker.io');
    assert.equal(parseReference('my.host/app').domain, 'my.host');
    assert.equal(parseReference('myhost:80/app').domain, 'myhost:80');
    assert.equal(parseReference('localhost/app').domain, 'localhost');
  });
});

describe('registry: challenges and options', () => {
  it('parses WWW-Authenticate', () => {
    const [bearer] = parseWwwAuthenticate(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
    );
    assert.deepEqual(bearer, {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
    const both = parseWwwAuthenticate('Basic realm="x", Bearer realm="y",error="insufficient_scope"');
    assert.deepEqual(both.map((c) => c.scheme), ['basic', 'bearer']);
    assert.equal(both[1]?.params.error, 'insufficient_scope');
  });

  it('allows plain HTTP for loopback and insecure registries only', () => {
    const opts = withDefaults({ insecureRegistries: ['myreg:5000', '10.1.0.0/16'] });
    assert.ok(isInsecureHost(opts, '127.0.0.1:5000'));
    assert.ok(isInsecureHost(opts, 'localhost:5000'));
    assert.ok(isInsecureHost(opts, '[::1]:5000'));
    assert.ok(isInsecureHost(opts, 'myreg:5000'));
    assert.ok(isInsecureHost(opts, '10.1.2.3:443'));
    assert.ok(!isInsecureHost(opts, '10.2.0.1'));
    assert.ok(!isInsecureHost(opts, 'registry-1.docker.io'));
  });
});

async function storeIn(dir: string, name: string): Promise<LocalContentStore> {
  const s = new LocalContentStore(path.join(dir, name));
  await s.init();
  return s;
}

async function storeWith(dir: string, name: string, img: TestImage): Promise<LocalContentStore> {
  const s = await storeIn(dir, name);
  for (const b of blobsOf(img)) await putBlob(s, b.data);
  return s;
}

function statusesOf(events: ProgressEvent[], id?: string): string[] {
  return events.filter((e) => id === undefined || e.id === id).map((e) => e.status);
}

describe('registry: against docker-registry', () => {
  let reg: TestRegistry;
  let dir: string;
  let client: RegistryClient;

  before(async () => {
    reg = await startRegistry();
    dir = mkdtempSync(path.join(tmpdir(), 'tscompose-registry-test-'));
    client = new RegistryClient({ options: { retry: FAST_RETRY } });
  });
  after(async () => {
    client?.close();
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const format of ['docker', 'oci'] as const)
    it(`pushes and pulls back an image (${format} media types), unpacking in order`, async () => {
      const img = await buildTestImage({ format, note: `round trip ${format}` });
      const src = await storeWith(dir, `push-${format}`, img);
      const pushEvents: ProgressEvent[] = [];
      const pushed = await pushImage({
        ref: `${reg.host}/round/${format}:v1`,
        manifestDigest: img.manifestDigest,
        store: src,
        client,
        onProgress: (e) => pushEvents.push(e),
      });
      assert.equal(pushed.digest, img.manifestDigest);
      assert.equal(pushed.mediaType, img.mediaType);
      // The busybox layer is shared with the other format's image, so it may be mounted from it.
      for (const l of img.layers)
        assert.match(statusesOf(pushEvents, l.digest.slice(7, 19)).at(-1) ?? '', /^(Pushed|Mounted from round\/(docker|oci))$/);
      assert.ok(pushEvents.some((e) => e.status === `digest: ${img.manifestDigest} size: ${img.manifest.length}`));

      const dst = await storeIn(dir, `pull-${format}`);
      const order: number[] = [];
      const events: ProgressEvent[] = [];
      const result = await pullImage({
        ref: `${reg.host}/round/${format}:v1`,
        store: dst,
        client,
        onProgress: (e) => events.push(e),
        unpack: async (layer, ctx) => {
          await ctx.parentDone;
          assert.ok(await dst.has(layer.digest));
          order.push(ctx.index);
        },
      });
      assert.deepEqual(order, [0, 1]);
      assert.equal(result.manifestDigest, img.manifestDigest);
      assert.equal(result.manifestMediaType, img.mediaType);
      assert.equal(result.configDigest, img.config.digest);
      assert.equal(result.config.architecture, 'amd64');
      for (const b of blobsOf(img)) assert.deepEqual(await dst.readAll(b.digest), b.data);
      const id = img.layers[0]!.digest.slice(7, 19);
      const seq = statusesOf(events, id);
      for (const s of ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'])
        assert.ok(seq.includes(s), `${s} in ${seq.join(', ')}`);
      assert.ok(seq.indexOf('Download complete') < seq.indexOf('Pull complete'));

      // A second pull finds the whole image in the store: no line per layer, as in Docker.
      const again: ProgressEvent[] = [];
      await pullImage({ ref: `${reg.host}/round/${format}:v1`, store: dst, client, onProgress: (e) => again.push(e) });
      assert.deepEqual(statusesOf(again, id), []);
      // Its layers without its config (another image sharing them): each one "Already exists".
      await dst.delete(img.config.digest);
      const shared: ProgressEvent[] = [];
      await pullImage({ ref: `${reg.host}/round/${format}:v1`, store: dst, client, onProgress: (e) => shared.push(e) });
      assert.deepEqual(statusesOf(shared, id), ['Already exists']);
    });

  it('reports existing layers on re-push and mounts them across repositories', async () => {
    const img = await buildTestImage({ note: 'mount me' });
    const src = await storeWith(dir, 'mount', img);
    await pushImage({ ref: `${reg.host}/mount/a:1`, manifestDigest: img.manifestDigest, store: src, client });
    const again: ProgressEvent[] = [];
    await pushImage({ ref: `${reg.host}/mount/a:2`, manifestDigest: img.manifestDigest, store: src, client, onProgress: (e) => again.push(e) });
    for (const l of img.layers) assert.deepEqual(statusesOf(again, l.digest.slice(7, 19)).slice(-1), ['Layer already exists']);
    const mounted: ProgressEvent[] = [];
    await pushImage({ ref: `${reg.host}/mount/b:1`, manifestDigest: img.manifestDigest, store: src, client, onProgress: (e) => mounted.push(e) });
    for (const l of img.layers) assert.deepEqual(statusesOf(mounted, l.digest.slice(7, 19)).slice(-1), ['Mounted from mount/a']);
    assert.deepEqual((await client.listTags(parseReference(`${reg.host}/mount/a`))).sort(), ['1', '2']);
  });

  for (const format of ['docker', 'oci'] as const)
    it(`pushes plain layers gzip-compressed (${format}), and finds them by that digest afterwards`, async () => {
      const img = await buildTestImage({ format, plainLayers: true, note: `plain ${format}` });
      const src = await storeWith(dir, `plain-${format}`, img);
      const compressed = new MemoryCompressedLayers();
      const sources = new MemoryBlobSources();
      const push = (ref: string, events: ProgressEvent[]) =>
        pushImage({ ref, manifestDigest: img.manifestDigest, store: src, client, compressed, sources, onProgress: (e) => events.push(e) });
      const first: ProgressEvent[] = [];
      const pushed = await push(`${reg.host}/plain/${format}:v1`, first);
      for (const l of img.layers) assert.deepEqual(statusesOf(first, l.digest.slice(7, 19)).slice(-1), ['Pushed']);

      // The registry holds a manifest naming gzip blobs of the family's type, whose content is the layer.
      const remote = await client.getManifest(parseReference(`${reg.host}/plain/${format}:v1`));
      assert.equal(remote.digest, pushed.digest);
      assert.notEqual(pushed.digest, img.manifestDigest);
      assert.equal(remote.mediaType, img.mediaType);
      const manifest = remote.parsed as ImageManifest;
      assert.equal(manifest.config.digest, img.config.digest);
      const gzipType = format === 'docker' ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
      const dst = await storeIn(dir, `plain-${format}-pull`);
      const pulled = await pullImage({ ref: `${reg.host}/plain/${format}:v1`, store: dst, client });
      assert.equal(pulled.manifestDigest, pushed.digest);
      manifest.layers.forEach((l, i) => {
        assert.equal(l.mediaType, gzipType);
        assert.deepEqual(compressed.compressedForms(img.layers[i]!.digest).map((f) => f.digest), [l.digest]);
      });
      for (const [i, l] of manifest.layers.entries()) assert.ok(gunzipSync(await dst.readAll(l.digest)).equals(img.layers[i]!.data));

      // Again: found by the compressed digest, the same manifest; another repository mounts them.
      const again: ProgressEvent[] = [];
      assert.equal((await push(`${reg.host}/plain/${format}:v2`, again)).digest, pushed.digest);
      for (const l of img.layers) assert.deepEqual(statusesOf(again, l.digest.slice(7, 19)).slice(-1), ['Layer already exists']);
      const mounted: ProgressEvent[] = [];
      assert.equal((await push(`${reg.host}/plain/${format}-other:v1`, mounted)).digest, pushed.digest);
      for (const l of img.layers) assert.deepEqual(statusesOf(mounted, l.digest.slice(7, 19)).slice(-1), [`Mounted from plain/${format}`]);

      // The pulled copy (gzip layers) goes back as the very same blobs and manifest.
      const back: ProgressEvent[] = [];
      const repushed = await pushImage({ ref: `${reg.host}/plain/${format}-back:v1`, manifestDigest: pulled.manifestDigest, store: dst, client, sources, onProgress: (e) => back.push(e) });
      assert.equal(repushed.digest, pushed.digest);
      for (const l of manifest.layers) assert.match(statusesOf(back, l.digest.slice(7, 19)).at(-1) ?? '', new RegExp(`^Mounted from plain/${format}(-other)?$`));
    });

  it('uploads in chunks when asked', async () => {
    const img = await buildTestImage({ note: 'chunked' });
    const src = await storeWith(dir, 'chunked', img);
    const chunked = new RegistryClient({ options: { retry: FAST_RETRY, uploadChunkSize: 256 * 1024 } });
    try {
      await pushImage({ ref: `${reg.host}/chunked/app:1`, manifestDigest: img.manifestDigest, store: src, client: chunked });
    } finally {
      chunked.close();
    }
    const dst = await storeIn(dir, 'chunked-pull');
    const r = await pullImage({ ref: `${reg.host}/chunked/app:1`, store: dst, client });
    assert.equal(r.manifestDigest, img.manifestDigest);
  });

  for (const format of ['v2s2', 'oci'] as const)
    it(`pulls an image placed by skopeo (${format}) by tag and by digest`, async () => {
      const img = await buildTestImage({ note: `skopeo ${format}` });
      const layout = path.join(dir, `layout-${format}`);
      writeOciLayout(layout, 'v1', [img]);
      skopeoCopy(layout, 'v1', reg, `skopeo/${format}:v1`, { format });
      const store = await storeIn(dir, `skopeo-${format}`);
      const byTag = await pullImage({ ref: `${reg.host}/skopeo/${format}:v1`, store, client });
      const expectedType =
        format === 'v2s2' ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
      assert.equal(byTag.manifestMediaType, expectedType);
      assert.equal(byTag.configDigest, img.config.digest);
      const store2 = await storeIn(dir, `skopeo-${format}-digest`);
      const byDigest = await pullImage({ ref: `${reg.host}/skopeo/${format}@${byTag.manifestDigest}`, store: store2, client });
      assert.equal(byDigest.manifestDigest, byTag.manifestDigest);
      for (const l of byTag.manifest.layers) assert.ok(await store2.has(l.digest));
    });

  it('walks a multi-platform index to the platform asked', async () => {
    const amd = await buildTestImage({ architecture: 'amd64' });
    const arm = await buildTestImage({ architecture: 'arm64' });
    const layout = path.join(dir, 'layout-multi');
    const indexDigest = writeOciLayout(layout, 'multi', [amd, arm]);
    skopeoCopy(layout, 'multi', reg, 'multi/app:1', { all: true });
    const store = await storeIn(dir, 'multi');
    const r = await pullImage({ ref: `${reg.host}/multi/app:1`, platform: { os: 'linux', architecture: 'arm64' }, store, client });
    assert.equal(r.indexDigest, indexDigest);
    assert.equal(r.manifestDigest, arm.manifestDigest);
    assert.equal(r.config.architecture, 'arm64');
    assert.ok(await store.has(indexDigest));
    const host = await client.resolve(parseReference(`${reg.host}/multi/app:1`), { os: 'linux', architecture: 'amd64' });
    assert.equal(host.manifestDigest, amd.manifestDigest);
    const byDigest = await client.resolve(parseReference(`${reg.host}/multi/app@${indexDigest}`), { os: 'linux', architecture: 'arm64' });
    assert.equal(byDigest.manifestDigest, arm.manifestDigest);
    await assert.rejects(
      pullImage({ ref: `${reg.host}/multi/app:1`, platform: { os: 'linux', architecture: 's390x' }, store, client }),
      { message: 'no matching manifest for linux/s390x in the manifest list entries' },
    );
  });

  it('reports unknown tags and repositories in Docker words', async () => {
    const img = await buildTestImage({ note: 'known' });
    await pushImage({ ref: `${reg.host}/known/app:1`, manifestDigest: img.manifestDigest, store: await storeWith(dir, 'known', img), client });
    const store = await storeIn(dir, 'unknown');
    await assert.rejects(pullImage({ ref: `${reg.host}/known/app:nope`, store, client }), {
      name: 'NotFound',
      message: `manifest for ${reg.host}/known/app:nope not found: manifest unknown: manifest unknown`,
    });
    await assert.rejects(pullImage({ ref: `${reg.host}/nothing/here`, store, client }), {
      name: 'NotFound',
      message: new RegExp(`^(manifest for ${reg.host}/nothing/here:latest not found: manifest unknown|repository ${reg.host}/nothing/here not found: name unknown)`),
    });
    await assert.rejects(pullImage({ ref: `${reg.host}/known/app@sha256:${'0'.repeat(64)}`, store, client }), {
      name: 'NotFound',
      message: new RegExp(`^manifest for ${reg.host}/known/app@sha256:0+ not found: manifest unknown`),
    });
  });

  it('pulls Docker Hub references through a registry mirror', async () => {
    const img = await buildTestImage({ note: 'mirrored' });
    await pushImage({ ref: `${reg.host}/library/mirrored:1`, manifestDigest: img.manifestDigest, store: await storeWith(dir, 'mirror-src', img), client });
    const viaMirror = new RegistryClient({ options: { retry: FAST_RETRY, mirrors: [reg.url] } });
    try {
      const r = await pullImage({ ref: 'mirrored:1', store: await storeIn(dir, 'mirror-dst'), client: viaMirror });
      assert.equal(r.manifestDigest, img.manifestDigest);
      assert.equal(familiarString(r.ref), 'mirrored:1');
    } finally {
      viaMirror.close();
    }
  });

  describe('through a faulty network', () => {
    let proxy: FaultProxy;
    let img: TestImage;
    before(async () => {
      proxy = new FaultProxy(Number(reg.host.split(':')[1]));
      await proxy.start();
      img = await buildTestImage({ note: 'faults' });
      await pushImage({ ref: `${reg.host}/faults/app:1`, manifestDigest: img.manifestDigest, store: await storeWith(dir, 'faults-src', img), client });
    });
    after(async () => proxy?.stop());

    it('resumes cut downloads with Range and retries 500, 429 and redirects', async () => {
      proxy.log.length = 0;
      proxy.plan = { cuts: 2, cutAfter: 300_000, statuses: [500, 429, 503], delayBlobMs: 0, redirectOnce: true };
      const store = await storeIn(dir, 'faults');
      const r = await pullImage({ ref: `${proxy.host}/faults/app:1`, store, client, concurrency: 1 });
      assert.equal(r.manifestDigest, img.manifestDigest);
      for (const b of blobsOf(img)) assert.deepEqual(await store.readAll(b.digest), b.data);
      const resumed = proxy.log.filter((l) => l.range !== undefined);
      assert.ok(resumed.some((l) => /^bytes=[1-9]\d*-$/.test(l.range ?? '') && l.status === 206), JSON.stringify(proxy.log));
      assert.ok(proxy.log.some((l) => l.status === 429));
      assert.ok(proxy.log.some((l) => l.status === 307));
      assert.equal(proxy.plan.statuses.length, 0);
    });

    it('streams layers to the unpacker while they download, across cut connections', async () => {
      proxy.log.length = 0;
      proxy.plan = { cuts: 2, cutAfter: 300_000, statuses: [], delayBlobMs: 0, redirectOnce: false };
      const store = await storeIn(dir, 'streamed');
      const got = new Map<string, { data: Buffer; streamed: boolean }>();
      await pullImage({
        ref: `${proxy.host}/faults/app:1`,
        store,
        client,
        streamLayers: true,
        unpack: async (layer, ctx) => {
          assert.ok(ctx.stream, 'a layer being downloaded comes with its bytes');
          const parts: Buffer[] = [];
          try {
            for await (const piece of ctx.stream) parts.push(Buffer.from(piece));
          } catch (err) {
            if (!ctx.stream.abandoned) throw err;
            await ctx.blobReady;
            got.set(layer.digest, { data: await store.readAll(layer.digest), streamed: false });
            return;
          }
          got.set(layer.digest, { data: Buffer.concat(parts), streamed: true });
        },
      });
      for (const l of img.layers) {
        const g = got.get(l.digest);
        assert.ok(g, `${l.digest} was not handed over`);
        assert.deepEqual(g.data, await store.readAll(l.digest));
      }
      // The cut downloads resumed where they stopped, so the stream followed them.
      assert.ok(proxy.log.some((l) => /^bytes=[1-9]\d*-$/.test(l.range ?? '') && l.status === 206), JSON.stringify(proxy.log));
      assert.ok([...got.values()].every((g) => g.streamed));
    });

    it('an unpacker that leaves its stream unread (the layer is already here) does not stall the download', async () => {
      proxy.plan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 0, redirectOnce: false };
      const store = await storeIn(dir, 'streamed-unread');
      const big = await buildTestImage({ note: 'unread', randomLayers: [3 << 20] });
      await pushImage({ ref: `${reg.host}/faults/unread:1`, manifestDigest: big.manifestDigest, store: await storeWith(dir, 'unread-src', big), client });
      // Over the tap's 1 MB high-water mark: a download waiting for its reader would never end.
      assert.ok(big.layers.some((l) => l.size > 1 << 20));
      const r = await pullImage({ ref: `${proxy.host}/faults/unread:1`, store, client, streamLayers: true, unpack: async () => undefined });
      assert.equal(r.manifestDigest, big.manifestDigest);
      for (const l of big.layers) assert.deepEqual(await store.readAll(l.digest), l.data);
    });

    it('a streamed layer whose download another pull runs is read from the store', async () => {
      proxy.plan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 300, redirectOnce: false };
      const store = await storeIn(dir, 'streamed-shared');
      const abandoned: boolean[] = [];
      const pull = (stream: boolean) =>
        pullImage({
          ref: `${proxy.host}/faults/app:1`,
          store,
          client,
          streamLayers: stream,
          unpack: async (_layer, ctx) => {
            if (!ctx.stream) return;
            await assert.rejects(async () => {
              for await (const _ of ctx.stream!);
            }, /blob not streamed/);
            abandoned.push(ctx.stream.abandoned);
            await ctx.blobReady;
          },
        });
      // The first pull starts every download; the streaming one joins them.
      const first = pull(false);
      await new Promise((r) => setTimeout(r, 100));
      await Promise.all([first, pull(true)]);
      assert.deepEqual(abandoned, img.layers.map(() => true));
    });

    it('refuses a manifest whose digest does not match', async () => {
      const wrong = `sha256:${'f'.repeat(64)}`;
      proxy.plan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 0, redirectOnce: false, tamperDigest: wrong };
      try {
        await assert.rejects(pullImage({ ref: `${proxy.host}/faults/app:1`, store: await storeIn(dir, 'tamper'), client }), {
          message: `manifest verification failed for digest ${wrong}`,
        });
      } finally {
        delete proxy.plan.tamperDigest;
      }
    });

    it('fetches a layer once for two concurrent pulls', async () => {
      proxy.log.length = 0;
      proxy.plan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 300, redirectOnce: false };
      const store = await storeIn(dir, 'dedupe');
      const a: ProgressEvent[] = [];
      const b: ProgressEvent[] = [];
      const [ra, rb] = await Promise.all([
        pullImage({ ref: `${proxy.host}/faults/app:1`, store, client, onProgress: (e) => a.push(e) }),
        pullImage({ ref: `${proxy.host}/faults/app:1`, store, client, onProgress: (e) => b.push(e) }),
      ]);
      assert.equal(ra.manifestDigest, rb.manifestDigest);
      for (const l of img.layers) {
        const gets = proxy.log.filter((x) => x.method === 'GET' && x.path.includes(l.digest));
        assert.equal(gets.length, 1, `${l.digest} fetched ${gets.length} times`);
        assert.ok(statusesOf(b, l.digest.slice(7, 19)).includes('Download complete'));
      }
    });

    it('stops on cancel and keeps the partial download for the next try', async () => {
      proxy.plan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 0, redirectOnce: false };
      const store = await storeIn(dir, 'cancel');
      const ac = new AbortController();
      await assert.rejects(
        pullImage({
          ref: `${proxy.host}/faults/app:1`,
          store,
          client,
          signal: ac.signal,
          onProgress: (e) => {
            if (e.status === 'Downloading') ac.abort();
          },
        }),
        { name: 'Cancelled' },
      );
      const r = await pullImage({ ref: `${proxy.host}/faults/app:1`, store, client });
      assert.equal(r.manifestDigest, img.manifestDigest);
    });
  });
});
