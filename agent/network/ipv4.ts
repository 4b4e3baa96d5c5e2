import { isIPv4 } from 'node:net';
import { execOk } from './exec';

/** An IPv4 prefix as numbers: `network` is the masked base address. */
export interface Cidr {
  network: number;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; `strict` rejects host bits set (a subnet must be its own network address). */
export function parseCidr(text: string, strict = false): Cidr | undefined {
  const [addr, bits, extra] = text.split('/');
  if (addr === undefined || bits === undefined || extra !== undefined || !/^\d{1,2}$/.test(bits)) return undefined;
  const ip = parseIpv4(addr);
  const prefix = Number(bits);
  if (ip === undefined || prefix > 32) return undefined;
  const network = (ip & maskOf(prefix)) >>> 0;
  if (strict && network !== ip) return undefined;
  return { network, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

export function lastAddress(c: Cidr): number {
  return c.network + 2 ** (32 - c.prefix) - 1;
}

export function cidrContains(outer: Cidr, ip: number): boolean {
  return ip >= outer.network && ip <= lastAddress(outer);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

/** The conventional gateway: the first host address of the subnet. */
export function firstHost(c: Cidr): number {
  return c.network + 1;
}

/**
 * A pool hands out subnets of `size` bits carved from `base`, in address order: Docker's
 * `default-address-pools` entries have the same shape.
 */
export interface SubnetPool {
  base: string;
  size: number;
}

/** The first subnet from `pools` that overlaps none of `taken`, or undefined when all are used. */
export function pickFreeSubnet(pools: readonly SubnetPool[], taken: readonly Cidr[]): Cidr | undefined {
  for (const pool of pools) {
    const base = parseCidr(pool.base, true);
    if (!base || pool.size < base.prefix || pool.size > 30) continue;
    const step = 2 ** (32 - pool.size);
    for (let network = base.network; network <= lastAddress(base); network += step) {
      const candidate = { network, prefix: pool.size };
      const clash = taken.find((t) => cidrsOverlap(t, candidate));
      // Skip straight past a large clashing prefix instead of probing each slice inside it.
      if (clash) {
        if (lastAddress(clash) > network) network = Math.max(network, lastAddress(clash) + 1 - step);
        continue;
      }
      return candidate;
    }
  }
  return undefined;
}

interface IpRoute {
  dst?: string;
  type?: string;
}
interface IpAddrInfo {
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/**
 * Every IPv4 prefix the host already routes or owns, from every routing table. A new bridge
 * subnet that overlaps one of these would shadow (or be shadowed by) an existing path, e.g.
 * Docker's 172.17.0.0/16 or a VPN route. Default routes are not counted: everything overlaps them.
 */
export async function hostPrefixes(): Promise<Cidr[]> {
  // Side by side: a network create (and so compose up) waits for both.
  const [routesJson, addrsJson] = await Promise.all([execOk('ip', ['-j', '-4', 'route', 'show', 'table', 'all']), execOk('ip', ['-j', '-4', 'addr', 'show'])]);
  const routes = JSON.parse(routesJson) as IpRoute[];
  const addrs = JSON.parse(addrsJson) as IpAddrInfo[];
  const out: Cidr[] = [];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || r.type === 'multicast' || r.type === 'broadcast') continue;
    const c = parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
    if (c && c.prefix > 0) out.push(c);
  }
  for (const link of addrs) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || !a.local) continue;
      const c = parseCidr(`${a.local}/${a.prefixlen ?? 32}`);
      if (c) out.push(c);
    }
  }
  return out;
}
