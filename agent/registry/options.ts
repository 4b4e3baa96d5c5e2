/**
 * How the client reaches registries: mirrors for Docker Hub, which hosts may use plain HTTP, the
 * per-registry TLS material (Docker's `certs.d`), and the retry policy. Staged as
 * `RegistryOptions` (what a user or daemon.json gives) → `withDefaults` → `CompiledRegistryOptions`.
 */
import { isIP } from 'node:net';
import { invalidArgument } from '../../common/errors';

export interface RetryPolicy {
  /** Attempts per request in a row without progress, the first included. */
  attempts: number;
  /** First back-off; doubled at each failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest `Retry-After` we are willing to honour; longer ones are clamped to this. */
  maxRetryAfterMs: number;
}

export interface RegistryOptions {
  /** Docker's `registry-mirrors`: base URLs tried, in order, before Docker Hub for pulls. */
  mirrors?: string[];
  /** Docker's `insecure-registries`: `host[:port]` entries or CIDRs allowed to use plain HTTP. */
  insecureRegistries?: string[];
  /**
   * Directories laid out as Docker's `certs.d`: `<dir>/<host[:port]>/{*.crt,*.cert,*.key}`. A
   * registry's material comes from the first that has a directory for it.
   */
  certsDirs?: string[];
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  /** A socket silent for this long is treated as a network error (and retried). */
  idleTimeoutMs?: number;
  /** Chunk size for chunked blob uploads; 0 uploads each blob in one PUT. */
  uploadChunkSize?: number;
}

export interface Cidr {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
}

export interface CompiledRegistryOptions {
  mirrors: URL[];
  insecureHosts: Set<string>;
  insecureCidrs: Cidr[];
  certsDirs: string[];
  userAgent: string;
  retry: RetryPolicy;
  idleTimeoutMs: number;
  uploadChunkSize: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5000, maxRetryAfterMs: 30_000 };

export function withDefaults(opts: RegistryOptions = {}): CompiledRegistryOptions {
  const mirrors = (opts.mirrors ?? []).map((m) => {
    let u: URL;
    try {
      u = new URL(m);
    } catch {
      throw invalidArgument(`registry: invalid mirror URL "${m}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw invalidArgument(`registry: invalid mirror URL "${m}": scheme must be http or https`);
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    return u;
  });
  const insecureHosts = new Set<string>();
  const insecureCidrs: Cidr[] = [];
  for (const entry of opts.insecureRegistries ?? []) {
    const stripped = entry.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (stripped.includes('/')) insecureCidrs.push(parseCidr(stripped));
    else insecureHosts.add(stripped.toLowerCase());
  }
  return {
    mirrors,
    insecureHosts,
    insecureCidrs,
    certsDirs: [...(opts.certsDirs ?? [])],
    userAgent: opts.userAgent ?? `tscompose/0.1 node/${process.versions.node}`,
    retry: { ...DEFAULT_RETRY, ...opts.retry },
    idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
    uploadChunkSize: opts.uploadChunkSize ?? 0,
  };
}

/** Splits `host:port`, `[v6]:port`, `host` into its hostname (brackets removed) and port. */
export function splitHostPort(hostPort: string): { hostname: string; port: string | undefined } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (v6) return { hostname: v6[1] ?? '', port: v6[2] };
  const i = hostPort.lastIndexOf(':');
  if (i !== -1 && hostPort.indexOf(':') === i) return { hostname: hostPort.slice(0, i), port: hostPort.slice(i + 1) };
  return { hostname: hostPort, port: undefined };
}

/**
 * Whether plain HTTP may be used for a registry host: loopback always (as Docker does), plus the
 * configured insecure registries, matched by `host[:port]`, hostname, or CIDR.
 */
export function isInsecureHost(opts: CompiledRegistryOptions, hostPort: string): boolean {
  const { hostname } = splitHostPort(hostPort.toLowerCase());
  if (hostname === 'localhost' || hostname === '::1') return true;
  if (isIP(hostname) === 4 && hostname.startsWith('127.')) return true;
  if (opts.insecureHosts.has(hostPort.toLowerCase()) || opts.insecureHosts.has(hostname)) return true;
  const family = isIP(hostname);
  if (family === 0) return false;
  const bits = ipBits(hostname, family as 4 | 6);
  return opts.insecureCidrs.some((c) => c.family === family && sameNetwork(c, bits));
}

function sameNetwork(c: Cidr, bits: bigint): boolean {
  const width = c.family === 4 ? 32 : 128;
  const shift = BigInt(width - c.prefix);
  return bits >> shift === c.bits >> shift;
}

function parseCidr(s: string): Cidr {
  const [addr = '', prefixText = ''] = s.split('/');
  const family = isIP(addr);
  const prefix = Number(prefixText);
  const width = family === 4 ? 32 : 128;
  if (family === 0 || !/^\d+$/.test(prefixText) || prefix > width)
    throw invalidArgument(`registry: invalid insecure registry "${s}"`);
  return { family: family as 4 | 6, bits: ipBits(addr, family as 4 | 6), prefix };
}

function ipBits(addr: string, family: 4 | 6): bigint {
  if (family === 4) return addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  let groups = addr.split('::');
  const head = groups[0] ? groups[0].split(':') : [];
  const tail = groups[1] ? groups[1].split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const expand = (parts: string[]) =>
    parts.flatMap((p) => {
      if (!p.includes('.')) return [p];
      const v4 = ipBits(p, 4);
      return [(v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)];
    });
  const h = expand(head);
  const t = expand(tail);
  groups = groups.length === 2 ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}
