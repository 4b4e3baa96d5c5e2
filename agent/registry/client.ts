/**
 * The OCI Distribution API client: manifests, blobs, uploads and tags of one process's view of
 * every registry. It owns the retries (network errors, 5xx, 429 with `Retry-After`), the
 * authentication round trips (see `auth.ts`), the Hub mirrors, and never holds a layer in memory.
 */
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { createHash } from 'node:crypto';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { TsError, cancelled, failedPrecondition, invalidArgument, notFound, unavailable } from '../../common/errors';
import { sha256Of, type ContentInfo, type ContentStore, type ContentWriter, type Descriptor, type Platform } from '../image/content';
import {
  MediaType,
  formatPlatform,
  hostPlatform,
  isIndexMediaType,
  isManifestMediaType,
  selectPlatform,
  type ImageIndex,
  type ImageManifest,
} from '../image/oci';
import { Authorizer, INCORRECT_CREDENTIALS, type CredentialLookup, type Credentials } from './auth';
import { headerText, pullError, registryError, unexpectedStatus } from './errors';
import { withDefaults, type CompiledRegistryOptions, type RegistryOptions } from './options';
import { DEFAULT_DOMAIN, apiHost, manifestKey, type Reference } from './reference';
import { NodeHttpTransport, drain, isNetworkError, readBody, type HttpRequest, type HttpResponse, type HttpTransport } from './transport';
import type { BlobTap } from './tap';

/** A repository on a registry: `{ domain: 'docker.io', path: 'library/busybox' }`. */
export type RepositoryName = Pick<Reference, 'domain' | 'path'>;

export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

const MANIFEST_SIZE_LIMIT = 4 << 20;
const MAX_REDIRECTS = 10;
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
  parsed: ImageManifest | ImageIndex;
}

export interface ResolvedImage {
  manifest: ImageManifest;
  manifestDigest: string;
  manifestMediaType: string;
  manifestBytes: Buffer;
  /** Set when the reference named an index (manifest list) and a platform was picked from it. */
  index?: { digest: string; mediaType: string; bytes: Buffer; parsed: ImageIndex };
}

export interface BlobProgress {
  phase: 'downloading' | 'verifying';
  current: number;
  total: number;
}

export interface FetchBlobOptions {
  onProgress?: (p: BlobProgress) => void;
  signal?: AbortSignal;
  /** Also hands the bytes to this reader as they arrive (see tap.ts). */
  tap?: BlobTap;
}

export type PushBlobResult = { kind: 'exists' } | { kind: 'mounted'; from: string } | { kind: 'pushed' };

export interface PushBlobOptions {
  /** Repositories on the same registry that may hold the blob, tried for a cross-repo mount. */
  mountFrom?: RepositoryName[];
  onProgress?: (current: number, total: number) => void;
  signal?: AbortSignal;
}

export interface RegistryClientInit {
  options?: RegistryOptions;
  credentials?: CredentialLookup;
  transport?: HttpTransport;
}

interface Endpoint {
  /** Where `v2/…` paths are resolved from. */
  base: URL;
  /** The host credentials and challenges are kept for. */
  host: string;
  mirror: boolean;
}

interface Exchange {
  method: HttpRequest['method'];
  path?: string;
  url?: URL;
  headers?: Record<string, string>;
  body?: HttpRequest['body'];
  scopes: string[];
  signal?: AbortSignal | undefined;
  followRedirects?: boolean;
  /** Attempts for network errors and retryable statuses; defaults to the retry policy's. */
  attempts?: number;
  credentials?: Credentials;
}

const NO_CREDENTIALS: CredentialLookup = { get: async () => undefined };

export function pullScope(repo: RepositoryName): string {
  return `repository:${repo.path}:pull`;
}

export function pushScope(repo: RepositoryName): string {
  return `repository:${repo.path}:pull,push`;
}

export class RegistryClient {
  readonly options: CompiledRegistryOptions;
  private readonly transport: HttpTransport;
  private readonly auth: Authorizer;

  constructor(init: RegistryClientInit = {}) {
    this.options = withDefaults(init.options);
    this.transport = init.transport ?? new NodeHttpTransport(this.options);
    this.auth = new Authorizer(init.credentials ?? NO_CREDENTIALS, async (url, headers, signal) => {
      const res = await this.withNetworkRetries(() =>
        this.transport.request({ method: 'GET', url, headers, ...(signal && { signal }) }),
      );
      return { status: res.status, body: await readBody(res) };
    });
  }

  /** Closes pooled connections. */
  close(): void {
    this.transport.close();
  }

  /** The registry host credentials for a domain are stored under (`registry-1.docker.io` for docker.io). */
  hostFor(domain: string): string {
    return apiHost(domain);
  }

  // ----- endpoints and the request loop ---------------------------------------------------------

  private async endpoints(domain: string, purpose: 'pull' | 'push', signal?: AbortSignal): Promise<Endpoint[]> {
    const out: Endpoint[] = [];
    if (domain === DEFAULT_DOMAIN && purpose === 'pull')
      for (const m of this.options.mirrors) out.push({ base: m, host: m.host, mirror: true });
    const host = apiHost(domain);
    out.push({ base: await this.transport.baseUrl(host, signal), host, mirror: false });
    return out;
  }

  /** Runs `op` on each endpoint in turn (mirrors first), falling back while a mirror fails. */
  private async onEndpoints<T>(
    domain: string,
    signal: AbortSignal | undefined,
    op: (ep: Endpoint) => Promise<T>,
  ): Promise<T> {
    const eps = await this.endpoints(domain, 'pull', signal);
    let lastErr: unknown;
    for (const ep of eps) {
      try {
        return await op(ep);
      } catch (err) {
        if (!ep.mirror || signal?.aborted) throw err;
        lastErr = err;
      }
    }
    throw lastErr;
  }

  private async exchange(ep: Endpoint, x: Exchange): Promise<HttpResponse> {
    const attempts = x.attempts ?? (ep.mirror ? 1 : this.options.retry.attempts);
    let failures = 0;
    let reauthenticated = false;
    for (;;) {
      throwIfAborted(x.signal);
      let res: HttpResponse;
      try {
        res = await this.once(ep, x);
      } catch (err) {
        if (x.signal?.aborted) throw cancelled('context canceled', err);
        const url = x.url ?? new URL(x.path ?? '', ep.base);
        const tlsFailure = tlsFailureText(err);
        if (tlsFailure) throw networkFailure(err, x.method, url, tlsFailure);
        if (!isNetworkError(err)) throw err;
        if (++failures >= attempts) throw networkFailure(err, x.method, url);
        await this.backoff(failures, undefined, x.signal);
        continue;
      }
      if (res.status === 401 && !reauthenticated) {
        reauthenticated = true;
        this.auth.invalidate(ep.host, x.scopes);
        this.auth.learn(ep.host, headerText(res.headers['www-authenticate']));
        const authz = await this.auth.authorization(ep.host, x.scopes, authOptions(x));
        if (authz !== undefined) {
          drain(res);
          continue;
        }
        return res;
      }
      if (RETRYABLE_STATUS.has(res.status) && ++failures < attempts) {
        const retryAfter = retryAfterMs(headerText(res.headers['retry-after']));
        drain(res);
        await this.backoff(failures, retryAfter, x.signal);
        continue;
      }
      return res;
    }
  }

  /** One request with its credentials, following redirects (without credentials off-origin). */
  private async once(ep: Endpoint, x: Exchange): Promise<HttpResponse> {
    let url = x.url ?? new URL(x.path ?? '', ep.base);
    const headers: Record<string, string> = { ...x.headers };
    const authz = await this.auth.authorization(ep.host, x.scopes, authOptions(x));
    if (authz) headers.Authorization = authz;
    for (let hops = 0; ; hops++) {
      const res = await this.transport.request({
        method: x.method,
        url,
        headers,
        ...(x.body !== undefined && { body: x.body }),
        ...(x.signal && { signal: x.signal }),
      });
      const location = headerText(res.headers.location);
      if (!x.followRedirects || !REDIRECT_STATUS.has(res.status) || !location) return res;
      drain(res);
      if (hops >= MAX_REDIRECTS) throw unavailable(`registry: too many redirects from ${x.method} ${url.href}`);
      const next = new URL(location, url);
      // Storage behind a redirect has its own (signed URL) authentication and rejects ours.
      if (next.origin !== url.origin) delete headers.Authorization;
      url = next;
    }
  }

  private async withNetworkRetries<T>(op: () => Promise<T>): Promise<T> {
    for (let failures = 1; ; failures++) {
      try {
        return await op();
      } catch (err) {
        if (!isNetworkError(err) || failures >= this.options.retry.attempts) throw err;
        await this.backoff(failures, undefined, undefined);
      }
    }
  }

  private async backoff(failures: number, retryAfter: number | undefined, signal: AbortSignal | undefined) {
    const r = this.options.retry;
    const exp = Math.min(r.maxDelayMs, r.baseDelayMs * 2 ** (failures - 1));
    // Jitter keeps concurrent layer downloads from retrying in lockstep.
    const delay = retryAfter !== undefined ? Math.min(retryAfter, r.maxRetryAfterMs) : exp / 2 + (Math.random() * exp) / 2;
    try {
      await sleepFor(delay, undefined, signal ? { signal } : undefined);
    } catch (err) {
      throw cancelled('context canceled', err);
    }
  }

  // ----- API ------------------------------------------------------------------------------------

  /** `GET /v2/`: checks the registry answers the Distribution API (authenticating if asked). */
  async ping(domain: string, signal?: AbortSignal): Promise<void> {
    const [ep] = (await this.endpoints(domain, 'push', signal)).slice(-1);
    if (!ep) throw internalNoEndpoint(domain);
    const res = await this.exchange(ep, { method: 'GET', path: 'v2/', scopes: [], signal });
    const body = await readBody(res);
    if (res.status !== 200) throw registryError(res, body);
  }

  /** Verifies credentials against `/v2/` as `docker login` does, without storing them. */
  async checkCredentials(domain: string, creds: Credentials, signal?: AbortSignal): Promise<void> {
    const ep = (await this.endpoints(domain, 'push', signal)).at(-1);
    if (!ep) throw internalNoEndpoint(domain);
    const anonymous = await this.withNetworkRetries(() =>
      this.transport.request({ method: 'GET', url: new URL('v2/', ep.base), ...(signal && { signal }) }),
    );
    drain(anonymous);
    if (anonymous.status === 200) return;
    if (anonymous.status !== 401) throw unexpectedStatus(anonymous);
    const ch = this.auth.learn(ep.host, headerText(anonymous.headers['www-authenticate']));
    if (!ch) throw unavailable(`registry: ${ep.host} asks for authentication without saying how`);
    const res = await this.exchange(ep, {
      method: 'GET',
      path: 'v2/',
      scopes: [],
      signal,
      credentials: creds,
    });
    drain(res);
    if (res.status === 401) throw failedPrecondition(INCORRECT_CREDENTIALS);
    if (res.status !== 200) throw unexpectedStatus(res);
  }

  /** Fetches a manifest or index by tag or digest, verifying its digest. */
  async getManifest(ref: Reference, opts: { signal?: AbortSignal } = {}): Promise<FetchedManifest> {
    return this.onEndpoints(ref.domain, opts.signal, (ep) => this.getManifestFrom(ep, ref, opts.signal));
  }

  private async getManifestFrom(ep: Endpoint, ref: Reference, signal?: AbortSignal): Promise<FetchedManifest> {
    const res = await this.exchange(ep, {
      method: 'GET',
      path: `v2/${ref.path}/manifests/${manifestKey(ref)}`,
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [pullScope(ref)],
      followRedirects: true,
      signal,
    });
    const body = await readBody(res, MANIFEST_SIZE_LIMIT);
    if (res.status !== 200) throw pullError(res, body, ref);
    const actual = sha256Of(body);
    const expected = ref.digest ?? headerText(res.headers['docker-content-digest']);
    if (expected !== undefined) {
      if (!expected.startsWith('sha256:'))
        throw invalidArgument(`registry: unsupported digest algorithm in ${expected}`);
      if (expected !== actual) throw failedPrecondition(`manifest verification failed for digest ${expected}`);
    }
    const { mediaType, parsed } = decodeManifest(body, headerText(res.headers['content-type']));
    return { mediaType, digest: actual, bytes: body, parsed };
  }

  /**
   * The image manifest a reference means on a platform: a manifest as it is, or the platform's
   * entry of an index (host platform unless `platform` is given).
   */
  async resolve(ref: Reference, platform?: Platform, opts: { signal?: AbortSignal } = {}): Promise<ResolvedImage> {
    const top = await this.getManifest(ref, opts);
    if (isManifestMediaType(top.mediaType))
      return {
        manifest: top.parsed as ImageManifest,
        manifestDigest: top.digest,
        manifestMediaType: top.mediaType,
        manifestBytes: top.bytes,
      };
    const index = top.parsed as ImageIndex;
    const want = platform ?? hostPlatform();
    const entry = selectPlatform(index, want);
    if (!entry) throw notFound(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
    const child = await this.getManifest({ domain: ref.domain, path: ref.path, digest: entry.digest }, opts);
    if (!isManifestMediaType(child.mediaType))
      throw failedPrecondition(`registry: manifest ${entry.digest} for ${formatPlatform(want)} is not an image manifest`);
    return {
      manifest: child.parsed as ImageManifest,
      manifestDigest: child.digest,
      manifestMediaType: child.mediaType,
      manifestBytes: child.bytes,
      index: { digest: top.digest, mediaType: top.mediaType, bytes: top.bytes, parsed: index },
    };
  }

  /** `HEAD` on a blob: whether the repository has it. */
  async blobExists(repo: RepositoryName, digest: string, signal?: AbortSignal): Promise<boolean> {
    const ep = (await this.endpoints(repo.domain, 'push', signal)).at(-1);
    if (!ep) throw internalNoEndpoint(repo.domain);
    const res = await this.exchange(ep, {
      method: 'HEAD',
      path: `v2/${repo.path}/blobs/${digest}`,
      scopes: [pushScope(repo)],
      followRedirects: true,
      signal,
    });
    drain(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw registryError(res, Buffer.alloc(0));
  }

  /**
   * Downloads a blob into the content store, streaming, and verifies its digest and size. A
   * broken connection resumes with `Range` from what the ingest already holds (or restarts when
   * the registry ignores ranges); an interrupted call leaves the ingest for the next one.
   */
  async fetchBlob(
    repo: RepositoryName,
    desc: Descriptor,
    store: ContentStore,
    opts: FetchBlobOptions = {},
  ): Promise<ContentInfo> {
    if (await store.has(desc.digest)) return store.info(desc.digest);
    return this.onEndpoints(repo.domain, opts.signal, (ep) => this.fetchBlobFrom(ep, repo, desc, store, opts));
  }

  private async fetchBlobFrom(
    ep: Endpoint,
    repo: RepositoryName,
    desc: Descriptor,
    store: ContentStore,
    opts: FetchBlobOptions,
  ): Promise<ContentInfo> {
    const ingestRef = `pull-${desc.digest}`;
    let w: ContentWriter = await store.writer(ingestRef);
    const restart = async () => {
      await w.abort();
      w = await store.writer(ingestRef);
    };
    const attempts = ep.mirror ? 1 : this.options.retry.attempts;
    let failures = 0;
    /** The furthest any attempt got: bytes fetched again after a restart are no progress. */
    let furthest = 0;
    try {
      for (;;) {
        if (w.offset > desc.size) await restart();
        if (w.offset === desc.size) break;
        const headers: Record<string, string> = { Accept: '*/*' };
        if (w.offset > 0) headers.Range = `bytes=${w.offset}-`;
        const res = await this.exchange(ep, {
          method: 'GET',
          path: `v2/${repo.path}/blobs/${desc.digest}`,
          headers,
          scopes: [pullScope(repo)],
          followRedirects: true,
          signal: opts.signal,
          attempts,
        });
        if (res.status === 416 || (res.status === 206 && contentRangeStart(res) !== w.offset)) {
          drain(res);
          await restart();
          if (++failures >= attempts) throw unavailable(`registry: cannot resume download of ${desc.digest}`);
          continue;
        }
        if (res.status === 200 && w.offset > 0) await restart();
        else if (res.status !== 200 && res.status !== 206) {
          const body = await readBody(res).catch(() => Buffer.alloc(0));
          throw registryError(res, body);
        }
        const { tap } = opts;
        tap?.start(w.offset);
        const whole = blobLengthAnswered(res);
        try {
          for await (const chunk of res.body) {
            const tapped = tap?.write(chunk as Buffer);
            await w.write(chunk as Buffer);
            if (tapped) await tapped;
            opts.onProgress?.({ phase: 'downloading', current: w.offset, total: desc.size });
            // A listener may have cancelled: stop before reading from the destroyed response.
            if (opts.signal?.aborted) throw cancelled('context canceled');
            if (w.offset > desc.size) {
              res.body.destroy();
              break;
            }
          }
          // The response ended as it said it would: the registry's blob is shorter than its descriptor.
          if (w.offset < desc.size && whole !== undefined && w.offset === whole) {
            throw failedPrecondition(`registry: blob ${desc.digest} is truncated: ${ep.host} has ${whole} of its ${desc.size} bytes`);
          }
        } catch (err) {
          if (opts.signal?.aborted) throw cancelled('context canceled', err);
          if (!isNetworkError(err)) throw err;
        }
        if (w.offset > desc.size) {
          throw failedPrecondition(`registry: blob ${desc.digest} is longer than the ${desc.size} bytes its descriptor gives`);
        }
        if (w.offset === desc.size) continue;
        // A connection that got further than any before earns a fresh set of attempts: progress is progress.
        failures = w.offset > furthest ? 1 : failures + 1;
        furthest = Math.max(furthest, w.offset);
        if (failures >= attempts)
          throw unavailable(`registry: download of ${desc.digest} failed after ${w.offset} of ${desc.size} bytes`);
        await this.backoff(failures, undefined, opts.signal);
      }
      opts.tap?.end();
      opts.onProgress?.({ phase: 'verifying', current: w.offset, total: desc.size });
      try {
        return await w.commit({ digest: desc.digest, size: desc.size });
      } catch (err) {
        throw failedPrecondition(`filesystem layer verification failed for digest ${desc.digest}`, err);
      }
    } catch (err) {
      await w.close();
      throw err;
    }
  }

  /**
   * Uploads a blob from the content store unless the repository has it already, trying a
   * cross-repository mount first; monolithic PUT, or PATCH chunks when `uploadChunkSize` is set.
   */
  async pushBlob(
    repo: RepositoryName,
    desc: Descriptor,
    store: ContentStore,
    opts: PushBlobOptions = {},
  ): Promise<PushBlobResult> {
    const { signal } = opts;
    const linked = await this.linkExisting(repo, desc.digest, opts.mountFrom ?? [], signal);
    if ('result' in linked) return linked.result;
    const ep = await this.pushEndpoint(repo, signal);
    let session = linked.session;
    for (let failures = 1; ; failures++) {
      try {
        session ??= await this.startUpload(ep, repo, signal);
        await this.upload(ep, repo, session, desc, store, opts);
        return { kind: 'pushed' };
      } catch (err) {
        session = undefined;
        await this.afterUploadFailure(err, failures, signal);
      }
    }
  }

  /**
   * Whether the repository has the blob (`exists`) or links it from one of `mountFrom` on the same
   * registry (`mounted`); otherwise the upload session a refused mount opened, if any.
   */
  async linkExisting(
    repo: RepositoryName,
    digest: string,
    mountFrom: RepositoryName[],
    signal?: AbortSignal,
  ): Promise<{ result: PushBlobResult } | { session?: URL }> {
    if (await this.blobExists(repo, digest, signal)) return { result: { kind: 'exists' } };
    const ep = await this.pushEndpoint(repo, signal);
    for (const from of mountFrom) {
      if (from.domain !== repo.domain || from.path === repo.path) continue;
      const res = await this.exchange(ep, {
        method: 'POST',
        path: `v2/${repo.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from.path)}`,
        headers: { 'Content-Length': '0' },
        scopes: [pushScope(repo), pullScope(from)],
        signal,
      });
      drain(res);
      if (res.status === 201) return { result: { kind: 'mounted', from: from.path } };
      // 202: the registry could not mount and opened an ordinary upload instead.
      if (res.status === 202) return { session: locationOf(res) };
    }
    return {};
  }

  /**
   * Uploads bytes whose digest is known only once they all went by (a layer compressed on the
   * fly): one PATCH with a chunked body, then the PUT naming the digest they hashed to. A failed
   * attempt opens the source again, in a new upload session.
   */
  async pushStream(
    repo: RepositoryName,
    open: () => Readable,
    opts: { session?: URL; signal?: AbortSignal } = {},
  ): Promise<{ digest: string; size: number }> {
    const { signal } = opts;
    const ep = await this.pushEndpoint(repo, signal);
    const scopes = [pushScope(repo)];
    let session = opts.session;
    for (let failures = 1; ; failures++) {
      try {
        session ??= await this.startUpload(ep, repo, signal);
        let sent: DigestingStream | undefined;
        const patch = await this.exchange(ep, {
          method: 'PATCH',
          url: session,
          headers: { 'Content-Type': 'application/octet-stream' },
          body: () => {
            sent = new DigestingStream();
            const digesting = sent;
            pipeline(open(), digesting, (err) => err && digesting.destroy(err));
            return digesting;
          },
          scopes,
          signal,
          attempts: 1,
        });
        const patchBody = await readBody(patch);
        if (patch.status !== 202) throw uploadError(patch, patchBody);
        if (!sent?.result) throw unavailable(`registry: ${patch.url.host} answered the upload before it was sent`);
        const { digest, size } = sent.result;
        const done = locationOf(patch);
        done.searchParams.set('digest', digest);
        const put = await this.exchange(ep, {
          method: 'PUT',
          url: done,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' },
          body: Buffer.alloc(0),
          scopes,
          signal,
          attempts: 1,
        });
        const putBody = await readBody(put);
        if (put.status !== 201) throw uploadError(put, putBody);
        return { digest, size };
      } catch (err) {
        session = undefined;
        await this.afterUploadFailure(err, failures, signal);
      }
    }
  }

  /** Rethrows what an upload retry cannot help; else waits before the next attempt. */
  private async afterUploadFailure(err: unknown, failures: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw cancelled('context canceled', err);
    const retryable = isNetworkError(err) || (err instanceof TsError && err.kind === 'Unavailable');
    if (!retryable || failures >= this.options.retry.attempts) throw err;
    await this.backoff(failures, undefined, signal);
  }

  private async pushEndpoint(repo: RepositoryName, signal?: AbortSignal): Promise<Endpoint> {
    const ep = (await this.endpoints(repo.domain, 'push', signal)).at(-1);
    if (!ep) throw internalNoEndpoint(repo.domain);
    return ep;
  }

  private async startUpload(ep: Endpoint, repo: RepositoryName, signal?: AbortSignal): Promise<URL> {
    const res = await this.exchange(ep, {
      method: 'POST',
      path: `v2/${repo.path}/blobs/uploads/`,
      headers: { 'Content-Length': '0' },
      scopes: [pushScope(repo)],
      signal,
    });
    const body = await readBody(res);
    if (res.status !== 202) throw registryError(res, body);
    return locationOf(res);
  }

  private async upload(
    ep: Endpoint,
    repo: RepositoryName,
    session: URL,
    desc: Descriptor,
    store: ContentStore,
    opts: PushBlobOptions,
  ): Promise<void> {
    const scopes = [pushScope(repo)];
    const chunkSize = this.options.uploadChunkSize;
    let sent = 0;
    const counted = (start: number, length: number) => () =>
      store.readStream(desc.digest, start).pipe(limitAndCount(length, (n) => {
        sent += n;
        opts.onProgress?.(Math.min(sent, desc.size), desc.size);
      }));
    let url = session;
    if (chunkSize > 0) {
      for (let start = 0; start < desc.size; start += chunkSize) {
        const length = Math.min(chunkSize, desc.size - start);
        sent = start;
        const res = await this.exchange(ep, {
          method: 'PATCH',
          url,
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(length),
            'Content-Range': `${start}-${start + length - 1}`,
          },
          body: counted(start, length),
          scopes,
          signal: opts.signal,
          attempts: 1,
        });
        const body = await readBody(res);
        if (res.status !== 202) throw uploadError(res, body);
        url = locationOf(res);
      }
    }
    const done = new URL(url);
    done.searchParams.set('digest', desc.digest);
    const monolithic = chunkSize === 0;
    sent = 0;
    const res = await this.exchange(ep, {
      method: 'PUT',
      url: done,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(monolithic ? desc.size : 0),
      },
      ...(monolithic ? { body: counted(0, desc.size) } : { body: Buffer.alloc(0) }),
      scopes,
      signal: opts.signal,
      attempts: 1,
    });
    const body = await readBody(res);
    if (res.status !== 201) throw uploadError(res, body);
  }

  /** Puts a manifest under a tag or digest; returns its digest as the registry computed it. */
  async putManifest(
    repo: RepositoryName,
    tagOrDigest: string,
    mediaType: string,
    body: Buffer,
    signal?: AbortSignal,
  ): Promise<string> {
    const ep = (await this.endpoints(repo.domain, 'push', signal)).at(-1);
    if (!ep) throw internalNoEndpoint(repo.domain);
    const res = await this.exchange(ep, {
      method: 'PUT',
      path: `v2/${repo.path}/manifests/${tagOrDigest}`,
      headers: { 'Content-Type': mediaType },
      body,
      scopes: [pushScope(repo)],
      signal,
    });
    const text = await readBody(res);
    if (res.status !== 201 && res.status !== 200) throw registryError(res, text);
    const digest = sha256Of(body);
    const reported = headerText(res.headers['docker-content-digest']);
    if (reported && reported !== digest)
      throw failedPrecondition(`registry: manifest stored as ${reported}, expected ${digest}`);
    return digest;
  }

  /** `GET /v2/<name>/tags/list`, following pagination. */
  /**
   * Repositories whose name contains `term`, as `search` shows them. Docker Hub answers its
   * search API; any other registry is searched through its catalog (`/v2/_catalog`).
   */
  async search(domain: string, term: string, limit: number, signal?: AbortSignal): Promise<SearchResult[]> {
    return this.onEndpoints(domain, signal, async (ep) => {
      if (domain === 'docker.io') {
        const url = new URL(`https://index.docker.io/v1/search?q=${encodeURIComponent(term)}&n=${limit}`);
        const res = await this.exchange(ep, { method: 'GET', url, scopes: [], signal, followRedirects: true });
        const body = await readBody(res);
        if (res.status !== 200) throw unavailable(`search: ${url.host} answered ${res.status}`);
        const parsed = JSON.parse(body.toString('utf8')) as { results?: Array<Record<string, unknown>> };
        return (parsed.results ?? []).slice(0, limit).map((r) => ({
          name: String(r['name'] ?? ''),
          description: String(r['description'] ?? ''),
          stars: Number(r['star_count'] ?? 0),
          official: r['is_official'] === true,
          automated: r['is_automated'] === true,
        }));
      }
      const names: string[] = [];
      let url: URL | undefined = new URL('v2/_catalog?n=1000', ep.base);
      while (url && names.length < 10_000) {
        const res = await this.exchange(ep, { method: 'GET', url, scopes: ['registry:catalog:*'], signal, followRedirects: true });
        const body = await readBody(res);
        if (res.status !== 200) throw unavailable(`search: registry ${domain} has no catalog (HTTP ${res.status})`);
        names.push(...((JSON.parse(body.toString('utf8')) as { repositories?: string[] }).repositories ?? []));
        const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerText(res.headers.link) ?? '')?.[1];
        url = next ? new URL(next, url) : undefined;
      }
      return names
        .filter((n) => n.includes(term))
        .slice(0, limit)
        .map((n) => ({ name: `${domain}/${n}`, description: '', stars: 0, official: false, automated: false }));
    });
  }

  async listTags(repo: RepositoryName, signal?: AbortSignal): Promise<string[]> {
    return this.onEndpoints(repo.domain, signal, async (ep) => {
      const tags: string[] = [];
      let url: URL | undefined = new URL(`v2/${repo.path}/tags/list`, ep.base);
      while (url) {
        const res = await this.exchange(ep, { method: 'GET', url, scopes: [pullScope(repo)], signal, followRedirects: true });
        const body = await readBody(res);
        if (res.status !== 200) throw pullError(res, body, { ...repo });
        const parsed = JSON.parse(body.toString('utf8')) as { tags?: string[] | null };
        tags.push(...(parsed.tags ?? []));
        const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerText(res.headers.link) ?? '')?.[1];
        url = next ? new URL(next, url) : undefined;
      }
      return tags;
    });
  }
}

export interface SearchResult {
  name: string;
  description: string;
  stars: number;
  official: boolean;
  automated: boolean;
}

// ----- helpers ----------------------------------------------------------------------------------

function authOptions(x: Exchange): { signal?: AbortSignal; override?: Credentials } {
  return { ...(x.signal && { signal: x.signal }), ...(x.credentials && { override: x.credentials }) };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled('context canceled');
}

function internalNoEndpoint(domain: string): TsError {
  return unavailable(`registry: no endpoint for ${domain}`);
}

function networkFailure(err: unknown, method: string, url: URL, what = err instanceof Error ? err.message : String(err)): TsError {
  const verb = method.charAt(0) + method.slice(1).toLowerCase();
  return unavailable(`${verb} "${url.href}": ${what}`, err);
}

/** Node's codes for a server certificate that does not verify (OpenSSL's names, and node's own). */
const CERTIFICATE_ERROR = /^(UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|CERT_|ERR_TLS_CERT_)/;

/**
 * What a TLS failure says, in Docker's words: the certificate did not verify (a CA missing from
 * certs.d, say), or the handshake failed (a client certificate the server wants, a plain HTTP
 * server). Undefined for any other error.
 */
function tlsFailureText(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const msg = err instanceof Error ? err.message : String(err);
  if (CERTIFICATE_ERROR.test(code)) return `tls: failed to verify certificate: ${msg}`;
  if (!code.startsWith('ERR_SSL_') && code !== 'EPROTO') return undefined;
  // OpenSSL's message is a colon-separated trace; its reason is the part a user can act on.
  const given = (err as { reason?: unknown }).reason;
  const reason = typeof given === 'string' ? given : /SSL routines:[^:]*:([^:]+):/.exec(msg)?.[1];
  const alert = reason ? /alert (.+)$/.exec(reason)?.[1] : undefined;
  if (alert) return `remote error: tls: ${alert}`;
  // What a TLS hello gets from a plain HTTP server (a registry missing from insecure-registries).
  if (reason === 'wrong version number') return 'http: server gave HTTP response to HTTPS client';
  return `tls: ${reason ?? msg}`;
}

/** `Retry-After` in seconds or as an HTTP date, in ms. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const when = Date.parse(value);
  return Number.isFinite(when) ? Math.max(0, when - now) : undefined;
}

/** The length of the whole blob as the response gives it (a 200's Content-Length, a 206's range total). */
function blobLengthAnswered(res: HttpResponse): number | undefined {
  if (res.status === 206) {
    const m = /^bytes \d+-\d+\/(\d+)$/.exec(headerText(res.headers['content-range']) ?? '');
    return m ? Number(m[1]) : undefined;
  }
  const length = headerText(res.headers['content-length']);
  return length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
}

function contentRangeStart(res: HttpResponse): number | undefined {
  const m = /^bytes (\d+)-/.exec(headerText(res.headers['content-range']) ?? '');
  return m ? Number(m[1]) : undefined;
}

function locationOf(res: HttpResponse): URL {
  const loc = headerText(res.headers.location);
  if (!loc) throw unavailable(`registry: ${res.url.host} answered ${res.status} without a Location`);
  return new URL(loc, res.url);
}

function uploadError(res: HttpResponse, body: Buffer): TsError {
  // A failed upload session is retried from a new one: the registry may have lost its state.
  if (res.status >= 500 || res.status === 429 || res.status === 404) {
    const e = registryError(res, body);
    return unavailable(e.message, e);
  }
  return registryError(res, body);
}

/** Passes bytes on while hashing and counting them; `result` is set once they all went by. */
class DigestingStream extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;
  result: { digest: string; size: number } | undefined;

  constructor() {
    super({ highWaterMark: 256 << 10 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = { digest: `sha256:${this.hash.digest('hex')}`, size: this.size };
    cb();
  }
}

/** Passes on the first `length` bytes, reporting each chunk's size. */
function limitAndCount(length: number, onBytes: (n: number) => void): Transform {
  let left = length;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left <= 0) return cb();
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      onBytes(part.length);
      cb(null, part);
    },
  });
}

/** The media type of a manifest body: the Content-Type when it names one, else its own field. */
export function decodeManifest(
  body: Buffer,
  contentType: string | undefined,
): { mediaType: string; parsed: ImageManifest | ImageIndex } {
  let parsed: (Partial<ImageManifest> & Partial<ImageIndex>) | undefined;
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    throw failedPrecondition('registry: manifest is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object') throw failedPrecondition('registry: manifest is not a JSON object');
  if ((parsed as { schemaVersion?: unknown }).schemaVersion === 1)
    throw failedPrecondition(
      'support Docker Image manifest version 2, schema 1 has been removed. More information at https://docs.docker.com/go/deprecated-image-specs/',
    );
  const ct = contentType?.split(';')[0]?.trim();
  let mediaType: string | undefined;
  if (isManifestMediaType(ct) || isIndexMediaType(ct)) mediaType = ct;
  else if (isManifestMediaType(parsed.mediaType) || isIndexMediaType(parsed.mediaType)) mediaType = parsed.mediaType;
  else if (Array.isArray(parsed.manifests)) mediaType = MediaType.OciIndex;
  else if (parsed.config && Array.isArray(parsed.layers)) mediaType = MediaType.OciManifest;
  if (!mediaType) throw failedPrecondition(`registry: unsupported manifest media type ${ct ?? 'unknown'}`);
  if (isIndexMediaType(mediaType) ? !Array.isArray(parsed.manifests) : !parsed.config || !Array.isArray(parsed.layers))
    throw failedPrecondition(`registry: malformed manifest of type ${mediaType}`);
  return { mediaType, parsed: parsed as ImageManifest | ImageIndex };
}
