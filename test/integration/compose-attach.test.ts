/**
 * Attached `up`, against a real daemon: `Attaching to …`, log prefixes coloured in Compose's
 * rotation on a terminal (a pseudo-TTY from util-linux `script`) and plain without one, with
 * `--no-color` or NO_COLOR; Ctrl-C stops the project gracefully and a second one kills what is
 * still stopping, `up` exiting 130 as Compose; `--exit-code-from` returns a service's exit code;
 * a container its restart policy restarts keeps its log in the view, each run's end noted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CLI, startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { projectDir } from '../helpers/compose';

let d: TestDaemon;
let dir: string;

// web leaves at once on SIGTERM; worker (pid 1, no handler) ignores it and waits out its grace.
const PROJECT = `services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'echo web got TERM; exit 0' TERM; echo web up; while true; do sleep 0.2; done"]
  worker:
    image: busybox:latest
    command: ["sh", "-c", "echo worker up; exec sleep 1000"]
    stop_grace_period: 10m
`;

interface Watched {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the output (stdout and stderr together) matches. */
  until: (re: RegExp) => Promise<void>;
  exit: Promise<number>;
}

function watch(child: ChildProcess): Watched {
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const onData = (c: Buffer) => {
    out += c.toString();
    for (const w of [...waiters]) if (w.re.test(out)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return {
    child,
    output: () => out,
    until: (re) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(out)) return resolve();
        waiters.push({ re, resolve });
        void exit.then(() => setTimeout(() => reject(new Error(`exited before ${re}: ${out}`)), 50));
      }),
    exit,
  };
}

/** `up` on a pseudo-terminal: `script` runs it on a pty and passes our stdin (Ctrl-C = \x03) to it. */
function upOnTerminal(args: string[], env: Record<string, string> = {}): Watched {
  const command = [process.execPath, CLI, 'up', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: dir,
    env: { ...process.env, ...d.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return watch(child);
}

async function states(): Promise<string[]> {
  const out = await d.ok(['ps', '-a', '--format', 'json'], { cwd: dir });
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Name: string; State: string; ExitCode: number })
    .map((e) => `${e.Name} ${e.State} ${e.ExitCode}`)
    .sort();
}

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  dir = path.join(d.dir, 'att');
  await fsp.mkdir(dir);
  await fsp.writeFile(path.join(dir, 'compose.yaml'), PROJECT);
});
after(async () => {
  if (d) {
    await d.run(['down', '-t', '0'], { cwd: dir });
    await d.destroy();
  }
});

describe('attached up', () => {
  test('on a terminal: coloured prefixes; Ctrl-C stops gracefully, a second Ctrl-C kills; exit 130', async () => {
    const up = upOnTerminal([]);
    try {
      await up.until(/worker up/);
      await up.until(/web up/);
      assert.match(up.output(), /Attaching to web-1, worker-1\r?\n/);
      // Compose's rotation: the first container cyan, the second yellow; the name padded, then ` | `.
      assert.match(up.output(), /\x1b\[36mweb-1 {5}\| \x1b\[0mweb up/);
      assert.match(up.output(), /\x1b\[33mworker-1 {2}\| \x1b\[0mworker up/);
      up.child.stdin!.write('\x03');
      await up.until(/Gracefully stopping\.\.\. \(press Ctrl\+C again to force\)/);
      await up.until(/✔ Container att-web-1 {2}Stopped/);
      assert.match(up.output(), /web got TERM/);
      assert.deepEqual(await states(), ['att-web-1 exited 0', 'att-worker-1 running 0']);
      // The worker would keep the stop waiting ten minutes: the second Ctrl-C kills it.
      up.child.stdin!.write('\x03');
      await up.until(/✔ Container att-worker-1 {2}Killed/);
      assert.equal(await up.exit, 130, up.output());
      assert.match(up.output(), /\x1b\[33mworker-1 exited with code 137\x1b\[0m/);
      assert.deepEqual(await states(), ['att-web-1 exited 0', 'att-worker-1 exited 137']);
    } finally {
      up.child.kill('SIGKILL');
    }
  });

  for (const [what, args, env] of [
    ['--no-color', ['--no-color'], {}],
    ['NO_COLOR', [], { NO_COLOR: '1' }],
  ] as const) {
    test(`on a terminal with ${what}: no colour`, async () => {
      const up = upOnTerminal([...args], env);
      try {
        await up.until(/worker up/);
        await up.until(/web up/);
        assert.match(up.output(), /^web-1 {5}\| web up/m);
        assert.doesNotMatch(up.output(), /\x1b\[3\d/);
        up.child.stdin!.write('\x03');
        await up.until(/✔ Container att-web-1 {2}Stopped/);
        up.child.stdin!.write('\x03');
        assert.equal(await up.exit, 130, up.output());
      } finally {
        up.child.kill('SIGKILL');
      }
    });
  }

  test('without a terminal: plain prefixes; SIGINT twice to the CLI stops then kills; exit 130', async () => {
    const up = watch(d.spawn(['up'], { cwd: dir }));
    try {
      await up.until(/worker up/);
      await up.until(/web up/);
      assert.match(up.output(), /^web-1 {5}\| web up$/m);
      assert.doesNotMatch(up.output(), /\x1b\[/);
      up.child.kill('SIGINT');
      await up.until(/✔ Container att-web-1 {2}Stopped/);
      up.child.kill('SIGINT');
      assert.equal(await up.exit, 130, up.output());
      assert.match(up.output(), /^worker-1 exited with code 137$/m);
      assert.deepEqual(await states(), ['att-web-1 exited 0', 'att-worker-1 exited 137']);
    } finally {
      up.child.kill('SIGKILL');
    }
  });

  test('Ctrl-C while up waits on a dependency cancels it and stops what was started; exit 130', async () => {
    const slow = await projectDir(d, 'slow', {
      'compose.yaml': `services:
  db:
    image: busybox:latest
    command: ["sleep", "1000"]
    healthcheck: { test: ["CMD", "false"], interval: 200ms, retries: 100000 }
  api:
    image: busybox:latest
    command: ["sleep", "1000"]
    depends_on: { db: { condition: service_healthy } }
`,
    });
    const up = watch(d.spawn(['up', '-t', '0'], { cwd: slow }));
    try {
      await up.until(/Container slow-db-1 {2}Waiting/);
      up.child.kill('SIGINT');
      assert.equal(await up.exit, 130, up.output());
      assert.match(up.output(), /Gracefully stopping\.\.\./);
      assert.match(up.output(), /✔ Container slow-db-1 {2}Stopped/);
      assert.doesNotMatch(up.output(), /Attaching to/);
      const ps = await d.ok(['ps', '-a', '--format', 'json'], { cwd: slow });
      const list = ps.trim().split('\n').map((l) => JSON.parse(l) as { Name: string; State: string });
      assert.deepEqual(list.map((e) => `${e.Name} ${e.State}`).sort(), ['slow-api-1 created', 'slow-db-1 exited']);
    } finally {
      up.child.kill('SIGKILL');
      await d.run(['down', '-t', '0'], { cwd: slow });
    }
  });

  test('containers that end by themselves end up; --exit-code-from returns that service’s code', async () => {
    const job = await projectDir(d, 'job', {
      'compose.yaml': `services:
  job:
    image: busybox:latest
    command: ["sh", "-c", "echo working; sleep 0.5; exit 3"]
  idle:
    image: busybox:latest
    command: ["sleep", "1000"]
`,
    });
    const r = await d.run(['up', '--exit-code-from', 'job', '-t', '0'], { cwd: job });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^job-1 {3}\| working$/m);
    assert.match(r.stdout, /^job-1 exited with code 3$/m);
    assert.match(r.stderr, /Aborting on container exit\.\.\./);
    // Again, on the same containers: this run's output only, not the earlier runs' logs.
    const again = await d.run(['up', '--exit-code-from', 'job', '-t', '0'], { cwd: job });
    assert.equal(again.code, 3, again.stderr);
    assert.equal(again.stdout.match(/^job-1 {3}\| working$/gm)?.length, 1, again.stdout);
    const down = await d.run(['down', '-t', '0'], { cwd: job });
    assert.equal(down.code, 0, down.stderr);
  });

  test('a service with attach: false is not shown unless --attach names it', async () => {
    const quiet = await projectDir(d, 'quietsvc', {
      'compose.yaml': `services:
  job:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5; echo job-line; exit 0"]
  noisy:
    image: busybox:latest
    attach: false
    command: ["sh", "-c", "echo noisy-line; sleep 1000"]
`,
    });
    const r = await d.run(['up', '--abort-on-container-exit', '-t', '0'], { cwd: quiet });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Attaching to job-1$/m);
    assert.match(r.stdout, /^job-1 +\| job-line$/m);
    assert.doesNotMatch(r.stdout, /noisy-line/);
    const named = await d.run(['up', '--abort-on-container-exit', '--attach', 'noisy', '--attach', 'job', '-t', '0'], { cwd: quiet });
    assert.match(named.stdout, /noisy-1 {1,}\| noisy-line$/m);
    assert.equal((await d.run(['down', '-t', '0'], { cwd: quiet })).code, 0);
  });

  test('logging driver none: up shows the service as it runs; logs passes it over with Compose’s warning', async () => {
    const dir = await projectDir(d, 'nolog', {
      'compose.yaml': `services:
  quiet:
    image: busybox:latest
    command: ["sh", "-c", "echo quiet-line; sleep 0.5"]
    logging:
      driver: none
  loud:
    image: busybox:latest
    command: ["sh", "-c", "echo loud-line; sleep 0.5"]
`,
    });
    try {
      const up = await d.run(['up', '-t', '0'], { cwd: dir });
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /^quiet-1 +\| quiet-line$/m);
      assert.match(up.stdout, /^loud-1 +\| loud-line$/m);
      const logs = await d.run(['logs'], { cwd: dir });
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /^loud-1 +\| loud-line\n$/);
      assert.equal(logs.stderr, 'WARN[0000] Can\'t retrieve logs for "nolog-quiet-1": configured logging driver does not support reading\n');
    } finally {
      await d.run(['down', '-t', '0'], { cwd: dir });
    }
  });

  test('a container restarted by its policy stays in the view: each run noted, the next run streamed', async () => {
    const flap = await projectDir(d, 'flap', {
      'compose.yaml': `services:
  flap:
    image: busybox:latest
    restart: always
    command: ["sh", "-c", "echo run $$(cat /proc/uptime); sleep 0.3; exit 3"]
  idle:
    image: busybox:latest
    command: ["sleep", "1000"]
`,
    });
    const up = watch(d.spawn(['up', '-t', '0'], { cwd: flap }));
    try {
      // Three runs, the two first closed by a note: the later runs came through the same view.
      const run = 'flap-1 {2}\\| run [\\d. ]+\\n';
      await up.until(new RegExp(`${run}flap-1 exited with code 3\\n${run}flap-1 exited with code 3\\n${run}`));
      const runs = up.output().match(/^flap-1 {2}\| run /gm) ?? [];
      assert.ok(runs.length >= 3, up.output());
      // The runs are distinct processes (uptime differs): lines are not repeated from history.
      const stamps = up.output().match(/^flap-1 {2}\| run ([\d.]+)/gm) ?? [];
      assert.equal(new Set(stamps).size, stamps.length, up.output());
      up.child.kill('SIGINT');
      assert.equal(await up.exit, 130, up.output());
      const ps = await d.ok(['ps', '-a', '--format', 'json'], { cwd: flap });
      const restarts = ps.trim().split('\n').map((l) => JSON.parse(l) as { Name: string; State: string });
      assert.deepEqual(restarts.map((e) => `${e.Name} ${e.State}`).sort(), ['flap-flap-1 exited', 'flap-idle-1 exited']);
    } finally {
      up.child.kill('SIGKILL');
      await d.run(['down', '-t', '0'], { cwd: flap });
    }
  });
});
