import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitError } from '../../cmd/cli';
import {
  parseDetachKeys,
  parseKeyValueFile,
  parseNanoCpus,
  parsePublish,
  parseRestartPolicy,
  parseRunFlags,
  type RunFlags,
} from '../../cmd/parse/run-flags';

const noEnv = () => undefined;
const parse = (flags: RunFlags, command: string[] = [], env: (n: string) => string | undefined = noEnv) =>
  parseRunFlags('busybox', command, flags, env);

/** Asserts a run flag error: exit status 125 and Docker's message. */
function fails(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ExitError, `expected an ExitError, got ${String(err)}`);
    assert.equal(err.status, 125);
    assert.equal(err.message, message);
    return true;
  });
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'run-flags-'));
}

test('image and command: the command is everything after the image', () => {
  const { spec } = parse({}, ['sh', '-c', 'echo hi']);
  assert.equal(spec.image, 'busybox');
  assert.deepEqual(spec.cmd, ['sh', '-c', 'echo hi']);
  assert.equal(spec.cmd_set, true);
  const bare = parse({}).spec;
  assert.deepEqual(bare.cmd, []);
  assert.equal(bare.cmd_set, false);
});

test('defaults: nothing set, stop timeout unset, attached to stdout and stderr', () => {
  const { spec, options } = parse({});
  assert.equal(spec.tty, false);
  assert.equal(spec.open_stdin, false);
  assert.equal(spec.stdin_once, false);
  assert.equal(spec.auto_remove, false);
  assert.equal(spec.stop_timeout, -1);
  assert.equal(spec.network_mode, '');
  assert.deepEqual(spec.restart_policy, { name: '', max_retries: 0 });
  assert.deepEqual(spec.healthcheck.test, []);
  assert.deepEqual(options, {
    detach: false,
    attachStdin: false,
    attachStdout: true,
    attachStderr: true,
    sigProxy: true,
    detachKeys: '',
    cidfile: '',
    pull: 'missing',
    quiet: false,
  });
});

test('-d -i -t --rm --name --read-only --init --privileged -P', () => {
  const { spec, options } = parse({
    detach: true,
    interactive: true,
    tty: true,
    rm: true,
    name: 'web',
    readOnly: true,
    init: true,
    privileged: true,
    publishAll: true,
  });
  assert.equal(spec.tty, true);
  assert.equal(spec.open_stdin, true);
  // Detached: nothing attached, stdin not closed after a first detach.
  assert.equal(spec.stdin_once, false);
  assert.equal(options.detach, true);
  assert.equal(options.attachStdin, false);
  assert.equal(options.attachStdout, false);
  assert.equal(spec.auto_remove, true);
  assert.equal(spec.name, 'web');
  assert.equal(spec.read_only, true);
  assert.equal(spec.init, true);
  assert.equal(spec.privileged, true);
  assert.equal(spec.publish_all, true);
});

test('-i attached: stdin attached and closed once', () => {
  const { spec, options } = parse({ interactive: true });
  assert.equal(options.attachStdin, true);
  assert.equal(spec.stdin_once, true);
});

test('-a picks the streams; -a with -d conflicts; bad stream names', () => {
  const { options } = parse({ attach: ['STDERR'] });
  assert.equal(options.attachStdout, false);
  assert.equal(options.attachStderr, true);
  assert.equal(options.attachStdin, false);
  assert.equal(parse({ attach: ['stdin'] }).options.attachStdin, true);
  fails(() => parse({ attach: ['stdout'], detach: true }), 'tscompose: Conflicting options: -a and -d');
  fails(() => parse({ attach: ['foo'] }), 'invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR');
});

test('-e: values, names taken from the environment or dropped, empty names refused', () => {
  const env = (n: string) => ({ HOME_DIR: '/home/me', EMPTY: '' })[n];
  const { spec } = parse({ env: ['A=1', 'B=', 'HOME_DIR', 'MISSING', 'EMPTY', 'C=x=y'] }, [], env);
  assert.deepEqual(spec.env, ['A=1', 'B=', 'HOME_DIR=/home/me', 'EMPTY=', 'C=x=y']);
  fails(() => parse({ env: ['=x'] }), 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x');
});

test('--env-file: Docker format, files before -e, comments and blank lines skipped', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'env');
    writeFileSync(file, '\uFEFF# comment\n\nA=1\n  B= spaced value \nFROM_HOST\nNOT_SET\nQUOTED="kept"\r\n');
    const env = (n: string) => (n === 'FROM_HOST' ? 'yes' : undefined);
    const { spec } = parse({ envFile: [file], env: ['A=2'] }, [], env);
    assert.deepEqual(spec.env, ['A=1', 'B= spaced value ', 'FROM_HOST=yes', 'QUOTED="kept"', 'A=2']);
    writeFileSync(file, 'B = 1\n');
    fails(() => parse({ envFile: [file] }), "tscompose: variable 'B ' contains whitespaces");
    writeFileSync(file, 'BAD NAME=1\n');
    fails(() => parse({ envFile: [file] }), "tscompose: variable 'BAD NAME' contains whitespaces");
    writeFileSync(file, '=value\n');
    fails(() => parse({ envFile: [file] }), "tscompose: no variable name on line '=value'");
    fails(() => parse({ envFile: [join(dir, 'nope')] }), `tscompose: open ${join(dir, 'nope')}: no such file or directory`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-l and --label-file', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'labels');
    writeFileSync(file, 'from.file=1\n# c\nflag\n');
    const { spec } = parse({ labelFile: [file], label: ['a=b', 'empty=', 'novalue', 'from.file=2'] });
    assert.deepEqual(spec.labels, { 'from.file': '2', flag: '', a: 'b', empty: '', novalue: '' });
    fails(() => parse({ label: ['=x'] }), `invalid argument "=x" for "-l, --label" flag: invalid label '=x': empty name`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--entrypoint: a single word, an empty string clears', () => {
  const set = parse({ entrypoint: '/bin/sh' }).spec;
  assert.deepEqual(set.entrypoint, ['/bin/sh']);
  assert.equal(set.entrypoint_set, true);
  const cleared = parse({ entrypoint: '' }).spec;
  assert.deepEqual(cleared.entrypoint, []);
  assert.equal(cleared.entrypoint_set, true);
  assert.equal(parse({}).spec.entrypoint_set, false);
});

test('-w -u -h --domainname --platform --stop-signal --stop-timeout', () => {
  const { spec } = parse({
    workdir: '/app',
    user: '1000:1000',
    hostname: 'box',
    domainname: 'example.com',
    platform: 'linux/arm64',
    stopSignal: 'SIGUSR1',
    stopTimeout: '30',
  });
  assert.equal(spec.working_dir, '/app');
  assert.equal(spec.user, '1000:1000');
  assert.equal(spec.hostname, 'box');
  assert.equal(spec.domainname, 'example.com');
  assert.equal(spec.platform, 'linux/arm64');
  assert.equal(spec.stop_signal, 'SIGUSR1');
  assert.equal(spec.stop_timeout, 30);
  fails(() => parse({ stopTimeout: 'x' }), 'invalid argument "x" for "--stop-timeout" flag: strconv.ParseInt: parsing "x": invalid syntax');
});

test('-p: every form Docker accepts', () => {
  const b = (container_port: number, host_port: number, host_ip = '', protocol = 'tcp') => ({ container_port, protocol, host_ip, host_port });
  assert.deepEqual(parsePublish('8080:80'), [b(80, 8080)]);
  assert.deepEqual(parsePublish('127.0.0.1:8080:80'), [b(80, 8080, '127.0.0.1')]);
  assert.deepEqual(parsePublish('8080:80/udp'), [b(80, 8080, '', 'udp')]);
  assert.deepEqual(parsePublish('80'), [b(80, 0)]);
  assert.deepEqual(parsePublish('127.0.0.1::80'), [b(80, 0, '127.0.0.1')]);
  assert.deepEqual(parsePublish('8000-8001:80-81'), [b(80, 8000), b(81, 8001)]);
  assert.deepEqual(parsePublish('80-81'), [b(80, 0), b(81, 0)]);
  // One container port on a host range: the engine takes the range's first free port, as Docker.
  assert.deepEqual(parsePublish('8080-8082:80'), [{ ...b(80, 8080), host_port_end: 8082 }]);
  assert.deepEqual(parsePublish('[::1]:8080:80'), [b(80, 8080, '::1')]);
  assert.deepEqual(parsePublish('53:53/SCTP'), [b(53, 53, '', 'sctp')]);
  const { spec } = parse({ publish: ['8080:80', '9000:9000/udp'] });
  assert.equal(spec.ports.length, 2);
});

test('-p errors', () => {
  fails(() => parsePublish('8080:abc'), 'tscompose: invalid containerPort: abc');
  fails(() => parsePublish('x:80'), 'tscompose: invalid hostPort: x');
  fails(() => parsePublish('1.2.3:8080:80'), 'tscompose: invalid IP address: 1.2.3');
  fails(() => parsePublish('8080:80/foo'), 'tscompose: invalid proto: foo');
  fails(() => parsePublish('8000-8002:80-81'), 'tscompose: invalid ranges specified for container and host Ports: 80-81 and 8000-8002');
  fails(() => parsePublish('8080:'), 'tscompose: no port specified: 8080:<empty>');
  fails(() => parsePublish('70000'), 'tscompose: invalid containerPort: 70000');
});

test('--expose: ports and ranges with their protocol', () => {
  assert.deepEqual(parse({ expose: ['80', '53/udp', '7000-7002'] }).spec.expose, ['80/tcp', '53/udp', '7000/tcp', '7001/tcp', '7002/tcp']);
  fails(() => parse({ expose: ['1:2'] }), 'tscompose: invalid port format for --expose: 1:2');
  fails(() => parse({ expose: ['abc'] }), 'tscompose: invalid range specified for port: abc');
});

test('--network, --net, --network-alias, --ip', () => {
  assert.equal(parse({ network: ['host'] }).spec.network_mode, 'host');
  assert.equal(parse({ net: ['none'] }).spec.network_mode, 'none');
  const plain = parse({ network: ['front'] }).spec;
  assert.equal(plain.network_mode, 'front');
  assert.deepEqual(plain.networks, []);
  const withOpts = parse({ network: ['front', 'back'], networkAlias: ['web'], ip: '172.20.0.5' }).spec;
  assert.equal(withOpts.network_mode, 'front');
  assert.deepEqual(
    withOpts.networks.map((n) => [n.network, n.aliases, n.ipv4_address]),
    [
      ['front', ['web'], '172.20.0.5'],
      ['back', [], ''],
    ],
  );
  const long = parse({ network: ['name=front,alias=a,alias=b,driver-opt=k=v'] }).spec;
  assert.deepEqual(long.networks[0]?.aliases, ['a', 'b']);
  assert.deepEqual(long.networks[0]?.driver_opts, { k: 'v' });
  fails(() => parse({ network: ['host', 'front'] }), 'tscompose: conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  fails(() => parse({ networkAlias: ['x'] }), 'tscompose: network-scoped aliases are only supported for user-defined networks');
  fails(() => parse({ network: ['bridge'], ip: '10.0.0.2' }), 'tscompose: user specified IP address is supported on user defined networks only');
  fails(() => parse({ network: ['name=front,alias=a'], networkAlias: ['b'] }), 'tscompose: conflicting options: cannot specify both --network-alias and per-network alias');
  fails(() => parse({ network: ['front'], ip: 'nope' }), 'tscompose: invalid IPv4 address: nope');
  fails(() => parse({ network: ['name=front,foo=bar'] }), 'invalid argument "name=front,foo=bar" for "--network" flag: invalid field key foo');
});

test('-v, --mount, --tmpfs become MountSpecs', () => {
  const { spec } = parseRunFlags(
    'busybox',
    [],
    { volume: ['data:/data:ro', '/srv:/srv:z'], mount: ['type=tmpfs,target=/cache,tmpfs-size=1m'], tmpfs: ['/run:size=64m,mode=1770'] },
    noEnv,
  );
  const [named, bind, cache, run] = spec.mounts;
  assert.equal(spec.mounts.length, 4);
  assert.deepEqual([named?.type, named?.source, named?.target, named?.read_only], ['volume', 'data', '/data', true]);
  assert.deepEqual([bind?.type, bind?.source, bind?.target, bind?.create_host_path, bind?.selinux], ['bind', '/srv', '/srv', true, 'z']);
  assert.deepEqual([cache?.type, cache?.target, cache?.tmpfs_size], ['tmpfs', '/cache', 1024 * 1024]);
  assert.deepEqual([run?.type, run?.target, run?.tmpfs_size, run?.tmpfs_mode], ['tmpfs', '/run', 64 * 1024 * 1024, 0o1770]);
  const anonymous = parse({ volume: ['/scratch'] }).spec.mounts[0];
  assert.deepEqual([anonymous?.type, anonymous?.source], ['volume', '']);
});

test('each MountSpec keeps its flag and the value Docker’s API has for it (inspect’s Binds, Mounts, Tmpfs)', () => {
  const { spec } = parseRunFlags(
    'busybox',
    [],
    { volume: ['data:/data:ro', './conf:/etc/app:ro,z'], mount: ['type=tmpfs,target=/cache/,tmpfs-size=1m'], tmpfs: ['/run/:rw,size=64m'] },
    noEnv,
  );
  assert.deepEqual(
    spec.mounts.map((m) => [m.flag, m.flag_value]),
    [
      ['volume', 'data:/data:ro'],
      ['volume', `${process.cwd()}/conf:/etc/app:ro,z`],
      ['mount', '{"Type":"tmpfs","Target":"/cache","TmpfsOptions":{"SizeBytes":1048576}}'],
      ['tmpfs', '/run/:rw,size=64m'],
    ],
  );
});

test('mount errors: --mount syntax is a flag error, the rest the daemon’s answer', () => {
  fails(() => parse({ mount: ['type=bind,source=/x,foo=bar'] }), `invalid argument "type=bind,source=/x,foo=bar" for "--mount" flag: unexpected key 'foo' in 'foo=bar'`);
  assert.throws(
    () => parse({ volume: ['a:b:c:d'] }),
    (err: unknown) => err instanceof ExitError && err.status === 125 && err.message.startsWith('tscompose: Error response from daemon: '),
  );
  fails(() => parse({ volume: ['/a:/x'], tmpfs: ['/x'] }), 'tscompose: Error response from daemon: Duplicate mount point: /x');
});

test('--restart policies and their errors', () => {
  assert.deepEqual(parseRestartPolicy('no'), { name: 'no', max_retries: 0 });
  assert.deepEqual(parseRestartPolicy('always'), { name: 'always', max_retries: 0 });
  assert.deepEqual(parseRestartPolicy('unless-stopped'), { name: 'unless-stopped', max_retries: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure'), { name: 'on-failure', max_retries: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:5'), { name: 'on-failure', max_retries: 5 });
  fails(() => parseRestartPolicy('x'), "tscompose: invalid restart policy 'x'");
  fails(() => parseRestartPolicy('on-failure:'), 'tscompose: invalid restart policy format: no number of retries specified');
  fails(
    () => parseRestartPolicy('on-failure:x'),
    'tscompose: invalid restart policy format: maximum retry count must be an integer: strconv.Atoi: parsing "x": invalid syntax',
  );
  fails(() => parseRestartPolicy('always:3'), "tscompose: invalid restart policy: maximum retry count can only be used with 'on-failure'");
  fails(() => parseRestartPolicy('on-failure:-1'), 'tscompose: invalid restart policy: maximum retry count cannot be negative');
  fails(() => parse({ restart: 'always', rm: true }), 'tscompose: Conflicting options: --restart and --rm');
  assert.equal(parse({ restart: 'no', rm: true }).spec.auto_remove, true);
});

test('memory flags: go-units sizes, -1 swap, errors as pflag reports them', () => {
  const { resources } = parse({ memory: '512m', memorySwap: '1g', memoryReservation: '256M', shmSize: '64m' }).spec;
  assert.equal(resources.memory, 512 * 1024 * 1024);
  assert.equal(resources.memory_swap, 1024 * 1024 * 1024);
  assert.equal(resources.memory_reservation, 256 * 1024 * 1024);
  assert.equal(resources.shm_size, 64 * 1024 * 1024);
  assert.equal(parse({ memorySwap: '-1' }).spec.resources.memory_swap, -1);
  fails(() => parse({ memory: 'abc' }), `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`);
  fails(() => parse({ memorySwap: '1x' }), `invalid argument "1x" for "--memory-swap" flag: invalid suffix: 'x'`);
  fails(() => parse({ shmSize: 'big' }), `invalid argument "big" for "--shm-size" flag: invalid size: 'big'`);
});

test('CPU and pids flags', () => {
  const { resources } = parse({ cpus: '1.5', cpuShares: '512', cpusetCpus: '0-1', pidsLimit: '100', cpuQuota: '50000', cpuPeriod: '100000' }).spec;
  assert.equal(resources.nano_cpus, 1_500_000_000);
  assert.equal(resources.cpu_shares, 512);
  assert.equal(resources.cpuset_cpus, '0-1');
  assert.equal(resources.pids_limit, 100);
  assert.equal(resources.cpu_quota, 50000);
  assert.equal(resources.cpu_period, 100000);
  assert.equal(parse({ pidsLimit: '-1' }).spec.resources.pids_limit, -1);
  assert.equal(parseNanoCpus('0.000000001'), 1);
  assert.equal(parseNanoCpus('2'), 2_000_000_000);
  assert.equal(parseNanoCpus('1/4'), 250_000_000);
  assert.equal(parseNanoCpus('.5'), 500_000_000);
  fails(() => parse({ cpus: 'abc' }), 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number');
  fails(() => parse({ cpus: '0.0000000001' }), 'invalid argument "0.0000000001" for "--cpus" flag: value is too precise');
  fails(() => parse({ cpuShares: 'x' }), 'invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "x": invalid syntax');
  fails(() => parse({ pidsLimit: '1.5' }), 'invalid argument "1.5" for "--pids-limit" flag: strconv.ParseInt: parsing "1.5": invalid syntax');
});

test('healthcheck flags', () => {
  const { healthcheck } = parse({
    healthCmd: 'curl -f localhost',
    healthInterval: '30s',
    healthTimeout: '5s',
    healthRetries: '3',
    healthStartPeriod: '1m',
    healthStartInterval: '500ms',
  }).spec;
  assert.deepEqual(healthcheck, {
    test: ['CMD-SHELL', 'curl -f localhost'],
    interval: 30e9,
    timeout: 5e9,
    retries: 3,
    start_period: 60e9,
    start_interval: 5e8,
  });
  assert.deepEqual(parse({ healthcheck: false }).spec.healthcheck.test, ['NONE']);
  // Settings without a command keep the image's test.
  assert.deepEqual(parse({ healthInterval: '10s' }).spec.healthcheck.test, []);
  fails(() => parse({ healthcheck: false, healthCmd: 'true' }), 'tscompose: --no-healthcheck conflicts with --health-* options');
  fails(() => parse({ healthInterval: 'soon' }), 'invalid argument "soon" for "--health-interval" flag: time: invalid duration "soon"');
  fails(() => parse({ healthTimeout: '-1s' }), 'tscompose: --health-timeout cannot be negative');
  fails(() => parse({ healthRetries: '-1' }), 'tscompose: --health-retries cannot be negative');
});

test('DNS and hosts', () => {
  const { spec } = parse({
    dns: ['8.8.8.8', '::1'],
    dnsSearch: ['example.com', '.'],
    dnsOption: ['ndots:2'],
    addHost: ['db:10.0.0.2', 'gw=host-gateway', 'v6:[::1]'],
  });
  assert.deepEqual(spec.dns, ['8.8.8.8', '::1']);
  assert.deepEqual(spec.dns_search, ['example.com', '.']);
  assert.deepEqual(spec.dns_options, ['ndots:2']);
  assert.deepEqual(spec.extra_hosts, ['db:10.0.0.2', 'gw:host-gateway', 'v6:::1']);
  fails(() => parse({ dns: ['x'] }), 'invalid argument "x" for "--dns" flag: IP address is not correctly formatted: x');
  fails(() => parse({ dnsSearch: ['-bad-'] }), 'invalid argument "-bad-" for "--dns-search" flag: -bad- is not a valid domain');
  fails(() => parse({ addHost: ['nohost'] }), 'invalid argument "nohost" for "--add-host" flag: bad format for add-host: "nohost"');
  fails(() => parse({ addHost: ['h:1.2.3'] }), 'invalid argument "h:1.2.3" for "--add-host" flag: invalid IP address in add-host: "1.2.3"');
});

test('--sysctl: only namespaced ones', () => {
  assert.deepEqual(parse({ sysctl: ['net.ipv4.ip_forward=1', 'kernel.shmmax=100', 'fs.mqueue.msg_max=20'] }).spec.sysctls, {
    'net.ipv4.ip_forward': '1',
    'kernel.shmmax': '100',
    'fs.mqueue.msg_max': '20',
  });
  fails(() => parse({ sysctl: ['kernel.panic=1'] }), `invalid argument "kernel.panic=1" for "--sysctl" flag: sysctl 'kernel.panic=1' is not allowed`);
});

test('--ulimit', () => {
  assert.deepEqual(parse({ ulimit: ['nofile=1024:2048', 'nproc=100'] }).spec.ulimits, [
    { name: 'nofile', soft: 1024, hard: 2048 },
    { name: 'nproc', soft: 100, hard: 100 },
  ]);
  fails(() => parse({ ulimit: ['nofile'] }), 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile');
  fails(() => parse({ ulimit: ['bogus=1'] }), 'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus');
  fails(
    () => parse({ ulimit: ['nofile=2:1'] }),
    'invalid argument "nofile=2:1" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 2 > 1',
  );
});

test('capabilities, groups, security options, devices, volumes-from', () => {
  const { spec } = parse({
    capAdd: ['NET_ADMIN'],
    capDrop: ['ALL'],
    groupAdd: ['audio'],
    securityOpt: ['no-new-privileges', 'seccomp=unconfined'],
    device: ['/dev/fuse', '/dev/sda:/dev/xvda:rwm', 'nvidia.com/gpu=all'],
    volumesFrom: ['other:ro'],
  });
  assert.deepEqual(spec.cap_add, ['NET_ADMIN']);
  assert.deepEqual(spec.cap_drop, ['ALL']);
  assert.deepEqual(spec.group_add, ['audio']);
  assert.deepEqual(spec.security_opt, ['no-new-privileges', 'seccomp=unconfined']);
  assert.deepEqual(spec.devices, ['/dev/fuse', '/dev/sda:/dev/xvda:rwm', 'nvidia.com/gpu=all']);
  assert.deepEqual(spec.volumes_from, ['other:ro']);
  fails(() => parse({ device: ['/dev/sda:/dev/xvda:xyz'] }), 'invalid argument "/dev/sda:/dev/xvda:xyz" for "--device" flag: invalid device mode: xyz');
  fails(() => parse({ device: ['sda'] }), 'invalid argument "sda" for "--device" flag: bad format for path: sda');
});

test('seccomp profiles are read by the CLI', () => {
  const dir = tempDir();
  try {
    const profile = join(dir, 'profile.json');
    writeFileSync(profile, '{ "defaultAction": "SCMP_ACT_ALLOW" }');
    assert.deepEqual(parse({ securityOpt: [`seccomp=${profile}`] }).spec.security_opt, ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--ipc, --pid, --oom-score-adj, --mac-address', () => {
  const { spec } = parse({ ipc: 'host', pid: 'container:db', oomScoreAdj: '-500', macAddress: '92:d0:c6:0a:29:33' });
  assert.equal(spec.ipc_mode, 'host');
  assert.equal(spec.pid_mode, 'container:db');
  assert.equal(spec.oom_score_adj, -500);
  assert.equal(spec.mac_address, '92:d0:c6:0a:29:33');
  fails(() => parse({ ipc: 'bogus' }), 'tscompose: --ipc: invalid IPC mode');
  fails(() => parse({ pid: 'private' }), 'tscompose: --pid: invalid PID mode');
  fails(() => parse({ oomScoreAdj: '2000' }), 'tscompose: --oom-score-adj should be between -1000 and 1000');
  fails(() => parse({ macAddress: 'zz' }), 'tscompose: zz is not a valid mac address');
});

test('--pull, --detach-keys, --sig-proxy, --cidfile, -q', () => {
  assert.equal(parse({ pull: 'always' }).options.pull, 'always');
  assert.equal(parse({ pull: 'never' }).options.pull, 'never');
  fails(() => parse({ pull: 'sometimes' }), `tscompose: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"`);
  assert.equal(parse({ detachKeys: 'ctrl-a,x' }).options.detachKeys, 'ctrl-a,x');
  fails(() => parse({ detachKeys: 'ctrl-1' }), "tscompose: Invalid detach keys (ctrl-1) provided: Unknown character: 'ctrl-1'");
  assert.equal(parse({ sigProxy: 'false' }).options.sigProxy, false);
  assert.equal(parse({ sigProxy: true }).options.sigProxy, true);
  fails(() => parse({ sigProxy: 'maybe' }), 'invalid argument "maybe" for "--sig-proxy" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  assert.equal(parse({ cidfile: '/tmp/cid' }).options.cidfile, '/tmp/cid');
  assert.equal(parse({ quiet: true }).options.quiet, true);
});

test('detach keys: Docker names to bytes', () => {
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_'), [0, 27, 28, 29, 30, 31]);
  assert.deepEqual(parseDetachKeys('a,b'), [97, 98]);
  assert.throws(() => parseDetachKeys('ctrl-pq'), /Unknown character: 'ctrl-pq'/);
});

test('key-value files without lookup keep bare names (labels)', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'a=1\nbare\n');
    assert.deepEqual(parseKeyValueFile(file), ['a=1', 'bare']);
    assert.ok(existsSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
