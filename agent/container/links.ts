/**
 * Docker's legacy links: `--link target:alias` (Compose's `external_links`). A link is resolved
 * at each start of the linking container against the target as it is then, because its address
 * can change with every start of its own:
 * - on the default bridge, as Docker does: an /etc/hosts line (alias, the target's hostname, and
 *   its name when the alias is another) and Docker's <ALIAS>_NAME, <ALIAS>_PORT_… and
 *   <ALIAS>_ENV_… variables. The target must be on the default bridge too;
 * - on a user network, where Docker makes the alias a name only the linking container resolves:
 *   the same hosts line, with the target's address on the first network both share, and no
 *   variables. A target on none of the linking container's networks gets no line.
 * Unlike Docker, the hosts file of a linking container is not rewritten when the target restarts.
 */
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors';
import type { ContainerSpec } from '../../common/rpc/engine-types';
import type { ContainerRecord } from './record';

export const DEFAULT_BRIDGE = 'bridge';

export interface ResolvedLink {
  ipAddress: string;
  /** The hosts line's names, alias first. */
  names: string[];
  /** Docker's link variables; empty off the default bridge. */
  env: string[];
}

export function splitLink(link: string): { target: string; alias: string } {
  const i = link.indexOf(':');
  return i === -1 ? { target: link, alias: link } : { target: link.slice(0, i), alias: link.slice(i + 1) };
}

/** Create-time checks, in Docker's words: a network mode links can work with, and targets that exist. */
export function checkLinks(spec: ContainerSpec, networkMode: ContainerRecord['networkMode'], lookup: (nameOrId: string) => ContainerRecord | undefined): void {
  if (spec.links.length === 0) return;
  if (networkMode === 'host') throw invalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  if (networkMode === 'container') throw invalidArgument("conflicting options: container type network can't be used with links. This would result in undefined behavior");
  for (const link of spec.links) {
    const { target } = splitLink(link);
    if (!lookup(target)) throw notFound(`could not get container for ${target}: No such container: ${target}`);
  }
}

/** The links of `c` as its start finds them (its own endpoints already made). */
export function resolveLinks(c: ContainerRecord, lookup: (nameOrId: string) => ContainerRecord | undefined): ResolvedLink[] {
  const out: ResolvedLink[] = [];
  const onDefaultBridge = c.networks[0] === DEFAULT_BRIDGE;
  for (const link of c.spec.links) {
    const { target, alias } = splitLink(link);
    const child = lookup(target);
    if (!child) throw notFound(`could not get container for ${target}: No such container: ${target}`);
    if (child.state.status !== 'running' && child.state.status !== 'paused') {
      throw failedPrecondition(`Cannot link to a non running container: /${child.name} AS /${c.name}/${alias}`);
    }
    const names = [alias, child.config.hostname, ...(alias !== child.name ? [child.name] : [])];
    if (onDefaultBridge) {
      const address = child.endpoints[DEFAULT_BRIDGE]?.ipAddress;
      if (!address) throw failedPrecondition(`Cannot link to /${child.name}, as it does not belong to the default network`);
      out.push({ ipAddress: address, names, env: linkEnv(c.name, alias, address, child) });
      continue;
    }
    const shared = c.networks.find((n) => child.endpoints[n]?.ipAddress);
    if (shared) out.push({ ipAddress: child.endpoints[shared]!.ipAddress, names, env: [] });
  }
  return out;
}

/** Docker's link variables (its `links.Link.ToEnv`), ranges of ports not folded. */
function linkEnv(parentName: string, alias: string, address: string, child: ContainerRecord): string[] {
  const prefix = alias.toUpperCase().replace(/-/g, '_');
  const env = [`${prefix}_NAME=/${parentName}/${alias}`];
  const ports = child.config.exposedPorts
    .map((p) => {
      const [port, proto] = p.split('/');
      return { port: Number(port), proto: proto || 'tcp' };
    })
    .filter((p) => Number.isInteger(p.port) && p.port > 0)
    .sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
  const first = ports[0];
  if (first) env.push(`${prefix}_PORT=${first.proto}://${address}:${first.port}`);
  for (const { port, proto } of ports) {
    const key = `${prefix}_PORT_${port}_${proto.toUpperCase()}`;
    env.push(`${key}=${proto}://${address}:${port}`, `${key}_ADDR=${address}`, `${key}_PORT=${port}`, `${key}_PROTO=${proto}`);
  }
  for (const kv of child.config.env) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const key = kv.slice(0, i);
    // Docker leaves out what every image sets.
    if (key === 'HOME' || key === 'PATH') continue;
    env.push(`${prefix}_ENV_${key}=${kv.slice(i + 1)}`);
  }
  return env;
}
