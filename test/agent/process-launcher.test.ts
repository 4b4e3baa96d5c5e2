/**
 * The process launcher contract, against both implementations: the dash spawn server (its
 * protocol: quoting, statuses, signals, stdio files, FIFOs, concurrency, death of the server)
 * and Node's spawn, which must behave the same.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { DashLauncher, NodeLauncher, type InPipe, type ProcessLauncher } from '../../common/process';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
});

async function dashLauncher(): Promise<{ launcher: DashLauncher; dir: string }> {
  const dir = await fsp.mkdtemp(path.join(tmpdir(), 'tsc-launcher-test-'));
  dirs.push(dir);
  return { launcher: new DashLauncher({ dir }), dir };
}

/** Our children that are dash: the spawn servers. */
function servers(): number[] {
  const own = String(process.pid);
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return fields[1] === own && stat.includes('(dash)');
      } catch {
        return false;
      }
    })
    .map(Number);
}

function children(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  } catch {
    return '';
  }
}

const HOSTILE = [
  '',
  ' ',
  "it's",
  "'",
  "'\\''",
  '"$HOME"',
  '$(touch /tmp/tsc-launcher-pwned)',
  '`touch /tmp/tsc-launcher-pwned`',
  'a;b|c&d>e<f',
  'line1\nline2\n',
  '-n',
  '--',
  'X=1',
  '*',
  '\\',
  '}; echo "1 x 0"; {',
  'ünïcødé ✓',
];

for (const [name, make] of [
  ['dash spawn server', async () => (await dashLauncher()).launcher],
  ['node spawn', async () => new NodeLauncher()],
] as [string, () => Promise<ProcessLauncher>][]) {
  describe(`process launcher: ${name}`, () => {
    let l: ProcessLauncher;
    test('set up', async () => {
      l = await make();
    });
    after(async () => l?.close());

    test('hostile arguments arrive byte for byte, none is shell syntax', async () => {
      const r = await l.run('/bin/sh', ['-c', 'printf "%s\\0" "$@"', 'sh', ...HOSTILE]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.split('\0').slice(0, -1), HOSTILE);
      await assert.rejects(fsp.access('/tmp/tsc-launcher-pwned'));
    });

    test('the environment is exactly the one given, else the daemon\'s', async () => {
      // In no particular order, as for Node's spawn.
      const vars = (text: string) => text.split('\0').slice(0, -1).sort();
      const r = await l.run('env', ['-0'], { env: { A: 'x y', B: "it's\nhere", C: '$(id)' } });
      assert.deepEqual(vars(r.stdout), ['A=x y', "B=it's\nhere", 'C=$(id)']);
      const odd = await l.run('env', ['-0'], { env: { 'a.b-c': '1', D: '2' }, cwd: '/tmp' });
      assert.deepEqual(vars(odd.stdout), ['D=2', 'a.b-c=1']);
      process.env['TSC_LAUNCHER_TEST'] = "late 'one'";
      try {
        const own = await l.run('env', ['-0'], { cwd: '/tmp' });
        assert.deepEqual(vars(own.stdout), Object.entries(process.env).map(([k, v]) => `${k}=${v}`).sort());
      } finally {
        delete process.env['TSC_LAUNCHER_TEST'];
      }
    });

    test('exit statuses, and 128+n for a death by signal n', async () => {
      assert.equal((await l.run('sh', ['-c', 'exit 7'])).code, 7);
      assert.equal((await l.run('sh', ['-c', 'kill -TERM $$'])).code, 143);
      assert.equal((await l.run('sh', ['-c', 'kill -KILL $$'])).code, 137);
    });

    test('stdin from input, stdout and stderr captured, cwd honoured', async () => {
      const r = await l.run('sh', ['-c', 'cat; pwd; echo oops >&2'], { input: 'in put\n', cwd: '/proc' });
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'in put\n/proc\n', 'oops\n']);
      const none = await l.run('sh', ['-c', 'cat; echo end'], { stdout: 'ignore' });
      assert.deepEqual([none.code, none.stdout], [0, '']);
    });

    test('asked for, no signal is ignored or blocked in what it starts', async () => {
      const r = await l.run('grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], { defaultSignals: true });
      assert.match(r.stdout, /SigBlk:\s+0+\nSigIgn:\s+0+\n/);
    });

    test('a program that is not there rejects with ENOENT', async () => {
      await assert.rejects(l.run('tsc-no-such-program', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    });

    test('timeouts and kill end the program', async () => {
      const t = performance.now();
      assert.equal((await l.run('sleep', ['30'], { timeoutMs: 200 })).code, 137);
      const p = await l.launch('sleep', ['30'], { defaultSignals: true });
      assert.ok((await p.pid) > 0);
      p.kill('SIGINT');
      assert.equal((await p.exited).code, 130);
      assert.ok(performance.now() - t < 10_000);
    });

    test('concurrent requests each get their own result', async () => {
      const rs = await Promise.all(
        Array.from({ length: 24 }, (_, i) => l.run('sh', ['-c', `sleep 0.0${i % 5}; echo out$1; echo err$1 >&2; exit $(($1 % 7))`, 'sh', String(i)])),
      );
      rs.forEach((r, i) => assert.deepEqual(r, { code: i % 7, stdout: `out${i}\n`, stderr: `err${i}\n` }));
    });

    test('extra descriptors: pipes the program writes and reads', async () => {
      const p = await l.launch('sh', ['-c', 'echo ready >&3; read x <&4; echo "got $x" >&3; echo more >&5'], { extraFds: ['out', 'in', 'out'] });
      const text = (s: Readable) => new Promise<string>((res) => {
        let t = '';
        s.setEncoding('utf8').on('data', (d: string) => (t += d)).on('end', () => res(t)).on('close', () => res(t));
      });
      const three = text(p.fds[0] as Readable);
      const five = text(p.fds[2] as Readable);
      (p.fds[1] as InPipe).write('hello\n');
      assert.equal((await p.exited).code, 0);
      (p.fds[1] as InPipe).close();
      assert.equal(await three, 'ready\ngot hello\n');
      assert.equal(await five, 'more\n');
    });
  });
}

describe('process launcher: dash spawn server', () => {
  test('leaves no zombie and no file behind', async () => {
    const { launcher, dir } = await dashLauncher();
    try {
      await Promise.all(Array.from({ length: 10 }, () => launcher.run('true', [], { input: 'x' })));
      await launcher.run('sh', ['-c', 'exit 0'], { extraFds: ['out', 'in'] });
      const [server] = servers();
      assert.ok(server);
      // The reaping `wait`s are written after the last report: give dash a moment to read them.
      for (let i = 0; i < 50 && children(server); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(children(server), '');
      assert.deepEqual((await fsp.readdir(dir)).filter((f) => !f.startsWith('fifo-')), []);
    } finally {
      await launcher.close();
    }
  });

  test('a dead server is replaced; what it had started still reports', async () => {
    const { launcher } = await dashLauncher();
    try {
      assert.equal((await launcher.run('true', [])).code, 0);
      const [first] = servers();
      assert.ok(first);
      const running = launcher.run('sh', ['-c', 'sleep 0.5; echo survived']);
      await new Promise((r) => setTimeout(r, 150));
      process.kill(first, 'SIGKILL');
      const after = await launcher.run('echo', ['next']);
      assert.deepEqual([after.code, after.stdout], [0, 'next\n']);
      assert.deepEqual(await running, { code: 0, stdout: 'survived\n', stderr: '' });
      const now = servers();
      assert.equal(now.length, 1);
      assert.notEqual(now[0], first);
    } finally {
      await launcher.close();
    }
    assert.deepEqual(servers(), []);
  });

  test('closed, it refuses new requests with a one-line error', async () => {
    const { launcher } = await dashLauncher();
    await launcher.run('true', []);
    await launcher.close();
    await assert.rejects(launcher.run('true', []), /^Error: process launcher: closed$|process launcher: closed/);
  });
});
