import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { alreadyExists, conflict, failedPrecondition, invalidArgument, notFound, unavailable } from '../../common/errors';
import { readJsonIfExists, writeFileAtomic } from '../../common/fsutil';
import { KeyedMutex } from '../../common/mutex';
import { CniBridgeDriver } from './bridge';
import { CniRuntime } from './cni';
import { EmbeddedDns, type DnsServerOptions } from './dns';
import type { AttachRequest, EndpointInfo, NetworkSpec } from './driver';
import { execOk } from './exec';
import { BridgeFirewall, removeIdlePortmapChains } from './firewall';
import {
  cidrContains,
  cidrsOverlap,
  firstHost,
  formatCidr,
  formatIpv4,
  hostPrefixes,
  lastAddress,
  parseCidr,
  parseIpv4,
  pickFreeSubnet,
  type SubnetPool,
} from './ipv4';
import { NetnsStore } from './netns';
import { allocatePorts, DEFAULT_EPHEMERAL_RANGE, type PortMapping, type PortRange, type PortRequest } from './ports';

/** See `NetworkManager.save`. */
const ENDPOINT_CHANGE = { durable: false };

export const DEFAULT_NETWORK = 'bridge';
export const HOST_NETWORK = 'host';
export const NONE_NETWORK = 'none';

/** Docker's option keys, accepted under the same names. */
export const OPTION_BRIDGE_NAME = 'com.docker.network.bridge.name';
export const OPTION_MTU = 'com.docker.network.driver.mtu';

export interface NetworkManagerOptions {
  /** Data root: state file, address leases (ipam/) and network namespaces (netns/). */
  root: string;
  cniPluginDirs?: string[];
  /** Bridge of the default `bridge` network (`tsc0`). */
  defaultBridgeName?: string;
  /** Where the default network's subnet comes from (10.88.0.0/16 first). */
  defaultSubnetPools?: SubnetPool[];
  /** Where user networks' subnets come from (/24s of 10.89.0.0–10.95.255.255). */
  subnetPools?: SubnetPool[];
  /** User network bridges are `<prefix><11 hex of the id>` (`tsc-`); at most 4 characters. */
  bridgePrefix?: string;
  /** Our filter chains are `<prefix>-FORWARD` and `<prefix>-ISOLATION`. */
  firewallChainPrefix?: string;
  /** Host ports for `-P`. */
  ephemeralPorts?: PortRange;
  dns?: DnsServerOptions;
  /**
   * Sandboxes kept ready on the default network (namespace made, endpoint attached), handed to
   * containers that ask for nothing more (see `takeSandbox`); 0, the default, keeps none.
   */
  sandboxPool?: number;
}

export interface CreateNetworkRequest {
  name: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

/** A network as persisted. */
export interface NetworkRecord extends NetworkSpec {
  driver: 'bridge';
  created: string;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** The default `bridge` network: cannot be removed, has no embedded DNS (as in Docker). */
  predefined: boolean;
  /** The subnet was given by the user: only then may containers ask for a fixed address. */
  userSubnet: boolean;
  dns: boolean;
}

interface EndpointRecord {
  id: string;
  networkId: string;
  /** Written before CNI ADD, so a crash in between is undone at recovery. */
  state: 'attaching' | 'attached';
  request: AttachRequest;
  names: string[];
  info?: EndpointInfo;
  /**
   * Ports the container asked to publish that this endpoint could not take (it is not the
   * container's gateway endpoint, e.g. on an internal network): published as soon as the
   * container joins a network that can be its gateway, as Docker does on `network connect`.
   */
  pendingPorts?: PortRequest[];
  /** Made for the sandbox pool: `request.containerId` is the pool sandbox's name, not a container. */
  pooled?: boolean;
  /** The container a pooled endpoint was handed to (CNI and the lease still know the pool name). */
  owner?: string;
  /** The container's own resolvers, for the embedded DNS (ConnectOptions.dnsServers). */
  dnsServers?: string[];
}

/** The container an endpoint belongs to: a pooled one's taker, else the one it was made for. */
function ownerOf(e: EndpointRecord): string {
  return e.owner ?? e.request.containerId;
}

/** A pool sandbox not handed out yet. */
function isSpare(e: EndpointRecord): boolean {
  return e.pooled === true && e.owner === undefined;
}

const POOL_PREFIX = 'pool-';
/** After a take, the pool is refilled this much later, off the path of the container starting now. */
const POOL_REFILL_DELAY_MS = 250;
/** While containers are being started or ended, the refill looks again this often for a gap. */
const POOL_BUSY_RECHECK_MS = 50;

/** A state write not begun yet: every change made until it begins is in it (`NetworkManager.save`). */
interface PendingWrite {
  durable: boolean;
  done: Promise<void>;
}

interface State {
  version: 1;
  networks: NetworkRecord[];
  endpoints: EndpointRecord[];
  /** IDs shown for the `host` and `none` pseudo-networks, stable across restarts. */
  pseudoIds: { host: string; none: string };
  /** Container id to the name of its namespace when it is not its own id (a pool sandbox it took). */
  sandboxes?: Record<string, string>;
}

export interface NetworkEndpointView {
  containerId: string;
  endpointId: string;
  names: string[];
  ipv4Address: string;
  macAddress: string;
  ports: PortMapping[];
}

/** What `network ls` / `network inspect` show. */
export interface NetworkInfo {
  id: string;
  name: string;
  driver: 'bridge' | 'host' | 'null';
  scope: 'local';
  created: string;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipam?: { subnet: string; gateway: string; ipRange?: string };
  bridge?: string;
  /** Where the embedded DNS server answers, for user networks. */
  dnsAddress?: string;
  containers: NetworkEndpointView[];
}

export interface ConnectOptions {
  /** Container name: resolvable on user networks, like `aliases`. */
  name?: string;
  aliases?: string[];
  ipv4Address?: string;
  macAddress?: string;
  portMappings?: PortRequest[];
  ifName?: string;
  /**
   * The container's own resolvers (`--dns`): the embedded DNS forwards its queries for names the
   * network does not own to them, not to the host's.
   */
  dnsServers?: string[];
}

/** What the container runtime needs to finish a container's network setup. */
export interface ConnectResult {
  mode: 'bridge' | 'host' | 'none';
  networkId: string;
  networkName: string;
  endpointId?: string;
  ifName?: string;
  ipAddress?: string;
  prefixLength?: number;
  gateway?: string;
  macAddress?: string;
  ports: PortMapping[];
  /** resolv.conf for the container; absent means "copy the host's" (default bridge, host). */
  dns?: { nameservers: string[]; search: string[]; options: string[] };
}

const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const IFNAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;

function newId(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The daemon's face of container networking: Docker-style networks (`bridge`, `host`, `none`
 * and user-defined bridge networks), endpoints of containers on them, published ports and the
 * embedded DNS server. Every change is persisted (atomically) before it touches the host, so
 * `recover()` after a crash or restart can finish or undo it.
 */
export class NetworkManager {
  readonly netns: NetnsStore;
  private readonly claims: SubnetClaims;
  readonly dns: EmbeddedDns;
  private readonly driver: CniBridgeDriver;
  private readonly firewall: BridgeFirewall;
  private readonly cni: CniRuntime;
  private readonly stateFile: string;
  private readonly ipamDir: string;
  private readonly lock = new KeyedMutex();
  private state: State;
  private poolTimer: NodeJS.Timeout | undefined;
  private poolFill: Promise<void> | undefined;
  private poolBusy: () => boolean = () => false;
  private closing = false;
  /** The state write queued behind the one in flight (`save`), and the last one started or queued. */
  private nextWrite: PendingWrite | undefined;
  private lastWrite: Promise<void> | undefined;

  private constructor(
    private readonly options: Required<Omit<NetworkManagerOptions, 'dns'>>,
    state: State,
    dns: EmbeddedDns,
  ) {
    this.state = state;
    this.stateFile = path.join(options.root, 'networks.json');
    this.ipamDir = path.join(options.root, 'ipam');
    this.netns = new NetnsStore(path.join(options.root, 'netns'));
    this.claims = new SubnetClaims(options.root);
    this.firewall = new BridgeFirewall(options.firewallChainPrefix);
    this.driver = new CniBridgeDriver({
      pluginDirs: options.cniPluginDirs,
      ipamDir: this.ipamDir,
      firewall: this.firewall,
      owner: options.root,
      loopbackIsUp: (p) => this.netns.owns(p),
    });
    this.cni = new CniRuntime(options.cniPluginDirs);
    this.dns = dns;
    this.dns.setForwardPolicy((network, container) => this.hasWayOut(network, container));
  }

  /**
   * Whether a query arriving on `networkId` comes from a container that can reach outside: the
   * network is not internal, or the container is also on one that is not.
   */
  private hasWayOut(networkId: string, containerId: string | undefined): boolean {
    const open = (id: string) => this.state.networks.some((n) => n.id === id && !n.internal);
    if (open(networkId)) return true;
    return !!containerId && this.state.endpoints.some((e) => ownerOf(e) === containerId && open(e.networkId));
  }

  /** Loads the persisted state; call `recover()` next to bring the host in line with it. */
  static async open(options: NetworkManagerOptions): Promise<NetworkManager> {
    const full = {
      root: options.root,
      cniPluginDirs: options.cniPluginDirs ?? ['/usr/lib/cni', '/opt/cni/bin'],
      defaultBridgeName: options.defaultBridgeName ?? 'tsc0',
      defaultSubnetPools: options.defaultSubnetPools ?? [{ base: '10.88.0.0/16', size: 16 }],
      subnetPools: options.subnetPools ?? [
        { base: '10.89.0.0/16', size: 24 },
        { base: '10.90.0.0/15', size: 24 },
        { base: '10.92.0.0/14', size: 24 },
      ],
      bridgePrefix: options.bridgePrefix ?? 'tsc-',
      firewallChainPrefix: options.firewallChainPrefix ?? 'TSCOMPOSE',
      ephemeralPorts: options.ephemeralPorts ?? DEFAULT_EPHEMERAL_RANGE,
      sandboxPool: options.sandboxPool ?? 0,
    };
    if (full.bridgePrefix.length > 4) throw invalidArgument('network: bridge prefix must be at most 4 characters');
    await mkdir(full.root, { recursive: true, mode: 0o700 });
    const stored = await readJsonIfExists<State>(path.join(full.root, 'networks.json'));
    const state: State = stored ?? {
      version: 1,
      networks: [],
      endpoints: [],
      pseudoIds: { host: newId(), none: newId() },
    };
    return new NetworkManager(full, state, new EmbeddedDns(options.dns));
  }

  /**
   * Persists the state; resolves once a write that began after the call is done. Writes go one
   * at a time, and every call made while one is in flight shares the next (a group commit): it
   * writes the whole state as it is when it begins, so it carries all their changes. Endpoint
   * changes need not reach the disk (`durable: false`): they must survive a crash of the daemon,
   * which the atomic rename gives, but a power loss also destroys the namespaces they describe,
   * and recovery reconciles leases with what is recorded.
   */
  private save(opts: { durable?: boolean } = {}): Promise<void> {
    const durable = opts.durable ?? true;
    if (this.nextWrite) {
      this.nextWrite.durable ||= durable;
      return this.nextWrite.done;
    }
    const previous = this.lastWrite;
    const next: PendingWrite = { durable, done: Promise.resolve() };
    next.done = (async () => {
      await previous?.catch(() => undefined);
      // Changes made from here on are not in this write: they start the next one.
      this.nextWrite = undefined;
      await writeFileAtomic(this.stateFile, JSON.stringify(this.state), 0o600, { durable: next.durable });
    })();
    this.nextWrite = next;
    this.lastWrite = next.done;
    return next.done;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run('state', fn);
  }

  /**
   * Makes an endpoint change under the state lock, then waits for it to be on disk outside the
   * lock: containers starting or ending side by side share state writes (see `save`) instead of
   * queueing on the lock for one write each. Nothing is done on the host before the wait ends.
   */
  private async commit<T>(change: () => T | Promise<T>): Promise<T> {
    const { result, saved } = await this.serial(async () => {
      const result = await change();
      return { result, saved: this.save(ENDPOINT_CHANGE) };
    });
    await saved;
    return result;
  }

  // ---------------------------------------------------------------- networks

  private find(idOrName: string): NetworkRecord | undefined {
    const nets = this.state.networks;
    return (
      nets.find((n) => n.id === idOrName) ??
      nets.find((n) => n.name === idOrName) ??
      (() => {
        const byPrefix = idOrName.length >= 1 ? nets.filter((n) => n.id.startsWith(idOrName)) : [];
        return byPrefix.length === 1 ? byPrefix[0] : undefined;
      })()
    );
  }

  private mustFind(idOrName: string): NetworkRecord {
    const n = this.find(idOrName);
    if (!n) throw notFound(`network ${idOrName} not found`);
    return n;
  }

  private async chooseSubnet(pools: readonly SubnetPool[]): Promise<string> {
    const taken = [...(await hostPrefixes()), ...this.state.networks.flatMap((n) => parseCidr(n.subnet) ?? [])];
    // Another daemon on this host may be choosing at the same moment: a subnet is ours only once
    // its host-wide claim file was created by us.
    for (;;) {
      const picked = pickFreeSubnet(pools, taken);
      if (!picked) {
        throw unavailable('network: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      }
      const cidr = formatCidr(picked);
      if (await this.claims.claim(cidr)) return cidr;
      taken.push(picked);
    }
  }

  /** Checks and completes the address plan of a new network. */
  private async addressPlan(req: CreateNetworkRequest): Promise<{ subnet: string; gateway: string; ipRange?: string }> {
    let subnet: string;
    if (req.subnet) {
      const c = parseCidr(req.subnet, true);
      if (!c || c.prefix > 30) throw invalidArgument(`network: invalid subnet ${req.subnet}`);
      for (const other of this.state.networks) {
        const o = parseCidr(other.subnet);
        if (o && cidrsOverlap(o, c)) throw conflict('invalid pool request: Pool overlaps with other one on this address space');
      }
      subnet = formatCidr(c);
      if (!(await this.claims.claim(subnet))) throw conflict('invalid pool request: Pool overlaps with other one on this address space');
    } else {
      if (req.gateway || req.ipRange) throw invalidArgument('network: --gateway and --ip-range need --subnet');
      subnet = await this.chooseSubnet(this.options.subnetPools);
    }
    const c = parseCidr(subnet)!;
    let gateway = formatIpv4(firstHost(c));
    if (req.gateway) {
      const g = parseIpv4(req.gateway);
      if (g === undefined || !cidrContains(c, g) || g === c.network || g === lastAddress(c)) {
        throw invalidArgument(`network: no matching subnet for gateway ${req.gateway}`);
      }
      gateway = req.gateway;
    }
    const plan: { subnet: string; gateway: string; ipRange?: string } = { subnet, gateway };
    if (req.ipRange) {
      const r = parseCidr(req.ipRange, true);
      if (!r || r.network < c.network || lastAddress(r) > lastAddress(c)) {
        throw invalidArgument(`network: no matching subnet for range ${req.ipRange}`);
      }
      plan.ipRange = formatCidr(r);
    }
    return plan;
  }

  private bridgeNameFor(id: string, options: Record<string, string>): string {
    const asked = options[OPTION_BRIDGE_NAME];
    const name = asked ?? `${this.options.bridgePrefix}${id.slice(0, 15 - this.options.bridgePrefix.length)}`;
    if (!IFNAME_PATTERN.test(name)) throw invalidArgument(`network: invalid bridge name ${JSON.stringify(name)}`);
    const user = this.state.networks.find((n) => n.bridge === name);
    if (user) throw conflict(`network: bridge name ${name} is already used by network ${user.name}`);
    return name;
  }

  private mtuFrom(options: Record<string, string>): number | undefined {
    const text = options[OPTION_MTU];
    if (text === undefined) return undefined;
    const mtu = Number(text);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw invalidArgument(`network: invalid MTU ${text}`);
    return mtu;
  }

  /** Brings a new network up on the host, or forgets it again if that fails. */
  private async install(record: NetworkRecord): Promise<void> {
    this.state.networks.push(record);
    await this.save();
    try {
      await this.driver.apply(this.state.networks, [record]);
      if (record.dns) await this.dns.listen(record.id, record.name, record.gateway, record.subnet);
    } catch (err) {
      this.state.networks = this.state.networks.filter((n) => n.id !== record.id);
      await this.save();
      await this.dns.stop(record.id);
      await this.driver.apply(this.state.networks, []).catch(() => undefined);
      await this.driver.destroy(record);
      throw err;
    }
  }

  async createNetwork(req: CreateNetworkRequest): Promise<NetworkInfo> {
    return this.serial(async () => {
      await this.ensureDefaultNetworkLocked();
      const driver = req.driver ?? 'bridge';
      if (driver !== 'bridge') throw invalidArgument(`plugin "${driver}" not found`);
      if (!NAME_PATTERN.test(req.name)) {
        throw invalidArgument(`network: invalid network name "${req.name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
      }
      if (this.state.networks.some((n) => n.name === req.name) || req.name === HOST_NETWORK || req.name === NONE_NETWORK) {
        throw alreadyExistsError(req.name);
      }
      const options = { ...(req.options ?? {}) };
      const id = newId();
      const plan = await this.addressPlan(req);
      const record: NetworkRecord = {
        id,
        name: req.name,
        driver: 'bridge',
        bridge: this.bridgeNameFor(id, options),
        ...plan,
        internal: req.internal ?? false,
        created: new Date().toISOString(),
        attachable: req.attachable ?? false,
        labels: { ...(req.labels ?? {}) },
        options,
        predefined: false,
        userSubnet: req.subnet !== undefined,
        dns: true,
      };
      const mtu = this.mtuFrom(options);
      if (mtu) record.mtu = mtu;
      await this.install(record);
      return this.view(record);
    });
  }

  private async ensureDefaultNetworkLocked(): Promise<NetworkRecord> {
    const existing = this.state.networks.find((n) => n.name === DEFAULT_NETWORK);
    if (existing) return existing;
    const subnet = await this.chooseSubnet([...this.options.defaultSubnetPools, ...this.options.subnetPools]);
    const c = parseCidr(subnet)!;
    const record: NetworkRecord = {
      id: newId(),
      name: DEFAULT_NETWORK,
      driver: 'bridge',
      bridge: this.options.defaultBridgeName,
      subnet,
      gateway: formatIpv4(firstHost(c)),
      internal: false,
      created: new Date().toISOString(),
      attachable: false,
      labels: {},
      options: { [OPTION_BRIDGE_NAME]: this.options.defaultBridgeName },
      predefined: true,
      userSubnet: false,
      dns: false,
    };
    await this.install(record);
    return record;
  }

  async removeNetwork(idOrName: string): Promise<void> {
    await this.serial(async () => {
      if (idOrName === HOST_NETWORK || idOrName === NONE_NETWORK) {
        throw failedPrecondition(`network: ${idOrName} is a pre-defined network and cannot be removed`);
      }
      const n = this.mustFind(idOrName);
      if (n.predefined) throw failedPrecondition(`network: ${n.name} is a pre-defined network and cannot be removed`);
      await this.uninstallLocked(n);
    });
  }

  private async uninstallLocked(n: NetworkRecord): Promise<void> {
    if (this.state.endpoints.some((e) => e.networkId === n.id)) {
      throw failedPrecondition(`network: error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    }
    await this.dns.stop(n.id);
    this.state.networks = this.state.networks.filter((x) => x.id !== n.id);
    await this.save();
    await this.driver.apply(this.state.networks, []);
    await this.driver.destroy(n);
    await this.claims.release(n.subnet);
  }

  /** Removes every user network without endpoints; returns their names. */
  async prune(): Promise<string[]> {
    return this.serial(async () => {
      const removed: string[] = [];
      for (const n of [...this.state.networks]) {
        if (n.predefined || this.state.endpoints.some((e) => e.networkId === n.id)) continue;
        await this.uninstallLocked(n);
        removed.push(n.name);
      }
      return removed;
    });
  }

  private view(n: NetworkRecord): NetworkInfo {
    const info: NetworkInfo = {
      id: n.id,
      name: n.name,
      driver: 'bridge',
      scope: 'local',
      created: n.created,
      internal: n.internal,
      attachable: n.attachable,
      labels: { ...n.labels },
      options: { ...n.options },
      ipam: n.ipRange ? { subnet: n.subnet, gateway: n.gateway, ipRange: n.ipRange } : { subnet: n.subnet, gateway: n.gateway },
      bridge: n.bridge,
      containers: this.state.endpoints
        .filter((e) => e.networkId === n.id && e.state === 'attached' && e.info && !isSpare(e))
        .map((e) => ({
          containerId: ownerOf(e),
          endpointId: e.id,
          names: [...e.names],
          ipv4Address: `${e.info!.ipAddress}/${e.info!.prefixLength}`,
          macAddress: e.info!.macAddress,
          ports: [...e.request.portMappings],
        })),
    };
    if (n.dns) info.dnsAddress = n.gateway;
    return info;
  }

  private pseudoView(name: 'host' | 'none'): NetworkInfo {
    return {
      id: this.state.pseudoIds[name],
      name,
      driver: name === 'host' ? 'host' : 'null',
      scope: 'local',
      created: '',
      internal: false,
      attachable: false,
      labels: {},
      options: {},
      containers: [],
    };
  }

  async listNetworks(): Promise<NetworkInfo[]> {
    return this.serial(async () => {
      await this.ensureDefaultNetworkLocked();
      return [...this.state.networks.map((n) => this.view(n)), this.pseudoView('host'), this.pseudoView('none')];
    });
  }

  async inspectNetwork(idOrName: string): Promise<NetworkInfo> {
    return this.serial(async () => {
      await this.ensureDefaultNetworkLocked();
      if (idOrName === HOST_NETWORK || idOrName === this.state.pseudoIds.host) return this.pseudoView('host');
      if (idOrName === NONE_NETWORK || idOrName === this.state.pseudoIds.none) return this.pseudoView('none');
      return this.view(this.mustFind(idOrName));
    });
  }

  // ---------------------------------------------------------------- endpoints

  /**
   * Puts a container (its network namespace) on a network. For `host` nothing is done; for
   * `none` only `lo` is brought up. Their endpoint IDs are made up and not kept here: the
   * container record holds them, as Docker shows one for every network a container is on.
   */
  async connect(containerId: string, netnsPath: string, network: string, opts: ConnectOptions = {}): Promise<ConnectResult> {
    if (network === HOST_NETWORK) {
      return { mode: 'host', networkId: this.state.pseudoIds.host, networkName: HOST_NETWORK, endpointId: newId(), ports: [] };
    }
    if (network === NONE_NETWORK) {
      if (!this.netns.owns(netnsPath)) await this.cni.loopbackUp(containerId, netnsPath);
      return { mode: 'none', networkId: this.state.pseudoIds.none, networkName: NONE_NETWORK, endpointId: newId(), ports: [] };
    }
    const { record, endpoint } = await this.commit(async () => {
      if (network === DEFAULT_NETWORK) await this.ensureDefaultNetworkLocked();
      const n = this.mustFind(network);
      return { record: n, endpoint: await this.reserveEndpointLocked(n, containerId, netnsPath, opts) };
    });

    let info: EndpointInfo;
    try {
      info = await this.driver.attach(record, endpoint.request);
    } catch (err) {
      await this.commit(() => {
        this.state.endpoints = this.state.endpoints.filter((e) => e.id !== endpoint.id);
      });
      throw err;
    }
    await this.commit(() => {
      endpoint.state = 'attached';
      endpoint.info = info;
    });
    if (record.dns) this.dns.addEndpoint(record.id, endpoint.id, endpoint.names, info.ipAddress, containerId, endpoint.dnsServers);

    const result: ConnectResult = {
      mode: 'bridge',
      networkId: record.id,
      networkName: record.name,
      endpointId: endpoint.id,
      ifName: info.ifName,
      ipAddress: info.ipAddress,
      prefixLength: info.prefixLength,
      macAddress: info.macAddress,
      ports: [...endpoint.request.portMappings],
    };
    if (info.gateway) result.gateway = info.gateway;
    if (record.dns) result.dns = { nameservers: [record.gateway], search: [], options: ['ndots:0'] };
    for (const listener of this.connectListeners) await listener(containerId, result);
    return result;
  }

  private readonly connectListeners: Array<(containerId: string, result: ConnectResult) => Promise<void> | void> = [];

  /**
   * Calls `listener` after every successful `connect` of a bridge endpoint: the container runtime
   * uses it to update a running container joining a network (its resolv.conf, published ports).
   */
  onConnect(listener: (containerId: string, result: ConnectResult) => Promise<void> | void): void {
    this.connectListeners.push(listener);
  }

  /** Whether an endpoint gives its sandbox the default route (older records: unless internal). */
  private holdsGateway(e: EndpointRecord): boolean {
    if (e.request.defaultGateway !== undefined) return e.request.defaultGateway;
    return !(this.state.networks.find((n) => n.id === e.networkId)?.internal ?? true);
  }

  /**
   * Validates a connect request and records it as `attaching` (ports and address reserved), in
   * memory: the caller saves the state before attaching.
   */
  private async reserveEndpointLocked(
    n: NetworkRecord,
    containerId: string,
    netnsPath: string,
    opts: ConnectOptions,
    pooled = false,
  ): Promise<EndpointRecord> {
    if (!/^[A-Za-z0-9_.-]+$/.test(containerId)) throw invalidArgument(`network: invalid container ID ${JSON.stringify(containerId)}`);
    const mine = this.state.endpoints.filter((e) => ownerOf(e) === containerId);
    if (mine.some((e) => e.networkId === n.id)) {
      throw conflict(`endpoint with name ${opts.name ?? containerId} already exists in network ${n.name}`);
    }
    let ifName = opts.ifName;
    if (ifName === undefined) {
      for (let i = 0; ifName === undefined; i++) if (!mine.some((e) => e.request.ifName === `eth${i}`)) ifName = `eth${i}`;
    }
    if (!IFNAME_PATTERN.test(ifName) || ifName === 'lo') throw invalidArgument(`network: invalid interface name ${ifName}`);
    if (mine.some((e) => e.request.ifName === ifName)) throw conflict(`network: interface ${ifName} already exists in container ${containerId}`);

    const request: AttachRequest = { containerId, netnsPath, ifName, portMappings: [], networkMasquerade: true };
    if (opts.ipv4Address) {
      checkFixedAddress(n, opts.ipv4Address);
      const used = this.state.endpoints.some(
        (e) => e.networkId === n.id && (e.request.ipv4Address === opts.ipv4Address || e.info?.ipAddress === opts.ipv4Address),
      );
      if (used || opts.ipv4Address === n.gateway) throw conflict(`network: Address already in use: ${opts.ipv4Address}`);
      request.ipv4Address = opts.ipv4Address;
    }
    if (opts.macAddress) {
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(opts.macAddress)) throw invalidArgument(`network: invalid MAC address ${opts.macAddress}`);
      const mac = opts.macAddress.toLowerCase();
      if (this.state.endpoints.some((e) => e.networkId === n.id && (e.request.macAddress === mac || e.info?.macAddress === mac))) {
        throw conflict(`network: MAC address already in use on ${n.name}: ${mac}`);
      }
      request.macAddress = mac;
    }
    // One endpoint per sandbox gives the default route and carries the published ports: the
    // first on a network that is not internal (Docker's gateway endpoint). Two default routes
    // would send replies out of whichever network the kernel picks, not the one the DNAT'ed
    // connection came in on. Internal networks publish nothing: there is no way in.
    request.defaultGateway = !n.internal && !mine.some((e) => this.holdsGateway(e));
    const wanted = opts.portMappings?.length ? opts.portMappings : mine.find((e) => e.pendingPorts?.length)?.pendingPorts;
    let pendingPorts: PortRequest[] | undefined;
    if (wanted?.length && request.defaultGateway) {
      const held = this.state.endpoints.flatMap((e) => e.request.portMappings);
      request.portMappings = await allocatePorts(wanted, held, this.options.ephemeralPorts);
    } else if (wanted?.length && !mine.some((e) => e.request.portMappings.length > 0)) {
      pendingPorts = [...wanted];
    }
    const names = [opts.name, ...(opts.aliases ?? []), containerId.slice(0, 12)].filter(
      (x): x is string => !!x,
    );
    const endpoint: EndpointRecord = { id: newId(), networkId: n.id, state: 'attaching', request, names: pooled ? [] : [...new Set(names)] };
    if (pooled) endpoint.pooled = true;
    if (opts.dnsServers?.length) endpoint.dnsServers = [...opts.dnsServers];
    if (pendingPorts) endpoint.pendingPorts = pendingPorts;
    if (request.portMappings.length > 0) for (const e of mine) delete e.pendingPorts;
    this.state.endpoints.push(endpoint);
    return endpoint;
  }

  /**
   * Whether `ipv4Address` could be a fixed address on `network` (a subnet the user chose, and in
   * it): asked at create, as Docker does, so that no container is made that could never start.
   * Whether it is free is known only when the container connects.
   */
  async checkAddress(network: string, ipv4Address: string): Promise<void> {
    await this.serial(async () => checkFixedAddress(this.mustFind(network), ipv4Address));
  }

  /** Takes a container off a network, releasing its address and published ports. */
  async disconnect(containerId: string, network: string): Promise<void> {
    if (network === HOST_NETWORK || network === NONE_NETWORK) return;
    const { record, endpoint } = await this.serial(async () => {
      const n = this.mustFind(network);
      const e = this.state.endpoints.find((x) => x.networkId === n.id && ownerOf(x) === containerId);
      if (!e) throw notFound(`network: container ${containerId} is not connected to network ${n.name}`);
      return { record: n, endpoint: e };
    });
    await this.detachEndpoint(record, endpoint);
  }

  /**
   * `network disconnect -f` for a container the daemon no longer knows: removes the endpoints on
   * `network` still held in its name (a DNS name of the endpoint) or its ID (whole, or a prefix of
   * at least 12 characters), unless `isLive` says their owner is a container that exists. The
   * endpoint goes even when the driver cannot undo it (its namespace gone with the container), and
   * its address lease with it. Returns how many were removed.
   */
  async removeStaleEndpoints(network: string, nameOrId: string, isLive: (containerId: string) => boolean): Promise<number> {
    const { record, stale } = await this.serial(async () => {
      const n = this.mustFind(network);
      const owned = (e: EndpointRecord) => {
        const owner = ownerOf(e);
        if (isLive(owner)) return false;
        return owner === nameOrId || (nameOrId.length >= 12 && owner.startsWith(nameOrId)) || e.names.includes(nameOrId);
      };
      return { record: n, stale: this.state.endpoints.filter((e) => e.networkId === n.id && !isSpare(e) && owned(e)) };
    });
    for (const e of stale) {
      this.dns.removeEndpoint(record.id, e.id);
      await this.driver.detach(record, e.request, e.info).catch(() => undefined);
      await this.commit(async () => {
        this.state.endpoints = this.state.endpoints.filter((x) => x.id !== e.id);
        await this.removeStrayLeasesLocked();
      });
    }
    return stale.length;
  }

  /** Takes a container off every network (container removal). */
  async disconnectAll(containerId: string): Promise<void> {
    const mine = this.state.endpoints.filter((e) => ownerOf(e) === containerId);
    for (const e of mine) {
      const n = this.state.networks.find((x) => x.id === e.networkId);
      if (n) await this.detachEndpoint(n, e);
    }
  }

  /**
   * Takes a container off every network and deletes its sandbox (the end of a run). Endpoints
   * made with the network's masquerade need nothing from inside the sandbox to be undone, so the
   * sandbox goes first and takes the veths with it; the endpoints then only release their
   * addresses and ports, all at once. Older endpoints are detached the long way, sandbox last.
   */
  async removeSandbox(containerId: string): Promise<void> {
    const mine = this.state.endpoints.filter((e) => ownerOf(e) === containerId);
    const sandbox = this.state.sandboxes?.[containerId] ?? containerId;
    const detachAll = () =>
      Promise.all(
        mine.map(async (e) => {
          const n = this.state.networks.find((x) => x.id === e.networkId);
          if (n) await this.detachEndpoint(n, e);
        }),
      );
    if (mine.every((e) => e.request.networkMasquerade)) {
      for (const e of mine) this.dns.removeEndpoint(e.networkId, e.id);
      await this.netns.remove(sandbox);
      await detachAll();
    } else {
      await detachAll();
      await this.netns.remove(sandbox);
    }
    if (this.state.sandboxes?.[containerId] !== undefined) {
      await this.commit(() => {
        delete this.state.sandboxes?.[containerId];
      });
    }
  }

  private async detachEndpoint(n: NetworkRecord, e: EndpointRecord): Promise<void> {
    this.dns.removeEndpoint(n.id, e.id);
    await this.driver.detach(n, e.request, e.info);
    await this.commit(() => {
      this.state.endpoints = this.state.endpoints.filter((x) => x.id !== e.id);
    });
  }

  // ---------------------------------------------------------------- sandbox pool

  /**
   * Hands `containerId` a spare sandbox of the pool, already on the default network, instead of
   * making a namespace and running CNI ADD while the container starts: for containers that ask
   * for the default network only, with no published port and no fixed address. Undefined when
   * the request doesn't qualify or the pool is empty (the caller then makes its own). The
   * taking is recorded (endpoint owner, container to sandbox name) before it is returned, so
   * from then on the sandbox is the container's, for removal and recovery alike.
   */
  async takeSandbox(containerId: string, network: string, opts: ConnectOptions = {}): Promise<{ netnsPath: string; result: ConnectResult } | undefined> {
    if (this.options.sandboxPool <= 0 || network !== DEFAULT_NETWORK || opts.portMappings?.length || opts.ipv4Address || opts.macAddress || opts.ifName) return undefined;
    const taken = await this.commit(() => {
      const n = this.state.networks.find((x) => x.name === DEFAULT_NETWORK);
      if (!n || this.state.endpoints.some((e) => ownerOf(e) === containerId)) return undefined;
      const e = this.state.endpoints.find((x) => isSpare(x) && x.networkId === n.id && x.state === 'attached' && x.info);
      if (!e) return undefined;
      e.owner = containerId;
      e.names = [...new Set([opts.name, ...(opts.aliases ?? []), containerId.slice(0, 12)].filter((x): x is string => !!x))];
      (this.state.sandboxes ??= {})[containerId] = e.request.containerId;
      return { n, e };
    });
    this.schedulePoolRefill();
    if (!taken) return undefined;
    const { n, e } = taken;
    const info = e.info!;
    const result: ConnectResult = {
      mode: 'bridge',
      networkId: n.id,
      networkName: n.name,
      endpointId: e.id,
      ifName: info.ifName,
      ipAddress: info.ipAddress,
      prefixLength: info.prefixLength,
      macAddress: info.macAddress,
      ports: [],
    };
    if (info.gateway) result.gateway = info.gateway;
    for (const listener of this.connectListeners) await listener(containerId, result);
    return { netnsPath: e.request.netnsPath, result };
  }

  /**
   * The pool is filled only while `busy` says no container is being created, started or ended:
   * a refill (unshare, CNI ADD: Go programs) competes for the CPU with that container's own
   * start-up. Idle gaps (a CLI starting) are enough.
   */
  deferPoolRefillWhile(busy: () => boolean): void {
    this.poolBusy = busy;
  }

  /** Fills the pool a little later, one sandbox at a time, unless it is full or filling. */
  private schedulePoolRefill(): void {
    if (this.options.sandboxPool <= 0 || this.closing || this.poolTimer || this.poolFill) return;
    this.poolTimer = setTimeout(() => {
      this.poolTimer = undefined;
      this.poolFill = this.fillPool().finally(() => (this.poolFill = undefined));
    }, POOL_REFILL_DELAY_MS);
    this.poolTimer.unref();
  }

  private async fillPool(): Promise<void> {
    while (!this.closing && this.state.endpoints.filter(isSpare).length < this.options.sandboxPool) {
      if (this.poolBusy()) {
        await new Promise((r) => setTimeout(r, POOL_BUSY_RECHECK_MS).unref());
        continue;
      }
      try {
        await this.makeSpare();
      } catch {
        // The pool is an optimisation: containers make their own sandbox meanwhile.
        return;
      }
    }
  }

  /**
   * One spare sandbox: like a container's (namespace, then an endpoint recorded as attaching
   * before CNI ADD), named `pool-<hex>`, so a crash at any point leaves what recovery removes.
   */
  private async makeSpare(): Promise<void> {
    const name = `${POOL_PREFIX}${randomBytes(12).toString('hex')}`;
    const netnsPath = await this.netns.create(name);
    let endpoint: EndpointRecord | undefined;
    try {
      const record = await this.commit(async () => {
        const n = await this.ensureDefaultNetworkLocked();
        endpoint = await this.reserveEndpointLocked(n, name, netnsPath, {}, true);
        return n;
      });
      const info = await this.driver.attach(record, endpoint!.request);
      await this.commit(() => {
        endpoint!.state = 'attached';
        endpoint!.info = info;
      });
    } catch (err) {
      await this.netns.remove(name).catch(() => undefined);
      const e = endpoint;
      if (e) {
        const n = this.state.networks.find((x) => x.id === e.networkId);
        if (n) await this.driver.detach(n, e.request, e.info).catch(() => undefined);
        await this.commit(() => {
          this.state.endpoints = this.state.endpoints.filter((x) => x.id !== e.id);
        });
      }
      throw err;
    }
  }

  /** Removes a spare sandbox: its namespace, then its lease (the veth went with the namespace). */
  private async dropSpare(e: EndpointRecord): Promise<void> {
    await this.netns.remove(e.request.containerId);
    const n = this.state.networks.find((x) => x.id === e.networkId);
    if (n) await this.detachEndpoint(n, e);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Brings the host in line with the persisted state after a start: re-creates bridges, forward
   * rules and DNS listeners; detaches endpoints of containers not in `liveContainerIds` and
   * endpoints a crash left half attached; drops address leases and network namespaces nobody
   * owns, bridges of ours no network owns, and bridges of daemons whose data root is gone.
   */
  async recover(liveContainerIds: readonly string[]): Promise<void> {
    const live = new Set(liveContainerIds);
    await this.serial(async () => {
      await this.ensureDefaultNetworkLocked();
      await this.driver.apply(this.state.networks);
      await this.firewall.promote();
      await this.removeStrayBridgesLocked();
      // Claims of ours no network holds: a state lost (a data root removed by hand and used
      // again) would otherwise keep its subnets from every daemon of the host for good.
      await this.claims.releaseAllBut(this.state.networks.map((n) => n.subnet));
    });
    // Spare pool sandboxes are not kept: the pool is filled again when containers use it.
    for (const e of [...this.state.endpoints]) {
      if (live.has(ownerOf(e)) && e.state === 'attached') continue;
      const n = this.state.networks.find((x) => x.id === e.networkId);
      if (n) await this.driver.detach(n, e.request, e.info).catch(() => undefined);
      await this.serial(async () => {
        this.state.endpoints = this.state.endpoints.filter((x) => x.id !== e.id);
        await this.save();
      });
    }
    // Endpoints of containers that kept running are kept, and made whole: veths back in their
    // bridge; an endpoint whose veth is gone is made again with the same address.
    for (const e of [...this.state.endpoints]) {
      const n = this.state.networks.find((x) => x.id === e.networkId);
      if (!n || !e.info) continue;
      if (await this.driver.repair(n, e.info).catch(() => true)) continue;
      await this.driver.detach(n, e.request, e.info).catch(() => undefined);
      try {
        const info = await this.driver.attach(n, { ...e.request, ipv4Address: e.request.ipv4Address ?? e.info.ipAddress });
        await this.serial(async () => {
          e.info = info;
          await this.save();
        });
      } catch {
        // The sandbox is unusable; the container keeps its record and is repaired at its next start.
      }
    }
    await this.serial(async () => {
      for (const n of this.state.networks) {
        if (!n.dns) continue;
        await this.dns.listen(n.id, n.name, n.gateway, n.subnet);
        for (const e of this.state.endpoints) {
          if (e.networkId === n.id && e.info) this.dns.addEndpoint(n.id, e.id, e.names, e.info.ipAddress, ownerOf(e), e.dnsServers);
        }
      }
      await this.removeStrayLeasesLocked();
    });
    const sandboxes = this.state.sandboxes ?? {};
    const kept = new Set([...live].map((id) => sandboxes[id] ?? id));
    for (const id of await this.netns.list()) {
      if (!kept.has(id)) await this.netns.remove(id);
    }
    await this.serial(async () => {
      for (const id of Object.keys(sandboxes)) if (!live.has(id)) delete sandboxes[id];
      await this.save();
    });
  }

  private async removeStrayBridgesLocked(): Promise<void> {
    const links = JSON.parse(await execOk('ip', ['-j', 'link', 'show', 'type', 'bridge'])) as { ifname?: string; ifalias?: string }[];
    const ours = new Set(this.state.networks.map((n) => n.bridge));
    for (const link of links) {
      const name = link.ifname;
      if (!name || ours.has(name)) continue;
      // Bridges this daemon made (its state dir is their alias) and no network of its owns.
      const stray = link.ifalias === this.options.root && name.startsWith(this.options.bridgePrefix);
      // Bridges of a daemon whose data root is gone: nobody would ever remove them, and the
      // route of each gateway keeps its subnet from every daemon of the host. Those of daemons
      // that still have a data root are theirs, running or not.
      const orphaned = link.ifalias !== undefined && link.ifalias !== this.options.root && (await isDeadOwner(link.ifalias));
      if (stray || orphaned) await execOk('ip', ['link', 'del', 'dev', name]).catch(() => undefined);
      // A dead daemon's default bridge names its firewall chains too (see namesForTag):
      // their jumps would stay at the top of FORWARD and POSTROUTING for every packet.
      const tag = orphaned ? DEFAULT_BRIDGE_OF_TAG.exec(name)?.[1] : undefined;
      if (tag) await new BridgeFirewall(namesForTag(tag).firewallChainPrefix).remove();
    }
  }

  /** host-local keeps one file per lease, named by address, holding `<container id>\r\n<ifname>`. */
  private async removeStrayLeasesLocked(): Promise<void> {
    let dirs: string[];
    try {
      dirs = await readdir(this.ipamDir);
    } catch {
      return;
    }
    for (const dir of dirs) {
      const n = this.state.networks.find((x) => x.id === dir);
      const full = path.join(this.ipamDir, dir);
      if (!n) {
        await rm(full, { recursive: true, force: true });
        continue;
      }
      const owners = new Set(this.state.endpoints.filter((e) => e.networkId === n.id).map((e) => e.request.containerId));
      for (const file of await readdir(full)) {
        if (parseIpv4(file) === undefined) continue;
        const owner = (await readFile(path.join(full, file), 'utf8')).split(/\r?\n/)[0]?.trim() ?? '';
        if (!owners.has(owner)) await rm(path.join(full, file), { force: true });
      }
    }
  }

  /**
   * Stops the DNS listeners and empties the sandbox pool (daemon shutdown); networks and
   * containers stay as they are.
   */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.poolTimer);
    await this.poolFill;
    for (const e of this.state.endpoints.filter(isSpare)) await this.dropSpare(e).catch(() => undefined);
    await this.dns.close();
  }

  /**
   * Removes everything this manager made: endpoints, networks including the default one, forward
   * rules, namespaces, leases and the state file (uninstall, tests).
   */
  async teardown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.poolTimer);
    await this.poolFill;
    for (const e of [...this.state.endpoints]) {
      const n = this.state.networks.find((x) => x.id === e.networkId);
      if (n) await this.detachEndpoint(n, e).catch(() => undefined);
    }
    await this.serial(async () => {
      await this.dns.close();
      const networks = this.state.networks;
      this.state.networks = [];
      this.state.endpoints = [];
      await this.save();
      await this.firewall.remove();
      for (const n of networks) await this.driver.destroy(n);
      await removeIdlePortmapChains();
      await this.netns.removeAll();
      await rm(this.ipamDir, { recursive: true, force: true });
      await rm(this.stateFile, { force: true });
    });
  }
}

/**
 * The host-wide names of a daemon on a data root other than the default one, after its tag (the
 * first 8 hex digits of the data root's sha256, see agent.ts): its default bridge and the prefix
 * of its firewall chains.
 */
export function namesForTag(tag: string): { defaultBridgeName: string; firewallChainPrefix: string } {
  return { defaultBridgeName: `tscb${tag}`, firewallChainPrefix: `TSC${tag.toUpperCase()}` };
}

const DEFAULT_BRIDGE_OF_TAG = /^tscb([0-9a-f]{8})$/;

/** Whether a bridge's alias names the network state dir of a daemon whose data root is gone. */
async function isDeadOwner(alias: string): Promise<boolean> {
  if (!path.isAbsolute(alias) || path.basename(alias) !== 'network') return false;
  try {
    await fsp.access(path.dirname(alias));
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

// Messages Docker's daemon gives word for word (scripts match on them) go without the room prefix.
function alreadyExistsError(name: string) {
  return alreadyExists(`network with name ${name} already exists`);
}

/**
 * Host-wide claims on subnets, so daemons on other data roots never pick the same one: a claim is
 * a file under /run/tscompose/subnets created exclusively, naming the owner's state directory.
 * A claim whose owner directory is gone (a test daemon removed) is stale and taken over.
 */
export class SubnetClaims {
  static readonly DIR = '/run/tscompose/subnets';

  constructor(private readonly owner: string) {}

  private file(cidr: string): string {
    return path.join(SubnetClaims.DIR, cidr.replace('/', '_'));
  }

  async claim(cidr: string): Promise<boolean> {
    await fsp.mkdir(SubnetClaims.DIR, { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fsp.writeFile(this.file(cidr), this.owner, { flag: 'wx' });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = await fsp.readFile(this.file(cidr), 'utf8').catch(() => '');
        if (holder === this.owner) return true;
        const alive = holder !== '' && (await fsp.stat(holder).then(() => true, () => false));
        if (alive) return false;
        await fsp.rm(this.file(cidr), { force: true });
      }
    }
    return false;
  }

  async release(cidr: string): Promise<void> {
    const holder = await fsp.readFile(this.file(cidr), 'utf8').catch(() => '');
    if (holder === this.owner) await fsp.rm(this.file(cidr), { force: true });
  }

  /** Releases every claim of ours but those of `kept`. */
  async releaseAllBut(kept: readonly string[]): Promise<void> {
    const keep = new Set(kept.map((c) => path.basename(this.file(c))));
    for (const name of await fsp.readdir(SubnetClaims.DIR).catch(() => [] as string[])) {
      if (keep.has(name)) continue;
      const file = path.join(SubnetClaims.DIR, name);
      if ((await fsp.readFile(file, 'utf8').catch(() => '')) === this.owner) await fsp.rm(file, { force: true });
    }
  }
}

/** A fixed address (`--ip`, Compose's `ipv4_address`) is for a subnet the user chose, and must lie in it. */
function checkFixedAddress(n: NetworkRecord, ipv4Address: string): void {
  if (!n.userSubnet) {
    throw invalidArgument('network: user specified IP address is supported only when connecting to networks with user configured subnets');
  }
  const ip = parseIpv4(ipv4Address);
  const subnet = parseCidr(n.subnet)!;
  if (ip === undefined || !cidrContains(subnet, ip) || ip === subnet.network || ip === lastAddress(subnet)) {
    throw invalidArgument(`network: no configured subnet or ip-range contain the IP address ${ipv4Address}`);
  }
}
