import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect as tcpConnect, isIPv6, type Server, type Socket as TcpSocket } from 'node:net';
import { readFile } from 'node:fs/promises';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import { unavailable } from '../../common/errors';
import { cidrContains, parseCidr, parseIpv4, type Cidr } from './ipv4';

/** A name and the IPv4 addresses it resolves to, on one network. */
export interface DnsRecordSet {
  name: string;
  ips: string[];
}

export interface DnsServerOptions {
  /** `ip` or `ip:port` ( `[v6]:port` ) resolvers for names we do not own; default: /etc/resolv.conf. */
  upstreams?: string[];
  resolvConfPath?: string;
  /** Port to serve on (53; tests may use another). */
  port?: number;
  ttl?: number;
  upstreamTimeoutMs?: number;
}

interface Endpoint {
  names: string[];
  ip: string;
  /** The container (sandbox) owning the endpoint: its queries see every network it is on. */
  container?: string;
  /** The container's own resolvers (`--dns`), for what it asks that no network owns. */
  upstreams?: string[];
}

interface Zone {
  network: string;
  /** The network's name: `web.<network>` resolves like `web`, as in Docker. */
  domain: string;
  statics: Map<string, string[]>;
  endpoints: Map<string, Endpoint>;
  rotation: number;
  address?: string;
  /** Only clients from the network's own subnet are answered. */
  clients?: Cidr;
  udp?: UdpSocket;
  tcp?: Server;
  tcpClients: Set<TcpSocket>;
}

interface Upstream {
  host: string;
  port: number;
}

const RCODE_SERVFAIL = 2;
const UDP_LIMIT = 512;

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * The embedded DNS server of user-defined networks. Docker answers at 127.0.0.11 inside every
 * container; we instead listen on each network's gateway address on the bridge, in the host's
 * namespace (as Podman's aardvark-dns does), and containers get `nameserver <gateway>`. One
 * process serves every network without entering any namespace, the source address tells nothing
 * that the listening address does not already (one socket per network), and forwarding runs in
 * the host's namespace, so even a loopback resolver such as systemd-resolved's 127.0.0.53 works.
 *
 * A name we own is answered with all its addresses, rotated on each answer (round-robin for
 * service names); other names are forwarded to the upstream resolvers.
 */
export class EmbeddedDns {
  private readonly zones = new Map<string, Zone>();
  private mayForward: (network: string, container: string | undefined) => boolean = () => true;
  private readonly port: number;
  private readonly ttl: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: DnsServerOptions = {}) {
    this.port = options.port ?? 53;
    this.ttl = options.ttl ?? 600;
    this.timeoutMs = options.upstreamTimeoutMs ?? 2000;
  }

  /**
   * Decides whether a query for a name we do not own, from `container` (when known) arriving on
   * `network`, may go to the upstream resolvers. A container with no way out (only on internal
   * networks) gets SERVFAIL instead, as from Docker's resolver: a forwarded query would be a
   * channel to the outside, and an answer it could not use anyway.
   */
  setForwardPolicy(policy: (network: string, container: string | undefined) => boolean): void {
    this.mayForward = policy;
  }

  private zone(network: string, domain?: string): Zone {
    let z = this.zones.get(network);
    if (!z) {
      z = { network, domain: domain ?? network, statics: new Map(), endpoints: new Map(), rotation: 0, tcpClients: new Set() };
      this.zones.set(network, z);
    }
    if (domain) z.domain = domain;
    return z;
  }

  /**
   * Starts answering for `network` on `address` (UDP and TCP), to clients inside `subnet` only:
   * a container of another network can route to this address too, and must not learn these names.
   * Idempotent for the same address.
   */
  async listen(network: string, domain: string, address: string, subnet?: string): Promise<void> {
    const z = this.zone(network, domain);
    z.clients = subnet ? parseCidr(subnet) : undefined;
    if (z.address === address && z.udp) return;
    if (z.udp) await this.stop(network);
    const udp = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    const tcp = createServer((socket) => this.serveTcp(z, socket));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address, port: this.port, exclusive: true }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: address, port: this.port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      tcp.close();
      throw unavailable(`network: embedded DNS cannot listen on ${address}:${this.port}: ${(err as Error).message}`, err);
    }
    udp.on('error', () => undefined);
    tcp.on('error', () => undefined);
    udp.on('message', (msg, rinfo) => {
      if (!this.admits(z, rinfo.address)) return;
      void this.answer(z, msg, 'udp', rinfo.address).then((reply) => {
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      });
    });
    z.address = address;
    z.udp = udp;
    z.tcp = tcp;
  }

  /** Stops the listeners of `network` and forgets its records. */
  async stop(network: string): Promise<void> {
    const z = this.zones.get(network);
    if (!z) return;
    this.zones.delete(network);
    for (const c of z.tcpClients) c.destroy();
    await Promise.all([
      z.udp ? new Promise<void>((r) => z.udp?.close(() => r())) : undefined,
      z.tcp ? new Promise<void>((r) => z.tcp?.close(() => r())) : undefined,
    ]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.zones.keys()].map((n) => this.stop(n)));
  }

  listening(network: string): string | undefined {
    return this.zones.get(network)?.udp ? this.zones.get(network)?.address : undefined;
  }

  /** Replaces the records set by hand for `network` (endpoint records are kept). */
  setRecords(network: string, records: readonly DnsRecordSet[]): void {
    const z = this.zone(network);
    z.statics.clear();
    for (const r of records) {
      const key = normalise(r.name);
      z.statics.set(key, [...(z.statics.get(key) ?? []), ...r.ips]);
    }
  }

  /**
   * Registers one container's address under its names (container name, aliases, service name…).
   * With `container`, a query from that container on any of its networks also sees the names of
   * every other network it is on, as Docker's resolver does.
   */
  addEndpoint(network: string, owner: string, names: readonly string[], ip: string, container?: string, upstreams?: readonly string[]): void {
    const e: Endpoint = { names: [...new Set(names.map(normalise))], ip };
    if (container) e.container = container;
    if (upstreams?.length) e.upstreams = upstreams.map((u) => (isIPv6(u) ? `[${u}]` : u));
    this.zone(network).endpoints.set(owner, e);
  }

  removeEndpoint(network: string, owner: string): void {
    this.zones.get(network)?.endpoints.delete(owner);
  }

  /** The addresses `name` has on `network`, in answer order (without rotating). */
  lookup(network: string, name: string): string[] {
    const z = this.zones.get(network);
    if (!z) return [];
    let key = normalise(name);
    const suffix = `.${normalise(z.domain)}`;
    if (key.endsWith(suffix)) key = key.slice(0, -suffix.length);
    const ips = [...(z.statics.get(key) ?? [])];
    for (const e of z.endpoints.values()) if (e.names.includes(key)) ips.push(e.ip);
    return [...new Set(ips)];
  }

  /**
   * The zones a query from `client` arriving on `z` is answered from: `z` first, then every other
   * network the client's container is attached to (a container on `front` and `back` resolves
   * names of both, whichever gateway its resolv.conf names).
   */
  private zonesFor(z: Zone, client: string | undefined): Zone[] {
    const container = this.containerOf(z, client);
    if (!container) return [z];
    const others = [...this.zones.values()].filter((o) => o !== z && [...o.endpoints.values()].some((e) => e.container === container));
    return [z, ...others];
  }

  /** The container that owns address `client` on the network of `z`, when it is one of ours. */
  private containerOf(z: Zone, client: string | undefined): string | undefined {
    return this.endpointOf(z, client)?.container;
  }

  private endpointOf(z: Zone, client: string | undefined): Endpoint | undefined {
    const ip = (client ?? '').replace(/^::ffff:/, '');
    return [...z.endpoints.values()].find((e) => e.ip === ip && e.container);
  }

  private reverse(zones: readonly Zone[], name: string): string | undefined {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(normalise(name));
    if (!m) return undefined;
    const ip = [m[4], m[3], m[2], m[1]].join('.');
    for (const z of zones) {
      for (const e of z.endpoints.values()) {
        if (e.ip === ip && e.names[0]) return `${e.names[0]}.${z.domain}`;
      }
    }
    return undefined;
  }

  private async answer(z: Zone, raw: Buffer, transport: 'udp' | 'tcp', client?: string): Promise<Buffer | undefined> {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(raw);
    } catch {
      return undefined;
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || !question) return undefined;
    const local = this.localAnswer(this.zonesFor(z, client), question);
    if (local) return this.reply(query, question, local, transport);
    if (!this.mayForward(z.network, this.containerOf(z, client))) return this.reply(query, question, [], transport, RCODE_SERVFAIL);
    return this.forward(raw, transport, query, question, this.endpointOf(z, client)?.upstreams);
  }

  private localAnswer(zones: readonly Zone[], q: Question): Answer[] | undefined {
    if (q.class !== 'IN' && q.class !== undefined) return undefined;
    if (q.type === 'PTR') {
      const target = this.reverse(zones, q.name);
      return target ? [{ type: 'PTR', name: q.name, ttl: this.ttl, data: target }] : undefined;
    }
    // The first network (in `zones` order) that knows the name answers, as in Docker.
    let z: Zone | undefined;
    let ips: string[] = [];
    for (const candidate of zones) {
      ips = this.lookup(candidate.network, q.name);
      if (ips.length > 0) {
        z = candidate;
        break;
      }
    }
    if (!z || ips.length === 0) return undefined;
    // The name is ours: other types (AAAA, MX…) get an empty answer, not a forward that could
    // return some unrelated host's record for the same name.
    if (q.type !== 'A') return [];
    const start = z.rotation++ % ips.length;
    const rotated = [...ips.slice(start), ...ips.slice(0, start)];
    return rotated.map((ip) => ({ type: 'A', name: q.name, ttl: this.ttl, data: ip }));
  }

  private reply(query: DecodedPacket, q: Question, answers: Answer[], transport: 'udp' | 'tcp', rcode = 0): Buffer {
    const rd = query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
    const build = (list: Answer[], truncated: boolean): Packet => ({
      type: 'response',
      id: query.id ?? 0,
      flags:
        rd |
        dnsPacket.RECURSION_AVAILABLE |
        (answers.length > 0 || rcode === 0 ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
        (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) |
        rcode,
      questions: [q],
      answers: list,
    });
    let packet = dnsPacket.encode(build(answers, false));
    if (transport === 'udp' && packet.length > UDP_LIMIT) {
      let keep = answers.length;
      while (keep > 0 && packet.length > UDP_LIMIT) packet = dnsPacket.encode(build(answers.slice(0, --keep), true));
    }
    return packet;
  }

  /** `containerResolvers`: a container's own (`--dns`), which replace the default ones for its queries. */
  private async upstreams(containerResolvers?: readonly string[]): Promise<Upstream[]> {
    const own = new Set([...this.zones.values()].map((z) => z.address));
    const parse = (spec: string): Upstream | undefined => {
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
      if (bracketed?.[1]) return { host: bracketed[1], port: Number(bracketed[2] ?? 53) };
      if (isIPv6(spec)) return { host: spec, port: 53 };
      const [host, port] = spec.split(':');
      return host ? { host, port: Number(port ?? 53) } : undefined;
    };
    let specs = containerResolvers ?? this.options.upstreams;
    if (!specs) {
      try {
        const text = await readFile(this.options.resolvConfPath ?? '/etc/resolv.conf', 'utf8');
        specs = text
          .split('\n')
          .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
          .filter((s): s is string => !!s)
          .map((s) => (isIPv6(s) ? `[${s.replace(/%.*$/, '')}]` : s));
      } catch {
        specs = [];
      }
    }
    // Never forward to ourselves: a resolv.conf naming a gateway would loop.
    return specs.map(parse).filter((u): u is Upstream => !!u && !(own.has(u.host) && u.port === this.port));
  }

  private async forward(raw: Buffer, transport: 'udp' | 'tcp', query: DecodedPacket, q: Question, containerResolvers?: readonly string[]): Promise<Buffer> {
    for (const upstream of await this.upstreams(containerResolvers)) {
      try {
        return transport === 'udp' ? await this.forwardUdp(raw, upstream) : await this.forwardTcp(raw, upstream);
      } catch {
        // Unreachable or silent upstream: try the next one, as a stub resolver would.
      }
    }
    return this.reply(query, q, [], transport, RCODE_SERVFAIL);
  }

  private forwardUdp(raw: Buffer, upstream: Upstream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = createSocket(isIPv6(upstream.host) ? 'udp6' : 'udp4');
      const timer = setTimeout(() => finish(new Error('upstream timeout')), this.timeoutMs);
      const finish = (err?: Error, reply?: Buffer) => {
        clearTimeout(timer);
        socket.close();
        if (reply) resolve(reply);
        else reject(err ?? new Error('no reply'));
      };
      socket.on('error', (err) => finish(err));
      socket.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) === raw.readUInt16BE(0)) finish(undefined, msg);
      });
      socket.send(raw, upstream.port, upstream.host);
    });
  }

  private forwardTcp(raw: Buffer, upstream: Upstream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: upstream.host, port: upstream.port });
      let buffered = Buffer.alloc(0);
      const timer = setTimeout(() => finish(new Error('upstream timeout')), this.timeoutMs);
      const finish = (err?: Error, reply?: Buffer) => {
        clearTimeout(timer);
        socket.destroy();
        if (reply) resolve(reply);
        else reject(err ?? new Error('no reply'));
      };
      socket.on('error', (err) => finish(err));
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(raw.length);
        socket.write(Buffer.concat([len, raw]));
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          finish(undefined, buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        }
      });
      socket.on('end', () => finish(new Error('upstream closed')));
    });
  }

  private admits(z: Zone, client: string | undefined): boolean {
    if (!z.clients) return true;
    const ip = parseIpv4((client ?? '').replace(/^::ffff:/, ''));
    return ip !== undefined && cidrContains(z.clients, ip);
  }

  private serveTcp(z: Zone, socket: TcpSocket): void {
    if (!this.admits(z, socket.remoteAddress)) {
      socket.destroy();
      return;
    }
    z.tcpClients.add(socket);
    let buffered = Buffer.alloc(0);
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => z.tcpClients.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const len = buffered.readUInt16BE(0);
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        void this.answer(z, Buffer.from(msg), 'tcp', socket.remoteAddress).then((reply) => {
          if (!reply || socket.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        });
      }
    });
  }
}
