import type { CniResult } from './cni';
import type { PortMapping } from './ports';

/**
 * How a container gets onto a network. The vocabulary, as Docker's libnetwork uses it:
 *
 * - network: a named layer-2 segment with an IPv4 subnet and a gateway; for the `bridge`
 *   driver, one Linux bridge on the host whose address is the gateway.
 * - sandbox: a container's network namespace (a file path: see `NetnsStore`).
 * - endpoint: one network interface of one sandbox on one network (a veth pair whose host end
 *   is a bridge port), with its leased address. A container on three networks has three.
 * - attach / detach: creating / destroying an endpoint. For CNI drivers these are CNI ADD / DEL
 *   of a plugin list; DEL must be given the same request as ADD, so callers keep the request.
 * - published port: a host (ip, port, protocol) forwarded to a container port of an endpoint.
 * - internal network: no route out and no traffic in or out of the segment, only within it.
 *
 * A driver holds no state of its own: the caller (the NetworkManager) persists networks and
 * endpoints and hands them back, so a restarted daemon can detach what an earlier one attached.
 */
export interface NetworkDriver {
  readonly type: string;

  /**
   * Makes the host match `networks`, the full list of this driver's networks: the host side
   * (bridge, gateway address) of each of `changed` (default: all of them) exists, and shared
   * state such as forward rules covers exactly `networks`. Idempotent; used at recovery (all),
   * after a create (the new one) and after a remove (none).
   */
  apply(networks: readonly NetworkSpec[], changed?: readonly NetworkSpec[]): Promise<void>;

  /** Removes the host side of one network that `apply` no longer lists (bridge, leases). */
  destroy(network: NetworkSpec): Promise<void>;

  /** Creates the endpoint described by `request` and reports what it got. */
  attach(network: NetworkSpec, request: AttachRequest): Promise<EndpointInfo>;

  /**
   * Destroys an endpoint, releasing its address lease and published ports. Tolerates an endpoint
   * that is half made or already gone, and a sandbox that no longer exists.
   */
  detach(network: NetworkSpec, request: AttachRequest, attached?: EndpointInfo): Promise<void>;
}

/** What a driver needs to know about a network. */
export interface NetworkSpec {
  id: string;
  name: string;
  /** Host interface name of the bridge. */
  bridge: string;
  /** IPv4 CIDR, e.g. `10.89.0.0/24`. */
  subnet: string;
  gateway: string;
  /** Sub-range of the subnet addresses are leased from (`--ip-range`). */
  ipRange?: string;
  internal: boolean;
  mtu?: number;
}

export interface AttachRequest {
  containerId: string;
  netnsPath: string;
  /** Interface name inside the sandbox, e.g. `eth0`. */
  ifName: string;
  /** A fixed address (`--ip`) instead of the next free one. */
  ipv4Address?: string;
  /** A fixed MAC address (`--mac-address`) instead of a random one. */
  macAddress?: string;
  /** Already decided host sides (see `allocatePorts`). */
  portMappings: PortMapping[];
  /**
   * This endpoint gives the sandbox its default route (the container's primary network, as
   * Docker's gateway endpoint): only one endpoint per sandbox does, and never on an internal
   * network. Absent in requests persisted before it existed: then it did, unless internal.
   */
  defaultGateway?: boolean;
  /**
   * The network's own NAT rule (see `BridgeFirewall`) masquerades this endpoint's traffic, so the
   * bridge plugin adds no per-endpoint rules. Absent in requests persisted before it existed:
   * those endpoints have the plugin's rules, and DEL must be told to remove them.
   */
  networkMasquerade?: boolean;
}

export interface EndpointInfo {
  ifName: string;
  ipAddress: string;
  prefixLength: number;
  /** The network's gateway; absent on internal networks: they have no route out. */
  gateway?: string;
  /** The sandbox's default route goes through this endpoint (see `AttachRequest.defaultGateway`). */
  defaultRoute?: boolean;
  /** Host end of the veth pair, in the bridge. */
  hostIfName?: string;
  macAddress: string;
  /** The CNI ADD result, needed again at DEL. */
  cniResult?: CniResult;
}
