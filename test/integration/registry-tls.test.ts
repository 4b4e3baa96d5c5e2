/**
 * Registries over TLS, through the CLI: a real `docker-registry` serving HTTPS with a certificate
 * of a CA made here, trusted only through a certs.d directory, as Docker's `/etc/docker/certs.d`;
 * one that wants a client certificate; and daemon.json's `insecure-registries` (plain HTTP, and
 * TLS left unverified).
 *
 * The registry must not be on loopback: loopback registries are allowed plain HTTP, and (as with
 * Docker) skip verification. It listens on an address of a bridge the test makes (with no ports) and
 * removes; traffic to it never leaves the host.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, startTestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { startRegistry, type TestRegistry } from '../helpers/registry';

const work = mkdtempSync(path.join(os.tmpdir(), 'tsc-registry-tls-'));
const certsD = path.join(work, 'certs.d');
// Set before the daemons start: they read it at start-up, and the user's own dirs stay untouched.
process.env['TSCOMPOSE_CERTS_D'] = certsD;
process.env['TSCOMPOSE_CONFIG'] = path.join(work, 'config');
process.env['DOCKER_CONFIG'] = path.join(work, 'docker-config');

const link = `tsctls${randomBytes(3).toString('hex')}`;
const address = `10.254.${1 + (randomBytes(1)[0]! % 250)}.${1 + (randomBytes(1)[0]! % 250)}`;

let daemon: TestDaemon;
/** Has `insecure-registries: ["<address>/32"]` in its daemon.json. */
let lenient: TestDaemon;
let server: TestRegistry;
let mutual: TestRegistry;
/** Plain HTTP, on the same address. */
let plain: TestRegistry;
/** TLS with the test CA's certificate, whose CA certs.d never gets. */
let unverified: TestRegistry;
const files = {
  caKey: path.join(work, 'ca.key'),
  caCert: path.join(work, 'ca.crt'),
  serverKey: path.join(work, 'server.key'),
  serverCert: path.join(work, 'server.crt'),
  clientKey: path.join(work, 'client.key'),
  clientCert: path.join(work, 'client.cert'),
};

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A key and a certificate signed by the test CA, for `usage` (serverAuth or clientAuth). */
function issue(key: string, cert: string, subject: string, extensions: string): void {
  const csr = `${cert}.csr`;
  const ext = `${cert}.ext`;
  writeFileSync(ext, extensions);
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', subject);
  openssl('x509', '-req', '-in', csr, '-CA', files.caCert, '-CAkey', files.caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext);
}

async function hostDir(reg: TestRegistry): Promise<string> {
  const dir = path.join(certsD, reg.host);
  await fsp.mkdir(dir, { recursive: true });
  return dir;
}

before(async () => {
  execFileSync('ip', ['link', 'add', link, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', `${address}/32`, 'dev', link]);
  execFileSync('ip', ['link', 'set', link, 'up']);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.caKey, '-out', files.caCert, '-days', '2', '-subj', '/CN=tscompose test CA');
  issue(files.serverKey, files.serverCert, `/CN=${address}`, `subjectAltName=IP:${address}\nextendedKeyUsage=serverAuth\n`);
  issue(files.clientKey, files.clientCert, '/CN=tscompose test client', 'extendedKeyUsage=clientAuth\n');
  const tls = { certificate: files.serverCert, key: files.serverKey };
  lenient = new TestDaemon(mkdtempSync(path.join(os.tmpdir(), 'tsc-daemon-')));
  await fsp.mkdir(lenient.dataRoot, { recursive: true });
  writeFileSync(path.join(lenient.dataRoot, 'daemon.json'), JSON.stringify({ 'insecure-registries': [`${address}/32`] }));
  [daemon, server, mutual, plain, unverified] = await Promise.all([
    startTestDaemon(),
    startRegistry({ mode: 'none' }, { address, tls }),
    startRegistry({ mode: 'none' }, { address, tls: { ...tls, clientCas: [files.caCert] } }),
    startRegistry({ mode: 'none' }, { address }),
    startRegistry({ mode: 'none' }, { address, tls }),
    lenient.start(),
  ]);
  const tarball = await busyboxRootfsTar(path.join(daemon.dir, 'busybox.tar'));
  await daemon.ok(['image', 'import', tarball, `${server.host}/bb:1`]);
  for (const reg of [mutual, plain]) await daemon.ok(['image', 'tag', `${server.host}/bb:1`, `${reg.host}/bb:1`]);
  await lenient.ok(['image', 'import', tarball, `${plain.host}/bb:1`]);
  await lenient.ok(['image', 'tag', `${plain.host}/bb:1`, `${unverified.host}/bb:1`]);
});

after(async () => {
  await Promise.all([daemon?.destroy(), lenient?.destroy(), server?.stop(), mutual?.stop(), plain?.stop(), unverified?.stop()]);
  try {
    execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
  } catch {
    // Never made.
  }
  await fsp.rm(work, { recursive: true, force: true });
});

describe('a registry with a certificate of a private CA', () => {
  test('is refused while its CA is unknown, with a one-line error', async () => {
    const res = await daemon.run(['image', 'push', `${server.host}/bb:1`]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const lines = res.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    const url = `https://${server.host}/v2/`.replace(/\./g, '\\.');
    assert.match(lines[0]!, new RegExp(`^Error response from daemon: [A-Z][a-z]+ "${url}[^"]*": tls: failed to verify certificate: unable to verify the first certificate$`));
  });

  test('is trusted through certs.d/<host:port>/*.crt, without a restart: push, then pull back', async () => {
    await fsp.copyFile(files.caCert, path.join(await hostDir(server), 'ca.crt'));
    const pushed = await daemon.ok(['image', 'push', `${server.host}/bb:1`]);
    assert.match(pushed, /^1: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    const id = (await daemon.ok(['image', 'inspect', '--format', '{{.Id}}', `${server.host}/bb:1`])).trim();
    await daemon.ok(['rmi', `${server.host}/bb:1`]);
    const pulled = await daemon.ok(['image', 'pull', `${server.host}/bb:1`]);
    assert.match(pulled, /^Status: Downloaded newer image for /m);
    assert.equal((await daemon.ok(['image', 'inspect', '--format', '{{.Id}}', `${server.host}/bb:1`])).trim(), id);
    const ran = await daemon.ok(['container', 'run', '--rm', `${server.host}/bb:1`, 'echo', 'over TLS']);
    assert.equal(ran, 'over TLS\n');
  });
});

describe('a registry whose CA the host trusts, with no certs.d', () => {
  // Each daemon trusts the test CA one way, and pushes to `unverified`, whose certs.d stays empty.
  const trustedBy = async (d: TestDaemon, tag: string) => {
    await d.ok(['image', 'import', path.join(daemon.dir, 'busybox.tar'), `${unverified.host}/${tag}:1`]);
    const pushed = await d.ok(['image', 'push', `${unverified.host}/${tag}:1`]);
    assert.match(pushed, /^1: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    await d.ok(['rmi', `${unverified.host}/${tag}:1`]);
    assert.match(await d.ok(['image', 'pull', `${unverified.host}/${tag}:1`]), /^Status: Downloaded newer image for /m);
  };

  test('the system store (SSL_CERT_FILE here) is trusted, not only node\'s own CA list', async () => {
    const bundle = path.join(work, 'system-bundle.crt');
    writeFileSync(bundle, `${await fsp.readFile(files.caCert, 'utf8')}`);
    const d = await startTestDaemon([], { env: { SSL_CERT_FILE: bundle } });
    try {
      await trustedBy(d, 'sys');
    } finally {
      await d.destroy();
    }
  });

  test('NODE_EXTRA_CA_CERTS still counts when bin/tscompose starts node without it', async () => {
    const d = await startTestDaemon([], { env: { NODE_EXTRA_CA_CERTS: files.caCert }, launcher: true });
    try {
      const environ = (await fsp.readFile(`/proc/${d.child!.pid}/environ`, 'utf8')).split('\0');
      assert.ok(!environ.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')), 'node started without NODE_EXTRA_CA_CERTS');
      assert.ok(environ.includes(`TSCOMPOSE_EXTRA_CA_CERTS=${files.caCert}`));
      await trustedBy(d, 'extra');
    } finally {
      await d.destroy();
    }
  });
});

describe('a registry that requires a client certificate', () => {
  test('is refused without one', async () => {
    await fsp.copyFile(files.caCert, path.join(await hostDir(mutual), 'ca.crt'));
    const res = await daemon.run(['image', 'push', `${mutual.host}/bb:1`]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.equal(res.stderr.trimEnd().split('\n').length, 1, res.stderr);
    const url = `https://${mutual.host}/v2/`.replace(/\./g, '\\.');
    assert.match(res.stderr, new RegExp(`^Error response from daemon: [A-Z][a-z]+ "${url}[^"]*": remote error: tls: bad certificate\n$`));
  });

  test('gets the client.cert and client.key of certs.d: push, then pull back', async () => {
    const dir = await hostDir(mutual);
    await fsp.copyFile(files.clientCert, path.join(dir, 'client.cert'));
    await fsp.copyFile(files.clientKey, path.join(dir, 'client.key'));
    await daemon.ok(['image', 'push', `${mutual.host}/bb:1`]);
    await daemon.ok(['rmi', `${mutual.host}/bb:1`]);
    const pulled = await daemon.ok(['image', 'pull', `${mutual.host}/bb:1`]);
    assert.match(pulled, /^Status: Downloaded newer image for /m);
  });
});

describe('insecure-registries in daemon.json', () => {
  test('without it, a registry off loopback that speaks plain HTTP is refused, as Docker says it', async () => {
    const res = await daemon.run(['image', 'push', `${plain.host}/bb:1`]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.equal(res.stderr.trimEnd().split('\n').length, 1, res.stderr);
    const url = `https://${plain.host}/v2/`.replace(/\./g, '\\.');
    assert.match(res.stderr, new RegExp(`^Error response from daemon: [A-Z][a-z]+ "${url}[^"]*": http: server gave HTTP response to HTTPS client\n$`));
  });

  test('with it (a CIDR), plain HTTP is used, and TLS is not verified', async () => {
    for (const reg of [plain, unverified]) {
      await lenient.ok(['image', 'push', `${reg.host}/bb:1`]);
      await lenient.ok(['rmi', `${reg.host}/bb:1`]);
      const pulled = await lenient.ok(['image', 'pull', `${reg.host}/bb:1`]);
      assert.match(pulled, /^Status: Downloaded newer image for /m);
    }
  });
});
