/** Docker's JSON shapes of a container: `inspect` documents and `ps` summaries. */
import * as path from 'node:path';
import type { ContainerSummary, MountSpec, PortBinding } from '../../common/rpc/engine-types';
import { healthcheckJson, type ContainerRecord } from './record';
import { DEFAULT_BRIDGE, splitLink } from './links';
import { goMap } from '../../common/gomap';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../runtime';

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '0001-01-01T00:00:00Z');

export function portMap(c: ContainerRecord): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const e of c.config.exposedPorts) out[e] = null;
  for (const p of c.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
  }
  return out;
}

/** HostConfig.Devices' entry for a `--device HOST[:CONTAINER][:PERMISSIONS]`, as Docker's CLI parses it. */
function deviceMapping(device: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [host = '', second, third] = device.split(':');
  let container = '';
  let permissions = 'rwm';
  if (third !== undefined) {
    container = second ?? '';
    permissions = third;
  } else if (second !== undefined) {
    if (/^[rwm]{1,3}$/.test(second)) permissions = second;
    else container = second;
  }
  return { PathOnHost: host, PathInContainer: container || host, CgroupPermissions: permissions };
}

/** HostConfig.PortBindings: every binding asked for, a port's several in the order given. */
function portBindings(ports: PortBinding[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    const hostPort = p.host_port ? ((p.host_port_end ?? 0) > p.host_port ? `${p.host_port}-${p.host_port_end}` : String(p.host_port)) : '';
    (out[`${p.container_port}/${p.protocol || 'tcp'}`] ??= []).push({ HostIp: p.host_ip, HostPort: hostPort });
  }
  return out;
}

/**
 * HostConfig.Binds: `-v`'s values as given, not an anonymous volume's (that is in Config.Volumes);
 * null when there is none.
 * A mount no run flag asked for (Compose's) is written as `-v` would give it.
 */
function binds(mounts: MountSpec[]): string[] | null {
  const out = mounts
    .filter((m) => (m.flag ?? '') === '' || m.flag === 'volume')
    .filter((m) => m.type === 'bind' || (m.type === 'volume' && m.source !== ''))
    .map((m) => (m.flag === 'volume' ? m.flag_value : `${m.source}:${m.target}${m.read_only ? ':ro' : ''}`));
  return out.length > 0 ? out : null;
}

/** Config.Volumes: the image's VOLUMEs and `-v`'s anonymous volumes, as given; a Go map, so sorted. */
function configVolumes(c: ContainerRecord): Record<string, object> | null {
  const anonymous = c.spec.mounts.filter((m) => m.flag === 'volume' && m.type === 'volume' && m.source === '').map((m) => m.flag_value);
  const paths = [...new Set([...c.config.imageVolumes, ...anonymous])].sort();
  return paths.length > 0 ? Object.fromEntries(paths.map((p) => [p, {}])) : null;
}

/** HostConfig.Tmpfs: `--tmpfs`'s path and options as given; left out, as by Docker, when there is none. */
function tmpfs(mounts: MountSpec[]): Record<string, string> | undefined {
  const entries = mounts
    .filter((m) => m.type === 'tmpfs' && ((m.flag ?? '') === '' || m.flag === 'tmpfs'))
    .map((m): [string, string] => {
      if (m.flag !== 'tmpfs') return [m.target, ''];
      const colon = m.flag_value.indexOf(':');
      return colon === -1 ? [m.flag_value, ''] : [m.flag_value.slice(0, colon), m.flag_value.slice(colon + 1)];
    });
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** HostConfig.Mounts: `--mount`'s mounts as Docker's API has them; left out when there is none. */
function apiMounts(mounts: MountSpec[]): unknown[] | undefined {
  const out = mounts.filter((m) => m.flag === 'mount').map((m) => JSON.parse(m.flag_value) as unknown);
  return out.length > 0 ? out : undefined;
}

/**
 * HostConfig.SecurityOpt: the options as given (seccomp=FILE arrives as the profile's JSON), or
 * null. As Docker's create does, a container sharing the host's IPC or PID namespace, or a
 * privileged one, also gets `label=disable` unless a `label` option was given.
 */
function securityOpt(spec: ContainerRecord['spec']): string[] | null {
  const opts = [...spec.security_opt];
  const hostNamespaces = spec.privileged || spec.ipc_mode === 'host' || spec.pid_mode === 'host';
  if (hostNamespaces && !opts.some((o) => o.split('=')[0] === 'label')) opts.push('label=disable');
  return opts.length > 0 ? opts : null;
}

/**
 * A network's Aliases as Docker 20.10 shows them: those given, and on a user-defined network,
 * once the container has run there, its short ID (DNS resolves it there too).
 */
function aliasesOn(c: ContainerRecord, network: string, given: readonly string[]): string[] | null {
  const userDefined = network !== DEFAULT_BRIDGE && network !== 'host' && network !== 'none';
  const aliases = userDefined && c.state.startedAt > 0 ? [...given, c.id.slice(0, 12)] : [...given];
  return aliases.length > 0 ? aliases : null;
}

/**
 * HostConfig.MaskedPaths or ReadonlyPaths: none (null) for a privileged container, empty with
 * `--security-opt systempaths=unconfined` (validated at create), else the defaults.
 */
function systemPaths(spec: ContainerRecord['spec'], defaults: readonly string[]): readonly string[] | null {
  if (spec.privileged) return null;
  return spec.security_opt.some((o) => o === 'systempaths=unconfined' || o === 'systempaths:unconfined') ? [] : defaults;
}

export function inspectContainer(c: ContainerRecord, dirs: { containerDir: string; upperDir: string; rootfs: string }): Record<string, unknown> {
  const s = c.state;
  const args = [...c.config.entrypoint, ...c.config.cmd];
  const spec = c.spec;
  return {
    Id: c.id,
    Created: iso(c.created),
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: s.status,
      Running: s.status === 'running' || s.status === 'paused',
      Paused: s.status === 'paused',
      Restarting: s.status === 'restarting',
      OOMKilled: s.oomKilled,
      Dead: s.status === 'dead',
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: iso(s.startedAt),
      FinishedAt: iso(s.finishedAt),
      ...(s.health
        ? {
            Health: {
              Status: s.health.status,
              FailingStreak: s.health.failingStreak,
              Log: s.health.log.map((l) => ({ Start: iso(l.start), End: iso(l.end), ExitCode: l.exitCode, Output: l.output })),
            },
          }
        : {}),
    },
    Image: c.imageId,
    ResolvConfPath: path.join(dirs.containerDir, 'etc', 'resolv.conf'),
    HostnamePath: path.join(dirs.containerDir, 'etc', 'hostname'),
    HostsPath: path.join(dirs.containerDir, 'etc', 'hosts'),
    LogPath: c.logPath,
    Name: `/${c.name}`,
    RestartCount: s.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    // In the order and with the defaults of Docker 20.10's HostConfig; its omitempty fields
    // (Tmpfs, Init, Sysctls, Mounts, Annotations) only when set.
    HostConfig: {
      Binds: binds(spec.mounts),
      ContainerIDFile: '',
      LogConfig: { Type: spec.log_driver || 'json-file', Config: goMap(spec.log_options ?? {}) },
      NetworkMode: spec.network_mode || 'bridge',
      PortBindings: goMap(portBindings(spec.ports)),
      RestartPolicy: { Name: spec.restart_policy.name || 'no', MaximumRetryCount: spec.restart_policy.max_retries },
      AutoRemove: spec.auto_remove,
      VolumeDriver: '',
      VolumesFrom: spec.volumes_from.length > 0 ? spec.volumes_from : null,
      CapAdd: spec.cap_add.length > 0 ? spec.cap_add : null,
      CapDrop: spec.cap_drop.length > 0 ? spec.cap_drop : null,
      CgroupnsMode: spec.cgroupns_mode || 'host',
      Dns: spec.dns,
      DnsOptions: spec.dns_options,
      DnsSearch: spec.dns_search,
      ExtraHosts: spec.extra_hosts.length > 0 ? spec.extra_hosts : null,
      GroupAdd: spec.group_add.length > 0 ? spec.group_add : null,
      IpcMode: spec.ipc_mode || 'private',
      Cgroup: '',
      Links: spec.links.length > 0 ? spec.links.map(splitLink).map(({ target, alias }) => `/${target}:/${c.name}/${alias}`) : null,
      OomScoreAdj: spec.oom_score_adj,
      PidMode: spec.pid_mode,
      Privileged: spec.privileged,
      PublishAllPorts: spec.publish_all,
      ReadonlyRootfs: spec.read_only,
      SecurityOpt: securityOpt(spec),
      Tmpfs: goMap(tmpfs(spec.mounts)),
      UTSMode: spec.uts_mode ?? '',
      UsernsMode: '',
      ShmSize: spec.resources.shm_size || 64 * 1024 * 1024,
      Sysctls: Object.keys(spec.sysctls).length > 0 ? goMap(spec.sysctls) : undefined,
      Runtime: 'runc',
      ConsoleSize: [0, 0],
      Isolation: '',
      CpuShares: spec.resources.cpu_shares,
      Memory: spec.resources.memory,
      NanoCpus: spec.resources.nano_cpus,
      CgroupParent: spec.cgroup_parent ?? '',
      BlkioWeight: spec.resources.blkio_weight ?? 0,
      BlkioWeightDevice: (spec.resources.blkio_weight_device ?? []).map((d) => ({ Path: d.path, Weight: d.rate })),
      BlkioDeviceReadBps: (spec.resources.device_read_bps ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      BlkioDeviceWriteBps: (spec.resources.device_write_bps ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      BlkioDeviceReadIOps: (spec.resources.device_read_iops ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      BlkioDeviceWriteIOps: (spec.resources.device_write_iops ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      CpuPeriod: spec.resources.cpu_period,
      CpuQuota: spec.resources.cpu_quota,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: spec.resources.cpuset_cpus,
      CpusetMems: spec.resources.cpuset_mems ?? '',
      Devices: spec.devices.map(deviceMapping),
      DeviceCgroupRules: spec.device_cgroup_rules.length > 0 ? spec.device_cgroup_rules : null,
      DeviceRequests: null,
      KernelMemory: 0,
      KernelMemoryTCP: 0,
      MemoryReservation: spec.resources.memory_reservation,
      MemorySwap: spec.resources.memory_swap,
      // Records made before the field existed have none: not set.
      MemorySwappiness: (spec.resources.memory_swappiness ?? -1) >= 0 ? spec.resources.memory_swappiness : null,
      OomKillDisable: spec.resources.oom_kill_disable,
      PidsLimit: spec.resources.pids_limit || null,
      Ulimits: spec.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      Mounts: apiMounts(spec.mounts),
      MaskedPaths: systemPaths(spec, DEFAULT_MASKED_PATHS),
      ReadonlyPaths: systemPaths(spec, DEFAULT_READONLY_PATHS),
      Init: spec.init || undefined,
      Annotations: spec.annotations && Object.keys(spec.annotations).length > 0 ? goMap(spec.annotations) : undefined,
    },
    GraphDriver: { Name: 'overlay2', Data: { MergedDir: dirs.rootfs, UpperDir: dirs.upperDir, WorkDir: path.join(path.dirname(dirs.upperDir), 'work') } },
    Mounts: c.mounts
      .filter((m) => m.type !== 'tmpfs')
      .map((m) =>
        m.type === 'volume'
          ? { Type: 'volume', Name: m.source, Source: m.hostPath ?? '', Destination: m.target, Driver: 'local', Mode: m.readOnly ? 'ro' : 'z', RW: !m.readOnly, Propagation: '' }
          : { Type: 'bind', Source: m.source, Destination: m.target, Mode: m.readOnly ? 'ro' : '', RW: !m.readOnly, Propagation: m.propagation ?? 'rprivate' },
      ),
    Config: {
      Hostname: c.config.hostname,
      Domainname: spec.domainname,
      User: c.config.user,
      AttachStdin: spec.open_stdin,
      AttachStdout: true,
      AttachStderr: true,
      // Fields of Docker's container.Config marked omitempty are left out when empty.
      ExposedPorts: c.config.exposedPorts.length > 0 ? goMap(Object.fromEntries(c.config.exposedPorts.map((p) => [p, {}]))) : undefined,
      Tty: spec.tty,
      OpenStdin: spec.open_stdin,
      StdinOnce: spec.stdin_once,
      Env: c.config.env.length > 0 ? c.config.env : null,
      Cmd: c.config.cmd.length > 0 ? c.config.cmd : null,
      // As Docker: as given, unset fields left out; --no-healthcheck shows as NONE.
      Healthcheck: c.config.healthcheck ? healthcheckJson(c.config.healthcheck) : spec.healthcheck.test[0] === 'NONE' ? { Test: ['NONE'] } : undefined,
      Image: c.image,
      Volumes: configVolumes(c),
      WorkingDir: c.config.workingDir,
      Entrypoint: c.config.entrypoint.length > 0 ? c.config.entrypoint : null,
      OnBuild: null,
      Labels: goMap(c.config.labels),
      // SIGTERM is the default, which Docker does not store (a signal set by the image shows).
      StopSignal: spec.stop_signal || c.config.stopSignal !== 'SIGTERM' ? c.config.stopSignal : undefined,
      ...(spec.stop_timeout >= 0 ? { StopTimeout: spec.stop_timeout } : {}),
    },
    NetworkSettings: networkSettings(c),
  };
}

/**
 * NetworkSettings as Docker 20.10 shows them. The endpoints' operational data (addresses, gateway,
 * MAC, endpoint ID) and the published ports are there only while the sandbox exists; a stopped
 * container keeps its networks' IDs, aliases and IPAM config, and its last SandboxID/SandboxKey.
 * The deprecated top-level fields are the default bridge network's, empty on any other.
 */
function networkSettings(c: ContainerRecord): Record<string, unknown> {
  // On the host's network there is no sandbox of ours, but the endpoint is there while it runs.
  const live = c.netnsPath !== '' || (c.networkMode === 'host' && (c.state.status === 'running' || c.state.status === 'paused'));
  const sandboxKey = c.netnsPath || c.lastNetnsPath || '';
  const names = c.networks.length > 0 ? c.networks : [c.networkMode === 'container' ? '' : c.networkMode].filter(Boolean);
  const networks = Object.fromEntries(
    names.map((n) => {
      const e = c.endpoints[n];
      const on = live ? e : undefined;
      const att = c.spec.networks.find((x) => x.network === n);
      return [
        n,
        {
          IPAMConfig: att?.ipv4_address ? { IPv4Address: att.ipv4_address } : null,
          Links: null,
          Aliases: aliasesOn(c, n, att?.aliases ?? []),
          NetworkID: e?.networkId ?? '',
          EndpointID: on ? on.endpointId || c.id : '',
          Gateway: on?.gateway ?? '',
          IPAddress: on?.ipAddress ?? '',
          IPPrefixLen: on?.prefixLength ?? 0,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          MacAddress: on?.macAddress ?? '',
          DriverOpts: att && Object.keys(att.driver_opts).length > 0 ? goMap(att.driver_opts) : null,
          // No names on `host` or `none`: there is no DNS there.
          DNSNames: e && n !== 'host' && n !== 'none' ? [c.name, c.id.slice(0, 12), ...(att?.aliases ?? [])] : null,
        },
      ];
    }),
  );
  const bridge = networks[DEFAULT_BRIDGE];
  return {
    Bridge: '',
    SandboxID: sandboxKey ? c.id : '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: live ? goMap(portMap(c)) : {},
    SandboxKey: sandboxKey,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: goMap(networks),
  };
}

/** One `ps` row. The CLI renders STATUS from the state fields. */
export function summarize(c: ContainerRecord, sizes?: { rw: number; rootFs: number }): ContainerSummary {
  const [path = '', ...args] = [...c.config.entrypoint, ...c.config.cmd];
  return {
    id: c.id,
    names: [c.name],
    image: c.image,
    image_id: c.imageId,
    // Docker's wording: the arguments that hold a space in single quotes, not the path.
    command: [path, ...args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' '),
    created: c.created,
    state: c.state.status,
    status: '',
    // As Docker: a container's ports are listed while it runs; a created or exited one shows none.
    ports: !['running', 'paused', 'restarting'].includes(c.state.status) ? [] : [
      ...c.ports.map((p) => ({ ip: p.hostIp || '0.0.0.0', private_port: p.containerPort, public_port: p.hostPort, type: p.protocol })),
      ...c.config.exposedPorts
        .filter((e) => !c.ports.some((p) => `${p.containerPort}/${p.protocol}` === e))
        .map((e) => ({ ip: '', private_port: Number(e.split('/')[0]), public_port: 0, type: e.split('/')[1] ?? 'tcp' })),
    ],
    labels: c.config.labels,
    size_rw: sizes?.rw ?? 0,
    size_root_fs: sizes?.rootFs ?? 0,
    networks: c.networks.length > 0 ? c.networks : [c.networkMode],
    mounts: c.mounts.filter((m) => m.type !== 'tmpfs').map((m) => m.source),
    health: c.state.status === 'running' ? (c.state.health?.status ?? '') : '',
    exit_code: c.state.exitCode,
    started_at: c.state.startedAt,
    finished_at: c.state.finishedAt,
  };
}
