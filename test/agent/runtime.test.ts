import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildSpec, readLog, RuncRuntime, writeEtcFiles, type ContainerSpecOptions } from '../../agent/runtime';
import { cgroupExists } from '../../agent/runtime/cgroups';
import { buildBusyboxRootfs, mountOverlay, type OverlayRoot } from '../helpers/rootfs';

const REPO = path.resolve(import.meta.dirname, '../..');

/**
 * One runtime root and one busybox image for the file, containers on overlays of it;
 * cleanup() deletes every container, unmounts and removes everything, even after failures.
 */
class RuntimeFixture {
  readonly runtime: RuncRuntime;
  readonly runtimeRoot: string;
  private readonly overlays: OverlayRoot[] = [];
  private readonly ids = new Set<string>();

  private constructor(
    readonly base: string,
    readonly image: string,
  ) {
    this.runtimeRoot = path.join(base, 'rt');
    this.runtime = new RuncRuntime({ root: this.runtimeRoot });
  }

  static async create(): Promise<RuntimeFixture> {
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsrt-'));
    const image = await buildBusyboxRootfs(path.join(base, 'image'));
    return new RuntimeFixture(base, image);
  }

  newId(prefix = 'c'): string {
    return `${prefix}-${randomBytes(5).toString('hex')}`;
  }

  async rootfs(id: string): Promise<string> {
    const overlay = await mountOverlay(this.image, path.join(this.base, 'layers', id));
    this.overlays.push(overlay);
    return overlay.rootfs;
  }

  async create(args: string[], extra: Partial<ContainerSpecOptions> = {}, opts: { id?: string; stdin?: boolean } = {}): Promise<string> {
    const id = opts.id ?? this.newId();
    const rootfs = await this.rootfs(id);
    const spec = buildSpec({ rootfs, args, hostname: id, ...extra });
    this.ids.add(id);
    await this.runtime.create({ id, spec, ...(opts.stdin ? { stdin: true } : {}) });
    return id;
  }

  async run(args: string[], extra: Partial<ContainerSpecOptions> = {}, opts: { id?: string; stdin?: boolean } = {}): Promise<string> {
    const id = await this.create(args, extra, opts);
    await this.runtime.start(id);
    return id;
  }

  /** Runs to completion and returns exit status plus the log's stdout and stderr text. */
  async output(args: string[], extra: Partial<ContainerSpecOptions> = {}) {
    const id = await this.run(args, extra);
    const exit = await this.runtime.wait(id);
    const lines = await readLog((await this.runtime.state(id)).logPath);
    const stdout = lines.filter((l) => l.stream === 'stdout').map((l) => l.line + '\n').join('');
    const stderr = lines.filter((l) => l.stream === 'stderr').map((l) => l.line + '\n').join('');
    return { id, ...exit, stdout, stderr };
  }

  adopt(id: string): void {
    this.ids.add(id);
  }

  async cleanup(): Promise<void> {
    for (const id of this.ids) {
      await this.runtime.delete(id, { force: true }).catch(() => undefined);
      try {
        execFileSync('runc', ['--root', path.join(this.runtimeRoot, 'runc'), 'delete', '-f', id], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    for (const o of this.overlays) await o.unmount();
    await fsp.rm(this.base, { recursive: true, force: true });
  }
}

/** Collects a stream's text until `pattern` shows up (or fails after `ms`). */
function readUntil(stream: Readable, pattern: RegExp, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`timed out waiting for ${pattern} in ${JSON.stringify(text)}`));
    }, ms);
    const onData = (b: Buffer) => {
      text += b.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(text);
      }
    };
    stream.on('data', onData);
  });
}

function collect(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (b: Buffer) => (text += b.toString()));
    stream.on('end', () => resolve(text));
  });
}

/** Whether a process exists and is not a zombie waiting for init to reap it. */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.split(') ')[1] ?? '');
  } catch {
    return false;
  }
}

let fx: RuntimeFixture;
before(async () => {
  fx = await RuntimeFixture.create();
});
after(async () => {
  await fx?.cleanup();
});

describe('isolation and Docker defaults', { timeout: 60_000 }, () => {
  it('runs the process as PID 1 with its own hostname, and hides host processes', async () => {
    const r = await fx.output(['sh', '-c', 'echo pid=$$; hostname; ls /proc | grep -c "^[0-9]"']);
    assert.equal(r.exitCode, 0);
    const [pid, hostname, procs] = r.stdout.trim().split('\n');
    assert.equal(pid, 'pid=1');
    assert.equal(hostname, r.id);
    assert.ok(Number(procs) <= 3, `container sees ${procs} processes`);
  });

  it("has Docker's default capabilities, and cap-add/cap-drop change them", async () => {
    const caps = async (extra: Partial<ContainerSpecOptions>) =>
      (await fx.output(['sh', '-c', 'grep CapEff /proc/self/status'], extra)).stdout.trim().split(/\s+/)[1];
    assert.equal(await caps({}), '00000000a80425fb');
    assert.equal(await caps({ capDrop: ['ALL'] }), '0000000000000000');
    assert.equal(await caps({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] }), '0000000000000400');
    // +SYS_ADMIN (bit 21) −MKNOD (bit 27)
    assert.equal(await caps({ capAdd: ['sys_admin'], capDrop: ['MKNOD'] }), (0xa80425fb + 2 ** 21 - 2 ** 27).toString(16).padStart(16, '0'));
  });

  it('gives a privileged container every capability, host devices and writable /sys', async () => {
    const r = await fx.output(['sh', '-c', 'grep CapEff /proc/self/status; ls /dev | wc -l; touch /sys/fs/cgroup/x 2>&1 | grep -c Read-only'], { privileged: true });
    const [capLine, devCount] = r.stdout.trim().split('\n');
    // Everything this host lets us give: our own bounding set.
    const bounding = /CapBnd:\s*(\w+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    assert.equal(capLine?.split(/\s+/)[1], bounding);
    assert.ok(Number(devCount) > 15, `privileged /dev has ${devCount} entries`);
  });

  it('masks /proc/kcore and friends and makes /proc/sys read-only', async () => {
    // Masking only applies to paths the kernel has (this one may lack /proc/kcore); the host's decide.
    const candidates = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/acpi', '/sys/firmware'];
    const present = candidates.filter((p) => existsSync(p));
    assert.ok(present.length >= 2, 'host has some maskable paths');
    const script = present.map((p) => `cat ${p} 2>/dev/null | wc -c; ls ${p} 2>/dev/null | wc -l`).join('; ');
    const r = await fx.output(['sh', '-c', `${script}; echo x > /proc/sys/kernel/hostname && echo writable || echo readonly`]);
    const lines = r.stdout.trim().split('\n').map((s) => s.trim());
    assert.equal(lines.pop(), 'readonly');
    for (const [i, p] of present.entries()) {
      const [bytes, entries] = [lines[2 * i], lines[2 * i + 1]];
      assert.ok(bytes === '0' && (entries === '0' || entries === '1'), `${p} is masked: ${bytes} bytes, ${entries} entries`);
    }
  });

  it('applies a read-only root, ulimits, sysctls, init, mounts and /etc files', async () => {
    const hostDir = path.join(fx.base, 'shared');
    await fsp.mkdir(hostDir, { recursive: true });
    await fsp.writeFile(path.join(hostDir, 'greeting'), 'hello from host\n');
    const etcFiles = await writeEtcFiles(path.join(fx.base, 'etc-files'), {
      hosts: '127.0.0.1 localhost\n10.0.0.5 db\n',
      hostname: 'web',
      resolvConf: 'nameserver 10.0.0.2',
    });
    const r = await fx.output(
      [
        'sh',
        '-c',
        [
          'touch /rootfile 2>/dev/null && echo rw-root || echo ro-root',
          'ulimit -n',
          'cat /proc/sys/net/ipv4/ip_unprivileged_port_start',
          'cat /proc/1/cmdline | tr "\\0" " "; echo',
          'cat /data/greeting',
          'touch /data/x 2>/dev/null && echo rw-data || echo ro-data',
          'touch /scratch/x && echo rw-scratch',
          'grep db /etc/hosts',
          'cat /etc/resolv.conf',
          'df -k /dev/shm | tail -1 | awk "{print \\$2}"',
        ].join('; '),
      ],
      {
        readonlyRootfs: true,
        ulimits: [{ name: 'nofile', soft: 1234, hard: 1234 }],
        init: true,
        shmSize: 8 * 1024 * 1024,
        mounts: [
          { type: 'bind', source: hostDir, target: '/data', readonly: true },
          { type: 'tmpfs', target: '/scratch', tmpfsSize: 1024 * 1024 },
        ],
        etcFiles,
      },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((s) => s.trim());
    assert.deepEqual(lines, [
      'ro-root',
      '1234',
      '0',
      '/sbin/docker-init -- sh -c ' + lines[3]?.split(' -c ')[1]?.trim(),
      'hello from host',
      'ro-data',
      'rw-scratch',
      '10.0.0.5 db',
      'nameserver 10.0.0.2',
      '8192',
    ]);
  });
});

describe('exit codes, logs and limits', { timeout: 60_000 }, () => {
  it('keeps stdout and stderr apart, joins partial lines and records the exit code', async () => {
    const r = await fx.output(['sh', '-c', 'echo out1; echo err1 >&2; printf part; sleep 0.2; echo ial; exit 3']);
    assert.equal(r.exitCode, 3);
    assert.equal(r.oomKilled, false);
    assert.equal(r.stdout, 'out1\npartial\n');
    assert.equal(r.stderr, 'err1\n');
    const raw = await fsp.readFile((await fx.runtime.state(r.id)).logPath, 'utf8');
    assert.match(raw, /^\S+ stdout F out1$/m);
    assert.match(raw, /^\S+ stderr F err1$/m);
    assert.match(raw, /^\S+ stdout P part$/m);
  });

  it('starts the container with no signal ignored or blocked (the spawn server ignores SIGINT and SIGQUIT)', async () => {
    const r = await fx.output(['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status']);
    assert.equal(r.stdout, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('reports an OOM kill as 137 with oomKilled', async () => {
    const r = await fx.output(['tail', '/dev/zero'], { resources: { memory: 16 * 1024 * 1024, memorySwap: 16 * 1024 * 1024 } });
    assert.equal(r.exitCode, 137);
    assert.equal(r.oomKilled, true);
    const st = await fx.runtime.state(r.id);
    assert.equal(st.oomKilled, true);
    assert.equal(st.exitCode, 137);
  });

  it('enforces the pids limit and reports it in stats; update changes it', async () => {
    const id = await fx.run(['sh', '-c', 'sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done"; exec sleep 30'], { resources: { pidsLimit: 5 } });
    await new Promise((r) => setTimeout(r, 500));
    let stats = await fx.runtime.stats(id);
    assert.equal(stats.pids.limit, 5);
    assert.ok(stats.pids.current <= 5 && stats.pids.current >= 2, `pids.current=${stats.pids.current}`);
    assert.ok(stats.memory.usage > 0);
    assert.ok(stats.cpu.usageNs > 0);
    const log = await readLog((await fx.runtime.state(id)).logPath);
    assert.ok(log.some((l) => l.stream === 'stderr' && /can't fork/.test(l.line)), JSON.stringify(log));
    await fx.runtime.update(id, { pidsLimit: 50, memory: 64 * 1024 * 1024 });
    stats = await fx.runtime.stats(id);
    assert.equal(stats.pids.limit, 50);
    assert.equal(stats.memory.limit, 64 * 1024 * 1024);
    await fx.runtime.delete(id, { force: true });
  });
});

describe('lifecycle', { timeout: 60_000 }, () => {
  it('creates, starts, pauses, resumes, kills and deletes without leftovers', async () => {
    const id = await fx.create(['sleep', '1000']);
    let st = await fx.runtime.state(id);
    assert.equal(st.status, 'created');
    assert.ok(st.pid > 0 && st.supervisorPid > 0);
    await fx.runtime.start(id);
    assert.equal((await fx.runtime.state(id)).status, 'running');
    await fx.runtime.pause(id);
    assert.equal((await fx.runtime.state(id)).status, 'paused');
    await fx.runtime.resume(id);
    assert.equal((await fx.runtime.state(id)).status, 'running');
    await assert.rejects(fx.runtime.delete(id), { name: 'FailedPrecondition' });
    await fx.runtime.kill(id, 'SIGKILL');
    const exit = await fx.runtime.wait(id);
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.oomKilled, false);
    st = await fx.runtime.state(id);
    const { supervisorPid, cgroupsPath, bundle } = st;
    await fx.runtime.delete(id);
    assert.equal(pidAlive(supervisorPid), false, 'conmon gone');
    assert.equal(await cgroupExists(cgroupsPath), false, 'cgroup removed');
    await assert.rejects(fsp.access(bundle));
    const leftovers = (
      await Promise.all(['exits', 'sockets', 'runc'].map((d) => fsp.readdir(path.join(fx.runtimeRoot, d))))
    ).flat().filter((n) => n.includes(id));
    assert.deepEqual(leftovers, []);
    await assert.rejects(fx.runtime.state(id), { name: 'NotFound' });
  });

  it('force-deletes a running container completely', async () => {
    const id = await fx.run(['sleep', '1000']);
    const st = await fx.runtime.state(id);
    await fx.runtime.delete(id, { force: true });
    assert.equal(pidAlive(st.pid), false);
    assert.equal(pidAlive(st.supervisorPid), false);
    assert.equal(await cgroupExists(st.cgroupsPath), false);
  });

  it('delete clears a create cut short before its record (a daemon killed mid-create), so the id can be created again', async () => {
    const id = fx.newId();
    const bundle = path.join(fx.runtimeRoot, 'containers', id);
    await fsp.mkdir(bundle, { recursive: true });
    await fsp.writeFile(path.join(bundle, '.tmp-config.json-0123'), '{');
    await assert.rejects(fx.runtime.state(id), { name: 'NotFound' });
    await fx.runtime.delete(id, { force: true });
    assert.equal(existsSync(bundle), false);
    await assert.rejects(fx.runtime.delete(id, { force: true }), { name: 'NotFound' });
    await fx.create(['true'], {}, { id });
    await fx.runtime.start(id);
    assert.equal((await fx.runtime.wait(id)).exitCode, 0);
  });

  it("reports runc's own error when create fails", async () => {
    const id = fx.newId();
    const rootfs = await fx.rootfs(id);
    const spec = buildSpec({ rootfs, args: ['true'], mounts: [{ type: 'bind', source: '/nonexistent/path', target: '/x' }] });
    await assert.rejects(fx.runtime.create({ id, spec }), (err: Error) => {
      assert.match(err.message, new RegExp(`^runtime: container ${id}: runc create failed: .*nonexistent`));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    await assert.rejects(fx.runtime.state(id), { name: 'NotFound' });
  });
});

describe('attach and exec', { timeout: 60_000 }, () => {
  it('attaches stdin/stdout to a non-tty process', async () => {
    const id = await fx.create(['cat'], {}, { stdin: true });
    const streams = await fx.runtime.attach(id);
    await fx.runtime.start(id);
    const out = readUntil(streams.stdout, /hello\nworld\n/);
    streams.stdin?.write('hello\n');
    streams.stdin?.write('world\n');
    assert.equal(await out, 'hello\nworld\n');
    streams.stdin?.end();
    assert.equal((await fx.runtime.wait(id)).exitCode, 0);
    streams.close();
  });

  it('keeps stdin open across attach sessions when asked', async () => {
    const kept = fx.newId();
    const spec = buildSpec({ rootfs: await fx.rootfs(kept), args: ['cat'] });
    fx.adopt(kept);
    await fx.runtime.create({ id: kept, spec, stdin: true, keepStdinOpen: true });
    await fx.runtime.start(kept);
    const first = await fx.runtime.attach(kept);
    const a = readUntil(first.stdout, /one\n/);
    first.stdin?.write('one\n');
    await a;
    first.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fx.runtime.state(kept)).status, 'running');
    const second = await fx.runtime.attach(kept);
    const b = readUntil(second.stdout, /two\n/);
    second.stdin?.write('two\n');
    await b;
    // Hanging up, even with a half-close, leaves stdin open: only stopping the container ends cat.
    second.stdin?.end();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fx.runtime.state(kept)).status, 'running');
    await fx.runtime.kill(kept, 'KILL');
    assert.equal((await fx.runtime.wait(kept)).exitCode, 137);
    second.close();
  });

  it('drives a shell over a terminal, with resize', async () => {
    const id = await fx.create(['sh'], { terminal: true }, { stdin: true });
    const streams = await fx.runtime.attach(id);
    await fx.runtime.start(id);
    await fx.runtime.resize(id, { height: 40, width: 100 });
    const answer = readUntil(streams.stdout, /42[\s\S]*40 100/);
    streams.stdin?.write('echo $((6*7)); stty size\n');
    await answer;
    streams.stdin?.write('exit 5\n');
    assert.equal((await fx.runtime.wait(id)).exitCode, 5);
    streams.close();
  });

  it('execs with exit code, separate streams, env, user and cwd', async () => {
    const id = await fx.run(['sleep', '1000'], { env: ['FROM_IMAGE=1'] });
    const s1 = await fx.runtime.exec(id, { args: ['sh', '-c', 'echo out; echo err >&2; exit 4'] });
    const [o1, e1, c1] = await Promise.all([collect(s1.streams!.stdout), collect(s1.streams!.stderr), s1.exitCode]);
    assert.deepEqual([o1, e1, c1], ['out\n', 'err\n', 4]);

    const s2 = await fx.runtime.exec(id, {
      args: ['sh', '-c', 'echo $FOO $FROM_IMAGE $(id -u):$(id -g) $(pwd)'],
      env: ['FOO=bar'],
      user: { uid: 1000, gid: 1000 },
      cwd: '/tmp',
    });
    assert.equal(await collect(s2.streams!.stdout), 'bar 1 1000:1000 /tmp\n');
    assert.equal(await s2.exitCode, 0);

    const s3 = await fx.runtime.exec(id, { args: ['cat'], stdin: true });
    const echoed = collect(s3.streams!.stdout);
    s3.streams!.stdin!.end('piped\n');
    assert.equal(await echoed, 'piped\n');
    assert.equal(await s3.exitCode, 0);

    const s4 = await fx.runtime.exec(id, { args: ['sh', '-c', 'tty; stty size'], tty: true, consoleSize: { height: 30, width: 90 } });
    const t4 = await collect(s4.streams!.stdout);
    assert.match(t4, /\/dev\/pts\/\d+\r?\n30 90/);
    assert.equal(await s4.exitCode, 0);

    const s5 = await fx.runtime.exec(id, { args: ['sh', '-c', 'sleep 0.2; exit 6'], detach: true });
    assert.equal(s5.streams, undefined);
    assert.ok(s5.pid > 0);
    assert.equal(await s5.exitCode, 6);

    await assert.rejects(fx.runtime.exec(id, { args: ['/no/such/binary'] }), (err: Error) => {
      assert.match(err.message, /^runtime: container c-\w+: runc exec failed: /);
      return true;
    });
    await fx.runtime.delete(id, { force: true });
  });
});

describe('supervision outlives the daemon', { timeout: 60_000 }, () => {
  it('keeps containers running when the daemon is kill -9ed, re-adopts them and reads exits that happened meanwhile', async () => {
    const longId = fx.newId('long');
    const shortId = fx.newId('short');
    fx.adopt(longId);
    fx.adopt(shortId);
    const specs = {
      [longId]: buildSpec({ rootfs: await fx.rootfs(longId), args: ['sleep', '1000'] }),
      [shortId]: buildSpec({ rootfs: await fx.rootfs(shortId), args: ['sh', '-c', 'sleep 1; echo bye; exit 7'] }),
    };
    const script = path.join(fx.base, 'daemon.mts');
    await fsp.writeFile(
      script,
      `import { RuncRuntime } from ${JSON.stringify(path.join(REPO, 'agent/runtime/index.ts'))};
const rt = new RuncRuntime({ root: ${JSON.stringify(fx.runtimeRoot)} });
const specs = ${JSON.stringify(specs)};
for (const [id, spec] of Object.entries(specs)) { await rt.create({ id, spec }); await rt.start(id); }
process.stdout.write('started\\n');
setInterval(() => {}, 1000);
`,
    );
    const daemon = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    await readUntil(daemon.stdout, /started/, 20000);
    const before = await fx.runtime.state(longId);
    const daemonSid = Number((await fsp.readFile(`/proc/${daemon.pid}/stat`, 'utf8')).split(') ')[1]?.split(' ')[4]);
    const conmonStat = (await fsp.readFile(`/proc/${before.supervisorPid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    assert.notEqual(Number(conmonStat[2]), daemon.pid, 'conmon is not in the daemon process group');
    assert.notEqual(Number(conmonStat[3]), daemonSid, 'conmon is not in the daemon session');
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));

    const restarted = new RuncRuntime({ root: fx.runtimeRoot });
    const long = await restarted.recover(longId);
    assert.equal(long.status, 'running');
    assert.equal(long.pid, before.pid);
    assert.equal(long.supervisorPid, before.supervisorPid);
    assert.ok(pidAlive(long.supervisorPid));

    await new Promise((r) => setTimeout(r, 1500));
    const gone = await restarted.recover(shortId);
    assert.equal(gone.status, 'stopped');
    assert.equal(gone.exitCode, 7);
    assert.deepEqual(await readLog(gone.logPath).then((l) => l.map((x) => x.line)), ['bye']);

    const all = await restarted.list();
    assert.ok(all.some((c) => c.id === longId && c.status === 'running'));
    await restarted.kill(longId, 'KILL');
    assert.equal((await restarted.wait(longId)).exitCode, 137);
    await restarted.delete(longId);
    await restarted.delete(shortId);
  });
});

describe('measurements', { timeout: 60_000 }, () => {
  it('create+start+wait of true, and conmon RSS', async () => {
    const rootfses: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = fx.newId('m');
      fx.adopt(id);
      ids.push(id);
      rootfses.push(await fx.rootfs(id));
    }
    const times: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const spec = buildSpec({ rootfs: rootfses[i] as string, args: ['true'] });
      const t0 = performance.now();
      await fx.runtime.create({ id, spec });
      await fx.runtime.start(id);
      const exit = await fx.runtime.wait(id);
      times.push(performance.now() - t0);
      assert.equal(exit.exitCode, 0);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;

    const id = await fx.run(['sleep', '1000']);
    const st = await fx.runtime.state(id);
    const status = await fsp.readFile(`/proc/${st.supervisorPid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    const pssKb = Number(/Pss:\s+(\d+)/.exec(await fsp.readFile(`/proc/${st.supervisorPid}/smaps_rollup`, 'utf8'))?.[1]);
    console.log(
      `runtime timings: create+start+wait(true) median ${median.toFixed(1)} ms, min ${sorted[0]?.toFixed(1)} ms; conmon VmRSS ${rssKb} kB, PSS ${pssKb} kB`,
    );
    assert.ok(rssKb < 4096, `conmon RSS ${rssKb} kB`);
    for (const m of ids) await fx.runtime.delete(m);
    await fx.runtime.delete(id, { force: true });
  });
});
