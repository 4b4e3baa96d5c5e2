/**
 * Who we are to a registry.
 *
 * - Credentials live in Docker's `config.json` format (`{"auths": {"<host>": {"auth":
 *   base64(user:pass)}}}`), in tscompose's own config dir (written 0600), and are also read
 *   from Docker's `~/.docker/config.json` so an existing `docker login` keeps working.
 * - The registry says how to authenticate in a 401's `WWW-Authenticate`: `Basic` (send the
 *   credentials) or `Bearer realm=…,service=…,scope=…` (trade the credentials, or nothing, at
 *   the realm for a token scoped to the repositories and actions asked; tokens are cached per
 *   scope until they expire).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { failedPrecondition, invalidArgument, unavailable } from '../../common/errors';
import { writeFileAtomic } from '../../common/fsutil';
import { DOCKER_HUB_INDEX_SERVER, credentialKey } from './reference';
import type { RegistryClient } from './client';

export interface Credentials {
  username: string;
  password: string;
}

export interface CredentialLookup {
  /** Credentials for a registry host (`localhost:5000`, `registry-1.docker.io`). */
  get(host: string): Promise<Credentials | undefined>;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  [other: string]: unknown;
}

/** Docker's `config.json` key normalisation: `https://host/v1/` and `host` are the same entry. */
function hostnameOfKey(key: string): string {
  const noScheme = key.replace(/^https?:\/\//, '');
  return noScheme.split('/')[0] ?? noScheme;
}

function keyFor(host: string): string {
  return credentialKey(host);
}

function decodeEntry(entry: NonNullable<DockerConfigFile['auths']>[string]): Credentials | undefined {
  if (entry.auth) {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i <= 0) return undefined;
    return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

function findEntry(file: DockerConfigFile | undefined, key: string): Credentials | undefined {
  const auths = file?.auths;
  if (!auths) return undefined;
  const exact = auths[key];
  if (exact) return decodeEntry(exact);
  const wanted = hostnameOfKey(key);
  for (const [k, v] of Object.entries(auths)) if (hostnameOfKey(k) === wanted) return decodeEntry(v);
  return undefined;
}

export interface CredentialStoreOptions {
  /** tscompose's config dir; credentials are written to `<configDir>/config.json`. */
  configDir: string;
  /** Docker's config.json, read only. Defaults to `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  dockerConfigPath?: string | null;
}

/** Credentials in config.json files: ours first (read-write), then Docker's (read-only). */
export class CredentialStore implements CredentialLookup {
  readonly file: string;
  private readonly dockerFile: string | null;

  constructor(opts: CredentialStoreOptions) {
    this.file = path.join(opts.configDir, 'config.json');
    this.dockerFile =
      opts.dockerConfigPath === null
        ? null
        : (opts.dockerConfigPath ??
          path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker'), 'config.json'));
  }

  async get(host: string): Promise<Credentials | undefined> {
    const key = keyFor(host);
    const own = findEntry(await readConfig(this.file), key);
    if (own) return own;
    return this.dockerFile ? findEntry(await readConfig(this.dockerFile), key) : undefined;
  }

  async save(host: string, creds: Credentials): Promise<void> {
    const file = (await readConfig(this.file)) ?? {};
    const auths = (file.auths ??= {});
    const key = keyFor(host);
    for (const k of Object.keys(auths)) if (k !== key && hostnameOfKey(k) === hostnameOfKey(key)) delete auths[k];
    auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    await this.write(file);
  }

  /** Removes stored credentials; false when there were none in our file. */
  async remove(host: string): Promise<boolean> {
    const file = await readConfig(this.file);
    const auths = file?.auths;
    if (!file || !auths) return false;
    const key = keyFor(host);
    let removed = false;
    for (const k of Object.keys(auths))
      if (hostnameOfKey(k) === hostnameOfKey(key)) {
        delete auths[k];
        removed = true;
      }
    if (removed) await this.write(file);
    return removed;
  }

  private async write(file: DockerConfigFile): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(file, null, '\t') + '\n', 0o600);
  }
}

async function readConfig(file: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as DockerConfigFile;
  } catch {
    throw invalidArgument(`registry: ${file} is not valid JSON`);
  }
}

/** A fixed set of credentials, for tests and for `login`'s check before saving. */
export class StaticCredentials implements CredentialLookup {
  constructor(private readonly byHost: Record<string, Credentials>) {}
  async get(host: string): Promise<Credentials | undefined> {
    return this.byHost[host] ?? this.byHost[keyFor(host)];
  }
}

// ---------------------------------------------------------------------------------------------
// Challenges and tokens

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate` (RFC 7235), which may hold several challenges. */
export function parseWwwAuthenticate(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let pos = 0;
  const skip = (chars: string) => {
    while (pos < header.length && chars.includes(header[pos] ?? '')) pos++;
  };
  const token = () => {
    const m = /^[^\s,=]+/.exec(header.slice(pos));
    pos += m ? m[0].length : 0;
    return m ? m[0] : '';
  };
  while (pos < header.length) {
    skip(' ,\t');
    const word = token();
    if (!word) break;
    skip(' \t');
    if (header[pos] !== '=') {
      out.push({ scheme: word.toLowerCase(), params: {} });
      continue;
    }
    pos++;
    skip(' \t');
    let value = '';
    if (header[pos] === '"') {
      pos++;
      while (pos < header.length && header[pos] !== '"') {
        if (header[pos] === '\\') pos++;
        value += header[pos] ?? '';
        pos++;
      }
      pos++;
    } else {
      value = token();
    }
    const current = out[out.length - 1];
    if (current) current.params[word.toLowerCase()] = value;
  }
  return out;
}

export interface TokenFetcher {
  /** GET on the token realm; returns status and body. */
  (url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<{ status: number; body: Buffer }>;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const DEFAULT_TOKEN_LIFETIME_S = 60;
const TOKEN_EXPIRY_MARGIN_MS = 5_000;

export const INCORRECT_CREDENTIALS = 'unauthorized: incorrect username or password';

/**
 * Produces the `Authorization` header for a request, from the challenge the registry host gave.
 * One per client; tokens are cached per (realm, service, scopes, user).
 */
export class Authorizer {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly credentials: CredentialLookup,
    private readonly fetchToken: TokenFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  /** Remembers how a host wants to be authenticated; Bearer is preferred over Basic. */
  learn(host: string, header: string | undefined): Challenge | undefined {
    const all = parseWwwAuthenticate(header);
    const chosen = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (chosen) this.challenges.set(host, chosen);
    return chosen;
  }

  challengeFor(host: string): Challenge | undefined {
    return this.challenges.get(host);
  }

  /** Forgets cached tokens for these scopes, after a registry refused one. */
  invalidate(host: string, scopes: string[]): void {
    const ch = this.challenges.get(host);
    if (ch?.scheme !== 'bearer') return;
    const prefix = tokenKeyPrefix(ch, scopes);
    for (const k of this.tokens.keys()) if (k.startsWith(prefix)) this.tokens.delete(k);
  }

  /**
   * The header value for a request to `host` needing `scopes` (`repository:x:pull`), or
   * undefined for anonymous access. `override` replaces the stored credentials (login check).
   */
  async authorization(
    host: string,
    scopes: string[],
    opts: { signal?: AbortSignal; override?: Credentials } = {},
  ): Promise<string | undefined> {
    const ch = this.challenges.get(host);
    if (!ch) return undefined;
    const creds = opts.override ?? (await this.credentials.get(host));
    if (ch.scheme === 'basic') {
      return creds ? 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64') : undefined;
    }
    if (ch.scheme !== 'bearer') return undefined;
    // A login check must prove these very credentials, so it neither reads nor fills the cache.
    if (opts.override) return `Bearer ${(await this.requestToken(ch, scopes, creds, opts.signal)).token}`;
    const key = tokenKeyPrefix(ch, scopes) + (creds?.username ?? '');
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > this.now()) return `Bearer ${cached.token}`;
    let inflight = this.pending.get(key);
    if (!inflight) {
      inflight = this.requestToken(ch, scopes, creds, opts.signal).finally(() => this.pending.delete(key));
      this.pending.set(key, inflight);
    }
    const fresh = await inflight;
    this.tokens.set(key, fresh);
    return `Bearer ${fresh.token}`;
  }

  private async requestToken(
    ch: Challenge,
    scopes: string[],
    creds: Credentials | undefined,
    signal: AbortSignal | undefined,
  ): Promise<CachedToken> {
    const realm = ch.params.realm;
    if (!realm) throw unavailable('registry: bearer challenge without a realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw unavailable(`registry: invalid token realm "${realm}"`);
    }
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds) {
      url.searchParams.set('account', creds.username);
      headers.Authorization = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
    }
    const started = this.now();
    const res = await this.fetchToken(url, headers, signal);
    if (res.status === 401 || res.status === 403) {
      if (creds) throw failedPrecondition(INCORRECT_CREDENTIALS);
      throw failedPrecondition(`unauthorized: ${errorTextOf(res.body) ?? 'authentication required'}`);
    }
    if (res.status !== 200)
      throw unavailable(`registry: token server ${url.host} answered ${res.status}${bodyHint(res.body)}`);
    let parsed: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      parsed = JSON.parse(res.body.toString('utf8')) as typeof parsed;
    } catch {
      throw unavailable(`registry: token server ${url.host} sent invalid JSON`);
    }
    const token = parsed.token || parsed.access_token;
    if (!token) throw unavailable(`registry: token server ${url.host} sent no token`);
    const lifetimeS =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const issued = parsed.issued_at ? Date.parse(parsed.issued_at) : NaN;
    // A skewed clock on either side must not make a token look valid longer than it is.
    const base = Number.isFinite(issued) ? Math.min(issued, started) : started;
    const margin = Math.min(TOKEN_EXPIRY_MARGIN_MS, (lifetimeS * 1000) / 10);
    return { token, expiresAt: base + lifetimeS * 1000 - margin };
  }
}

function tokenKeyPrefix(ch: Challenge, scopes: string[]): string {
  return `${ch.params.realm ?? ''}|${ch.params.service ?? ''}|${[...scopes].sort().join(' ')}|`;
}

function errorTextOf(body: Buffer): string | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { message?: string }[]; details?: string };
    return j.errors?.[0]?.message ?? j.details;
  } catch {
    return undefined;
  }
}

function bodyHint(body: Buffer): string {
  const text = errorTextOf(body);
  return text ? `: ${text}` : '';
}

// ---------------------------------------------------------------------------------------------
// login / logout

export interface LoginRequest {
  client: RegistryClient;
  store: CredentialStore;
  /** `localhost:5000`, `docker.io`, or Docker's Hub index name; defaults to Docker Hub. */
  server?: string;
  username: string;
  password: string;
  signal?: AbortSignal;
}

/** Checks the credentials against the registry's `/v2/`, then saves them. */
export async function login(req: LoginRequest): Promise<string> {
  if (!req.username) throw invalidArgument('Username is required');
  if (!req.password) throw invalidArgument('Password is required');
  const domain = serverDomain(req.server);
  await req.client.checkCredentials(domain, { username: req.username, password: req.password }, req.signal);
  await req.store.save(req.client.hostFor(domain), { username: req.username, password: req.password });
  return 'Login Succeeded';
}

/** Forgets stored credentials: `Removing login credentials for <server>`. */
export async function logout(req: { client: RegistryClient; store: CredentialStore; server?: string }): Promise<string> {
  const domain = serverDomain(req.server);
  const removed = await req.store.remove(req.client.hostFor(domain));
  const shown = domain === 'docker.io' ? DOCKER_HUB_INDEX_SERVER : domain;
  return removed ? `Removing login credentials for ${shown}` : `Not logged in to ${shown}`;
}

function serverDomain(server: string | undefined): string {
  if (!server) return 'docker.io';
  const host = hostnameOfKey(server);
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}
