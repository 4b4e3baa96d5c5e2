import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore, putBlob } from '../../agent/image/content';
import { CredentialStore, RegistryClient, login, logout, pullImage, pushImage, type ProgressEvent } from '../../agent/registry';
import { blobsOf, buildTestImage, startRegistry, type TestImage, type TestRegistry } from '../helpers/registry';

const FAST_RETRY = { baseDelayMs: 10, maxDelayMs: 50 };

async function storeIn(dir: string, name: string, img?: TestImage): Promise<LocalContentStore> {
  const s = new LocalContentStore(path.join(dir, name));
  await s.init();
  if (img) for (const b of blobsOf(img)) await putBlob(s, b.data);
  return s;
}

describe('registry auth: htpasswd (Basic)', () => {
  let reg: TestRegistry;
  let dir: string;
  before(async () => {
    reg = await startRegistry({ mode: 'htpasswd', users: { alice: 's3cret' } });
    dir = mkdtempSync(path.join(tmpdir(), 'tscompose-registry-basic-'));
  });
  after(async () => {
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong password and saves a right one, 0600', async () => {
    const store = new CredentialStore({ configDir: path.join(dir, 'conf'), dockerConfigPath: null });
    const client = new RegistryClient({ credentials: store, options: { retry: FAST_RETRY } });
    try {
      await assert.rejects(login({ client, store, server: reg.host, username: 'alice', password: 'wrong' }), {
        message: 'unauthorized: incorrect username or password',
      });
      assert.equal(await login({ client, store, server: reg.host, username: 'alice', password: 's3cret' }), 'Login Succeeded');
      const file = JSON.parse(readFileSync(store.file, 'utf8')) as { auths: Record<string, { auth: string }> };
      assert.equal(Buffer.from(file.auths[reg.host]!.auth, 'base64').toString(), 'alice:s3cret');
      assert.equal(statSync(store.file).mode & 0o777, 0o600);

      const img = await buildTestImage({ note: 'basic' });
      await pushImage({ ref: `${reg.host}/basic/app:1`, manifestDigest: img.manifestDigest, store: await storeIn(dir, 'src', img), client });
      const r = await pullImage({ ref: `${reg.host}/basic/app:1`, store: await storeIn(dir, 'dst'), client });
      assert.equal(r.manifestDigest, img.manifestDigest);
      assert.equal(await logout({ client, store, server: reg.host }), `Removing login credentials for ${reg.host}`);
    } finally {
      client.close();
    }
  });

  it("uses Docker's own config.json and fails without credentials", async () => {
    const dockerDir = path.join(dir, 'docker');
    mkdirSync(dockerDir, { recursive: true });
    writeFileSync(
      path.join(dockerDir, 'config.json'),
      JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }),
    );
    const viaDocker = new CredentialStore({ configDir: path.join(dir, 'empty'), dockerConfigPath: path.join(dockerDir, 'config.json') });
    const client = new RegistryClient({ credentials: viaDocker, options: { retry: FAST_RETRY } });
    const anonymous = new RegistryClient({ options: { retry: FAST_RETRY } });
    try {
      const tags = await client.listTags({ domain: reg.host, path: 'basic/app' });
      assert.deepEqual(tags, ['1']);
      await assert.rejects(pullImage({ ref: `${reg.host}/basic/app:1`, store: await storeIn(dir, 'anon'), client: anonymous }), {
        message: 'unauthorized: authentication required',
      });
    } finally {
      client.close();
      anonymous.close();
    }
  });
});

describe('registry auth: token server (Bearer)', () => {
  let reg: TestRegistry;
  let dir: string;
  let alice: RegistryClient;
  let anonymous: RegistryClient;
  before(async () => {
    reg = await startRegistry({ mode: 'token', users: { alice: 'pw' }, publicRepos: ['public/app'] });
    dir = mkdtempSync(path.join(tmpdir(), 'tscompose-registry-token-'));
    const creds = new CredentialStore({ configDir: path.join(dir, 'conf'), dockerConfigPath: null });
    alice = new RegistryClient({ credentials: creds, options: { retry: FAST_RETRY } });
    anonymous = new RegistryClient({ options: { retry: FAST_RETRY } });
    await login({ client: alice, store: creds, server: reg.host, username: 'alice', password: 'pw' });
  });
  after(async () => {
    alice?.close();
    anonymous?.close();
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong password at the token server', async () => {
    const store = new CredentialStore({ configDir: path.join(dir, 'other'), dockerConfigPath: null });
    await assert.rejects(login({ client: anonymous, store, server: reg.host, username: 'alice', password: 'nope' }), {
      message: 'unauthorized: incorrect username or password',
    });
  });

  it('pushes with credentials, pulls anonymously, one token per scope', async () => {
    const img = await buildTestImage({ note: 'token' });
    await pushImage({ ref: `${reg.host}/public/app:1`, manifestDigest: img.manifestDigest, store: await storeIn(dir, 'src', img), client: alice });
    const pushTokens = reg.tokenRequests.filter((t) => t.scopes.join(' ') === 'repository:public/app:pull,push');
    assert.equal(pushTokens.length, 1, JSON.stringify(reg.tokenRequests));

    reg.tokenRequests.length = 0;
    const r = await pullImage({ ref: `${reg.host}/public/app:1`, store: await storeIn(dir, 'dst'), client: anonymous });
    assert.equal(r.manifestDigest, img.manifestDigest);
    assert.deepEqual(reg.tokenRequests.map((t) => [t.account, t.scopes.join(' ')]), [[undefined, 'repository:public/app:pull']]);
  });

  it('mounts across repositories with a two-scope token', async () => {
    const img = await buildTestImage({ note: 'token' });
    reg.tokenRequests.length = 0;
    const events: ProgressEvent[] = [];
    await pushImage({
      ref: `${reg.host}/private/app:1`,
      manifestDigest: img.manifestDigest,
      store: await storeIn(dir, 'src2', img),
      client: alice,
      onProgress: (e) => events.push(e),
    });
    for (const l of img.layers)
      assert.deepEqual(events.filter((e) => e.id === l.digest.slice(7, 19)).map((e) => e.status).slice(-1), ['Mounted from public/app']);
    assert.ok(
      reg.tokenRequests.some(
        (t) => t.account === 'alice' && [...t.scopes].sort().join(' ') === 'repository:private/app:pull,push repository:public/app:pull',
      ),
      JSON.stringify(reg.tokenRequests),
    );
  });

  it('denies an anonymous pull of a private repository in Docker words', async () => {
    await assert.rejects(pullImage({ ref: `${reg.host}/private/app:1`, store: await storeIn(dir, 'denied'), client: anonymous }), {
      name: 'NotFound',
      message: `pull access denied for ${reg.host}/private/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
    });
  });
});
