import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  archiveSource,
  cgroupDirCandidates,
  commitConfig,
  containerPids,
  cpuPercent,
  entryPath,
  extractInto,
  memoryUsageWithoutCache,
  parseNetDev,
  parseProcStat,
  parsePsOutput,
  resolveSourcePath,
  validatePsArgs,
} from '../../agent/container/extras';
import type { ContainerRecord } from '../../agent/container/record';
import { ByteSource, encodeHeader, endOfArchive, padding, TarReader, type TarHeader } from '../../agent/image/tar-format';
import { TsError } from '../../common/errors';

const PS_EF = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root        4242    4200  0 10:01 ?        00:00:00 sleep 1000
www         4243    4242  0 10:01 ?        00:00:00 nginx: worker process
root        5000       1  0 10:02 ?        00:00:00 bash
`;

describe('top', () => {
  it('keeps the container rows and joins the command line into the last column', () => {
    const t = parsePsOutput(PS_EF, new Set([4242, 4243]));
    assert.deepEqual(t.titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    assert.deepEqual(t.processes, [
      ['root', '4242', '4200', '0', '10:01', '?', '00:00:00', 'sleep 1000'],
      ['www', '4243', '4242', '0', '10:01', '?', '00:00:00', 'nginx: worker process'],
    ]);
  });

  it('keeps thread rows after a kept process only', () => {
    const out = `PID LWP CMD\n10 - a\n- 11 thread-of-a\n20 - b\n- 21 thread-of-b\n`;
    assert.deepEqual(parsePsOutput(out, new Set([10])).processes, [
      ['10', '-', 'a'],
      ['-', '11', 'thread-of-a'],
    ]);
  });

  it('refuses output without a PID column, and bad pids, with Docker messages', () => {
    assert.throws(() => parsePsOutput('USER CMD\nroot x\n', new Set()), /Couldn't find PID field in ps output/);
    assert.throws(() => parsePsOutput('PID CMD\nabc x\n', new Set()), /Unexpected pid 'abc'/);
  });

  it('refuses renaming another column to PID', () => {
    assert.throws(() => validatePsArgs(' -o user=PID'), /specifying "user=PID" is not allowed/);
    validatePsArgs(' -o pid=PID,comm');
    validatePsArgs(' -ef');
  });

  it('finds the cgroup in v1 controllers, the hybrid unified tree and v2', () => {
    assert.deepEqual(cgroupDirCandidates('/tscompose/abc', ['pids', 'memory'], '/cg'), [
      '/cg/pids/tscompose/abc',
      '/cg/memory/tscompose/abc',
      '/cg/unified/tscompose/abc',
      '/cg/tscompose/abc',
    ]);
  });

  it('reads pids from cgroup.procs, nested cgroups included', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cg-'));
    try {
      const dir = path.join(root, 'tscompose', 'abc');
      await fsp.mkdir(path.join(dir, 'child'), { recursive: true });
      await fsp.writeFile(path.join(dir, 'cgroup.procs'), '12\n13\n');
      await fsp.writeFile(path.join(dir, 'child', 'cgroup.procs'), '14\n');
      assert.deepEqual([...(await containerPids('/tscompose/abc', root))].sort(), [12, 13, 14]);
      assert.equal((await containerPids('/tscompose/none', root)).size, 0);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});

describe('stats', () => {
  it('reads host cpu time and online cpus from /proc/stat', () => {
    const text = 'cpu  100 0 100 800 0 0 0 50 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\nintr 1\n';
    assert.deepEqual(parseProcStat(text), { systemNs: 10e9, onlineCpus: 2 });
  });

  it('computes cpu percent as Docker: share of host cpu time times cpus', () => {
    const prev = { containerNs: 0, systemNs: 0, onlineCpus: 4 };
    // 1 s of wall time on 4 cpus is 4e9 ns of host time; the container used one cpu fully.
    assert.equal(cpuPercent(prev, { containerNs: 1e9, systemNs: 4e9, onlineCpus: 4 }), 100);
    assert.equal(cpuPercent(prev, { containerNs: 0.5e9, systemNs: 4e9, onlineCpus: 4 }), 50);
    assert.equal(cpuPercent(undefined, { containerNs: 1e9, systemNs: 4e9, onlineCpus: 4 }), 0);
    assert.equal(cpuPercent(prev, { containerNs: 1e9, systemNs: 0, onlineCpus: 4 }), 0);
  });

  it('sums network bytes of every interface but lo', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    2048      20    0    0    0     0          0         0      512       5    0    0    0     0       0          0
  eth1:      10       1    0    0    0     0          0         0       20       1    0    0    0     0       0          0
`;
    assert.deepEqual(parseNetDev(text), { rx: 2058, tx: 532 });
  });

  it('leaves inactive file cache out of memory usage (v1 and v2 names)', () => {
    assert.equal(memoryUsageWithoutCache(1000, new Map([['total_inactive_file', 300]])), 700);
    assert.equal(memoryUsageWithoutCache(1000, new Map([['inactive_file', 400]])), 600);
    assert.equal(memoryUsageWithoutCache(1000, new Map([['inactive_file', 4000]])), 1000);
    assert.equal(memoryUsageWithoutCache(1000, new Map()), 1000);
  });
});

async function readTar(r: Readable): Promise<Array<{ h: TarHeader; body: string }>> {
  const reader = new TarReader(new ByteSource(r, () => undefined));
  const out: Array<{ h: TarHeader; body: string }> = [];
  for (let h = await reader.next(); h; h = await reader.next()) {
    const parts: Buffer[] = [];
    for await (const c of reader.body()) parts.push(Buffer.from(c));
    out.push({ h, body: Buffer.concat(parts).toString() });
  }
  return out;
}

function tarOf(entries: Array<Partial<TarHeader> & { name: string; body?: string }>): Readable {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const h: TarHeader = {
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 1_700_000_000,
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
      ...e,
      size: e.type === undefined || e.type === 'file' ? body.length : 0,
    };
    parts.push(encodeHeader(h));
    if (h.type === 'file') parts.push(body, Buffer.alloc(padding(body.length)));
  }
  parts.push(endOfArchive());
  return Readable.from([Buffer.concat(parts)]);
}

describe('cp', () => {
  let base: string;
  let root: string;
  let outside: string;

  before(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'cp-'));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    await fsp.mkdir(path.join(root, 'etc/app'), { recursive: true });
    await fsp.mkdir(path.join(root, 'data'), { recursive: true });
    await fsp.mkdir(outside, { recursive: true });
    await fsp.writeFile(path.join(root, 'etc/app/conf'), 'inside\n');
    await fsp.writeFile(path.join(outside, 'conf'), 'HOST\n');
    await fsp.mkdir(path.join(root, outside), { recursive: true });
    await fsp.writeFile(path.join(root, outside, 'conf'), 'shadow\n');
    // Absolute and climbing links must stay inside the root.
    await fsp.symlink(outside, path.join(root, 'abs'));
    await fsp.symlink('../../../../../../..', path.join(root, 'etc/up'));
    await fsp.symlink('app/conf', path.join(root, 'etc/conf-link'));
  });

  after(async () => {
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('resolves symlinks relative to the container root', async () => {
    const viaAbs = await resolveSourcePath(root, '/abs/conf', 'ctr');
    assert.equal(viaAbs.hostPath, path.join(root, outside, 'conf'));
    const viaUp = await resolveSourcePath(root, '/etc/up/etc/app/conf', 'ctr');
    assert.equal(viaUp.hostPath, path.join(root, 'etc/app/conf'));
  });

  it('copies a final symlink as itself, and follows it with a trailing slash', async () => {
    const link = await resolveSourcePath(root, '/etc/conf-link', 'ctr');
    assert.ok(link.stat.isSymbolicLink());
    assert.equal(link.archiveName, 'conf-link');
    const followed = await resolveSourcePath(root, '/abs/', 'ctr');
    assert.equal(followed.hostPath, path.join(root, outside));
    assert.equal(followed.archiveName, 'abs');
  });

  it('with followLink (cp -L) follows a final symlink, inside the root, under the link’s name', async () => {
    const followed = await resolveSourcePath(root, '/etc/conf-link', 'ctr', true);
    assert.ok(followed.stat.isFile());
    assert.equal(followed.hostPath, path.join(root, 'etc/app/conf'));
    assert.equal(followed.archiveName, 'conf-link');
    // An absolute link resolves in the container's root, never on the host.
    const abs = await resolveSourcePath(root, '/abs', 'ctr', true);
    assert.equal(abs.hostPath, path.join(root, outside));
    assert.equal(abs.archiveName, 'abs');
  });

  it('reports a missing path in Docker words', async () => {
    await assert.rejects(resolveSourcePath(root, '/nope', 'x'), (e: TsError) => e.kind === 'NotFound' && e.message === 'Could not find the file /nope in container x');
    await assert.rejects(resolveSourcePath(root, '/etc/app/conf/', 'x'), /not a directory/);
  });

  it('archives a directory under its base name and a file as one entry', async () => {
    const dir = await readTar(archiveSource(await resolveSourcePath(root, '/etc/app', 'ctr')));
    assert.deepEqual(
      dir.map((e) => [e.h.name, e.body]),
      [
        ['app/', ''],
        ['app/conf', 'inside\n'],
      ],
    );
    const contents = await readTar(archiveSource(await resolveSourcePath(root, '/etc/app/.', 'ctr')));
    assert.deepEqual(contents.map((e) => e.h.name), ['./', './conf']);
    const file = await readTar(archiveSource(await resolveSourcePath(root, 'etc/app/conf', 'ctr')));
    assert.deepEqual(file.map((e) => [e.h.name, e.body]), [['conf', 'inside\n']]);
    const link = await readTar(archiveSource(await resolveSourcePath(root, '/etc/conf-link', 'ctr')));
    assert.deepEqual(link.map((e) => [e.h.type, e.h.linkname]), [['symlink', 'app/conf']]);
  });

  it('names entries relative to the destination and refuses climbing out of it', () => {
    assert.equal(entryPath('./a/b/', '/dst'), 'a/b');
    assert.equal(entryPath('/a', '/dst'), 'a');
    assert.equal(entryPath('./', '/dst'), undefined);
    assert.throws(() => entryPath('../x', '/dst'), /"\.\.\/x" is outside of "\/dst"/);
    assert.throws(() => entryPath('a/../../x', '/dst'), /outside of/);
  });

  it('extracts into the root without following symlinks out of it', async () => {
    await extractInto(
      root,
      '/data',
      tarOf([
        { name: 'new/', type: 'directory', mode: 0o750 },
        { name: 'new/file', body: 'hello', mode: 0o640, uid: 1000, gid: 1000 },
        { name: 'esc', type: 'symlink', linkname: outside },
        { name: 'esc/conf', body: 'pwned' },
        { name: 'hl', type: 'hardlink', linkname: 'new/file' },
      ]),
    );
    assert.equal(await fsp.readFile(path.join(outside, 'conf'), 'utf8'), 'HOST\n');
    assert.equal(await fsp.readFile(path.join(root, outside, 'conf'), 'utf8'), 'pwned');
    const st = await fsp.stat(path.join(root, 'data/new/file'));
    assert.equal(st.mode & 0o777, 0o640);
    assert.equal(st.uid, process.getuid?.() === 0 ? 1000 : st.uid);
    assert.equal((await fsp.stat(path.join(root, 'data/new'))).mode & 0o777, 0o750);
    assert.equal((await fsp.stat(path.join(root, 'data/hl'))).ino, st.ino);
  });

  it('creates missing parents, keeps existing directories, and never swaps dirs for files', async () => {
    await fsp.chmod(path.join(root, 'data'), 0o711);
    await extractInto(root, '/data', tarOf([{ name: './', type: 'directory', mode: 0o777 }, { name: 'deep/er/f', body: 'x' }]));
    assert.equal((await fsp.stat(path.join(root, 'data'))).mode & 0o777, 0o711);
    assert.equal(await fsp.readFile(path.join(root, 'data/deep/er/f'), 'utf8'), 'x');
    await assert.rejects(extractInto(root, '/data', tarOf([{ name: 'deep', body: 'file over dir' }])), /cannot overwrite directory/);
    await assert.rejects(extractInto(root, '/data', tarOf([{ name: 'deep/er/f/', type: 'directory' }])), /cannot overwrite non-directory/);
    await assert.rejects(extractInto(root, '/data', tarOf([{ name: '../etc/evil', body: 'x' }])), /outside of/);
  });
});

describe('commit', () => {
  const container = {
    config: {
      entrypoint: [],
      cmd: ['sh', '-c', 'echo hi'],
      env: ['PATH=/bin', 'A=1'],
      workingDir: '/w',
      user: 'nobody',
      stopSignal: 'SIGTERM',
      exposedPorts: ['80/tcp'],
      imageVolumes: [],
      labels: { a: 'b' },
      hostname: 'h',
    },
    spec: { healthcheck: { test: [] } },
  } as unknown as ContainerRecord;

  it('takes the container settings over the base image and applies changes', () => {
    const cfg = commitConfig({ Cmd: ['old'], Entrypoint: ['/ep'], Shell: ['/bin/bash', '-c'], ArgsEscaped: true }, container, ['ENV B=2', 'CMD ["run"]']);
    assert.deepEqual(cfg.Cmd, ['run']);
    assert.equal(cfg.Entrypoint, null);
    assert.deepEqual(cfg.Env, ['PATH=/bin', 'A=1', 'B=2']);
    assert.deepEqual(cfg.ExposedPorts, { '80/tcp': {} });
    assert.deepEqual(cfg.Shell, ['/bin/bash', '-c']);
    assert.equal(cfg.User, 'nobody');
    assert.equal(cfg.ArgsEscaped, undefined);
    assert.equal('Volumes' in cfg, false);
  });
});
