/**
 * Container networking: Docker-style networks on Linux bridges made with the CNI reference
 * plugins, published ports, per-network embedded DNS, and persistent network namespaces.
 * The daemon uses `NetworkManager`; the rest is exported for tests and other drivers.
 */
export {
  NetworkManager,
  namesForTag,
  DEFAULT_NETWORK,
  HOST_NETWORK,
  NONE_NETWORK,
  OPTION_BRIDGE_NAME,
  OPTION_MTU,
  type NetworkManagerOptions,
  type CreateNetworkRequest,
  type NetworkRecord,
  type NetworkInfo,
  type NetworkEndpointView,
  type ConnectOptions,
  type ConnectResult,
} from './manager';
export type { NetworkDriver, NetworkSpec, AttachRequest, EndpointInfo } from './driver';
export { CniBridgeDriver, type CniBridgeDriverOptions } from './bridge';
export { CniRuntime, CNI_VERSION, type CniNetworkList, type CniPluginConfig, type CniResult, type CniAttachment } from './cni';
export { EmbeddedDns, type DnsRecordSet, type DnsServerOptions } from './dns';
export { NetnsStore } from './netns';
export { BridgeFirewall, removeIdlePortmapChains, sweepCniRulesOf, type FirewalledBridge } from './firewall';
export {
  allocatePorts,
  probeHostPort,
  DEFAULT_EPHEMERAL_RANGE,
  type PortMapping,
  type PortRequest,
  type PortProtocol,
  type PortRange,
} from './ports';
export { pickFreeSubnet, hostPrefixes, parseCidr, formatCidr, cidrsOverlap, type Cidr, type SubnetPool } from './ipv4';
