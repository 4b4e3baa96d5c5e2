import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { conflict, invalidArgument, unavailable } from '../../common/errors';
import { parseIpv4 } from './ipv4';

export type PortProtocol = 'tcp' | 'udp';

/** What a user asks for with `-p [hostIp:][hostPort:]containerPort[/proto]` or `-P`. */
export interface PortRequest {
  containerPort: number;
  protocol?: PortProtocol;
  /** Empty or absent means every host address (0.0.0.0). */
  hostIp?: string;
  /** Absent or 0 asks for a free port from the ephemeral range (`-P`, or `-p 80`). */
  hostPort?: number;
  /** Above hostPort: the first free port of hostPort..hostPortEnd (`-p 8080-8082:80`). */
  hostPortEnd?: number;
}

/** A published port once its host side is decided. */
export interface PortMapping {
  containerPort: number;
  protocol: PortProtocol;
  hostIp: string;
  hostPort: number;
}

export interface PortRange {
  start: number;
  end: number;
}

/**
 * Ports for `-P` are drawn above the kernel's default ephemeral range (32768–60999), so a port we
 * publish is never also the source port the kernel picks for an outgoing connection.
 */
export const DEFAULT_EPHEMERAL_RANGE: PortRange = { start: 61000, end: 65535 };

const ANY = '0.0.0.0';

function hostIpsClash(a: string, b: string): boolean {
  return a === b || a === ANY || b === ANY;
}

function bindError(m: { hostIp: string; hostPort: number }) {
  return conflict(`network: Bind for ${m.hostIp}:${m.hostPort} failed: port is already allocated`);
}

/** Tries to bind the port on the host: the only way to know another process is not using it. */
export async function probeHostPort(hostIp: string, port: number, protocol: PortProtocol): Promise<'free' | 'busy'> {
  const attempt = (): Promise<void> =>
    new Promise((resolve, reject) => {
      if (protocol === 'tcp') {
        const server = createServer();
        server.once('error', reject);
        server.listen({ host: hostIp, port, exclusive: true }, () => server.close(() => resolve()));
      } else {
        const socket = createSocket({ type: 'udp4', reuseAddr: false });
        socket.once('error', (err) => {
          socket.close();
          reject(err);
        });
        socket.bind({ address: hostIp, port, exclusive: true }, () => socket.close(() => resolve()));
      }
    });
  try {
    await attempt();
    return 'free';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') return 'busy';
    if (code === 'EADDRNOTAVAIL') throw invalidArgument(`network: host IP ${hostIp} is not an address of this host`);
    throw err;
  }
}

/**
 * Decides the host side of published ports. `taken` is every mapping already held by our
 * containers; the host itself is probed for ports bound by other processes.
 */
export async function allocatePorts(
  requests: readonly PortRequest[],
  taken: readonly PortMapping[],
  range: PortRange = DEFAULT_EPHEMERAL_RANGE,
): Promise<PortMapping[]> {
  const held: PortMapping[] = [...taken];
  const out: PortMapping[] = [];
  const heldBy = (hostIp: string, port: number, protocol: PortProtocol) =>
    held.some((h) => h.protocol === protocol && h.hostPort === port && hostIpsClash(h.hostIp, hostIp));

  for (const req of requests) {
    const protocol = req.protocol ?? 'tcp';
    const hostIp = req.hostIp || ANY;
    if (protocol !== 'tcp' && protocol !== 'udp') throw invalidArgument(`network: invalid proto: ${String(protocol)}`);
    if (parseIpv4(hostIp) === undefined) throw invalidArgument(`network: invalid host IP ${hostIp} (only IPv4 is supported)`);
    if (!Number.isInteger(req.containerPort) || req.containerPort < 1 || req.containerPort > 65535)
      throw invalidArgument(`network: invalid containerPort: ${req.containerPort}`);
    let hostPort = req.hostPort ?? 0;
    if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535)
      throw invalidArgument(`network: invalid hostPort: ${hostPort}`);

    const hostPortEnd = req.hostPortEnd ?? 0;
    if (hostPort !== 0 && hostPortEnd > hostPort) {
      if (!Number.isInteger(hostPortEnd) || hostPortEnd > 65535) throw invalidArgument(`network: invalid hostPort range: ${hostPort}-${hostPortEnd}`);
      const first = hostPort;
      hostPort = 0;
      for (let candidate = first; candidate <= hostPortEnd && hostPort === 0; candidate++) {
        if (heldBy(hostIp, candidate, protocol)) continue;
        if ((await probeHostPort(hostIp, candidate, protocol)) === 'free') hostPort = candidate;
      }
      if (hostPort === 0) throw conflict(`network: Bind for ${hostIp}:${first}-${hostPortEnd} failed: every port of the range is already allocated`);
    } else if (hostPort !== 0) {
      const mapping = { containerPort: req.containerPort, protocol, hostIp, hostPort };
      if (heldBy(hostIp, hostPort, protocol)) throw bindError(mapping);
      if ((await probeHostPort(hostIp, hostPort, protocol)) === 'busy') throw bindError(mapping);
    } else {
      const size = range.end - range.start + 1;
      const offset = Math.floor(Math.random() * size);
      for (let i = 0; i < size && hostPort === 0; i++) {
        const candidate = range.start + ((offset + i) % size);
        if (heldBy(hostIp, candidate, protocol)) continue;
        if ((await probeHostPort(hostIp, candidate, protocol)) === 'free') hostPort = candidate;
      }
      if (hostPort === 0)
        throw unavailable(`network: all ports from range ${range.start}-${range.end} are allocated`);
    }
    const mapping: PortMapping = { containerPort: req.containerPort, protocol, hostIp, hostPort };
    held.push(mapping);
    out.push(mapping);
  }
  return out;
}
