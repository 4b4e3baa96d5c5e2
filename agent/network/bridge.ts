import { createHash } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { internal } from '../../common/errors';
import { isMountPoint } from '../../common/mount';
import { CNI_VERSION, CniRuntime, type CniAttachment, type CniNetworkList, type CniResult } from './cni';
import type { AttachRequest, EndpointInfo, NetworkDriver, NetworkSpec } from './driver';
import { execCapture, execOk } from './exec';
import { BridgeFirewall, sweepCniRulesOf } from './firewall';
import { formatIpv4, lastAddress, parseCidr, parseIpv4 } from './ipv4';

export interface CniBridgeDriverOptions {
  /** Directories holding the CNI plugin executables (CNI_PATH). */
  pluginDirs: string[];
  /** host-local lease directory: ours, not the system-wide /var/lib/cni/networks. */
  ipamDir: string;
  firewall: BridgeFirewall;
  /** Written as the alias of the bridges we create: who owns them on a host shared by daemons. */
  owner?: string;
  /** Sandboxes made with `lo` already up (NetnsStore's): no `loopback` plugin run for them. */
  loopbackIsUp?: (netnsPath: string) => boolean;
}

/**
 * The `bridge` driver, made of the reference CNI plugins: `bridge` (veth pair into a Linux bridge,
 * gateway address, masquerade, hairpin) with `host-local` address leases, then `portmap` for
 * published ports; `loopback` brings up `lo` in the sandbox. Bridges are created here, before any
 * container, because the embedded DNS server listens on the gateway address.
 */
export class CniBridgeDriver implements NetworkDriver {
  readonly type = 'bridge';
  private readonly cni: CniRuntime;

  constructor(private readonly options: CniBridgeDriverOptions) {
    this.cni = new CniRuntime(options.pluginDirs);
  }

  /**
   * The plugin list for one network; ADD and DEL must see the same one. `defaultGateway`: this
   * endpoint gives the sandbox its default route (only one endpoint of a sandbox does).
   */
  networkList(network: NetworkSpec, withPorts: boolean, defaultGateway = true, networkMasquerade = false): CniNetworkList {
    const subnet = parseCidr(network.subnet);
    const range: Record<string, string> = { subnet: network.subnet, gateway: network.gateway };
    const ipRange = network.ipRange ? parseCidr(network.ipRange) : undefined;
    if (subnet && ipRange) {
      range.rangeStart = formatIpv4(Math.max(ipRange.network, subnet.network + 1));
      range.rangeEnd = formatIpv4(Math.min(lastAddress(ipRange), lastAddress(subnet) - 1));
    }
    const bridge: Record<string, unknown> & { type: string } = {
      type: 'bridge',
      bridge: network.bridge,
      // The gateway address lives on the bridge even for internal networks: DNS listens there.
      isGateway: true,
      isDefaultGateway: !network.internal && defaultGateway,
      // Per-endpoint masquerade costs the plugin about eight iptables runs on ADD and on DEL; the
      // network's one rule in our nat chain does the same job for every endpoint.
      ipMasq: !network.internal && !networkMasquerade,
      hairpinMode: true,
      capabilities: { ips: true, mac: true },
      ipam: { type: 'host-local', dataDir: this.options.ipamDir, ranges: [[range]] },
    };
    if (network.mtu) bridge.mtu = network.mtu;
    const plugins = [bridge];
    // portmap's default `snat: true` masquerades hairpin and 127.0.0.1 traffic, which is what
    // makes a published port answer on the host's loopback (with route_localnet on the bridge).
    if (withPorts && !network.internal) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
    return { cniVersion: CNI_VERSION, name: network.id, plugins };
  }

  private attachmentFor(network: NetworkSpec, request: AttachRequest, netnsPath: string): CniAttachment {
    const capabilityArgs: Record<string, unknown> = {
      portMappings: request.portMappings.map((m) => ({
        hostPort: m.hostPort,
        containerPort: m.containerPort,
        protocol: m.protocol,
        // portmap matches every local address when hostIP is empty.
        hostIP: m.hostIp === '0.0.0.0' ? '' : m.hostIp,
      })),
    };
    if (request.ipv4Address) {
      capabilityArgs.ips = [`${request.ipv4Address}/${parseCidr(network.subnet)?.prefix ?? 32}`];
    }
    if (request.macAddress) capabilityArgs.mac = request.macAddress;
    return { containerId: request.containerId, netnsPath, ifName: request.ifName, capabilityArgs };
  }

  async apply(networks: readonly NetworkSpec[], changed: readonly NetworkSpec[] = networks): Promise<void> {
    for (const n of changed) await ensureBridge(n, this.options.owner);
    await this.options.firewall.apply(networks.map((n) => ({ bridge: n.bridge, subnet: n.subnet, internal: n.internal })));
  }

  async destroy(network: NetworkSpec): Promise<void> {
    await execCapture('ip', ['link', 'del', 'dev', network.bridge]);
    await rm(path.join(this.options.ipamDir, network.id), { recursive: true, force: true });
  }

  async attach(network: NetworkSpec, request: AttachRequest): Promise<EndpointInfo> {
    if (!this.options.loopbackIsUp?.(request.netnsPath)) await this.cni.loopbackUp(request.containerId, request.netnsPath);
    const list = this.listFor(network, request);
    const who = this.attachmentFor(network, request, request.netnsPath);
    let result: CniResult;
    try {
      result = await this.cni.addList(list, who);
    } catch (err) {
      // A plugin that failed half-way may have left a lease or rules behind.
      await this.cni.delList(list, who).catch(() => undefined);
      throw err;
    }
    return endpointFrom(result, request, network);
  }

  /**
   * Makes an endpoint that outlived the daemon whole again: the host end of its veth must be a
   * port of the bridge, up, with hairpin on. A bridge made again at recovery (deleted while the
   * daemon was down) has no ports, and its containers reach nothing but their own address
   * ("No route to host": ARP gets no answer). False when the veth itself is gone.
   */
  async repair(network: NetworkSpec, attached: EndpointInfo): Promise<boolean> {
    const host = attached.hostIfName ?? attached.cniResult?.interfaces?.find((i) => !i.sandbox && i.name !== network.bridge)?.name;
    if (!host) return true;
    const r = await execCapture('ip', ['-j', '-d', 'link', 'show', 'dev', host]);
    if (r.code !== 0) return false;
    const link = (JSON.parse(r.stdout) as { master?: string; flags?: string[] }[])[0];
    if (!link) return false;
    if (link.master !== network.bridge) {
      await execOk('ip', ['link', 'set', 'dev', host, 'master', network.bridge]);
      await execCapture('ip', ['link', 'set', 'dev', host, 'type', 'bridge_slave', 'hairpin', 'on']);
    }
    if (!link.flags?.includes('UP')) await execOk('ip', ['link', 'set', 'dev', host, 'up']);
    return true;
  }

  async detach(network: NetworkSpec, request: AttachRequest, attached?: EndpointInfo): Promise<void> {
    const sandboxAlive = await isNamespaceFile(request.netnsPath);
    const list = this.listFor(network, request);
    if (!sandboxAlive && request.networkMasquerade) {
      // The veth went with the namespace and the endpoint has no NAT rules of its own: only the
      // address lease (and published ports) remain, held by host-local (and portmap).
      if (list.plugins.length === 1) {
        await releaseLease(path.join(this.options.ipamDir, network.id), request.containerId, request.ifName, attached?.ipAddress);
        return;
      }
      // Running them directly spares an exec of the bridge plugin, which would only call host-local.
      const bridge = list.plugins[0]!;
      const holders = [{ type: 'host-local', ipam: bridge.ipam }, ...list.plugins.slice(1)];
      await this.cni.delList({ ...list, plugins: holders }, this.attachmentFor(network, request, ''), attached?.cniResult);
      return;
    }
    // Without its namespace a plugin can only release what it finds outside it; CNI lets the
    // runtime pass an empty CNI_NETNS for that case.
    const who = this.attachmentFor(network, request, sandboxAlive ? request.netnsPath : '');
    await this.cni.delList(list, who, attached?.cniResult);
    if (!sandboxAlive) await sweepCniRulesOf(request.containerId, network.id);
  }

  /** The plugin list of one endpoint: ADD and DEL build the same one from its request. */
  private listFor(network: NetworkSpec, request: AttachRequest): CniNetworkList {
    return this.networkList(network, request.portMappings.length > 0, request.defaultGateway ?? true, request.networkMasquerade ?? false);
  }
}

/** Creates the bridge with its gateway address if missing, and brings it up. */
async function ensureBridge(n: NetworkSpec, owner: string | undefined): Promise<void> {
  const prefix = parseCidr(n.subnet)?.prefix;
  if (prefix === undefined) throw internal(`network: network ${n.name} has an invalid subnet ${n.subnet}`);
  const commands: string[][] = [];
  // Whether the bridge exists, and its addresses, in one exec.
  const shown = await execCapture('ip', ['-4', '-o', 'addr', 'show', 'dev', n.bridge]);
  if (shown.code !== 0) {
    const mtu = n.mtu ? ['mtu', String(n.mtu)] : [];
    // A bridge without an address of its own takes the lowest MAC of its ports, so it changes
    // whenever a container's veth with a lower (random) MAC joins or the lowest one leaves.
    // Containers keep the gateway's old MAC in their ARP cache, and the kernel drops frames to it
    // as "other host": DNS and every routed packet time out until the entry expires (30-60 s).
    // A fixed address, derived from the network, also survives the bridge being made again.
    commands.push(['link', 'add', 'name', n.bridge, ...mtu, 'address', bridgeMac(n.id), 'type', 'bridge']);
    // The alias names the daemon that owns the bridge, so another daemon's clean-up of stray
    // bridges never takes it.
    if (owner) commands.push(['link', 'set', 'dev', n.bridge, 'alias', owner]);
  } else {
    if ((await readFile(`/sys/class/net/${n.bridge}/addr_assign_type`, 'utf8').catch(() => '3')).trim() !== NET_ADDR_SET) {
      // Made by an older version, with a floating address: pin the one its containers know now.
      const current = (await readFile(`/sys/class/net/${n.bridge}/address`, 'utf8')).trim();
      commands.push(['link', 'set', 'dev', n.bridge, 'address', current]);
    }
    // Ours, but from a state this daemon no longer has (its data root was removed by hand and
    // used again): it keeps its old subnet's gateway, and the CNI bridge plugin refuses a bridge
    // with any address but the network's gateway. A bridge someone else made keeps its addresses.
    const alias = (await readFile(`/sys/class/net/${n.bridge}/ifalias`, 'utf8').catch(() => '')).trim();
    if (owner && alias === owner) {
      for (const [, cidr] of shown.stdout.matchAll(/\binet (\S+)/g)) {
        if (cidr !== `${n.gateway}/${prefix}`) commands.push(['addr', 'del', cidr!, 'dev', n.bridge]);
      }
    }
  }
  commands.push(['addr', 'replace', `${n.gateway}/${prefix}`, 'dev', n.bridge], ['link', 'set', 'dev', n.bridge, 'up']);
  await ipAll(commands);
  if (!n.internal) {
    // DNAT of 127.0.0.1:port to a container leaves a loopback source on the bridge; the kernel
    // drops such packets unless route_localnet is on (portmap then masquerades them).
    await writeFile(`/proc/sys/net/ipv4/conf/${n.bridge}/route_localnet`, '1');
  }
}

/**
 * Runs `ip` commands in order, stopping at the first that fails (with its error), in one
 * `ip -batch` when every word is plain: a network create waits for each of them in turn. A word
 * batch syntax would read otherwise (space, quote, `#`: an alias naming an odd data root) makes
 * them one exec each.
 */
async function ipAll(commands: string[][]): Promise<void> {
  if (commands.every((c) => c.every((w) => /^[\w.:/@+=,-]+$/.test(w)))) {
    await execOk('ip', ['-batch', '-'], commands.map((c) => `${c.join(' ')}\n`).join(''));
    return;
  }
  for (const c of commands) await execOk('ip', c);
}

/** `addr_assign_type` of an address set explicitly: the bridge then keeps it whatever its ports. */
const NET_ADDR_SET = '3';

/** A stable, locally administered unicast MAC for the bridge of network `id`. */
export function bridgeMac(id: string): string {
  const bytes = createHash('sha256').update(`bridge:${id}`).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * What host-local's DEL does, without its exec: removes the lease files (`<dir>/<ip>`, holding
 * `<container id>\r\n<ifname>`) of this container's interface. Removing a file is atomic, and
 * only the owner releases its lease, so a host-local ADD running meanwhile sees the address
 * either taken or free, both true at that moment. With the address known, only its file is read.
 */
async function releaseLease(dir: string, containerId: string, ifName: string, ip: string | undefined): Promise<void> {
  const release = async (file: string): Promise<boolean> => {
    const text = await readFile(path.join(dir, file), 'utf8').catch(() => '');
    const [who, ifn] = text.split(/\r?\n/).map((l) => l.trim());
    // Older host-local versions wrote the container id alone.
    if (who !== containerId || (ifn && ifn !== ifName)) return false;
    await rm(path.join(dir, file), { force: true });
    return true;
  };
  if (ip !== undefined && parseIpv4(ip) !== undefined && (await release(ip))) return;
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return;
  }
  for (const f of files) if (parseIpv4(f) !== undefined) await release(f);
}

/** A sandbox path still holds a namespace only while its bind mount exists. */
async function isNamespaceFile(p: string): Promise<boolean> {
  return !!p && (await isMountPoint(p));
}

function endpointFrom(result: CniResult, request: AttachRequest, network: NetworkSpec): EndpointInfo {
  const interfaces = result.interfaces ?? [];
  const index = interfaces.findIndex((i) => i.name === request.ifName && !!i.sandbox);
  const ip = result.ips?.find((c) => c.interface === index) ?? result.ips?.[0];
  const cidr = ip?.address.split('/');
  if (!ip || !cidr?.[0] || !cidr[1]) throw internal(`network: CNI result for ${request.containerId} has no address`);
  const info: EndpointInfo = {
    ifName: request.ifName,
    ipAddress: cidr[0],
    prefixLength: Number(cidr[1]),
    macAddress: interfaces[index]?.mac ?? '',
    cniResult: result,
  };
  const host = interfaces.find((i) => !i.sandbox && i.name !== network.bridge);
  if (host) info.hostIfName = host.name;
  if (ip.gateway && !network.internal) info.gateway = ip.gateway;
  if (result.routes?.some((r) => r.dst === '0.0.0.0/0')) info.defaultRoute = true;
  return info;
}
