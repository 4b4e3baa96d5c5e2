/**
 * Service attributes of the Compose Specification that the loader accepts and this engine does
 * not apply. `up` (and `run`, `create`) names each one a service sets, so that a file is never
 * half-honoured in silence. An attribute without which the service cannot be what the file says
 * (a GPU) is refused instead.
 */
import { invalidArgument } from '../../common/errors';
import type { Project, ServiceConfig } from '../compose/model';

/** Attribute → what the user should know; keyed by the attribute as written in the file. */
const NOT_APPLIED: Readonly<Record<string, string>> = {
  cpu_count: 'a Windows-only setting',
  cpu_percent: 'a Windows-only setting',
  cpu_rt_period: 'real-time CPU scheduling is not applied',
  cpu_rt_runtime: 'real-time CPU scheduling is not applied',
  credential_spec: 'a Windows-only setting',
  isolation: 'a Windows-only setting',
  models: 'model runners are not provided',
  provider: 'provider services are not run',
  pull_refresh_after: 'images are pulled by pull_policy alone',
  storage_opt: 'the writable layer has no size limit',
  use_api_socket: 'no engine API socket is mounted',
};

/** `build` settings the builder does not apply. */
const BUILD_NOT_APPLIED: Readonly<Record<string, string>> = {
  cache_from: 'no cache is imported; the local build cache is used',
  cache_to: 'no cache is exported',
  entitlements: 'no entitlements are granted',
  isolation: 'a Windows-only setting',
  privileged: 'RUN steps are never privileged',
  shm_size: 'RUN steps get the default /dev/shm',
  ulimits: 'RUN steps get the default limits',
};

/** One warning per `build` setting of the service the builder does not apply (`build` prints them too). */
export function unsupportedBuildAttributes(service: ServiceConfig): string[] {
  const build = (service.build ?? {}) as unknown as Record<string, unknown>;
  const warnings: string[] = [];
  for (const [attribute, why] of Object.entries(BUILD_NOT_APPLIED)) {
    const value = build[attribute];
    if (!isSet(value)) continue;
    warnings.push(`service "${service.name}": build.${attribute} is ignored: ${why}`);
  }
  return warnings;
}

/** Per-network attachment settings the engine does not apply (it has no IPv6 and one interface name scheme). */
const NETWORK_NOT_APPLIED: Readonly<Record<string, string>> = {
  gw_priority: 'the gateway is the first network that is not internal',
  interface_name: 'interfaces are named eth0, eth1, … in attachment order',
  ipv6_address: 'networks have no IPv6',
  link_local_ips: 'link-local addresses are not assigned',
};

/** `deploy` settings, Swarm's, that a one-host engine without service objects does not apply. */
const DEPLOY_NOT_APPLIED: Readonly<Record<string, string>> = {
  labels: 'there is no service object to carry them; use labels, which go on the containers',
  'placement.preferences': 'replicas are spread by their count alone',
  'resources.reservations.generic_resources': 'generic resources are not tracked',
  rollback_config: 'there are no automatic rollbacks',
  update_config: 'a changed service is recreated at once, as Compose does, not rolled one batch at a time',
};

/** The value at a dotted path (`placement.preferences`) of a map, if every step is a map. */
function valueAt(map: unknown, dotted: string): unknown {
  let value = map;
  for (const key of dotted.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** Whether the file sets an attribute: not absent, null, false or an empty list. */
function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false && !(Array.isArray(value) && value.length === 0);
}

/**
 * One warning per attribute the service sets and this engine doesn't apply. Throws for what it
 * cannot run as asked without losing what the file requires: a GPU, or an OCI runtime other than
 * runc (a sandboxing runtime such as runsc or kata is not quietly replaced by runc).
 */
export function unsupportedAttributes(service: ServiceConfig): string[] {
  const gpuRequest = (service.gpus?.length ?? 0) > 0 || (service.deploy?.resources?.reservations?.devices?.length ?? 0) > 0;
  if (gpuRequest) throw invalidArgument(`service "${service.name}": GPU devices were requested, and this engine has no device driver for them`);
  if (service.runtime !== undefined && service.runtime !== 'runc') {
    throw invalidArgument(`service "${service.name}": runtime ${JSON.stringify(service.runtime)} is not available: this engine runs containers with runc only`);
  }
  const warnings: string[] = [];
  const set = service as unknown as Record<string, unknown>;
  for (const [attribute, why] of Object.entries(NOT_APPLIED)) {
    const value = set[attribute];
    if (!isSet(value)) continue;
    warnings.push(`service "${service.name}": ${attribute} is ignored: ${why}`);
  }
  warnings.push(...unsupportedBuildAttributes(service));
  for (const [network, attachment] of Object.entries(service.networks ?? {})) {
    const set = (attachment ?? {}) as Record<string, unknown>;
    for (const [attribute, why] of Object.entries(NETWORK_NOT_APPLIED)) {
      const value = set[attribute];
      if (!isSet(value)) continue;
      warnings.push(`service "${service.name}": networks.${network}.${attribute} is ignored: ${why}`);
    }
  }
  for (const [attribute, why] of Object.entries(DEPLOY_NOT_APPLIED)) {
    const value = valueAt(service.deploy, attribute);
    // An empty map (`rollback_config: {}`) asks for nothing either.
    if (!isSet(value) || (typeof value === 'object' && Object.keys(value as object).length === 0)) continue;
    warnings.push(`service "${service.name}": deploy.${attribute} is ignored: ${why}`);
  }
  if (service.deploy?.endpoint_mode === 'vip') {
    warnings.push(`service "${service.name}": deploy.endpoint_mode vip is ignored: the service name resolves to its containers' addresses (dnsrr)`);
  }
  if (service.deploy?.mode === 'replicated-job' || service.deploy?.mode === 'global-job') {
    warnings.push(`service "${service.name}": deploy.mode ${service.deploy.mode} runs as ${service.deploy.mode.slice(0, -4)}: its containers start once, under the service's restart policy, with no completion count`);
  }
  if (service.userns_mode !== undefined && service.userns_mode !== 'host') {
    warnings.push(`service "${service.name}": userns_mode is ignored: user namespaces are not remapped`);
  }
  return warnings;
}

/** Docker bridge options with an effect Docker gives them and this engine's CNI bridge does not. */
const BRIDGE_OPTIONS_NOT_APPLIED: ReadonlySet<string> = new Set([
  'com.docker.network.bridge.enable_icc',
  'com.docker.network.bridge.enable_ip_masquerade',
  'com.docker.network.bridge.host_binding_ipv4',
  'com.docker.network.bridge.gateway_mode_ipv4',
  'com.docker.network.bridge.inhibit_ipv4',
]);

/** One warning per project-level attribute (networks, configs, secrets) the engine doesn't apply. */
export function unsupportedProjectAttributes(project: Project): string[] {
  const warnings: string[] = [];
  for (const [key, net] of Object.entries(project.networks)) {
    if (net.external) continue;
    if (net.enable_ipv6) warnings.push(`network "${key}": enable_ipv6 is ignored: networks have no IPv6`);
    if ((net.ipam?.config?.length ?? 0) > 1) warnings.push(`network "${key}": ipam.config is used up to its first entry: a network has one subnet`);
    if (net.ipam?.config?.some((c) => Object.keys(c.aux_addresses ?? {}).length > 0)) warnings.push(`network "${key}": ipam.config.aux_addresses is ignored: addresses are not reserved`);
    if (net.ipam?.driver !== undefined && net.ipam.driver !== 'default') warnings.push(`network "${key}": ipam.driver is ignored: addresses come from the engine's own IPAM`);
    for (const option of Object.keys(net.driver_opts ?? {}).sort()) {
      if (BRIDGE_OPTIONS_NOT_APPLIED.has(option)) warnings.push(`network "${key}": driver_opts ${option} is ignored by this engine's bridge`);
    }
  }
  for (const [kind, objects] of [['config', project.configs], ['secret', project.secrets]] as const) {
    for (const [key, object] of Object.entries(objects)) {
      if (object.template_driver !== undefined) warnings.push(`${kind} "${key}": template_driver is ignored: the content is used as it is`);
    }
  }
  return warnings;
}
