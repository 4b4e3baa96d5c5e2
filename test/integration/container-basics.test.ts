/**
 * Containers through the CLI against a real daemon: lifecycle and exit codes, isolation, logs,
 * exec, published ports, DNS on a user network, volumes, restart policy, daemon kill -9, and
 * that removal leaves no mounts or network namespaces behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isSpareSandbox, mountsUnder, startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { get, retry } from '../helpers/http';

let d: TestDaemon;

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
});
after(async () => {
  if (d) {
    await d.run(['container', 'rm', '-f', ...(await d.ok(['container', 'ls', '-aq'])).trim().split('\n').filter(Boolean)]);
    await d.destroy();
  }
});

/**
 * Mounts under the data root other than the netns directory itself (a shared mount kept on
 * purpose) and the daemon's spare sandboxes of the default network.
 */
async function leftoverMounts(): Promise<string[]> {
  return (await mountsUnder(d.dataRoot)).filter((m) => m !== path.join(d.dataRoot, 'network', 'netns') && !isSpareSandbox(path.basename(m)));
}

describe('run', () => {
  test('output, exit codes and --rm', async () => {
    const r = await d.run(['container', 'run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const notFound = await d.run(['container', 'run', '--rm', 'busybox', 'no-such-command']);
    assert.equal(notFound.code, 127);
    assert.match(notFound.stderr, /executable file not found/);
    // --pull never: tests never reach a public registry.
    const noImage = await d.run(['container', 'run', '--rm', '--pull', 'never', 'no-such-image:1', 'true']);
    assert.equal(noImage.code, 125);
    assert.equal((await d.ok(['container', 'ls', '-aq'])).trim(), '', '--rm left nothing');
  });

  test('isolation: PID 1, hostname, host processes invisible, writes stay in the container', async () => {
    const out = await d.ok(['container', 'run', '--rm', '--hostname', 'box', 'busybox', 'sh', '-c', 'echo $$; hostname; ps | wc -l; echo x > /written; cat /written']);
    const [pid, host, procs, written] = out.trim().split('\n');
    assert.equal(pid, '1');
    assert.equal(host, 'box');
    assert.ok(Number(procs) < 6, `only the container's processes are visible (${procs} lines)`);
    assert.equal(written, 'x');
    const other = await d.run(['container', 'run', '--rm', 'busybox', 'cat', '/written']);
    assert.notEqual(other.code, 0, 'a second container does not see the first one\'s write');
  });

  test('stdin with -i', async () => {
    const out = await d.ok(['container', 'run', '-i', '--rm', 'busybox', 'tr', 'a-z', 'A-Z'], { input: 'hello\n' });
    assert.equal(out, 'HELLO\n');
  });
});

describe('lifecycle', () => {
  test('detached run, ps status, logs, exec, stop, start, rm', async () => {
    const id = (await d.ok(['container', 'run', '-d', '--name', 'life', 'busybox', 'sh', '-c', 'echo started; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done'])).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    const ps = await d.ok(['container', 'ls']);
    assert.match(ps, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
    assert.match(ps, /life$/m);
    assert.match(ps, /Up /);
    // Docker quotes the arguments that hold a space, not the path.
    const command = await d.ok(['container', 'ls', '--no-trunc', '--filter', 'name=life', '--format', '{{.Command}}']);
    assert.equal(command, `"sh -c 'echo started; trap \\"echo bye; exit 0\\" TERM; while true; do sleep 0.1; done'"\n`);
    await retry(async () => assert.match(await d.ok(['container', 'logs', 'life']), /started/));
    const ex = await d.run(['container', 'exec', 'life', 'sh', '-c', 'echo in $(hostname); exit 7']);
    assert.equal(ex.code, 7);
    assert.equal(ex.stdout, `in ${id.slice(0, 12)}\n`);
    assert.equal((await d.ok(['container', 'stop', '-t', '5', 'life'])).trim(), 'life');
    const status = await d.ok(['container', 'ls', '-a', '--filter', 'name=life', '--format', '{{.Status}}']);
    assert.match(status, /^Exited \(0\) /);
    assert.match(await d.ok(['container', 'logs', 'life']), /bye/);
    await d.ok(['container', 'start', 'life']);
    assert.equal((await d.ok(['inspect', '--format', '{{.State.Status}}', 'life'])).trim(), 'running');
    const busy = await d.run(['container', 'rm', 'life']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /container is running: stop the container before removing or force remove/);
    await d.ok(['container', 'rm', '-f', id.slice(0, 8)]);
    assert.deepEqual(await leftoverMounts(), [], 'no mounts left');
  });

  test('a name in use is refused, and nothing is half-created', async () => {
    await d.ok(['container', 'create', '--name', 'dup', 'busybox', 'true']);
    const r = await d.run(['container', 'create', '--name', 'dup', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The container name "\/dup" is already in use/);
    assert.equal((await d.ok(['container', 'ls', '-aq'])).trim().split('\n').length, 1);
    await d.ok(['container', 'rm', 'dup']);
  });

  test('as Docker: inspect -f json, name filters against /name, rename to itself, a template that does not parse', async () => {
    await d.ok(['container', 'create', '--name', 'named', 'busybox', 'true']);
    await d.ok(['container', 'create', '--name', 'named2', 'busybox', 'true']);
    try {
      const docs = JSON.parse(await d.ok(['container', 'inspect', '-f', 'json', 'named', 'named2'])) as Array<{ Name: string }>;
      assert.deepEqual(docs.map((x) => x.Name), ['/named', '/named2']);
      const names = async (filter: string) => (await d.ok(['container', 'ls', '-a', '--filter', `name=${filter}`, '--format', '{{.Names}}'])).trim().split('\n').sort();
      assert.deepEqual(await names('^/named$'), ['named']);
      assert.deepEqual(await names('named'), ['named', 'named2']);
      const same = await d.run(['container', 'rename', 'named', 'named']);
      assert.equal(same.code, 1);
      assert.equal(same.stderr, 'Error response from daemon: Renaming a container with the same name as its current name\n');
      const unparsed = await d.run(['container', 'inspect', '-f', '{{.State.Status', 'named']);
      assert.equal(unparsed.code, 64);
      assert.equal(unparsed.stderr, 'template parsing error: template: :1: unclosed action\n');
      // A list's row is a Go struct: a field it lacks is an error in Docker's words, not <no value>.
      const typo = await d.run(['container', 'ls', '-a', '--format', '{{.Names}} {{.Foo}}']);
      assert.deepEqual([typo.code, typo.stdout], [1, '']);
      assert.equal(typo.stderr, 'failed to execute template: template: :1:13: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext\n');
      const imageTypo = await d.run(['image', 'ls', '--format', '{{.Foo}}']);
      assert.equal(imageTypo.stderr, 'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext\n');
    } finally {
      await d.ok(['container', 'rm', 'named', 'named2']);
    }
  });
});

describe('networking', () => {
  test('a published port is reachable from the host on 127.0.0.1', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'web', '-p', '127.0.0.1:18080:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
    const body = await retry(() => get('http://127.0.0.1:18080/hostname'));
    assert.match(body, /^[a-f0-9]{12}$/m);
    const port = await d.ok(['container', 'port', 'web']);
    assert.equal(port.trim(), '80/tcp -> 127.0.0.1:18080');
    await d.ok(['container', 'rm', '-f', 'web']);
  });

  test('containers on a user network find each other by name', async () => {
    await d.ok(['network', 'create', 'appnet']);
    await d.ok(['container', 'run', '-d', '--name', 'server', '--network', 'appnet', '--network-alias', 'api', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
    const byName = await retry(() => d.ok(['container', 'run', '--rm', '--network', 'appnet', 'busybox', 'sh', '-c', 'echo | nc server 80 >/dev/null; nslookup server | tail -n +3; nslookup api | tail -n +3']));
    assert.match(byName, /Address: 10\.\d+\.\d+\.\d+/);
    await d.ok(['container', 'rm', '-f', 'server']);
    await d.ok(['network', 'rm', 'appnet']);
  });
  test('endpoint driver options, which the bridge cannot apply, are named in a warning', async () => {
    await d.ok(['network', 'create', 'optnet']);
    const r = await d.run(['container', 'create', '--name', 'opts', '--network', 'name=optnet,driver-opt=com.example.b=1,driver-opt=com.example.a=2', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^WARNING: network optnet: endpoint driver options are not applied: com\.example\.a, com\.example\.b$/m);
    await d.ok(['container', 'rm', 'opts']);
    await d.ok(['network', 'rm', 'optnet']);
  });

  test('network rm of a missing network fails, and with -f is no error', async () => {
    const missing = await d.run(['network', 'rm', 'optnet']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error response from daemon: .*optnet.*not found/m);
    const forced = await d.run(['network', 'rm', '-f', 'optnet']);
    assert.deepEqual([forced.code, forced.stdout, forced.stderr], [0, '', '']);
  });
});

describe('volumes', () => {
  test('a named volume keeps its data after the container is removed', async () => {
    await d.ok(['container', 'run', '--rm', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    const out = await d.ok(['container', 'run', '--rm', '-v', 'data:/data', 'busybox', 'cat', '/data/f']);
    assert.equal(out, 'kept\n');
    assert.match(await d.ok(['volume', 'ls']), /local\s+data/);
    await d.ok(['volume', 'rm', 'data']);
  });

  test('--rm takes the anonymous volumes along, however the container ends; named ones stay', async () => {
    const volumes = async () => (await d.ok(['volume', 'ls', '-q'])).trim().split('\n').filter(Boolean).sort();
    const before = await volumes();
    await d.ok(['container', 'run', '--rm', '-v', '/anon', '-v', 'kept:/kept', 'busybox', 'true']);
    const id = (await d.ok(['container', 'run', '-d', '--rm', '-v', '/anon', 'busybox', 'sleep', '60'])).trim();
    assert.equal((await volumes()).length, before.length + 2, 'the named volume and the running one’s anonymous volume');
    await d.ok(['container', 'stop', '-t', '0', id]);
    await d.ok(['container', 'wait', id]).catch(() => undefined);
    await retry(async () => assert.deepEqual(await volumes(), [...before, 'kept'].sort()));
    // Without --rm, rm -v removes them and plain rm leaves them.
    const kept = (await d.ok(['container', 'run', '-d', '-v', '/anon', 'busybox', 'true'])).trim();
    await d.ok(['container', 'wait', kept]);
    await d.ok(['container', 'rm', kept]);
    const left = (await volumes()).filter((v) => !before.includes(v) && v !== 'kept');
    assert.equal(left.length, 1);
    await d.ok(['volume', 'rm', 'kept', ...left]);
  });

  test('--mount volume-subpath mounts that directory of the volume; a missing or escaping one is refused', async () => {
    await d.ok(['container', 'run', '--rm', '-v', 'subvol:/v', 'busybox', 'sh', '-c', 'mkdir /v/sub && echo inner > /v/sub/f && echo top > /v/top && ln -s /etc /v/esc']);
    const sub = 'type=volume,src=subvol,dst=/d,volume-subpath=';
    assert.equal(await d.ok(['container', 'run', '--rm', '--mount', `${sub}sub`, 'busybox', 'sh', '-c', 'ls /d; cat /d/f']), 'f\ninner\n');
    const missing = await d.run(['container', 'run', '--rm', '--mount', `${sub}missing`, 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /volume subvol: cannot access subpath missing/);
    // The link resolves inside the volume (to its own /etc, which does not exist), never to the host's.
    const escaping = await d.run(['container', 'run', '--rm', '--mount', `${sub}esc`, 'busybox', 'ls', '/d']);
    assert.equal(escaping.code, 125);
    assert.doesNotMatch(escaping.stdout, /passwd/);
    await d.ok(['volume', 'rm', 'subvol']);
  });

  test('a volume on /etc hides none of the container’s own files there, nor --init’s binary under /sbin', async () => {
    const out = await d.ok(['container', 'run', '--rm', '--init', '--hostname', 'etcvol', '-v', 'etcvol:/etc', '-v', 'sbinvol:/sbin', 'busybox', 'sh', '-c', 'cat /etc/hostname; ls /etc; ls /sbin']);
    assert.equal(out, 'etcvol\ngroup\nhostname\nhosts\npasswd\nresolv.conf\ndocker-init\n');
    await d.ok(['volume', 'rm', 'etcvol', 'sbinvol']);
  });

  test('inspect: Binds lists bind mounts and named volumes as -v gives them, not anonymous ones; Mounts say ro', async () => {
    const host = await fsp.mkdtemp(path.join(d.dir, 'binds-'));
    const id = (await d.ok(['container', 'create', '-v', 'bindsvol:/data', '-v', `${host}:/b:ro`, '-v', '/anon', 'busybox', 'true'])).trim();
    try {
      assert.deepEqual(JSON.parse(await d.ok(['container', 'inspect', '-f', '{{json .HostConfig.Binds}}', id])), ['bindsvol:/data', `${host}:/b:ro`]);
      const modes = (await d.ok(['container', 'inspect', '-f', '{{range .Mounts}}{{.Destination}}={{.Mode}} {{end}}', id])).trim().split(' ').sort();
      assert.deepEqual(modes, ['/anon=z', '/b=ro', '/data=z']);
    } finally {
      await d.ok(['container', 'rm', '-v', id]);
      await d.ok(['volume', 'rm', 'bindsvol']);
    }
    const gone = await d.run(['volume', 'rm', 'bindsvol']);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, 'Error response from daemon: get bindsvol: no such volume\n');
  });

  test('volume prune takes unused anonymous volumes; with -a, unused named ones too', async () => {
    const volumes = async () => (await d.ok(['volume', 'ls', '-q'])).trim().split('\n').filter(Boolean).sort();
    const before = await volumes();
    await d.ok(['volume', 'create', 'unused']);
    await d.ok(['volume', 'create', 'used']);
    const anon = (await d.ok(['volume', 'create'])).trim();
    await d.ok(['container', 'create', '--name', 'holder', '-v', 'used:/u', 'busybox', 'true']);
    assert.match(await d.ok(['volume', 'prune', '-f']), new RegExp(`Deleted Volumes:\\n${anon}\\n`));
    assert.deepEqual(await volumes(), [...before, 'unused', 'used'].sort());
    assert.match(await d.ok(['volume', 'prune', '-a', '-f']), /Deleted Volumes:\nunused\n/);
    assert.deepEqual(await volumes(), [...before, 'used'].sort(), 'a volume a container names stays');
    await d.ok(['container', 'rm', 'holder']);
    await d.ok(['volume', 'rm', 'used']);
  });
});

describe('supervision', () => {
  test('on-failure restarts a failing container, with backoff, up to its limit', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 1']);
    await retry(async () => {
      const s = JSON.parse(await d.ok(['container', 'inspect', 'flaky']))[0];
      assert.equal(s.RestartCount, 2);
      assert.equal(s.State.Status, 'exited');
    }, 100);
    const runs = (await d.ok(['container', 'logs', 'flaky'])).trim().split('\n');
    assert.equal(runs.length, 3, 'the first run and two restarts');
    await d.ok(['container', 'rm', 'flaky']);
  });

  test('kill -9 of the daemon leaves containers running; the restarted daemon re-adopts them', async () => {
    await d.ok(['container', 'run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.2; done']);
    await d.ok(['container', 'run', '-d', '--name', 'quitter', 'busybox', 'sh', '-c', 'sleep 1; exit 5']);
    await d.kill9();
    await new Promise((r) => setTimeout(r, 1500));
    await d.start();
    const st = JSON.parse(await d.ok(['container', 'inspect', 'survivor', 'quitter']));
    assert.equal(st[0].State.Status, 'running');
    await retry(async () => {
      const q = JSON.parse(await d.ok(['container', 'inspect', 'quitter']))[0];
      assert.equal(q.State.Status, 'exited');
      assert.equal(q.State.ExitCode, 5, 'the real exit code of a container that ended while the daemon was down');
    });
    await d.ok(['container', 'rm', '-f', 'survivor', 'quitter']);
    assert.deepEqual(await leftoverMounts(), []);
  });
});
