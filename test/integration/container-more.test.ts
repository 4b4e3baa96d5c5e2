/**
 * The rest of the container engine through the CLI: resource limits and OOM kills, `update` of limits and restart policies, the network
 * namespace's sysctl defaults, log options and rotation, health status transitions, restart=always after the process is
 * killed, pause, cp/commit/export, top/stats, rename/wait, and an interactive -it session driven
 * through tmux.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, mountsUnder, startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { retry } from '../helpers/http';
import { ComposeProject } from '../helpers/compose';

let d: TestDaemon;

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
});
after(async () => {
  if (d) {
    const ids = (await d.ok(['container', 'ls', '-aq'])).trim().split('\n').filter(Boolean);
    if (ids.length > 0) await d.run(['container', 'rm', '-f', ...ids]);
    await d.destroy();
  }
});

const inspect = async (name: string) => JSON.parse(await d.ok(['container', 'inspect', name]))[0];

describe('limits', () => {
  test('a memory overrun is OOMKilled with exit code 137', async () => {
    const r = await d.run(['container', 'run', '--name', 'oom', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x=$x$x; done']);
    assert.equal(r.code, 137);
    const s = await inspect('oom');
    assert.equal(s.State.OOMKilled, true);
    assert.equal(s.State.ExitCode, 137);
    await d.ok(['container', 'rm', 'oom']);
  });

  test('--pids-limit and --cpus reach the cgroup', async () => {
    const out = await d.ok(['container', 'run', '--rm', '--pids-limit', '20', 'busybox', 'sh', '-c', 'for i in $(seq 1 40); do sleep 5 & done 2>&1 | head -1; echo done']);
    assert.match(out, /can't fork|Resource temporarily unavailable|done/);
    const id = (await d.ok(['container', 'run', '-d', '--cpus', '0.5', '--pids-limit', '20', '-m', '64m', 'busybox', 'sleep', '30'])).trim();
    const s = await inspect(id);
    assert.equal(s.HostConfig.NanoCpus, 5e8);
    assert.equal(s.HostConfig.Memory, 64 * 1024 * 1024);
    const pid = s.State.Pid as number;
    const cgroup = (await fsp.readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
    const pidsLine = cgroup.find((l) => /:pids:/.test(l)) ?? cgroup.find((l) => l.startsWith('0::'));
    assert.ok(pidsLine, 'the container is in a pids cgroup');
    const rel = pidsLine.split(':').slice(2).join(':');
    const max = await fsp.readFile(path.join('/sys/fs/cgroup/pids', rel, 'pids.max'), 'utf8').catch(() => fsp.readFile(path.join('/sys/fs/cgroup', rel, 'pids.max'), 'utf8'));
    assert.equal(max.trim(), '20');
    await d.ok(['container', 'rm', '-f', id]);
  });

  test('--cpu-period alone reaches the cgroup; Docker’s conflicting limits are refused in its words', async () => {
    const id = (await d.ok(['container', 'run', '-d', '--cpu-period', '50000', 'busybox', 'sleep', '30'])).trim();
    const pid = (await inspect(id)).State.Pid as number;
    const cpuLine = (await fsp.readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => /:cpu[,:]|:cpu,cpuacct:/.test(l));
    assert.ok(cpuLine, 'the container is in a cpu cgroup');
    const rel = cpuLine.split(':').slice(2).join(':');
    const dirs = ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu'];
    const period = await Promise.any(dirs.map((dir) => fsp.readFile(path.join(dir, rel, 'cpu.cfs_period_us'), 'utf8')));
    assert.equal(period.trim(), '50000');
    await d.ok(['container', 'rm', '-f', id]);
    for (const [flags, message] of [
      [['--cpus', '1', '--cpu-period', '50000'], 'Conflicting options: Nano CPUs and CPU Period cannot both be set'],
      [['--cpus', '1', '--cpu-quota', '50000'], 'Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
      [['--memory-swap', '100m'], 'You should always set the Memory limit when using Memoryswap limit, see usage'],
    ] as const) {
      const r = await d.run(['container', 'create', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, flags.join(' '));
      assert.ok(r.stderr.includes(message), r.stderr);
    }
  });
});

describe('update', () => {
  /** The container's own cgroup files, read inside it: memory limit, swap limit, pids, CFS quota, shares. */
  const limits = async (name: string) =>
    (await d.ok(['container', 'exec', name, 'sh', '-c',
      'cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.shares']))
      .trim().split('\n');

  test('a running container gets its new limits at once; inspect, a daemon restart and a container restart keep them', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'upd', '-m', '64m', '--cpus', '0.5', '--pids-limit', '20', 'busybox', 'sleep', '300']);
    assert.deepEqual(await limits('upd'), [String(64 << 20), String(128 << 20), '20', '50000', '1024']);
    assert.equal(await d.ok(['container', 'update', '-m', '96m', '--memory-swap', '192m', '--cpus', '1.5', '--pids-limit', '50', '-c', '512', 'upd']), 'upd\n');
    const want = [String(96 << 20), String(192 << 20), '50', '150000', '512'];
    assert.deepEqual(await limits('upd'), want);
    const hostConfig = async () => {
      const h = (await inspect('upd')).HostConfig;
      return [h.Memory, h.MemorySwap, h.NanoCpus, h.PidsLimit, h.CpuShares];
    };
    assert.deepEqual(await hostConfig(), [96 << 20, 192 << 20, 1.5e9, 50, 512]);
    await d.stop();
    await d.start();
    assert.deepEqual(await hostConfig(), [96 << 20, 192 << 20, 1.5e9, 50, 512]);
    await d.ok(['container', 'restart', '-t', '0', 'upd']);
    assert.deepEqual(await limits('upd'), want);
    // A memory limit alone keeps the swap limit in force; a paused container is updated too.
    await d.ok(['container', 'pause', 'upd']);
    assert.equal(await d.ok(['update', '-m', '128m', '--pids-limit', '-1', 'upd']), 'upd\n');
    await d.ok(['container', 'unpause', 'upd']);
    assert.deepEqual((await limits('upd')).slice(0, 3), [String(128 << 20), String(192 << 20), 'max']);
    await d.ok(['container', 'rm', '-f', 'upd']);
  });

  test('a stopped container takes its new limits at its next start', async () => {
    await d.ok(['container', 'create', '--name', 'upd-stopped', 'busybox', 'sleep', '300']);
    await d.ok(['container', 'update', '--memory', '80m', '--memory-swap', '-1', '--cpu-quota', '30000', '--cpu-period', '60000', 'upd-stopped']);
    await d.ok(['container', 'start', 'upd-stopped']);
    const [memory, , , quota] = await limits('upd-stopped');
    assert.deepEqual([memory, quota], [String(80 << 20), '30000']);
    const h = (await inspect('upd-stopped')).HostConfig;
    assert.deepEqual([h.Memory, h.MemorySwap, h.CpuQuota, h.CpuPeriod], [80 << 20, -1, 30000, 60000]);
    await d.ok(['container', 'rm', '-f', 'upd-stopped']);
  });

  test('a restart policy updated to always brings the container back after it exits', async () => {
    // The process exits once told to, so that the update lands while it runs.
    await d.ok(['container', 'run', '-d', '--name', 'upd-policy', 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.1; done; rm /go; exit 3']);
    assert.equal(await d.ok(['container', 'update', '--restart', 'always', 'upd-policy']), 'upd-policy\n');
    assert.deepEqual((await inspect('upd-policy')).HostConfig.RestartPolicy, { Name: 'always', MaximumRetryCount: 0 });
    const first = (await inspect('upd-policy')).State.Pid;
    await d.ok(['container', 'exec', 'upd-policy', 'touch', '/go']);
    await retry(async () => {
      const s = await inspect('upd-policy');
      assert.equal(s.State.Status, 'running');
      assert.equal(s.RestartCount, 1);
      assert.notEqual(s.State.Pid, first);
    });
    await d.ok(['container', 'rm', '-f', 'upd-policy']);
  });

  test('Docker’s refusals, in its words, leave the container as it was', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'upd-a', '-m', '64m', '--cpus', '1', 'busybox', 'sleep', '300']);
    await d.ok(['container', 'run', '-d', '--name', 'upd-b', '--cpu-quota', '50000', 'busybox', 'sleep', '300']);
    await d.ok(['container', 'run', '-d', '--rm', '--name', 'upd-rm', 'busybox', 'sleep', '300']);
    const id = (await inspect('upd-a')).Id as string;
    const idB = (await inspect('upd-b')).Id as string;
    const idRm = (await inspect('upd-rm')).Id as string;
    for (const [args, message] of [
      [['-m', '4m', 'upd-a'], 'Error response from daemon: Minimum memory limit allowed is 6MB'],
      [['-m', '300m', 'upd-a'], `Error response from daemon: Cannot update container ${id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`],
      [['--memory-swap', '32m', 'upd-a'], `Error response from daemon: Cannot update container ${id}: Minimum memoryswap limit should be larger than memory limit, see usage`],
      [['-m', '64m', '--memory-swap', '32m', 'upd-a'], 'Error response from daemon: Minimum memoryswap limit should be larger than memory limit, see usage'],
      [['--cpu-quota', '50000', 'upd-a'], `Error response from daemon: Cannot update container ${id}: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set`],
      [['--cpu-period', '50000', 'upd-a'], `Error response from daemon: Cannot update container ${id}: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set`],
      [['--cpus', '1', 'upd-b'], `Error response from daemon: Cannot update container ${idB}: Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set`],
      [['--cpus', '1', '--cpu-quota', '50000', 'upd-b'], 'Error response from daemon: Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
      [['--restart', 'always', 'upd-rm'], `Error response from daemon: Cannot update container ${idRm}: Restart policy cannot be updated because AutoRemove is enabled for the container`],
      [['upd-a'], 'you must provide one or more flags when using this command'],
    ] as const) {
      const r = await d.run(['container', 'update', ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      assert.equal(r.stderr, `${message}\n`, args.join(' '));
    }
    // Several containers: each one updated is named, each failure reported, exit 1 at the end.
    const several = await d.run(['container', 'update', '--pids-limit', '30', 'upd-a', 'nosuch', 'upd-b']);
    assert.equal(several.code, 1);
    assert.equal(several.stdout, 'upd-a\nupd-b\n');
    assert.equal(several.stderr, 'Error response from daemon: No such container: nosuch\n');
    const a = (await inspect('upd-a')).HostConfig;
    assert.deepEqual([a.Memory, a.MemorySwap, a.NanoCpus, a.CpuQuota, a.PidsLimit], [64 << 20, 0, 1e9, 0, 30]);
    assert.deepEqual((await inspect('upd-rm')).HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
    assert.deepEqual((await limits('upd-a')).slice(0, 3), [String(64 << 20), String(128 << 20), '30']);
    // What this host cannot honour is refused, not stored as if applied.
    for (const [flag, value] of [['--kernel-memory', '10m'], ['--cpu-rt-runtime', '1000'], ['--cpu-rt-period', '1000000']]) {
      const r = await d.run(['container', 'update', flag!, value!, 'upd-a']);
      assert.equal(r.code, 125, flag);
      assert.match(r.stderr, new RegExp(`^tscompose: ${flag} is not supported: `), flag);
    }
    await d.ok(['container', 'rm', '-f', 'upd-a', 'upd-b', 'upd-rm']);
  });
});

describe('flags for what this engine is', () => {
  test('--cpuset-mems reaches the cgroup; --runtime runc, --userns host and --volume-driver work; the rest is refused', async () => {
    const id = (await d.ok(['container', 'run', '-d', '--cpuset-mems', '0', 'busybox', 'sleep', '300'])).trim();
    const s = await inspect(id);
    assert.equal(s.HostConfig.CpusetMems, '0');
    assert.match(await fsp.readFile(`/proc/${s.State.Pid}/status`, 'utf8'), /^Mems_allowed_list:\s+0$/m);
    await d.ok(['container', 'rm', '-f', id]);
    assert.equal(await d.ok(['container', 'run', '--rm', '--runtime', 'runc', '--userns', 'host', '--volume-driver', 'local', '-v', 'vdrv:/v', 'busybox', 'echo', 'ok']), 'ok\n');
    assert.match(await d.ok(['volume', 'inspect', '-f', '{{.Driver}}', 'vdrv']), /^local$/m);
    await d.ok(['volume', 'rm', 'vdrv']);
    for (const [flags, message] of [
      [['--cpuset-mems', '4095'], 'Requested memory nodes are not available - requested 4095'],
      [['--runtime', 'runsc'], 'unknown or invalid runtime name: runsc'],
      [['--userns', 'remap'], '--userns: invalid USER mode'],
      [['--gpus', 'all'], 'could not select device driver "" with capabilities: [[gpu]]'],
      [['--volume-driver', 'nosuch', '-v', 'vdrv2:/v'], 'plugin "nosuch" not found'],
    ] as const) {
      const r = await d.run(['container', 'run', '--rm', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, flags.join(' '));
      assert.ok(r.stderr.includes(message), r.stderr);
    }
  });
});

describe('network defaults', () => {
  test('a non-root process binds a port below 1024 and may ping, except on the host network', async () => {
    const script = 'echo hi > /tmp/index.html && httpd -p 80 -h /tmp && wget -qO- http://127.0.0.1:80/ && cat /proc/sys/net/ipv4/ping_group_range';
    for (const network of ['bridge', 'none']) {
      const out = await d.ok(['container', 'run', '--rm', '-u', '1000', '--network', network, 'busybox', 'sh', '-c', script]);
      assert.deepEqual(out.trim().split('\n'), ['hi', '0\t2147483647'], network);
    }
    const host = await d.ok(['container', 'run', '--rm', '--network', 'host', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']);
    assert.equal(host.trim(), (await fsp.readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).trim());
  });
});

describe('published ports', () => {
  test('inspect lists every binding of a port in HostConfig.PortBindings', async () => {
    await d.ok(['container', 'create', '--name', 'binds', '-p', '18000:80', '-p', '127.0.0.1:18080:80', '-p', '53:53/udp', 'busybox', 'true']);
    const bindings = JSON.parse(await d.ok(['container', 'inspect', '-f', '{{json .HostConfig.PortBindings}}', 'binds'])) as unknown;
    assert.deepEqual(bindings, {
      '80/tcp': [
        { HostIp: '', HostPort: '18000' },
        { HostIp: '127.0.0.1', HostPort: '18080' },
      ],
      '53/udp': [{ HostIp: '', HostPort: '53' }],
    });
    await d.ok(['container', 'rm', 'binds']);
  });
});

describe('logs', () => {
  test('--log-opt max-size bounds the log; logs -f goes on across its rotations', async () => {
    const id = (
      await d.ok([
        'container', 'run', '-d', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c',
        'i=0; while [ $i -lt 2000 ]; do echo line $i padding-padding; i=$((i+1)); [ $((i % 200)) = 0 ] && sleep 0.1; done; echo last',
      ])
    ).trim();
    const followed = await d.ok(['container', 'logs', '-f', id], { timeoutMs: 30_000 });
    // conmon empties the full file in place: what the follow had not read yet when that happened
    // is gone (the README says so). Under load the follow may lag at a rotation, so the contract
    // is: it reaches the last line, in order, without repeats, and never loses more than one
    // file's worth (max-size × max-file = 20 kB, ~600 of these lines) at a time.
    const lines = followed.trim().split('\n');
    assert.equal(lines.pop(), 'last');
    const numbers = lines.map((l) => Number(/^line (\d+) padding-padding$/.exec(l)?.[1]));
    assert.equal(numbers.at(-1), 1999);
    for (let i = 1; i < numbers.length; i++) {
      const step = numbers[i]! - numbers[i - 1]!;
      assert.ok(step >= 1 && step <= 650, `line ${numbers[i - 1]} is followed by line ${numbers[i]}`);
    }
    const doc = await inspect(id);
    assert.deepEqual(doc.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '10k', 'max-file': '2' } });
    assert.ok((await fsp.stat(doc.LogPath)).size <= 20_000, 'max-size × max-file bytes at most');
    await d.ok(['container', 'rm', id]);
  });

  test('a driver or option the engine cannot honour is refused, naming it', async () => {
    const before = await d.ok(['container', 'ls', '-aq']);
    const driver = await d.run(['container', 'run', '--rm', '--log-driver', 'syslog', 'busybox', 'true']);
    assert.equal(driver.code, 125);
    assert.match(driver.stderr, /logging driver "syslog" is not supported/);
    const opt = await d.run(['container', 'run', '--rm', '--log-opt', 'colour=red', 'busybox', 'true']);
    assert.match(opt.stderr, /unknown log opt 'colour' for json-file log driver/);
    assert.equal(await d.ok(['container', 'ls', '-aq']), before, 'nothing is created');
  });

  test('--log-opt labels/env: logs --details shows the attributes before each line, as Docker', async () => {
    const id = (
      await d.ok([
        'container', 'run', '-d', '--label', 'zed=q', '--label', 'foo=bar', '-e', 'A=1', '-e', 'B=x y',
        '--log-opt', 'labels=foo,zed', '--log-opt', 'env=A,B', 'busybox', 'sh', '-c', 'echo one; echo two',
      ])
    ).trim();
    await d.ok(['container', 'wait', id]);
    assert.equal(await d.ok(['container', 'logs', '--details', id]), 'A=1,B=x+y,foo=bar,zed=q one\nA=1,B=x+y,foo=bar,zed=q two\n');
    assert.match(await d.ok(['container', 'logs', '-t', '--details', id]), /^\d{4}-\d\d-\d\dT[\d:.]+Z A=1,B=x\+y,foo=bar,zed=q one\n/);
    assert.equal(await d.ok(['container', 'logs', id]), 'one\ntwo\n');
    await d.ok(['container', 'rm', id]);
    // Without attributes, --details still prints the separating space, as Docker does.
    assert.equal(await d.ok(['container', 'run', '--name', 'plain-details', 'busybox', 'echo', 'x']), 'x\n');
    assert.equal(await d.ok(['container', 'logs', '--details', 'plain-details']), ' x\n');
    await d.ok(['container', 'rm', 'plain-details']);
  });

  test('--log-driver none: an attached run shows its output, logs is refused in Docker’s words, options too', async () => {
    assert.equal(await d.ok(['container', 'run', '--rm', '--log-driver', 'none', 'busybox', 'echo', 'seen-attached']), 'seen-attached\n');
    const id = (await d.ok(['container', 'run', '-d', '--log-driver', 'none', 'busybox', 'sh', '-c', 'echo kept-nowhere; sleep 30'])).trim();
    try {
      assert.equal((await inspect(id)).HostConfig.LogConfig.Type, 'none');
      const logs = await d.run(['container', 'logs', id]);
      assert.equal(logs.code, 1);
      assert.equal(logs.stdout, '');
      assert.equal(logs.stderr, 'Error response from daemon: configured logging driver does not support reading\n');
    } finally {
      await d.ok(['container', 'rm', '-f', id]);
    }
    const opt = await d.run(['container', 'run', '--rm', '--log-driver', 'none', '--log-opt', 'max-size=1m', 'busybox', 'true']);
    assert.equal(opt.code, 125);
    assert.match(opt.stderr, /unknown log opt 'max-size' for none log driver/);
  });
});

describe('health', () => {
  test('starting → healthy → unhealthy, shown in ps and inspect', async () => {
    await d.ok([
      'container', 'run', '-d', '--name', 'hc',
      '--health-cmd', 'test ! -f /tmp/sick', '--health-interval', '300ms', '--health-retries', '2', '--health-timeout', '2s',
      'busybox', 'sleep', '300',
    ]);
    assert.match(await d.ok(['container', 'ls', '--filter', 'name=hc', '--format', '{{.Status}}']), /health: starting|healthy/);
    await retry(async () => assert.equal((await inspect('hc')).State.Health.Status, 'healthy'));
    assert.match(await d.ok(['container', 'ls', '--filter', 'name=hc', '--format', '{{.Status}}']), /\(healthy\)/);
    await d.ok(['container', 'exec', 'hc', 'touch', '/tmp/sick']);
    await retry(async () => assert.equal((await inspect('hc')).State.Health.Status, 'unhealthy'));
    assert.equal((await d.ok(['container', 'ls', '-q', '--filter', 'health=unhealthy'])).trim().length, 12);
    await d.ok(['container', 'rm', '-f', 'hc']);
  });
});

describe('supervision', () => {
  test('restart=always brings a killed process back', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '300']);
    const first = await inspect('phoenix');
    process.kill(first.State.Pid, 'SIGKILL');
    await retry(async () => {
      const s = await inspect('phoenix');
      assert.equal(s.State.Status, 'running');
      assert.notEqual(s.State.Pid, first.State.Pid);
      assert.equal(s.RestartCount, 1);
    });
    await d.ok(['container', 'stop', '-t', '1', 'phoenix']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await inspect('phoenix')).State.Status, 'exited', 'a stop by the user is not undone by the policy');
    await d.ok(['container', 'rm', 'phoenix']);
  });

  test('stop -s and restart -s send the signal given, not the stop signal', async () => {
    // The script says which signal reached it, then ends; its stop signal (TERM) would say TERM.
    const script = 'trap "echo got USR1; exit 0" USR1; trap "echo got TERM; exit 0" TERM; while :; do sleep 0.1; done';
    await d.ok(['container', 'run', '-d', '--name', 'sig', 'busybox', 'sh', '-c', script]);
    await d.ok(['container', 'stop', '-s', 'USR1', '-t', '5', 'sig']);
    await d.ok(['container', 'start', 'sig']);
    await d.ok(['container', 'restart', '-s', 'SIGUSR1', '-t', '5', 'sig']);
    await retry(async () => assert.equal((await inspect('sig')).State.Status, 'running'));
    const bad = await d.run(['container', 'stop', '-s', 'BOGUS', 'sig']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Invalid signal: BOGUS/);
    await d.ok(['container', 'stop', 'sig']);
    assert.equal(await d.ok(['container', 'logs', 'sig']), 'got USR1\ngot USR1\ngot TERM\n');
    await d.ok(['container', 'rm', 'sig']);
  });

  test('pause, unpause, rename, wait', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'p1', 'busybox', 'sleep', '300']);
    await d.ok(['container', 'pause', 'p1']);
    assert.match(await d.ok(['container', 'ls', '--filter', 'name=p1', '--format', '{{.Status}}']), /\(Paused\)/);
    const paused = await d.run(['container', 'exec', 'p1', 'true']);
    assert.equal(paused.code, 1);
    assert.match(paused.stderr, /^Error response from daemon: Container [0-9a-f]{64} is paused, unpause the container before exec$/m);
    await d.ok(['container', 'unpause', 'p1']);
    await d.ok(['rename', 'p1', 'p2']);
    assert.equal((await inspect('p2')).Name, '/p2');
    const waiter = d.run(['container', 'wait', 'p2']);
    // PID 1 ignores SIGTERM without a handler (as in Docker), so KILL it.
    // A signal that is none is refused before anything is sent, in the daemon's words.
    for (const target of ['p2', 'nosuch']) {
      const bogus = await d.run(['container', 'kill', '-s', 'BOGUS', target]);
      assert.equal(bogus.code, 1);
      assert.equal(bogus.stderr, 'Error response from daemon: Invalid signal: BOGUS\n');
    }
    assert.equal((await inspect('p2')).State.Status, 'running');
    await d.ok(['container', 'kill', '-s', 'KILL', 'p2']);
    const w = await waiter;
    assert.equal(w.stdout.trim(), '137');
    await d.ok(['container', 'rm', 'p2']);
  });
});

describe('files', () => {
  test('cp both ways, commit and export', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'files', 'busybox', 'sleep', '300']);
    const local = path.join(d.dir, 'note.txt');
    await fsp.writeFile(local, 'from host\n');
    await d.ok(['container', 'cp', local, 'files:/tmp/']);
    assert.equal(await d.ok(['container', 'exec', 'files', 'cat', '/tmp/note.txt']), 'from host\n');
    await d.ok(['container', 'exec', 'files', 'sh', '-c', 'echo from container > /root/back.txt']);
    const back = path.join(d.dir, 'back.txt');
    await d.ok(['container', 'cp', 'files:/root/back.txt', back]);
    assert.equal(await fsp.readFile(back, 'utf8'), 'from container\n');
    // A symlink comes out as a link; with -L, as what it points to, under the link's name.
    await d.ok(['container', 'exec', 'files', 'ln', '-s', '/root/back.txt', '/root/link']);
    const asLink = path.join(d.dir, 'as-link');
    await d.ok(['container', 'cp', 'files:/root/link', asLink]);
    assert.equal(await fsp.readlink(asLink), '/root/back.txt');
    const followed = path.join(d.dir, 'followed');
    await d.ok(['container', 'cp', '-L', 'files:/root/link', followed]);
    assert.equal(await fsp.readFile(followed, 'utf8'), 'from container\n');
    const imageId = (await d.ok(['commit', '-c', 'ENV COMMITTED=yes', 'files', 'committed:1'])).trim();
    assert.match(imageId, /^sha256:[a-f0-9]{64}$/);
    const out = await d.ok(['container', 'run', '--rm', 'committed:1', 'sh', '-c', 'cat /root/back.txt; echo $COMMITTED']);
    assert.equal(out, 'from container\nyes\n');
    const tar = (await d.run(['export', 'files'])).stdoutBuffer;
    assert.ok(tar.length > 1_000_000, 'export streams the whole filesystem');
    assert.ok(tar.includes(Buffer.from('root/back.txt')));
    const top = await d.ok(['container', 'top', 'files']);
    assert.match(top, /sleep 300/);
    const stats = await d.ok(['container', 'stats', '--no-stream', 'files']);
    assert.match(stats.split('\n')[0]!, /CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT/);
    await d.ok(['container', 'rm', '-f', 'files']);
  });

  test('cp of directories: dir, dir/. into a new and an existing directory, and a tar on stdin', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'dirs', 'busybox', 'sleep', '300']);
    const src = path.join(d.dir, 'tree');
    await fsp.mkdir(path.join(src, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(src, 'a'), 'a\n');
    await fsp.writeFile(path.join(src, 'sub', 'b'), 'b\n');
    const list = async (p: string) => (await d.ok(['container', 'exec', 'dirs', 'find', p])).trim().split('\n').sort();
    await d.ok(['container', 'cp', src, 'dirs:/tmp/']);
    assert.deepEqual(await list('/tmp/tree'), ['/tmp/tree', '/tmp/tree/a', '/tmp/tree/sub', '/tmp/tree/sub/b']);
    await d.ok(['container', 'cp', `${src}/.`, 'dirs:/tmp/flat']);
    assert.deepEqual(await list('/tmp/flat'), ['/tmp/flat', '/tmp/flat/a', '/tmp/flat/sub', '/tmp/flat/sub/b']);

    // Out of the container: `dir/.` copies the contents, whether the destination exists or not.
    const localList = async (p: string) =>
      (await fsp.readdir(p, { recursive: true })).map((x) => x.toString()).sort();
    const fresh = path.join(d.dir, 'fresh');
    await d.ok(['container', 'cp', 'dirs:/tmp/tree/.', fresh]);
    assert.deepEqual(await localList(fresh), ['a', 'sub', 'sub/b']);
    assert.equal(await fsp.readFile(path.join(fresh, 'sub', 'b'), 'utf8'), 'b\n');
    const existing = path.join(d.dir, 'existing');
    await fsp.mkdir(existing);
    await d.ok(['container', 'cp', 'dirs:/tmp/tree/.', existing]);
    assert.deepEqual(await localList(existing), ['a', 'sub', 'sub/b']);
    await d.ok(['container', 'cp', 'dirs:/tmp/tree', existing]);
    assert.deepEqual(await localList(path.join(existing, 'tree')), ['a', 'sub', 'sub/b']);

    // `cp - ctr:dir` unpacks a tar into an existing directory; a missing one is named.
    const archive = (await d.run(['container', 'cp', 'dirs:/tmp/tree', '-'])).stdoutBuffer;
    await d.ok(['container', 'exec', 'dirs', 'mkdir', '/tmp/unpacked']);
    await d.ok(['container', 'cp', '-', 'dirs:/tmp/unpacked'], { input: archive });
    assert.deepEqual(await list('/tmp/unpacked/tree'), ['/tmp/unpacked/tree', '/tmp/unpacked/tree/a', '/tmp/unpacked/tree/sub', '/tmp/unpacked/tree/sub/b']);
    // The root of a running container, both ways: into it (it was 'not a directory', reached
    // through /proc/<pid>/root), and out of it without the kernel's file systems' content.
    await d.ok(['container', 'cp', '-', 'dirs:/'], { input: archive });
    assert.deepEqual(await list('/tree'), ['/tree', '/tree/a', '/tree/sub', '/tree/sub/b']);
    const whole = execFileSync('tar', ['tf', '-'], { input: (await d.run(['container', 'cp', 'dirs:/', '-'])).stdoutBuffer }).toString().split('\n');
    assert.ok(whole.includes('./tree/sub/b') && whole.includes('./bin/sh'), whole.slice(0, 5).join(' '));
    assert.ok(whole.includes('./proc/') && !whole.some((e) => e.startsWith('./proc/self') || e.startsWith('./sys/kernel')), 'proc and sys are mount points only');
    const missing = await d.run(['container', 'cp', '-', 'dirs:/nowhere'], { input: archive });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'destination "dirs:/nowhere" must be a directory\n');
    await d.ok(['container', 'rm', '-f', 'dirs']);
  });

  /** A failed cp as Docker's: status 1 and its one-line message, no stack trace. */
  const cpFails = async (args: string[], message: string, input?: Buffer) => {
    const r = await d.run(['container', 'cp', ...args], input ? { input } : {});
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `${message}\n`);
  };

  test('cp refusals: a directory onto a file, a file into a missing directory, a tar into a non-directory', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'refuse', 'busybox', 'sh', '-c', 'mkdir -p /d/deep /in && echo 1 > /d/f1 && head -c 3000000 /dev/zero > /d/deep/big && exec sleep 300']);
    await retry(() => d.ok(['container', 'exec', 'refuse', 'test', '-s', '/d/deep/big']));
    const dir = path.join(d.dir, 'refusals');
    await fsp.mkdir(path.join(dir, 'src', 'tree'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'src', 'file'), 'file\n');
    await fsp.writeFile(path.join(dir, 'f'), '');
    // Out of the container: the refusal comes with the archive's first entry, while the
    // download is still going (it used to escape as an uncaught error with the bundle's source).
    await cpFails(['refuse:/d', path.join(dir, 'f')], 'cannot copy directory');
    await cpFails(['refuse:/d/f1', path.join(dir, 'nonexist') + '/'], 'no such directory');
    assert.equal(existsSync(path.join(dir, 'nonexist')), false);
    // A local write failing mid-download is one line too.
    await fsp.mkdir(path.join(dir, 'out', 'd'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'out', 'd', 'deep'), '');
    await cpFails(['refuse:/d', path.join(dir, 'out')], `EEXIST: file already exists, mkdir '${path.join(dir, 'out', 'd', 'deep')}'`);
    // Into the container.
    await cpFails([path.join(dir, 'src', 'tree'), 'refuse:/d/f1'], 'cannot copy directory');
    await cpFails([path.join(dir, 'src', 'file'), 'refuse:/in/nodir/'], 'no such directory');
    const tar = execFileSync('tar', ['-C', path.join(dir, 'src'), '-cf', '-', 'file']);
    await cpFails(['-', 'refuse:/in/nonexist'], 'destination "refuse:/in/nonexist" must be a directory', tar);
    await cpFails(['-', 'refuse:/d/f1'], 'destination "refuse:/d/f1" must be a directory', tar);
    assert.equal(await d.ok(['container', 'exec', 'refuse', 'ls', '-A', '/in']), '');
    await d.ok(['container', 'rm', '-f', 'refuse']);
  });

  test('cp of a directory to a missing destination creates it, trailing / or not', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'mkdest', 'busybox', 'sh', '-c', 'mkdir -p /in/exist /d/sub && echo 1 > /d/sub/f && exec sleep 300']);
    await retry(() => d.ok(['container', 'exec', 'mkdest', 'test', '-f', '/d/sub/f']));
    const src = path.join(d.dir, 'mkdest-src');
    await fsp.mkdir(path.join(src, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(src, 'a'), 'a\n');
    await fsp.writeFile(path.join(src, 'sub', 'b'), 'b\n');
    const list = async (p: string) => (await d.ok(['container', 'exec', 'mkdest', 'find', p])).trim().split('\n').sort();
    for (const [from, to, made] of [
      [src, 'mkdest:/in/x/', '/in/x'],
      [`${src}/`, 'mkdest:/in/y/', '/in/y'],
      [src, 'mkdest:/in/exist/../z/', '/in/z'],
      [src, 'mkdest:/in/w', '/in/w'],
    ] as const) {
      await d.ok(['container', 'cp', from, to]);
      assert.deepEqual(await list(made), [made, `${made}/a`, `${made}/sub`, `${made}/sub/b`].sort(), `${from} -> ${to}`);
    }
    assert.equal(await d.ok(['container', 'exec', 'mkdest', 'cat', '/in/x/sub/b']), 'b\n');
    // Out of the container, the same rule.
    const local = path.join(d.dir, 'mkdest-out');
    await fsp.mkdir(local);
    await d.ok(['container', 'cp', 'mkdest:/d', `${local}/fresh/`]);
    assert.equal(await fsp.readFile(path.join(local, 'fresh', 'sub', 'f'), 'utf8'), '1\n');
    await d.ok(['container', 'rm', '-f', 'mkdest']);
  });

  test('cp -a keeps the owners, cp gives the files to root, in running and stopped containers', async () => {
    const src = path.join(d.dir, 'owned');
    await fsp.mkdir(path.join(src, 'tree', 'sub'), { recursive: true });
    await fsp.writeFile(path.join(src, 'file'), 'file\n');
    await fsp.writeFile(path.join(src, 'tree', 'a'), 'a\n');
    await fsp.writeFile(path.join(src, 'tree', 'sub', 'b'), 'b\n');
    await fsp.chown(path.join(src, 'file'), 4321, 8765);
    for (const p of ['tree', 'tree/a', 'tree/sub', 'tree/sub/b']) await fsp.chown(path.join(src, p), 1111, 2222);
    const expected = (file: string, tree: string) =>
      [`/x/file ${file}`, `/x/tree ${tree}`, `/x/tree/a ${tree}`, `/x/tree/sub ${tree}`, `/x/tree/sub/b ${tree}`].join('\n');
    const owners = (listing: string) => listing.trim().split('\n').sort().join('\n');
    const stat = 'find /x -mindepth 1 -exec stat -c "%n %u:%g" {} +';

    await d.ok(['container', 'run', '-d', '--name', 'owners', 'busybox', 'sh', '-c', 'mkdir /archive /plain && exec sleep 300']);
    await retry(() => d.ok(['container', 'exec', 'owners', 'test', '-d', '/plain']));
    for (const what of ['file', 'tree']) {
      await d.ok(['container', 'cp', '-a', path.join(src, what), 'owners:/archive/']);
      await d.ok(['container', 'cp', path.join(src, what), 'owners:/plain/']);
    }
    const listed = async (dir: string) => owners(await d.ok(['container', 'exec', 'owners', 'sh', '-c', stat.replaceAll('/x', dir)]));
    assert.equal(await listed('/archive'), expected('4321:8765', '1111:2222').replaceAll('/x', '/archive'));
    assert.equal(await listed('/plain'), expected('0:0', '0:0').replaceAll('/x', '/plain'));
    await d.ok(['container', 'rm', '-f', 'owners']);

    await d.ok(['container', 'create', '--name', 'owners-stopped', 'busybox', 'sh', '-c', stat.replaceAll('/x', '/tmp')]);
    await d.ok(['container', 'cp', '-a', path.join(src, 'file'), 'owners-stopped:/tmp/']);
    await d.ok(['container', 'cp', path.join(src, 'tree'), 'owners-stopped:/tmp/']);
    assert.equal(owners(await d.ok(['container', 'start', '-a', 'owners-stopped'])), expected('4321:8765', '0:0').replaceAll('/x', '/tmp'));
    await d.ok(['container', 'rm', 'owners-stopped']);
  });

  test('diff: the container’s changes against its image, without mount points or volumes', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'changes', '-v', '/anon', 'busybox', 'sleep', '300']);
    assert.equal(await d.ok(['diff', 'changes']), '', 'a fresh container changed nothing (its /etc/hosts and the like are mounts)');
    await d.ok(['container', 'exec', 'changes', 'sh', '-c', 'touch /new; rm /bin/vi; echo x >> /etc/passwd; mkdir -p /a/b; touch /a/b/c /anon/in-volume']);
    const expected = 'A /a\nA /a/b\nA /a/b/c\nC /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /new\n';
    assert.equal(await d.ok(['container', 'diff', 'changes']), expected);
    await d.ok(['container', 'stop', '-t', '0', 'changes']);
    assert.equal(await d.ok(['diff', 'changes']), expected, 'the same once stopped');
    const missing = await d.run(['diff', 'nosuch']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such container: nosuch/);
    await d.ok(['container', 'rm', '-v', 'changes']);
  });

  test('import and commit: history shows each new layer with its size, commit bakes in no defaults', async () => {
    const tree = path.join(d.dir, 'import-tree');
    await fsp.mkdir(tree, { recursive: true });
    await fsp.writeFile(path.join(tree, 'payload'), Buffer.alloc(50_000, 7));
    const tarball = execFileSync('tar', ['cf', '-', '-C', tree, 'payload']);
    await d.ok(['import', '-m', 'from a tarball', '-', 'imported:1'], { input: tarball });
    const history = await d.ok(['image', 'history', '--format', '{{.Size}}|{{.Comment}}', 'imported:1']);
    // The size of the layer just imported, read without a daemon restart (it was 0B).
    assert.match(history.trim(), /^[56]\d(\.\d+)?kB\|from a tarball$/);

    await d.ok(['container', 'run', '--name', 'tocommit', 'busybox', 'touch', '/made']);
    await d.ok(['commit', 'tocommit', 'committed:2']);
    const config = JSON.parse(await d.ok(['image', 'inspect', '--format', '{{json .Config}}', 'committed:2'])) as Record<string, unknown>;
    assert.equal(config.StopSignal, undefined, 'SIGTERM, every container default, is not written into the image (omitempty)');
    assert.equal(config.Labels, null);
    assert.match(await d.ok(['image', 'history', '--format', '{{.Size}}', 'committed:2']), /^\d+(\.\d+)?[kM]?B\n/);
    await d.ok(['container', 'rm', 'tocommit']);
    await d.ok(['image', 'rm', 'imported:1', 'committed:2']);
  });
});

describe('devices', () => {
  const allowed = (out: string) => out.trim().split('\n');
  test('--device gives the node at its path with its permissions; --device-cgroup-rule allows more', async () => {
    // /dev/loop0 (b 7:0) is outside Docker's default device cgroup: denied unless given.
    const denied = await d.run(['container', 'run', '--rm', 'busybox', 'sh', '-c', 'mknod /tmp/l b 7 0 && head -c 1 /tmp/l']);
    assert.match(denied.stderr, /Operation not permitted/);
    const given = await d.ok(['container', 'run', '--rm', '--device', '/dev/loop0', '--device', '/dev/fuse:/dev/f:r', 'busybox', 'sh', '-c',
      'ls -l /dev/loop0 /dev/f | cut -c1; head -c 1 /dev/loop0 >/dev/null && echo read-ok; cat /sys/fs/cgroup/devices/devices.list 2>/dev/null || true']);
    const lines = allowed(given);
    assert.deepEqual(lines.slice(0, 3), ['c', 'b', 'read-ok']); // ls sorts: /dev/f, then /dev/loop0
    if (lines.length > 3) {
      // cgroup v1 lists the rules: each device with its permissions.
      assert.ok(lines.includes('b 7:0 rwm'), given);
      assert.ok(lines.includes('c 10:229 r'), given);
    }
    const write = await d.run(['container', 'run', '--rm', '--device', '/dev/fuse:/dev/f:r', 'busybox', 'sh', '-c', 'echo x > /dev/f']);
    assert.match(write.stderr, /Operation not permitted/);
    const ruled = await d.ok(['container', 'run', '--rm', '--device-cgroup-rule', 'b 7:* rwm', 'busybox', 'sh', '-c', 'mknod /tmp/l b 7 0 && head -c 1 /tmp/l >/dev/null && echo ruled-ok']);
    assert.equal(ruled, 'ruled-ok\n');
  });

  test('a device, rule, stop signal or working directory that could never start is refused at create', async () => {
    const before = await d.ok(['container', 'ls', '-aq']);
    const cases: Array<[string[], string]> = [
      [['--device', '/dev/nosuch'], 'error gathering device information while adding custom device "/dev/nosuch": no such file or directory'],
      [['--device', '/etc/hostname'], 'error gathering device information while adding custom device "/etc/hostname": not a device node'],
      [['--device-cgroup-rule', 'x 1:2'], 'runtime: invalid device cgroup rule "x 1:2"'],
      [['--stop-signal', 'SIGFOO'], 'invalid signal: SIGFOO'],
      [['-w', 'relative'], "the working directory 'relative' is invalid, it needs to be an absolute path"],
    ];
    for (const [flags, message] of cases) {
      const r = await d.run(['container', 'run', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), `tscompose: Error response from daemon: ${message}`);
    }
    assert.equal(await d.ok(['container', 'ls', '-aq']), before, 'nothing was created');
    await d.ok(['container', 'run', '--rm', '--stop-signal', 'RTMIN+3', 'busybox', 'true']);
  });
});

describe('UTS namespace', () => {
  test('--uts host and Compose’s uts: host give the host’s name; a hostname with it is refused', async () => {
    const host = os.hostname();
    assert.equal(await d.ok(['container', 'run', '--rm', '--uts', 'host', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname']), `${host}\n${host}\n`);
    // As Docker, the host network without a hostname also takes the host's name.
    assert.equal(await d.ok(['container', 'run', '--rm', '--network', 'host', 'busybox', 'hostname']), `${host}\n`);
    const conflict = await d.run(['container', 'run', '--rm', '--uts', 'host', '--hostname', 'x', 'busybox', 'true']);
    assert.equal(conflict.code, 125);
    assert.match(conflict.stderr, /Conflicting options: hostname and the UTS mode/);
    assert.equal((await d.run(['container', 'run', '--rm', '--uts', 'bogus', 'busybox', 'true'])).code, 125);
    const q = await ComposeProject.create(d, 'uts', 'services:\n  a:\n    image: busybox\n    command: ["sleep", "300"]\n    uts: host\n');
    try {
      await q.ok(['up', '-d']);
      assert.equal(await q.exec('a', 'hostname'), host);
      assert.equal((await inspect('uts-a-1')).HostConfig.UTSMode, 'host');
    } finally {
      await q.down();
    }
  });
});

describe('tmpfs options', () => {
  test('--tmpfs and Compose’s tmpfs take exec, uid and the like over Docker’s noexec default', async () => {
    const probe = 'grep " /t " /proc/mounts; cp /bin/busybox /t/true && /t/true && echo ran';
    const plain = await d.run(['container', 'run', '--rm', '--tmpfs', '/t', 'busybox', 'sh', '-c', probe]);
    assert.match(plain.stdout, /\/t tmpfs rw,nosuid,nodev,noexec/);
    assert.doesNotMatch(plain.stdout, /^ran$/m, 'noexec by default');
    const exec = await d.ok(['container', 'run', '--rm', '--tmpfs', '/t:exec,uid=1000', 'busybox', 'sh', '-c', `${probe}; stat -c %u /t`]);
    assert.doesNotMatch(exec, /noexec/);
    assert.match(exec, /uid=1000/);
    assert.match(exec, /^ran\n1000$/m);
    const q = await ComposeProject.create(d, 'tmpfsopts', 'services:\n  a:\n    image: busybox\n    command: ["sleep", "300"]\n    tmpfs:\n      - /t:exec,mode=1770\n');
    try {
      await q.ok(['up', '-d']);
      assert.equal(await q.sh('a', 'cp /bin/busybox /t/true && /t/true && echo ran; stat -c %a /t'), 'ran\n1770');
      await q.write('services:\n  a:\n    image: busybox\n    tmpfs:\n      - /t:bogus\n');
      const bad = await q.run(['up', '-d']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /service "a": tmpfs "\/t:bogus": invalid option "bogus"/);
    } finally {
      await q.down();
    }
  });
});

describe('annotations', () => {
  test('--annotation and Compose’s annotations reach the OCI runtime config and inspect', async () => {
    const { createHash } = await import('node:crypto');
    const runtimeDir = path.join('/run/tscompose', createHash('sha256').update(d.dataRoot).digest('hex').slice(0, 8), 'containers');
    const config = async (id: string) => JSON.parse(await fsp.readFile(path.join(runtimeDir, id, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    const id = (await d.ok(['container', 'run', '-d', '--annotation', 'com.example.a=1', '--annotation', 'b=', 'busybox', 'sleep', '300'])).trim();
    assert.deepEqual((await config(id)).annotations, { 'com.example.a': '1', b: '', 'org.tscompose.container.name': (await inspect(id)).Name.slice(1) });
    assert.deepEqual((await inspect(id)).HostConfig.Annotations, { 'com.example.a': '1', b: '' });
    await d.ok(['container', 'rm', '-f', id]);
    const bad = await d.run(['container', 'create', '--annotation', 'novalue', 'busybox']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid annotation 'novalue'/);
    const q = await ComposeProject.create(d, 'annotated', 'services:\n  a:\n    image: busybox\n    command: ["sleep", "300"]\n    annotations:\n      com.example.c: "3"\n');
    try {
      await q.ok(['up', '-d']);
      const c = await inspect('annotated-a-1');
      assert.equal((await config(c.Id)).annotations?.['com.example.c'], '3');
    } finally {
      await q.down();
    }
  });
});

describe('memory settings', () => {
  test('--memory-swappiness and --oom-kill-disable reach the memory cgroup; a bad swappiness is refused', async () => {
    const out = await d.ok(['container', 'run', '--rm', '-m', '64m', '--memory-swappiness', '7', '--oom-kill-disable', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.swappiness; grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control']);
    assert.equal(out, '7\noom_kill_disable 1\n');
    // Block I/O: per-device rates reach the blkio cgroup; a bad device is refused at create.
    const io = await d.run(['container', 'run', '--rm', '--device-read-bps', '/dev/loop0:2mb', '--device-write-iops', '/dev/loop0:50', '--blkio-weight', '300', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device']);
    assert.equal(io.stdout, '7:0 2097152\n7:0 50\n', io.stderr);
    if (!existsSync('/sys/fs/cgroup/blkio/blkio.weight') && !existsSync('/sys/fs/cgroup/blkio/blkio.bfq.weight')) {
      assert.match(io.stderr, /Your kernel does not support Block I\/O weight or the cgroup is not mounted\. Weight discarded\./);
    }
    const notBlock = await d.run(['container', 'run', '--rm', '--device-read-bps', '/dev/null:1mb', 'busybox', 'true']);
    assert.equal(notBlock.code, 125);
    assert.match(notBlock.stderr, /\/dev\/null is not a block device/);
    // --cgroup-parent: the container's cgroup goes under it, and is removed with the container
    // (the parent stays, as Docker leaves it); inspect shows it.
    const parent = `tsc-parent-${process.pid}`;
    try {
      await d.ok(['container', 'run', '-d', '--name', 'parented', '--cgroup-parent', `/${parent}`, 'busybox', 'sleep', '300']);
      const id = (await d.ok(['container', 'inspect', '-f', '{{.Id}}', 'parented'])).trim();
      assert.match(await d.ok(['container', 'exec', 'parented', 'cat', '/proc/self/cgroup']), new RegExp(`^\\d+:pids:/${parent}/${id}$`, 'm'));
      assert.equal((await d.ok(['container', 'inspect', '-f', '{{.HostConfig.CgroupParent}}', 'parented'])).trim(), `/${parent}`);
      await d.ok(['container', 'rm', '-f', 'parented']);
      assert.ok(!existsSync(`/sys/fs/cgroup/pids/${parent}/${id}`), 'the container’s cgroup went with it');
    } finally {
      for (const h of readdirSync('/sys/fs/cgroup')) {
        try {
          rmdirSync(`/sys/fs/cgroup/${h}/${parent}`);
        } catch {
          // not in this hierarchy
        }
      }
    }
    // --cgroupns private: the container's cgroup is its root.
    assert.match(await d.ok(['container', 'run', '--rm', '--cgroupns', 'private', 'busybox', 'cat', '/proc/self/cgroup']), /^\d+:memory:\/$/m);
    const bad = await d.run(['container', 'run', '--rm', '--memory-swappiness', '101', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid memory swappiness: 101 \(its range is from 0 to 100\)/);
  });
});

describe('security options', () => {
  test('no-new-privileges, a seccomp profile, systempaths=unconfined; a bad option is refused at create', async () => {
    assert.equal(await d.ok(['container', 'run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status']), 'NoNewPrivs:\t1\n');
    const profile = path.join(d.dir, 'no-mkdir.json');
    await fsp.writeFile(profile, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    }));
    const filtered = await d.run(['container', 'run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', 'grep Seccomp: /proc/self/status; mkdir /made']);
    assert.match(filtered.stdout, /^Seccomp:\t2$/m);
    assert.match(filtered.stderr, /can't create directory '\/made': Operation not permitted/);
    assert.equal(await d.ok(['container', 'run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'sh', '-c', 'mkdir /made && echo made']), 'made\n');
    // /proc/timer_list is masked (empty) unless systempaths=unconfined.
    assert.equal(await d.ok(['container', 'run', '--rm', 'busybox', 'sh', '-c', 'wc -c < /proc/timer_list']), '0\n');
    assert.notEqual(await d.ok(['container', 'run', '--rm', '--security-opt', 'systempaths=unconfined', 'busybox', 'sh', '-c', 'wc -c < /proc/timer_list']), '0\n');
    const before = await d.ok(['container', 'ls', '-aq']);
    const bad = await d.run(['container', 'run', '--security-opt', 'foo=bar', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.equal(bad.stderr.trim(), 'tscompose: Error response from daemon: invalid --security-opt 2: "foo=bar"');
    assert.equal(await d.ok(['container', 'ls', '-aq']), before);
  });
});

describe('terminal', () => {
  test('an interactive -it session under tmux', async () => {
    const session = `tsc-${process.pid}`;
    const env = Object.entries(d.env).map(([k, v]) => `${k}=${v}`).join(' ');
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', `env ${env} ${process.execPath} ${CLI} container run -it --rm --name tty busybox sh`]);
    try {
      const screen = () => execFileSync('tmux', ['capture-pane', '-p', '-t', session]).toString();
      await retry(async () => assert.match(screen(), /^\/ #/m));
      execFileSync('tmux', ['send-keys', '-t', session, 'echo tty-ok $(tty)', 'Enter']);
      await retry(async () => assert.match(screen(), /tty-ok \/dev\/pts\/\d+/));
      execFileSync('tmux', ['send-keys', '-t', session, 'exit 0', 'Enter']);
      await retry(async () => assert.equal((await d.ok(['container', 'ls', '-aq', '--filter', 'name=tty'])).trim(), ''));
    } finally {
      try {
        execFileSync('tmux', ['kill-session', '-t', session]);
      } catch {
        // already ended with the shell
      }
    }
  });
  test('-it output keeps the container terminal’s line ends (ours adds no \\r); the terminal is restored', () => {
    const env = Object.entries(d.env).map(([k, v]) => `${k}=${v}`).join(' ');
    const command = `env ${env} ${process.execPath} ${CLI} container run -it --rm busybox printf 'a\\nb\\n'; stty -a`;
    const out = execFileSync('script', ['-qefc', command, '/dev/null'], { input: '', timeout: 60_000 }).toString();
    // (script may echo its input's end before the container's output)
    assert.ok(out.includes('a\r\nb\r\n') && !out.includes('\r\r\n'), JSON.stringify(out.slice(0, 20)));
    assert.match(out, /(^|\s)opost(\s|$)/m, 'output processing is back on');
    assert.match(out, /(^|\s)icanon(\s|$)/m, 'line editing is back on');
  });
});

describe('command lines', () => {
  test('an unknown flag exits 125 with Docker’s words and the command’s help, at every depth', async () => {
    for (const args of [['container', 'run', '--bogus', 'busybox', 'true'], ['image', 'ls', '--bogus'], ['ps', '--bogus']]) {
      const r = await d.run(args);
      assert.equal(r.code, 125, args.join(' '));
      const command = args.slice(0, args.indexOf('--bogus')).join(' ');
      assert.equal(r.stderr, `unknown flag: --bogus\nSee 'tscompose ${command} --help'.\n`);
    }
  });

  test('too few or too many operands: Docker’s words, exit 1', async () => {
    const few = await d.run(['container', 'rm']);
    assert.equal(few.code, 1);
    assert.equal(few.stderr, `"tscompose container rm" requires at least 1 argument.\nSee 'tscompose container rm --help'.\n`);
    const many = await d.run(['image', 'build', 'a', 'b']);
    assert.equal(many.code, 1);
    assert.equal(many.stderr, `"tscompose image build" requires exactly 1 argument.\nSee 'tscompose image build --help'.\n`);
  });

  test('--format json on info and version; a status filter that is no state is refused', async () => {
    assert.equal(JSON.parse(await d.ok(['info', '--format', 'json'])).DockerRootDir, d.dataRoot);
    assert.ok(JSON.parse(await d.ok(['version', '--format', 'json'])).Server.Version);
    const bad = await d.run(['container', 'ls', '--filter', 'status=bogus']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'status=bogus'/);
  });
});

describe('stdin', () => {
  test('create -i, then start -ai with piped input: the end of input reaches the container', async () => {
    const id = (await d.ok(['container', 'create', '-i', 'busybox', 'cat'])).trim();
    assert.equal((await d.ok(['container', 'inspect', '-f', '{{.Config.StdinOnce}}', id])).trim(), 'true');
    const r = await d.run(['container', 'start', '-ai', id], { input: 'piped\n', timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'piped\n');
    assert.equal((await d.ok(['container', 'inspect', '-f', '{{.State.Status}}', id])).trim(), 'exited');
    await d.ok(['container', 'rm', id]);
  });
});

describe('terminal detach', () => {
  test('run -it, Ctrl-P Ctrl-Q, then attach: the same shell reads again', async () => {
    const session = `tsc-detach-${process.pid}`;
    const env = Object.entries(d.env).map(([k, v]) => `${k}=${v}`).join(' ');
    const screen = () => execFileSync('tmux', ['capture-pane', '-p', '-t', session]).toString();
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', `env ${env} ${process.execPath} ${CLI} container run -it --name detach-me busybox sh; exec sh`]);
    try {
      await retry(async () => assert.match(screen(), /^\/ #/m));
      execFileSync('tmux', ['send-keys', '-t', session, 'echo first-$((1+1))', 'Enter']);
      await retry(async () => assert.match(screen(), /first-2/));
      execFileSync('tmux', ['send-keys', '-t', session, 'C-p', 'C-q']);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await d.ok(['container', 'inspect', '-f', '{{.State.Status}}', 'detach-me'])).trim(), 'running');
      // Twice: a detach must leave the container's input open for every later attach.
      for (const round of [1, 2]) {
        execFileSync('tmux', ['send-keys', '-t', session, 'clear', 'Enter']);
        execFileSync('tmux', ['send-keys', '-t', session, `env ${env} ${process.execPath} ${CLI} attach detach-me`, 'Enter']);
        await new Promise((r) => setTimeout(r, 1500));
        execFileSync('tmux', ['send-keys', '-t', session, `echo again-$((${round}*10))`, 'Enter']);
        await retry(async () => assert.match(screen(), new RegExp(`again-${round * 10}`)));
        execFileSync('tmux', ['send-keys', '-t', session, 'C-p', 'C-q']);
        await new Promise((r) => setTimeout(r, 1500));
      }
      assert.equal((await d.ok(['container', 'inspect', '-f', '{{.State.Status}}', 'detach-me'])).trim(), 'running');
    } finally {
      try {
        execFileSync('tmux', ['kill-session', '-t', session]);
      } catch {
        // already gone
      }
      await d.run(['container', 'rm', '-f', 'detach-me']);
    }
  });
});

/** Every event about container `id` (its own, and its networks' naming it), as `Type Action name`. */
const eventsOf = async (id: string, since: string, until: string) => {
  const out = await d.ok(['system', 'events', '--since', since, '--until', until, '--format', '{{json .}}']);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((e) => e.Actor.ID === id || e.Actor.Attributes.container === id);
};
const brief = (evs: Array<{ Type: string; Action: string; Actor: { Attributes: Record<string, string> } }>) =>
  evs.map((e) => `${e.Type} ${e.Action} ${e.Actor.Attributes.name}`);

describe('host and none networks', () => {
  test('inspect lists their running containers, with an endpoint and no address; ps filters on them; events tell of them', async () => {
    const since = new Date().toISOString();
    const none = (await d.ok(['container', 'run', '-d', '--name', 'evnone', '--network', 'none', 'busybox', 'sleep', '300'])).trim();
    const host = (await d.ok(['container', 'run', '-d', '--name', 'evhost', '--network', 'host', 'busybox', 'sleep', '300'])).trim();
    try {
      for (const [net, id, name] of [['none', none, 'evnone'], ['host', host, 'evhost']] as const) {
        const n = JSON.parse(await d.ok(['network', 'inspect', net]))[0];
        const own = (await inspect(id)).NetworkSettings.Networks[net];
        assert.equal(own.NetworkID, n.Id);
        assert.match(own.EndpointID, /^[0-9a-f]{64}$/);
        assert.equal(own.DNSNames, null);
        assert.deepEqual(n.Containers[id], { Name: name, EndpointID: own.EndpointID, MacAddress: '', IPv4Address: '', IPv6Address: '' });
        assert.equal(Object.keys(n.Containers).includes(net === 'none' ? host : none), false);
        assert.equal((await d.ok(['container', 'ls', '--filter', `network=${net}`, '--format', '{{.Names}}'])).trim(), name);
        assert.equal((await d.ok(['container', 'ls', '--filter', `network=${n.Id.slice(0, 12)}`, '--format', '{{.Names}}'])).trim(), name);
      }
      await d.ok(['container', 'stop', '-t', '0', 'evnone', 'evhost']);
      // Stopped: off the network, still on it for ps -a, as Docker.
      for (const [net, name] of [['none', 'evnone'], ['host', 'evhost']] as const) {
        assert.deepEqual(JSON.parse(await d.ok(['network', 'inspect', net]))[0].Containers, {});
        assert.equal((await d.ok(['container', 'ls', '-a', '--filter', `network=${net}`, '--format', '{{.Names}}'])).trim(), name);
      }
      const until = new Date(Date.now() + 10).toISOString();
      await new Promise((r) => setTimeout(r, 20));
      const nets = async (id: string) => (await eventsOf(id, since, until)).filter((e) => e.Type === 'network').map((e) => `${e.Action} ${e.Actor.Attributes.name} ${e.Actor.Attributes.type}`);
      assert.deepEqual(await nets(none), ['connect none null', 'disconnect none null']);
      assert.deepEqual(await nets(host), ['connect host host', 'disconnect host host']);
    } finally {
      await d.run(['container', 'rm', '-f', 'evnone', 'evhost']);
    }
  });
});

describe('events', () => {
  test('an attached run says create, attach, start, die and destroy, as Docker does', async () => {
    const since = new Date().toISOString();
    await d.ok(['container', 'run', '--rm', '--name', 'evrun', 'busybox', 'true']);
    await d.ok(['container', 'run', '-d', '--name', 'evdetached', 'busybox', 'true']);
    await d.ok(['container', 'wait', 'evdetached']);
    await d.ok(['container', 'rm', 'evdetached']);
    const until = new Date(Date.now() + 10).toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const actions = async (name: string) =>
      (await d.ok(['system', 'events', '--since', since, '--until', until, '--filter', `container=${name}`, '--format', '{{.Action}}'])).trim().split('\n');
    assert.deepEqual(await actions('evrun'), ['create', 'attach', 'start', 'die', 'destroy']);
    assert.deepEqual(await actions('evdetached'), ['create', 'start', 'die', 'destroy']);
  });

  test('a run joins its networks before its start and leaves them after its death, as Docker tells', async () => {
    await d.ok(['network', 'create', 'evnet1']);
    await d.ok(['network', 'create', 'evnet2']);
    try {
      const since = new Date().toISOString();
      const id = (await d.ok(['container', 'run', '-d', '--name', 'evnets', '--network', 'evnet1', 'busybox', 'sleep', '300'])).trim();
      // Joining a running container is told; joining a stopped one is told at its start.
      await d.ok(['network', 'connect', 'evnet2', 'evnets']);
      await d.ok(['container', 'stop', '-t', '0', 'evnets']);
      await d.ok(['network', 'disconnect', 'evnet2', 'evnets']);
      await d.ok(['network', 'connect', 'evnet2', 'evnets']);
      await d.ok(['container', 'start', 'evnets']);
      // Told once (Docker 20.10 tells of a running container's leaving twice).
      await d.ok(['network', 'disconnect', 'evnet2', 'evnets']);
      await d.ok(['container', 'rm', '-f', 'evnets']);
      const until = new Date(Date.now() + 10).toISOString();
      await new Promise((r) => setTimeout(r, 20));
      const evs = await eventsOf(id, since, until);
      assert.deepEqual(
        brief(evs).filter((e) => !e.startsWith('container kill')),
        [
          'container create evnets',
          'network connect evnet1',
          'container start evnets',
          'network connect evnet2',
          'container die evnets',
          'network disconnect evnet1',
          'network disconnect evnet2',
          'container stop evnets',
          'network disconnect evnet2',
          'network connect evnet1',
          'network connect evnet2',
          'container start evnets',
          'network disconnect evnet2',
          'container die evnets',
          'network disconnect evnet1',
          'container destroy evnets',
        ],
      );
      // stop -t 0: the stop signal, then SIGKILL; rm -f: SIGKILL.
      assert.deepEqual(evs.filter((e) => e.Action === 'kill').map((e) => e.Actor.Attributes.signal), ['15', '9', '9']);
      // Docker's message: the network is the actor; no deprecated status, id or from.
      const net1 = JSON.parse(await d.ok(['network', 'inspect', 'evnet1']))[0].Id;
      const connect = evs.find((e) => e.Type === 'network')!;
      assert.deepEqual(Object.keys(connect).sort(), ['Action', 'Actor', 'Type', 'scope', 'time', 'timeNano']);
      assert.deepEqual(connect.Actor, { ID: net1, Attributes: { container: id, name: 'evnet1', type: 'bridge' } });
      assert.equal(await d.ok(['system', 'events', '--since', since, '--until', until, '--filter', 'type=network', '--filter', 'event=connect', '--format', '[{{.Status}}|{{.ID}}|{{.From}}]']).then((o) => o.split('\n')[0]), '[||]');
    } finally {
      await d.run(['container', 'rm', '-f', 'evnets']);
      await d.run(['network', 'rm', 'evnet1', 'evnet2']);
    }
  });
});


describe('inspect, as Docker 20.10 shows it', () => {
  const created = async (...flags: string[]) => (await d.ok(['container', 'create', ...flags, 'busybox', 'true'])).trim();

  test('HostConfig: Runtime runc; SecurityOpt as given, with label=disable for a privileged or host IPC/PID container', async () => {
    for (const [flags, want] of [
      [[], 'runc null'],
      [['--security-opt', 'no-new-privileges', '--security-opt', 'label=disable'], 'runc ["no-new-privileges","label=disable"]'],
      [['--privileged'], 'runc ["label=disable"]'],
      [['--pid', 'host', '--security-opt', 'no-new-privileges:true'], 'runc ["no-new-privileges:true","label=disable"]'],
      [['--ipc', 'host', '--security-opt', 'label=level:s0'], 'runc ["label=level:s0"]'],
    ] as const) {
      const id = await created(...flags);
      assert.equal(await d.ok(['container', 'inspect', '-f', '{{.HostConfig.Runtime}} {{json .HostConfig.SecurityOpt}}', id]), `${want}\n`, flags.join(' '));
      await d.ok(['container', 'rm', id]);
    }
  });

  test('HostConfig: -v in Binds, --mount in Mounts, --tmpfs in Tmpfs, each as given; an anonymous -v in Config.Volumes', async () => {
    const host = await fsp.mkdtemp(path.join(d.dir, 'hc-mounts-'));
    const id = await created(
      '-v', 'hcvol:/v2', '-v', `${host}/:/b2:ro,z`, '-v', '/anon',
      '--mount', `type=bind,src=${host},dst=/b,readonly`,
      '--mount', 'type=volume,src=hcvol2,dst=/v,volume-nocopy',
      '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770',
      '--mount', 'type=volume,dst=/anon2',
      '--tmpfs', '/x:rw,size=64m', '--tmpfs', '/y',
    );
    const doc = await inspect(id);
    assert.deepEqual(doc.HostConfig.Binds, ['hcvol:/v2', `${host}/:/b2:ro,z`]);
    assert.deepEqual(doc.HostConfig.Mounts, [
      { Type: 'bind', Source: host, Target: '/b', ReadOnly: true },
      { Type: 'volume', Source: 'hcvol2', Target: '/v', VolumeOptions: { NoCopy: true, DriverConfig: {} } },
      { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1770 } },
      { Type: 'volume', Target: '/anon2' },
    ]);
    assert.deepEqual(doc.HostConfig.Tmpfs, { '/x': 'rw,size=64m', '/y': '' });
    assert.deepEqual(doc.Config.Volumes, { '/anon': {} });
    await d.ok(['container', 'rm', '-v', id]);
    await d.ok(['volume', 'rm', 'hcvol', 'hcvol2']);
    const none = await created();
    const plain = await inspect(none);
    assert.deepEqual([plain.HostConfig.Binds, 'Mounts' in plain.HostConfig, 'Tmpfs' in plain.HostConfig], [null, false, false]);
    await d.ok(['container', 'rm', none]);
  });

  test('NetworkSettings: a stopped container keeps its networks, aliases and sandbox, not its addresses, endpoints or ports', async () => {
    await d.ok(['network', 'create', 'inspect-net']);
    try {
      await d.ok(['container', 'run', '-d', '--name', 'ns-user', '--network', 'inspect-net', '--network-alias', 'foo', '-p', '80', 'busybox', 'sleep', '300']);
      const running = (await inspect('ns-user')).NetworkSettings;
      const net = running.Networks['inspect-net'];
      assert.match(net.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
      assert.ok(net.Gateway && net.MacAddress && net.EndpointID && net.IPPrefixLen > 0);
      // Docker 20.10 adds the short ID once the container has run on a user-defined network.
      assert.deepEqual(net.Aliases, ['foo', (await inspect('ns-user')).Id.slice(0, 12)]);
      assert.match(running.SandboxKey, /netns/);
      assert.match(running.Ports['80/tcp'][0].HostPort, /^\d+$/);
      // The deprecated top-level fields are the default bridge network's alone.
      assert.deepEqual([running.IPAddress, running.Gateway, running.MacAddress, running.EndpointID, running.IPPrefixLen], ['', '', '', '', 0]);
      await d.ok(['container', 'stop', '-t', '0', 'ns-user']);
      const stopped = (await inspect('ns-user')).NetworkSettings;
      assert.deepEqual([stopped.SandboxID, stopped.SandboxKey], [running.SandboxID, running.SandboxKey]);
      assert.deepEqual(stopped.Ports, {});
      assert.deepEqual(stopped.Networks['inspect-net'], { ...net, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' });
      assert.equal(await d.ok(['container', 'port', 'ns-user']), '');

      await d.ok(['container', 'run', '-d', '--name', 'ns-bridge', 'busybox', 'sleep', '300']);
      const onBridge = (await inspect('ns-bridge')).NetworkSettings;
      const bridge = onBridge.Networks.bridge;
      assert.match(bridge.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
      assert.deepEqual(
        [onBridge.IPAddress, onBridge.Gateway, onBridge.MacAddress, onBridge.EndpointID, onBridge.IPPrefixLen],
        [bridge.IPAddress, bridge.Gateway, bridge.MacAddress, bridge.EndpointID, bridge.IPPrefixLen],
      );
      await d.ok(['container', 'stop', '-t', '0', 'ns-bridge']);
      const bridgeStopped = (await inspect('ns-bridge')).NetworkSettings;
      assert.deepEqual([bridgeStopped.IPAddress, bridgeStopped.Gateway, bridgeStopped.MacAddress, bridgeStopped.EndpointID], ['', '', '', '']);
    } finally {
      await d.run(['container', 'rm', '-f', 'ns-user', 'ns-bridge']);
      await d.ok(['network', 'rm', 'inspect-net']);
    }
  });

  test('--format prints health-check durations as Go durations; JSON keeps the nanoseconds', async () => {
    const id = await created('--health-cmd', 'true', '--health-interval', '1m30s', '--health-timeout', '500ms', '--health-start-period', '2s');
    const durations = '{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} {{.Config.Healthcheck.StartPeriod}}';
    assert.equal(await d.ok(['container', 'inspect', '-f', durations, id]), '1m30s 500ms 2s\n');
    assert.equal(await d.ok(['inspect', '-f', durations, id]), '1m30s 500ms 2s\n');
    assert.equal(await d.ok(['container', 'inspect', '-f', '{{json .Config.Healthcheck.Interval}} {{printf "%d" .Config.Healthcheck.Timeout}}', id]), '90000000000 500000000\n');
    const health = (await inspect(id)).Config.Healthcheck;
    assert.deepEqual([health.Interval, health.Timeout, health.StartPeriod], [90e9, 500e6, 2e9]);
    await d.ok(['container', 'rm', id]);
  });

  test('maps (labels, log options, sysctls, exposed ports) come out with their keys sorted, as Go writes them', async () => {
    const id = await created('--label', 'zz=1', '--label', 'aa=2', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', '--expose', '9000', '--expose', '80');
    const doc = await inspect(id);
    assert.deepEqual(Object.keys(doc.Config.Labels), ['aa', 'zz']);
    assert.deepEqual(Object.keys(doc.HostConfig.LogConfig.Config), ['max-file', 'max-size']);
    assert.deepEqual(Object.keys(doc.Config.ExposedPorts), ['80/tcp', '9000/tcp']);
    assert.equal(await d.ok(['container', 'inspect', '-f', '{{json .Config.Labels}}', id]), '{"aa":"2","zz":"1"}\n');
    await d.ok(['container', 'rm', id]);
  });

  test("HostConfig has Docker 20.10's fields in its order; --device and --group-add as Docker's CLI gives them", async () => {
    const plain = await created();
    assert.deepEqual(Object.keys((await inspect(plain)).HostConfig), [
      'Binds', 'ContainerIDFile', 'LogConfig', 'NetworkMode', 'PortBindings', 'RestartPolicy', 'AutoRemove', 'VolumeDriver', 'VolumesFrom',
      'CapAdd', 'CapDrop', 'CgroupnsMode', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IpcMode', 'Cgroup', 'Links',
      'OomScoreAdj', 'PidMode', 'Privileged', 'PublishAllPorts', 'ReadonlyRootfs', 'SecurityOpt', 'UTSMode', 'UsernsMode', 'ShmSize',
      'Runtime', 'ConsoleSize', 'Isolation', 'CpuShares', 'Memory', 'NanoCpus', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice',
      'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuPeriod', 'CpuQuota',
      'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'DeviceRequests',
      'KernelMemory', 'KernelMemoryTCP', 'MemoryReservation', 'MemorySwap', 'MemorySwappiness', 'OomKillDisable', 'PidsLimit',
      'Ulimits', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth', 'MaskedPaths', 'ReadonlyPaths',
    ]);
    await d.ok(['container', 'rm', plain]);
    const dev = await created('--device', '/dev/null:/dev/xnull', '--device', '/dev/zero:r', '--group-add', '10', '--device-cgroup-rule', 'c 1:3 r', '--privileged');
    const h = (await inspect(dev)).HostConfig;
    assert.deepEqual(h.Devices, [
      { PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/zero', PathInContainer: '/dev/zero', CgroupPermissions: 'r' },
    ]);
    assert.deepEqual([h.GroupAdd, h.DeviceCgroupRules, h.MaskedPaths, h.ReadonlyPaths], [['10'], ['c 1:3 r'], null, null]);
    await d.ok(['container', 'rm', dev]);
  });

  test('templates see Go values: nil slices print [], nil maps map[], nil pointers <nil>; json keeps null', async () => {
    const id = await created('--name', 'gonils');
    const doc = await inspect(id);
    // container.Config's omitempty fields are left out when empty; Env is null without variables.
    assert.equal('ExposedPorts' in doc.Config, false);
    assert.equal('StopSignal' in doc.Config, false);
    const format = '{{.HostConfig.Binds}}|{{json .HostConfig.Binds}}|{{.Config.Volumes}}|{{.NetworkSettings.Networks.bridge.IPAMConfig}}|{{if .HostConfig.Binds}}y{{else}}n{{end}}|{{len .HostConfig.CapAdd}}';
    assert.equal(await d.ok(['container', 'inspect', '-f', format, id]), '[]|null|map[]|<nil>|n|0\n');
    // Fields the JSON leaves out when empty (omitempty) are still there for a template, as nils.
    const omitted = '{{.HostConfig.Tmpfs}}|{{.HostConfig.Init}}|{{.State.Health}}|{{.Config.ExposedPorts}}|{{json .HostConfig.Tmpfs}}';
    assert.equal(await d.ok(['container', 'inspect', '-f', omitted, id]), 'map[]|<nil>|<nil>|map[]|null\n');
    assert.equal((await d.ok(['container', 'inspect', '-f', '{{json .HostConfig}}', id])).includes('"Tmpfs"'), false);
    await d.ok(['container', 'rm', id]);
  });

  test('a health check shows as given: unset fields left out of the JSON, 0s in templates; NONE for --no-healthcheck', async () => {
    const id = await created('--health-cmd', 'true');
    assert.deepEqual((await inspect(id)).Config.Healthcheck, { Test: ['CMD-SHELL', 'true'] });
    assert.equal(await d.ok(['container', 'inspect', '-f', '{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Retries}} {{json .Config.Healthcheck}}', id]), '0s 0 {"Test":["CMD-SHELL","true"]}\n');
    assert.equal(await d.ok(['container', 'inspect', '-f', '{{.Config.Healthcheck}}', id]), '{[CMD-SHELL true] 0s 0s 0s 0}\n', "Docker 20.10's HealthConfig struct");
    await d.ok(['container', 'rm', id]);
    const none = await created('--no-healthcheck');
    assert.deepEqual((await inspect(none)).Config.Healthcheck, { Test: ['NONE'] });
    await d.ok(['container', 'rm', none]);
  });
});

describe('cleanup', () => {
  test('no mounts, network namespaces or leases are left', async () => {
    const ids = (await d.ok(['container', 'ls', '-aq'])).trim().split('\n').filter(Boolean);
    if (ids.length > 0) await d.ok(['container', 'rm', '-f', ...ids]);
    // Spare sandboxes of the default network's pool are the daemon's, not the containers'.
    assert.deepEqual(await d.leaks(), []);
  });
});
