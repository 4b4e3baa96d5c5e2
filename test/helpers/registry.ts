/**
 * A real registry for tests: Debian's `docker-registry` (distribution v2.8) on a free port of
 * 127.0.0.1, with its storage in a private temp dir, and one of three auth modes:
 * - `none`;
 * - `htpasswd`: Basic auth against bcrypt hashes of the given users;
 * - `token`: Bearer auth through a token server the helper runs (ES256 JWTs signed with a key
 *   made by `openssl`), which grants every requested action to known users and only `pull` to
 *   anonymous callers on repositories listed as public. It records each token request.
 * Always `stop()` it in an `after` hook.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { freePort } from './http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes, sign } from 'node:crypto';
import bcrypt from 'bcryptjs';

export type RegistryAuth =
  | { mode: 'none' }
  | { mode: 'htpasswd'; users: Record<string, string> }
  | { mode: 'token'; users: Record<string, string>; publicRepos?: string[] };

export interface TokenRequest {
  account: string | undefined;
  scopes: string[];
  status: number;
}

/** Where the registry listens, and whether it speaks TLS (distribution's `http.tls`). */
export interface RegistryListen {
  /** An address of this host: 127.0.0.1 by default. */
  address?: string;
  /** PEM files: the server's certificate and key, and CAs whose client certificates it requires. */
  tls?: { certificate: string; key: string; clientCas?: string[] };
}

export interface TestRegistry {
  /** `<address>:<port>`, the domain of references to this registry. */
  host: string;
  url: string;
  dir: string;
  /** Token server requests, in order (token mode only). */
  tokenRequests: TokenRequest[];
  stop(): Promise<void>;
}


export async function startRegistry(auth: RegistryAuth = { mode: 'none' }, listen: RegistryListen = {}): Promise<TestRegistry> {
  const address = listen.address ?? '127.0.0.1';
  const tls = listen.tls;
  const tlsYaml = tls
    ? `  tls:\n    certificate: ${tls.certificate}\n    key: ${tls.key}\n` +
      (tls.clientCas?.length ? `    clientcas:\n${tls.clientCas.map((c) => `      - ${c}\n`).join('')}` : '')
    : '';
  const dir = mkdtempSync(path.join(tmpdir(), 'tscompose-registry-'));
  const tokenRequests: TokenRequest[] = [];
  let tokenServer: Server | undefined;
  let authYaml = '';
  if (auth.mode === 'htpasswd') {
    const lines = Object.entries(auth.users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`);
    writeFileSync(path.join(dir, 'htpasswd'), lines.join('\n') + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: test-realm\n    path: ${path.join(dir, 'htpasswd')}\n`;
  } else if (auth.mode === 'token') {
    const keyFile = path.join(dir, 'token.key');
    const certFile = path.join(dir, 'token.crt');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=tscompose-test-token-issuer',
    ], { stdio: 'ignore' });
    const tokenPort = await freePort();
    tokenServer = startTokenServer({
      key: readFileSync(keyFile, 'utf8'),
      certPem: readFileSync(certFile, 'utf8'),
      users: auth.users,
      publicRepos: new Set(auth.publicRepos ?? []),
      log: tokenRequests,
    });
    await new Promise<void>((resolve) => tokenServer!.listen(tokenPort, '127.0.0.1', resolve));
    authYaml =
      `auth:\n  token:\n    realm: http://127.0.0.1:${tokenPort}/token\n    service: tscompose-test-registry\n` +
      `    issuer: tscompose-test-issuer\n    rootcertbundle: ${certFile}\n`;
  }

  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n` +
        `  delete:\n    enabled: true\nhttp:\n  addr: ${address}:${port}\n  secret: ${randomBytes(16).toString('hex')}\n` +
        tlsYaml +
        authYaml,
    );
    const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const up = await waitUp(address, port, tls !== undefined, child);
    if (up) {
      const host = `${address}:${port}`;
      return {
        host,
        url: `${tls ? 'https' : 'http'}://${host}`,
        dir,
        tokenRequests,
        async stop() {
          await stopChild(child);
          await new Promise<void>((resolve) => (tokenServer ? tokenServer.close(() => resolve()) : resolve()));
          tokenServer?.closeAllConnections();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    lastErr = stderr;
    await stopChild(child);
  }
  tokenServer?.close();
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`docker-registry did not start: ${lastErr}`);
}

async function waitUp(host: string, port: number, secure: boolean, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      // Any answer means it listens: over TLS, even a refused handshake (no client certificate).
      const request = secure ? httpsRequest : httpRequest;
      const req = request({ host, port, path: '/v2/', method: 'GET', rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(secure && err.code !== 'ECONNREFUSED'));
      req.end();
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

interface TokenServerConfig {
  key: string;
  certPem: string;
  users: Record<string, string>;
  publicRepos: Set<string>;
  log: TokenRequest[];
}

function startTokenServer(cfg: TokenServerConfig): Server {
  const certDer = cfg.certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scopes = url.searchParams.getAll('scope');
    const reply = (status: number, body: unknown) => {
      cfg.log.push({ account: url.searchParams.get('account') ?? undefined, scopes, status });
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const [u = '', ...rest] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      if (cfg.users[u] === undefined || cfg.users[u] !== rest.join(':'))
        return reply(401, { details: 'incorrect username or password' });
      user = u;
    }
    const access = scopes.flatMap((s) => {
      const [type, name, actions = ''] = s.split(':');
      if (type !== 'repository' || !name) return [];
      const granted = user ? actions.split(',') : cfg.publicRepos.has(name) ? ['pull'] : [];
      return [{ type, name, actions: granted.filter((a) => actions.split(',').includes(a)) }];
    });
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = b64({ alg: 'ES256', typ: 'JWT', x5c: [certDer] });
    const claims = b64({
      iss: 'tscompose-test-issuer',
      sub: user ?? '',
      aud: url.searchParams.get('service') ?? '',
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    });
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: cfg.key, dsaEncoding: 'ieee-p1363' });
    reply(200, { token: `${header}.${claims}.${signature.toString('base64url')}`, expires_in: 300 });
  });
}

// ---------------------------------------------------------------------------------------------
// Small images made from busybox-static, and OCI layouts of them (for `skopeo copy`).

export interface TestBlob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface TestImage {
  mediaType: string;
  manifest: Buffer;
  manifestDigest: string;
  config: TestBlob;
  layers: TestBlob[];
  platform: { os: string; architecture: string };
}

export interface TestImageOptions {
  format?: 'oci' | 'docker';
  architecture?: string;
  /** Content of a small second layer, which makes images differ. */
  note?: string;
  /** Layers as plain tars (what import and build create), not gzip. */
  plainLayers?: boolean;
  /** Sizes of further layers, each one file of random (incompressible) bytes. */
  randomLayers?: number[];
}

const BUSYBOX_PATH = '/usr/bin/busybox';

function blobOf(mediaType: string, data: Buffer): TestBlob {
  return { mediaType, digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), size: data.length, data };
}

async function tarOf(files: { name: string; data: Buffer; mode: number }[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const f of files) pack.entry({ name: f.name, size: f.data.length, mode: f.mode, mtime: new Date(0) }, f.data);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function buildTestImage(opts: TestImageOptions = {}): Promise<TestImage> {
  const docker = opts.format === 'docker';
  const layerType = opts.plainLayers
    ? docker
      ? 'application/vnd.docker.image.rootfs.diff.tar'
      : 'application/vnd.oci.image.layer.v1.tar'
    : docker
      ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : 'application/vnd.oci.image.layer.v1.tar+gzip';
  const architecture = opts.architecture ?? 'amd64';
  const tars = [
    await tarOf([{ name: 'bin/busybox', data: readFileSync(BUSYBOX_PATH), mode: 0o755 }]),
    await tarOf([{ name: 'etc/tscompose-note', data: Buffer.from(opts.note ?? `note for ${architecture}\n`), mode: 0o644 }]),
  ];
  for (const [i, size] of (opts.randomLayers ?? []).entries())
    tars.push(await tarOf([{ name: `data/random-${i}`, data: randomBytes(size), mode: 0o644 }]));
  const layers = tars.map((t) => blobOf(layerType, opts.plainLayers ? t : gzipSync(t, { level: 1 })));
  const config = blobOf(
    docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
    Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        config: { Cmd: ['/bin/busybox', 'sh'] },
        rootfs: { type: 'layers', diff_ids: tars.map((t) => 'sha256:' + createHash('sha256').update(t).digest('hex')) },
      }),
    ),
  );
  const mediaType = docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
  const strip = (b: TestBlob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType, config: strip(config), layers: layers.map(strip) }, null, 2),
  );
  return {
    mediaType,
    manifest,
    manifestDigest: blobOf(mediaType, manifest).digest,
    config,
    layers,
    platform: { os: 'linux', architecture },
  };
}

/** Every blob of an image, the manifest included. */
export function blobsOf(img: TestImage): TestBlob[] {
  return [blobOf(img.mediaType, img.manifest), img.config, ...img.layers];
}

/**
 * Writes an OCI image layout with `tag` naming one image, or an index of several (one per
 * platform) when given more than one. Returns the digest `tag` names.
 */
export function writeOciLayout(dir: string, tag: string, images: TestImage[]): string {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: TestBlob) => writeFileSync(path.join(dir, 'blobs', 'sha256', b.digest.slice(7)), b.data);
  for (const img of images) for (const b of blobsOf(img)) put(b);
  const manifestDesc = (img: TestImage) => ({
    mediaType: img.mediaType,
    digest: img.manifestDigest,
    size: img.manifest.length,
    platform: img.platform,
  });
  let top: { mediaType: string; digest: string; size: number };
  const only = images[0];
  if (images.length === 1 && only) top = manifestDesc(only);
  else {
    const index = blobOf(
      'application/vnd.oci.image.index.v1+json',
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: images.map(manifestDesc) })),
    );
    put(index);
    top = { mediaType: index.mediaType, digest: index.digest, size: index.size };
  }
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
  return top.digest;
}

/** Places an OCI layout's image into the registry with skopeo, independently of our client. */
export function skopeoCopy(
  layoutDir: string,
  tag: string,
  registry: TestRegistry,
  repoTag: string,
  opts: { format?: 'v2s2' | 'oci'; all?: boolean; creds?: string } = {},
): void {
  const args = ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false'];
  if (opts.format) args.push('--format', opts.format);
  if (opts.all) args.push('--all');
  if (opts.creds) args.push('--dest-creds', opts.creds);
  args.push(`oci:${layoutDir}:${tag}`, `docker://${registry.host}/${repoTag}`);
  execFileSync('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

// ---------------------------------------------------------------------------------------------
// Faults between a client and a registry.

export interface ProxyPlan {
  /** Blob responses to cut after `cutAfter` bytes. */
  cuts: number;
  cutAfter: number;
  /** Statuses to answer blob GETs with, before forwarding. */
  statuses: number[];
  /** Replaces Docker-Content-Digest on manifest responses. */
  tamperDigest?: string;
  /** Holds blob responses back, so concurrent pulls overlap. */
  delayBlobMs: number;
  /** Answers the first blob GET with a relative 307 to itself. */
  redirectOnce: boolean;
  /** Paces each blob response to this many bytes per second. */
  throttleBytesPerSec?: number;
}

export interface ProxyLog {
  /** ms since epoch the request came in */
  at: number;
  method: string;
  path: string;
  range: string | undefined;
  status: number;
}

/** A fault-injecting (and throttling) HTTP proxy in front of a registry, on 127.0.0.1. */
export class FaultProxy {
  readonly log: ProxyLog[] = [];
  /** Blob bytes sent to clients so far, and the blob responses still open (their paths). */
  blobBytesSent = 0;
  readonly openBlobResponses = new Set<string>();
  plan: ProxyPlan = { cuts: 0, cutAfter: 0, statuses: [], delayBlobMs: 0, redirectOnce: false };
  private server!: Server;
  host = '';

  constructor(private readonly upstream: number) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
    const url = req.url ?? '/';
    const isBlobGet = req.method === 'GET' && url.includes('/blobs/sha256:');
    const entry: ProxyLog = { at: Date.now(), method: req.method ?? '', path: url, range: req.headers.range, status: 0 };
    this.log.push(entry);
    if (isBlobGet && this.plan.redirectOnce && !url.includes('redirected=1')) {
      this.plan.redirectOnce = false;
      entry.status = 307;
      res.writeHead(307, { Location: url.split('/v2/')[1] ? `/v2/${url.split('/v2/')[1]}?redirected=1` : url });
      return res.end();
    }
    const injected = isBlobGet ? this.plan.statuses.shift() : undefined;
    if (injected) {
      entry.status = injected;
      res.writeHead(injected, injected === 429 ? { 'Retry-After': '1', 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected' }] }));
    }
    if (isBlobGet && this.plan.delayBlobMs) await new Promise((r) => setTimeout(r, this.plan.delayBlobMs));
    const upstreamReq = httpRequest(
      { host: '127.0.0.1', port: this.upstream, method: req.method, path: url.replace(/[?&]redirected=1/, ''), headers: req.headers },
      (up) => {
        entry.status = up.statusCode ?? 0;
        // The client may have gone before the registry answered: nothing is sent or counted then.
        if (res.destroyed || res.socket === null || res.socket.destroyed) {
          up.destroy();
          return;
        }
        const headers = { ...up.headers };
        if (this.plan.tamperDigest && url.includes('/manifests/')) headers['docker-content-digest'] = this.plan.tamperDigest;
        res.writeHead(up.statusCode ?? 502, headers);
        const cut = isBlobGet && this.plan.cuts > 0 && Number(up.headers['content-length'] ?? 0) > this.plan.cutAfter;
        if (isBlobGet) {
          const key = `${url} #${this.log.length}`;
          this.openBlobResponses.add(key);
          res.once('close', () => {
            this.openBlobResponses.delete(key);
            up.destroy();
          });
        }
        const rate = this.plan.throttleBytesPerSec;
        if (isBlobGet && !cut && rate) {
          up.on('data', (chunk: Buffer) => {
            if (res.destroyed) return void up.destroy();
            up.pause();
            this.blobBytesSent += chunk.length;
            res.write(chunk);
            setTimeout(() => up.resume(), (chunk.length / rate) * 1000);
          });
          up.on('end', () => res.end());
          return;
        }
        if (!cut) {
          if (isBlobGet) up.on('data', (chunk: Buffer) => (this.blobBytesSent += chunk.length));
          return void up.pipe(res);
        }
        this.plan.cuts--;
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent >= this.plan.cutAfter) return;
          const part = chunk.subarray(0, this.plan.cutAfter - sent);
          sent += part.length;
          res.write(part);
          if (sent >= this.plan.cutAfter) {
            up.destroy();
            res.socket?.destroy();
          }
        });
      },
    );
    upstreamReq.on('error', () => res.socket?.destroy());
    res.once('close', () => upstreamReq.destroy());
    req.pipe(upstreamReq);
  }
}
