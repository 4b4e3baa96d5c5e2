/**
 * Process settings, restarts and resources of compose services, through the CLI against a real
 * daemon, checked from inside the containers (and with `inspect`): init, user, working_dir,
 * entrypoint/command, environment/env_file, labels, stop_signal/stop_grace_period, hostname,
 * domainname, extra_hosts, dns, dns_search, capabilities, privileged, ulimits, sysctls, shm_size,
 * logging, tty, stdin_open, platform, pull_policy; restart policies, replicas/scale, and cgroup limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { TestDaemon } from '../helpers/daemon';
import { ComposeProject, inspectContainer, startBusyboxDaemon } from '../helpers/compose';
import { freePort } from '../helpers/http';

let d: TestDaemon;
let p: ComposeProject;
let upOutput = '';

// This host's architecture in OCI terms, and one it is not.
const HOST_ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const OTHER_ARCH = HOST_ARCH === 'arm64' ? 'amd64' : 'arm64';

const COMPOSE = `
services:
  app:
    image: busybox:latest
    init: true
    user: "1000:1001"
    working_dir: /srv/app
    entrypoint: ["sh", "-c"]
    command: ["echo started as $$(id -u); exec sleep 3600"]
    environment:
      GREETING: hello
      OVERRIDDEN: from-environment
    env_file: ./app.env
    labels:
      com.example.team: core
    hostname: apphost
    domainname: example.test
    extra_hosts:
      - "gateway.test:10.9.8.7"
      - "other.test=10.9.8.8"
    dns: [10.1.2.3]
    dns_search: [corp.test]
    cap_add: [NET_ADMIN]
    cap_drop: [CHOWN]
    ulimits:
      nofile: { soft: 1024, hard: 2048 }
      nproc: 512
    sysctls:
      net.core.somaxconn: 1024
    shm_size: 32m
    tty: true
    stdin_open: true
    platform: linux/${HOST_ARCH}
    pull_policy: missing
    restart: unless-stopped
    logging:
      driver: json-file
      options: { max-size: 1m, max-file: "3" }
  priv:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    privileged: true
    restart: "no"
  trapper:
    image: busybox:latest
    command: ["sh", "-c", "trap 'echo got-usr1; exit 0' USR1; echo ready; while :; do sleep 0.1; done"]
    stop_signal: SIGUSR1
    devices: ["/dev/loop0:/dev/l0:r"]
    device_cgroup_rules: ["b 7:1 rwm"]
    security_opt: ["no-new-privileges:true", "seccomp:./no-mkdir.json"]
    cgroup: private
  stubborn:
    image: busybox:latest
    command: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"]
    stop_grace_period: 1s
  crasher:
    image: busybox:latest
    command: ["sh", "-c", "echo run; exit 1"]
    restart: always
  retrier:
    image: busybox:latest
    command: ["sh", "-c", "echo try; exit 3"]
    restart: on-failure:2
  swarmish:
    image: busybox:latest
    command: ["sh", "-c", "exit 5"]
    deploy:
      restart_policy:
        condition: on-failure
        max_attempts: 1
  limited:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    deploy:
      replicas: 2
      resources:
        limits: { memory: 64m, cpus: "0.5", pids: 50 }
        reservations: { memory: 32m, cpus: "0.25" }
  legacy:
    image: busybox:latest
    command: ["sleep", "3600"]
    init: true
    scale: 3
    mem_limit: 48m
    cpus: 1.5
    pids_limit: 40
    mem_reservation: 16m
    mem_swappiness: 10
    oom_kill_disable: true
    storage_opt: { size: 1G }
    blkio_config:
      weight: 300
      device_read_bps: [{ path: /dev/loop0, rate: 1mb }]
      device_write_iops: [{ path: /dev/loop0, rate: 120 }]
`;

// The bounding set: app's user is not root, so its effective set is empty whatever was added.
const caps = async (service: string, set: 'CapBnd' | 'CapEff') => BigInt(`0x${await p.sh(service, `awk '/^${set}/ {print $2}' /proc/self/status`)}`);
const cap = (bit: number) => 1n << BigInt(bit);

before(async () => {
  d = await startBusyboxDaemon();
  p = await ComposeProject.create(d, 'proc', COMPOSE, {
    'app.env': '# comment\nFROM_FILE=yes\nOVERRIDDEN=from-file\n',
    'no-mkdir.json': JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }),
  });
  const r = await p.run(['up', '-d']);
  upOutput = r.stderr;
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  if (d) {
    await p?.down();
    await d.destroy();
  }
});

describe('compose process settings', () => {
  test('init, user, working_dir, entrypoint and command', async () => {
    assert.match(await p.sh('app', 'cat /proc/1/comm'), /^(docker-init|catatonit|tini)$/);
    assert.equal(await p.sh('app', 'id -u; id -g; pwd'), '1000\n1001\n/srv/app');
    const doc = (await inspectContainer(d, 'proc-app-1')) as unknown as { Config: { Entrypoint: string[]; Cmd: string[] }; HostConfig: { Init: boolean } };
    assert.deepEqual(doc.Config.Entrypoint, ['sh', '-c']);
    assert.deepEqual(doc.Config.Cmd, ['echo started as $(id -u); exec sleep 3600']);
    assert.equal(doc.HostConfig.Init, true);
    assert.match(await p.ok(['logs', 'app']), /started as 1000/);
  });

  test('environment wins over env_file; labels are set', async () => {
    const env = await p.exec('app', 'env');
    assert.match(env, /^GREETING=hello$/m);
    assert.match(env, /^FROM_FILE=yes$/m);
    assert.match(env, /^OVERRIDDEN=from-environment$/m);
    const doc = await inspectContainer(d, 'proc-app-1');
    assert.equal(doc.Config.Labels['com.example.team'], 'core');
    assert.equal(doc.Config.Labels['com.docker.compose.service'], 'app');
  });

  test('hostname, domainname, extra_hosts, dns and dns_search', async () => {
    assert.equal(await p.exec('app', 'hostname'), 'apphost');
    assert.equal(await p.exec('app', 'cat', '/proc/sys/kernel/domainname'), 'example.test');
    const hosts = await p.exec('app', 'cat', '/etc/hosts');
    assert.match(hosts, /^10\.9\.8\.7\s+gateway\.test$/m);
    assert.match(hosts, /^10\.9\.8\.8\s+other\.test$/m);
    assert.match(hosts, /\sapphost\.example\.test\s+apphost$/m);
    const resolv = await p.exec('app', 'cat', '/etc/resolv.conf');
    assert.match(resolv, /^search corp\.test$/m);
    const doc = await inspectContainer(d, 'proc-app-1');
    assert.deepEqual(doc.HostConfig.Dns, ['10.1.2.3']);
    assert.deepEqual(doc.HostConfig.DnsSearch, ['corp.test']);
    assert.deepEqual(doc.HostConfig.ExtraHosts, ['gateway.test:10.9.8.7', 'other.test:10.9.8.8']);
  });

  test('cap_add, cap_drop and privileged', async () => {
    const app = await caps('app', 'CapBnd');
    assert.equal(app & cap(12), cap(12), 'NET_ADMIN added');
    assert.equal(app & cap(0), 0n, 'CHOWN dropped');
    assert.equal(app & cap(21), 0n, 'no SYS_ADMIN');
    const priv = await caps('priv', 'CapEff');
    assert.equal(priv & cap(21), cap(21), 'privileged has SYS_ADMIN');
    // A privileged container sees the host's devices and may change its network.
    assert.equal(await p.sh('priv', 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo ok'), 'ok');
    const r0 = await p.run(['exec', '-T', 'app', 'sh', '-c', 'mkdir -p /tmp/t && mount -t tmpfs none /tmp/t']);
    assert.notEqual(r0.code, 0);
    const r = await p.run(['exec', '-T', 'priv', 'sh', '-c', 'ls /dev | wc -l']);
    assert.ok(Number(r.stdout.trim()) > 20, r.stdout);
  });

  test('devices and device_cgroup_rules', async () => {
    assert.equal(await p.sh('trapper', 'ls -l /dev/l0 | cut -c1'), 'b');
    // Read-only as given: a write is refused by the device cgroup. The rule lets mknod'd 7:1 be read.
    const write = await p.run(['exec', '-T', 'trapper', 'sh', '-c', 'echo x > /dev/l0']);
    assert.match(write.stderr, /Operation not permitted/);
    assert.equal(await p.sh('trapper', 'mknod /tmp/l1 b 7 1 && head -c 1 /tmp/l1 >/dev/null && echo ok'), 'ok');
  });

  test('cgroup: private gives the service a cgroup namespace of its own', async () => {
    assert.match(await p.sh('trapper', 'cat /proc/self/cgroup'), /^\d+:pids:\/$/m);
    assert.match(await p.sh('app', 'cat /proc/self/cgroup'), /^\d+:pids:\/.+$/m, 'the host’s namespace by default');
    assert.equal((await inspectContainer(d, 'proc-trapper-1')).HostConfig.CgroupnsMode, 'private');
  });

  test('security_opt: no-new-privileges and a seccomp profile file of the project', async () => {
    assert.equal(await p.sh('trapper', 'grep NoNewPrivs /proc/self/status'), 'NoNewPrivs:\t1');
    const r = await p.run(['exec', '-T', 'trapper', 'mkdir', '/made']);
    assert.match(r.stderr, /Operation not permitted/);
  });

  test('an attribute the engine does not apply is named by up, once per service', async () => {
    const named = upOutput.split('\n').filter((l) => l.includes('storage_opt'));
    assert.deepEqual(named, ['WARN[0000] service "legacy": storage_opt is ignored: the writable layer has no size limit']);
    // `run` names them too, for the service it runs itself.
    const r = await p.run(['run', '--rm', '--no-deps', 'legacy', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^WARN\[0000\] service "legacy": storage_opt is ignored: the writable layer has no size limit$/m);
  });

  test('ulimits, sysctls and shm_size', async () => {
    // The service's own processes (an exec'd one may not keep the soft nofile limit: runc 1.1 built with
    // Go 1.19 raises its own soft limit to the hard one, and exec'd processes can inherit that).
    const limits = await p.exec('app', 'cat', '/proc/1/limits');
    assert.match(limits, /^Max open files\s+1024\s+2048\s+files/m);
    assert.match(limits, /^Max processes\s+512\s+512\s+processes/m);
    assert.equal(await p.exec('app', 'cat', '/proc/sys/net/core/somaxconn'), '1024');
    assert.match(await p.exec('app', 'cat', '/proc/mounts'), /^\S+ \/dev\/shm tmpfs .*size=32768k/m);
  });

  test('logging options reach the container', async () => {
    const doc = await inspectContainer(d, 'proc-app-1');
    assert.deepEqual(doc.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '3' } });
  });

  test('tty and stdin_open', async () => {
    const doc = await inspectContainer(d, 'proc-app-1');
    assert.equal(doc.Config.Tty, true);
    assert.equal(doc.Config.OpenStdin, true);
    // The service's process has the terminal (pid 1 is init: look at its child).
    assert.match(await p.sh('app', 'readlink /proc/$(cat /proc/1/task/1/children | cut -d" " -f1)/fd/1'), /^\/dev\/pts\/\d+$/);
  });

  test('platform matching the host runs with no warning', async () => {
    assert.doesNotMatch(upOutput, /platform/i);
    assert.equal((await inspectContainer(d, 'proc-app-1')).State.Status, 'running');
  });

  test('stop_signal is sent by stop', async () => {
    const doc = await inspectContainer(d, 'proc-trapper-1');
    assert.equal(doc.Config.StopSignal, 'SIGUSR1');
    await p.ok(['stop', 'trapper']);
    assert.match(await p.ok(['logs', 'trapper']), /got-usr1/);
    const [t] = await p.ps(['-a', 'trapper']);
    assert.equal(t?.ExitCode, 0);
  });

  test('stop_grace_period bounds the wait before SIGKILL', async () => {
    const doc = await inspectContainer(d, 'proc-stubborn-1');
    assert.equal(doc.Config.StopTimeout, 1);
    await p.ok(['stop', 'stubborn']);
    const [s] = await p.ps(['-a', 'stubborn']);
    assert.equal(s?.ExitCode, 137);
  });
});

describe('compose restarts and resources', () => {
  test('restart policies as the engine’s, deploy.restart_policy included', async () => {
    const policy = async (name: string) => (await inspectContainer(d, name)).HostConfig.RestartPolicy;
    assert.deepEqual(await policy('proc-app-1'), { Name: 'unless-stopped', MaximumRetryCount: 0 });
    assert.deepEqual(await policy('proc-priv-1'), { Name: 'no', MaximumRetryCount: 0 });
    assert.deepEqual(await policy('proc-crasher-1'), { Name: 'always', MaximumRetryCount: 0 });
    assert.deepEqual(await policy('proc-retrier-1'), { Name: 'on-failure', MaximumRetryCount: 2 });
    assert.deepEqual(await policy('proc-swarmish-1'), { Name: 'on-failure', MaximumRetryCount: 1 });
  });

  test('on-failure:N restarts N times, then the container stays exited', async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const doc = await inspectContainer(d, 'proc-retrier-1');
      if (doc.State.Status === 'exited' && doc.RestartCount === 2) break;
      assert.ok(Date.now() < deadline, JSON.stringify(doc.State) + doc.RestartCount);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await p.ok(['logs', '--no-log-prefix', 'retrier'])).trim(), 'try\ntry\ntry');
    const swarmish = async () => inspectContainer(d, 'proc-swarmish-1');
    const until = Date.now() + 20_000;
    while ((await swarmish()).RestartCount < 1 || (await swarmish()).State.Status !== 'exited') {
      assert.ok(Date.now() < until);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await swarmish()).State.ExitCode, 5);
  });

  test('restart: always keeps bringing the container back, with backoff', async () => {
    const deadline = Date.now() + 20_000;
    while ((await inspectContainer(d, 'proc-crasher-1')).RestartCount < 3) {
      assert.ok(Date.now() < deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    const logs = (await p.ok(['logs', '--no-log-prefix', 'crasher'])).trim().split('\n');
    assert.ok(logs.length >= 3 && logs.every((l) => l === 'run'), logs.join(','));
  });

  test('deploy.replicas and scale set the number of containers', async () => {
    const names = (await p.ps()).map((e) => e.Name);
    assert.deepEqual(names.filter((n) => n.startsWith('proc-limited-')), ['proc-limited-1', 'proc-limited-2']);
    assert.deepEqual(names.filter((n) => n.startsWith('proc-legacy-')), ['proc-legacy-1', 'proc-legacy-2', 'proc-legacy-3']);
  });

  test('deploy.resources limits and reservations reach the cgroups', async () => {
    const read = (service: string) =>
      p.sh(
        service,
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max',
      );
    assert.deepEqual((await read('limited')).split('\n'), [String(64 * 1024 * 1024), String(32 * 1024 * 1024), '50000', '100000', '50']);
    const doc = await inspectContainer(d, 'proc-limited-2');
    assert.equal(doc.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(doc.HostConfig.MemoryReservation, 32 * 1024 * 1024);
    assert.equal(doc.HostConfig.NanoCpus, 500_000_000);
    assert.equal(doc.HostConfig.PidsLimit, 50);
  });

  test('mem_limit, cpus, pids_limit and mem_reservation reach the cgroups', async () => {
    const out = await p.sh(
      'legacy',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max',
    );
    assert.deepEqual(out.split('\n'), [String(48 * 1024 * 1024), String(16 * 1024 * 1024), '150000', '40']);
    // mem_swappiness and oom_kill_disable reach the memory cgroup (v1) and inspect.
    assert.equal(await p.sh('legacy', 'cat /sys/fs/cgroup/memory/memory.swappiness'), '10');
    assert.match(await p.sh('legacy', 'cat /sys/fs/cgroup/memory/memory.oom_control'), /^oom_kill_disable 1$/m);
    // blkio_config's rates reach the blkio cgroup; the weight this kernel can't apply (no BFQ
    // here) is dropped with Docker's warning, or applied where it can.
    assert.equal(await p.sh('legacy', 'cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device'), '7:0 1048576\n7:0 120');
    if (!existsSync('/sys/fs/cgroup/blkio/blkio.weight') && !existsSync('/sys/fs/cgroup/blkio/blkio.bfq.weight')) {
      assert.match(upOutput, /legacy Your kernel does not support Block I\/O weight or the cgroup is not mounted\. Weight discarded\./);
    }
    const legacy = await inspectContainer(d, 'proc-legacy-1');
    assert.deepEqual(legacy.HostConfig.BlkioDeviceReadBps, [{ Path: '/dev/loop0', Rate: 1_048_576 }]);
    assert.equal(legacy.HostConfig.MemorySwappiness, 10);
    assert.equal(legacy.HostConfig.OomKillDisable, true);
    // The pids limit holds: 60 more processes can't all start.
    const r = await p.run(['exec', '-T', 'legacy', 'sh', '-c', 'for i in $(seq 60); do sleep 5 & done 2>/dev/null; wait']);
    assert.notEqual(r.code + r.stderr.length, 0);
  });
});

describe('compose platform and pull_policy', () => {
  test('more CPUs than the host has are refused, as Docker does', async () => {
    const q = await ComposeProject.create(d, 'hungry', 'services:\n  hog:\n    image: busybox:latest\n    command: ["sleep", "3600"]\n    cpus: 512\n');
    try {
      const r = await q.run(['up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Container hungry-hog-1 {2}Error/);
      assert.match(r.stderr, /Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available/);
      assert.equal((await q.ps(['-a'])).length, 0);
    } finally {
      await q.down();
    }
  });

  test('pull_policy: never refuses a missing image, naming the service', async () => {
    const q = await ComposeProject.create(
      d,
      'nopull',
      `
services:
  ghost:
    image: ghost-image:1.0
    pull_policy: never
`,
    );
    try {
      const r = await q.run(['up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /service "ghost": image ghost-image:1\.0 not found, and pull_policy is never/);
      assert.equal(r.stderr.includes('    at '), false);
      assert.equal((await q.ps(['-a'])).length, 0);
    } finally {
      await q.down();
    }
  });

  test('pull_policy: always fails when the pull does, even with the image here, naming the service', async () => {
    // A registry on loopback that nobody serves: the pull is refused at once.
    const image = `127.0.0.1:${await freePort()}/stale:1`;
    await d.ok(['image', 'tag', 'busybox:latest', image]);
    const q = await ComposeProject.create(d, 'stale', `services:\n  app:\n    image: ${image}\n    pull_policy: always\n    command: ["sleep", "1000"]\n`);
    try {
      const r = await q.run(['up', '-d']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /app {2}Pulling/);
      assert.match(r.stderr, /app {2}Error/);
      assert.doesNotMatch(r.stderr, /Pulled/);
      const last = r.stderr.trim().split('\n').at(-1) ?? '';
      assert.ok(last.startsWith(`service "app": image ${image} could not be pulled (pull_policy always): `), last);
      assert.equal((await q.ps(['-a'])).length, 0);
      // --quiet-pull hides the pull's progress, not its failure.
      const quiet = await q.run(['up', '-d', '--quiet-pull']);
      assert.equal(quiet.code, 1, quiet.stderr);
      assert.doesNotMatch(quiet.stderr, /Pulling/);
      assert.match(quiet.stderr, /could not be pulled/);
      // The default policy runs the image that is here.
      await q.write(`services:\n  app:\n    image: ${image}\n    command: ["sleep", "1000"]\n`);
      assert.equal((await q.run(['up', '-d'])).code, 0);
    } finally {
      await q.down();
      await d.run(['image', 'rm', image]);
    }
  });

  test('an image made for another platform runs with Docker’s warning', async () => {
    // The same busybox, recorded as an arm64 image.
    await d.ok(['image', 'import', '--platform', `linux/${OTHER_ARCH}`, '-c', 'CMD ["sh"]', path.join(d.dir, 'busybox.tar'), 'busybox:other']);
    const q = await ComposeProject.create(d, 'alien', 'services:\n  job:\n    image: busybox:other\n    command: ["echo", "ran"]\n');
    try {
      const r = await q.run(['up', '-d']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(
        r.stderr.includes(`job The requested image's platform (linux/${OTHER_ARCH}) does not match the detected host platform (linux/${HOST_ARCH}) and no specific platform was requested`),
        r.stderr,
      );
      await q.ok(['wait', 'job']);
      assert.match(await q.ok(['logs', 'job']), /ran/);
    } finally {
      await q.down();
    }
  });

  test('a platform the host can’t run is refused with a one-line error naming the service', async () => {
    const q = await ComposeProject.create(
      d,
      'foreign',
      `
services:
  armed:
    image: busybox:latest
    command: ["sleep", "3600"]
    platform: linux/${OTHER_ARCH}
`,
    );
    try {
      const r = await q.run(['up', '-d']);
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /armed/);
      assert.match(r.stderr, /platform/);
      assert.equal(r.stderr.includes('    at '), false);
    } finally {
      await q.down();
    }
  });
});
