/**
 * `image build` against a real daemon: multi-stage builds with `COPY --from`, the build cache
 * (hits before an edited file, misses after it), `.dockerignore`, ARG/ENV scoping, a failing RUN,
 * ADD of a URL (a loopback server) and of a local tar, directory sources, hard links, and a
 * HEALTHCHECK a container then uses.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';

let d: TestDaemon;
let server: Server;
let serverUrl: string;

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  server = createServer((req, res) => {
    if (req.url === '/files/data.txt') {
      res.writeHead(200, { 'content-type': 'text/plain', 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
      res.end('downloaded\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server?.close();
  await d?.destroy();
});

/** A context directory with these files (paths relative to it). */
async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(d.dir, 'ctx', name);
  for (const [file, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fsp.writeFile(path.join(dir, file), content);
  }
  return dir;
}

const build = (args: string[]) => d.run(['image', 'build', '--progress', 'plain', ...args]);

/** The vertex lines of a plain progress log: title → CACHED | DONE | ERROR. */
function outcomes(log: string): Map<string, string> {
  const titles = new Map<string, string>();
  const out = new Map<string, string>();
  for (const line of log.split('\n')) {
    const m = /^#(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [, id = '', rest = ''] = m;
    if (!titles.has(id)) titles.set(id, rest);
    else if (rest === 'CACHED' || rest.startsWith('DONE') || rest.startsWith('ERROR')) out.set(titles.get(id) as string, rest.split(' ')[0] as string);
  }
  return out;
}

describe('image build', () => {
  test('multi-stage build with COPY --from, config and history like Docker', async () => {
    const dir = await context('multi', {
      'hello.txt': 'from the context\n',
      Dockerfile: [
        'FROM busybox AS build',
        'WORKDIR /src',
        'COPY hello.txt .',
        'RUN cp hello.txt out.txt && echo built >> out.txt',
        '',
        'FROM busybox',
        'COPY --from=build /src/out.txt /app/',
        'ENV MODE=prod',
        'LABEL org.example.stage=final',
        'EXPOSE 8080/tcp',
        'USER app',
        'WORKDIR /app',
        'STOPSIGNAL SIGINT',
        'CMD ["cat", "/app/out.txt"]',
        '',
      ].join('\n'),
    });
    const r = await build(['-t', 'multi:1', '-t', 'multi:2', '--label', 'built.by=test', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /#\d+ \[build 4\/4\] RUN cp hello.txt out.txt/);
    assert.match(r.stderr, /naming to docker.io\/library\/multi:1 done/);
    assert.equal(await d.ok(['container', 'run', '--rm', 'multi:1']), 'from the context\nbuilt\n');
    const inspect = JSON.parse(await d.ok(['image', 'inspect', 'multi:2']))[0];
    assert.deepEqual(inspect.RepoTags.sort(), ['multi:1', 'multi:2']);
    assert.deepEqual(inspect.Config.Cmd, ['cat', '/app/out.txt']);
    assert.deepEqual(inspect.Config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'MODE=prod']);
    assert.equal(inspect.Config.User, 'app');
    assert.equal(inspect.Config.WorkingDir, '/app');
    assert.equal(inspect.Config.StopSignal, 'SIGINT');
    assert.deepEqual(inspect.Config.ExposedPorts, { '8080/tcp': {} });
    assert.deepEqual(inspect.Config.Labels, { 'org.example.stage': 'final', 'built.by': 'test' });
    // base layer + COPY --from; WORKDIR /app was created by COPY, so it adds nothing.
    assert.equal(inspect.RootFS.Layers.length, 2);
    const history = await d.ok(['image', 'history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'multi:1']);
    const lines = history.trim().split('\n');
    assert.equal(lines.length, 9, history);
    assert.match(lines[0] as string, /^\/bin\/sh -c #\(nop\)  CMD \["cat" "\/app\/out.txt"\]\|0B$/);
    assert.ok(lines.some((l) => /^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/app\/ \|/.test(l) && !l.endsWith('|0B')), history);
  });

  test('editing one file: steps before it are CACHED, the ones after it rebuilt', async () => {
    const dir = await context('cache', {
      'a.txt': 'one\n',
      'b.txt': 'two\n',
      Dockerfile: 'FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy-a\nCOPY b.txt /b.txt\nRUN cat /a.txt /b.txt > /both\n',
    });
    const first = await build(['-t', 'cached:1', dir]);
    assert.equal(first.code, 0, first.stderr);
    const again = outcomes((await build(['-t', 'cached:1', dir])).stderr);
    assert.equal(again.get('[2/5] COPY a.txt /a.txt'), 'CACHED');
    assert.equal(again.get('[5/5] RUN cat /a.txt /b.txt > /both'), 'CACHED');
    const idBefore = (await d.ok(['image', 'inspect', '--format', '{{.Id}}', 'cached:1'])).trim();
    const q = await d.run(['image', 'build', '-q', dir]);
    assert.equal(q.stdout.trim(), idBefore, 'a fully cached build gives the same image ID');
    assert.equal(q.stderr, '');

    await fsp.writeFile(path.join(dir, 'b.txt'), 'TWO\n');
    const edited = await build(['-t', 'cached:2', dir]);
    assert.equal(edited.code, 0, edited.stderr);
    const o = outcomes(edited.stderr);
    assert.equal(o.get('[2/5] COPY a.txt /a.txt'), 'CACHED');
    assert.equal(o.get('[3/5] RUN cat /a.txt > /copy-a'), 'CACHED');
    assert.equal(o.get('[4/5] COPY b.txt /b.txt'), 'DONE');
    assert.equal(o.get('[5/5] RUN cat /a.txt /b.txt > /both'), 'DONE');
    assert.equal(await d.ok(['container', 'run', '--rm', 'cached:2', 'cat', '/both']), 'one\nTWO\n');

    const noCache = outcomes((await build(['--no-cache', '-t', 'cached:3', dir])).stderr);
    assert.equal(noCache.get('[2/5] COPY a.txt /a.txt'), 'DONE');
    // The cache outlives a daemon restart.
    await d.stop();
    await d.start();
    const afterRestart = outcomes((await build(['-t', 'cached:2', dir])).stderr);
    assert.equal(afterRestart.get('[5/5] RUN cat /a.txt /b.txt > /both'), 'CACHED');
  });

  test('.dockerignore keeps files out of the context', async () => {
    const dir = await context('ignore', {
      '.dockerignore': 'secret.txt\nlogs/\n*.tmp\n!keep.tmp\n',
      'secret.txt': 'no',
      'logs/x.log': 'no',
      'a.tmp': 'no',
      'keep.tmp': 'yes',
      'app.txt': 'yes',
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n',
    });
    const r = await build(['-t', 'ignored', dir]);
    assert.equal(r.code, 0, r.stderr);
    const files = await d.ok(['container', 'run', '--rm', 'ignored', 'sh', '-c', 'cd /ctx && find . -type f | sort']);
    assert.deepEqual(files.trim().split('\n'), ['./.dockerignore', './Dockerfile', './app.txt', './keep.tmp']);
    const missing = await context('ignore-missing', { '.dockerignore': 'secret.txt\n', 'secret.txt': 'x', Dockerfile: 'FROM busybox\nCOPY secret.txt /\n' });
    const failed = await build([missing]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /Dockerfile:2: COPY failed: file not found in build context or excluded by \.dockerignore/);
  });

  test('ARG and ENV scoping', async () => {
    const dir = await context('args', {
      Dockerfile: [
        'ARG BASE=busybox',
        'ARG GLOBAL=global-default',
        'FROM ${BASE}',
        'ARG GLOBAL',
        'ARG LOCAL=local-default',
        'ENV FROM_ARG=$LOCAL',
        'ARG LOCAL=overridden-by-env',
        'ENV LOCAL=env-wins',
        'RUN echo "global=$GLOBAL local=$LOCAL from_arg=$FROM_ARG unset=${UNDECLARED:-none}" > /args',
        '',
      ].join('\n'),
    });
    const r = await build(['-t', 'args:1', '--build-arg', 'LOCAL=cli', '--build-arg', 'UNDECLARED=x', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /one or more build-args \[UNDECLARED\] were not consumed/);
    assert.equal(await d.ok(['container', 'run', '--rm', 'args:1', 'cat', '/args']), 'global=global-default local=env-wins from_arg=cli unset=none\n');
    const env = JSON.parse(await d.ok(['image', 'inspect', '--format', '{{json .Config.Env}}', 'args:1']));
    assert.deepEqual(env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'FROM_ARG=cli', 'LOCAL=env-wins'], 'ARGs stay out of the image');
  });

  test('a failing RUN: Docker\'s message and exit status, nothing tagged', async () => {
    const dir = await context('fail', { Dockerfile: 'FROM busybox\nRUN echo before\nRUN echo to-stderr >&2; exit 2\nRUN echo never\n' });
    const r = await build(['-t', 'failed:1', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /to-stderr/);
    assert.match(r.stderr, /ERROR: failed to solve: Dockerfile:3: process "\/bin\/sh -c echo to-stderr >&2; exit 2" did not complete successfully: exit code: 2/);
    assert.doesNotMatch(r.stderr, /RUN echo never/);
    const ls = await d.run(['image', 'inspect', 'failed:1']);
    assert.notEqual(ls.code, 0, 'no image is tagged');
  });

  test('a bad STOPSIGNAL or EXPOSE is refused at its line, in Docker’s words; --iidfile, and --rm/--force-rm accepted', async () => {
    const bad = await context('badmeta', {
      'Df.sig': 'FROM busybox\nSTOPSIGNAL BOGUS\n',
      'Df.exp': 'FROM busybox\nEXPOSE abc\n',
      Dockerfile: 'FROM busybox\nENV S=SIGUSR1\nSTOPSIGNAL $S\n',
    });
    const sig = await build(['-f', path.join(bad, 'Df.sig'), bad]);
    assert.equal(sig.code, 1);
    assert.match(sig.stderr, /ERROR: failed to solve: Df\.sig:2: Invalid signal: BOGUS$/m);
    const exp = await build(['-f', path.join(bad, 'Df.exp'), bad]);
    assert.equal(exp.code, 1);
    assert.match(exp.stderr, /ERROR: failed to solve: Df\.exp:2: Invalid containerPort: abc$/m);
    const iidfile = path.join(bad, 'iid.txt');
    const ok = await build(['--rm', '--force-rm', '-q', '--iidfile', iidfile, '-t', 'meta:1', bad]);
    assert.equal(ok.code, 0, ok.stderr);
    const id = await fsp.readFile(iidfile, 'utf8');
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok.stdout.trim(), id);
    assert.equal((await d.ok(['image', 'inspect', '-f', '{{.Config.StopSignal}}', 'meta:1'])).trim(), 'SIGUSR1');
  });

  test('--platform: this host’s builds, another is refused rather than built for this host', async () => {
    const dir = await context('platform', { Dockerfile: 'FROM busybox\nRUN echo built\n' });
    const host = process.arch === 'arm64' ? 'arm64' : 'amd64';
    const other = host === 'arm64' ? 'amd64' : 'arm64';
    const ok = await build(['--platform', `linux/${host}`, '-t', 'plat:host', dir]);
    assert.equal(ok.code, 0, ok.stderr);
    const r = await build(['--platform', `linux/${other}`, '-t', 'plat:other', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`ERROR: failed to solve: build: platform linux/${other} is not supported: this engine builds for linux/${host} only`));
    assert.notEqual((await d.run(['image', 'inspect', 'plat:other'])).code, 0, 'no image is tagged');
  });

  test('--network none and --add-host reach RUN (and its cache key)', async () => {
    const dir = await context('runnet', { Dockerfile: 'FROM busybox\nRUN ls /sys/class/net > /nets; grep foo /etc/hosts > /foo || true\n' });
    const plain = await build(['-t', 'runnet:host', dir]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.notEqual(await d.ok(['container', 'run', '--rm', 'runnet:host', 'cat', '/nets']), 'lo\n', 'the host network by default');
    const none = await build(['--network', 'none', '--add-host', 'foo:10.1.2.3', '-t', 'runnet:none', dir]);
    assert.equal(none.code, 0, none.stderr);
    assert.doesNotMatch(none.stderr, /CACHED/, 'not the host-network step from the cache');
    assert.equal(await d.ok(['container', 'run', '--rm', 'runnet:none', 'cat', '/nets', '/foo']), 'lo\n10.1.2.3\tfoo\n');
    const bad = await build(['--network', 'bogus', dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /network mode "bogus" not supported/);
  });

  test('ADD of a URL and of a local tar, COPY --chown/--chmod and heredocs', async () => {
    const dir = await context('add', { 'tree/sub/f.txt': 'in tar\n', 'plain.txt': 'plain\n' });
    execFileSync('tar', ['-czf', path.join(dir, 'tree.tar.gz'), '-C', path.join(dir, 'tree'), 'sub']);
    await fsp.writeFile(
      path.join(dir, 'Dockerfile'),
      [
        'FROM busybox',
        `ADD ${serverUrl}/files/data.txt /downloads/`,
        'ADD tree.tar.gz /unpacked/',
        'COPY --chown=app:staff --chmod=600 plain.txt /owned.txt',
        'COPY <<EOF /etc/motd',
        'hello heredoc',
        'EOF',
        '',
      ].join('\n'),
    );
    const r = await build(['-t', 'added', dir]);
    assert.equal(r.code, 0, r.stderr);
    const out = await d.ok([
      'container', 'run', '--rm', 'added', 'sh', '-c',
      'cat /downloads/data.txt /unpacked/sub/f.txt /etc/motd; stat -c "%a %u:%g" /owned.txt /downloads/data.txt',
    ]);
    assert.equal(out, 'downloaded\nin tar\nhello heredoc\n600 1000:50\n600 0:0\n');
  });

  test('ADD extracts xz and bzip2 tar archives, whatever their names; a compressed file that holds no tar is copied', async () => {
    const dir = await context('addxz', { 'tree/sub/x.txt': 'from xz\n', 'notar.txt': 'just text\n' });
    execFileSync('tar', ['-cJf', path.join(dir, 'tree.tar.xz'), '-C', path.join(dir, 'tree'), 'sub']);
    execFileSync('tar', ['-cjf', path.join(dir, 'noext'), '-C', path.join(dir, 'tree'), 'sub']);
    execFileSync('xz', ['-k', path.join(dir, 'notar.txt')]);
    await fsp.writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nADD tree.tar.xz /xz/\nADD noext /bz2/\nADD notar.txt.xz /plain/\n');
    const r = await build(['-t', 'addedxz', dir]);
    assert.equal(r.code, 0, r.stderr);
    const out = await d.ok(['container', 'run', '--rm', 'addedxz', 'sh', '-c', 'cat /xz/sub/x.txt /bz2/sub/x.txt; ls /plain']);
    assert.equal(out, 'from xz\nfrom xz\nnotar.txt.xz\n');
  });

  test('a directory source makes a directory destination, however few files it holds', async () => {
    const dir = await context('dirs', { 'flat/a.txt': 'a\n', 'flat/b.txt': 'b\n', 'one/only.txt': 'only\n' });
    await fsp.mkdir(path.join(dir, 'empty'));
    await fsp.writeFile(
      path.join(dir, 'Dockerfile'),
      [
        'FROM busybox AS stage',
        'RUN mkdir -p /made && echo m > /made/m.txt',
        'FROM busybox',
        'COPY flat /app/flat',
        'COPY one /app/one',
        'COPY fla* /app/glob',
        'COPY empty /app/empty',
        'COPY --from=stage /made /app/made',
        '',
      ].join('\n'),
    );
    const r = await build(['-t', 'dirs', dir]);
    assert.equal(r.code, 0, r.stderr);
    const out = await d.ok(['container', 'run', '--rm', 'dirs', 'sh', '-c', 'cd /app && find . -type d -o -type f | sort']);
    assert.deepEqual(out.trim().split('\n'), [
      '.', './empty', './flat', './flat/a.txt', './flat/b.txt', './glob', './glob/a.txt', './glob/b.txt', './made', './made/m.txt', './one', './one/only.txt',
    ]);
  });

  test('hard links stay hard links within a source tree (context and COPY --from), as Docker keeps them', async () => {
    const dir = await context('hardlinks', { a: 'hello\n', 'd/f': 'x\n' });
    await fsp.link(path.join(dir, 'a'), path.join(dir, 'b'));
    await fsp.link(path.join(dir, 'd/f'), path.join(dir, 'd/g'));
    await fsp.link(path.join(dir, 'd/f'), path.join(dir, 'top'));
    await fsp.writeFile(
      path.join(dir, 'Dockerfile'),
      ['FROM busybox AS src', 'COPY . /all/', 'COPY a b /two/', 'COPY d /dd/', 'ADD . /added/', 'FROM busybox', 'COPY --from=src /all /from/', 'COPY --from=src /two/a /two/b /fromtwo/', ''].join('\n'),
    );
    const r = await build(['-t', 'hardlinks:src', '--target', 'src', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await build(['-t', 'hardlinks:final', dir])).code, 0);
    // Link count and whether two names share an inode, as `stat -c '%h %i'` shows them in Docker's images.
    const links = async (image: string, files: string[]): Promise<string[]> => {
      const out = await d.ok(['container', 'run', '--rm', image, 'stat', '-c', '%n %h %i', ...files]);
      const rows = out.trim().split('\n').map((l) => l.split(' '));
      const inodes = [...new Set(rows.map((row) => row[2]))];
      return rows.map(([name, count, ino]) => `${name} ${count} #${inodes.indexOf(ino)}`);
    };
    assert.deepEqual(await links('hardlinks:src', ['/all/a', '/all/b', '/all/d/f', '/all/d/g', '/all/top', '/two/a', '/two/b', '/dd/f', '/dd/g', '/added/a', '/added/b']), [
      '/all/a 2 #0', '/all/b 2 #0', '/all/d/f 3 #1', '/all/d/g 3 #1', '/all/top 3 #1',
      // Separate source arguments are copied apart, as Docker's builders do.
      '/two/a 1 #2', '/two/b 1 #3',
      '/dd/f 2 #4', '/dd/g 2 #4',
      '/added/a 2 #5', '/added/b 2 #5',
    ]);
    assert.deepEqual(await links('hardlinks:final', ['/from/a', '/from/b', '/from/d/f', '/from/d/g', '/from/top', '/fromtwo/a', '/fromtwo/b']), [
      '/from/a 2 #0', '/from/b 2 #0', '/from/d/f 3 #1', '/from/d/g 3 #1', '/from/top 3 #1', '/fromtwo/a 1 #2', '/fromtwo/b 1 #3',
    ]);
    // The layer records the second name as a tar hard link, not a second copy of the content.
    const saved = path.join(d.dir, 'hardlinks.tar');
    await d.ok(['image', 'save', '-o', saved, 'hardlinks:final']);
    const unpacked = path.join(d.dir, 'hardlinks-saved');
    await fsp.mkdir(unpacked);
    execFileSync('tar', ['-C', unpacked, '-xf', saved]);
    const blobs = path.join(unpacked, 'blobs', 'sha256');
    const hardlinkLines = (await fsp.readdir(blobs)).flatMap((blob) => {
      try {
        return execFileSync('tar', ['-tvf', path.join(blobs, blob)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
          .split('\n')
          .filter((l) => l.startsWith('h'))
          .map((l) => l.replace(/^.* (\S+ link to \S+)$/, '$1'));
      } catch {
        return []; // a config or manifest, not a tar
      }
    });
    assert.deepEqual(hardlinkLines.sort(), ['from/b link to from/a', 'from/d/g link to from/d/f', 'from/top link to from/d/f']);
  });

  test('a HEALTHCHECK from the Dockerfile is used by container run', async () => {
    const dir = await context('health', { Dockerfile: 'FROM busybox\nHEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD test -e /tmp/ready\nCMD ["sh", "-c", "touch /tmp/ready; sleep 60"]\n' });
    const r = await build(['-t', 'healthy', dir]);
    assert.equal(r.code, 0, r.stderr);
    const health = JSON.parse(await d.ok(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', 'healthy']));
    assert.deepEqual(health, { Test: ['CMD-SHELL', 'test -e /tmp/ready'], Interval: 1e9, Timeout: 2e9, Retries: 2 });
    const id = (await d.ok(['container', 'run', '-d', 'healthy'])).trim();
    try {
      let status = '';
      for (let i = 0; i < 50 && status !== 'healthy'; i++) {
        await new Promise((res) => setTimeout(res, 200));
        status = (await d.ok(['container', 'inspect', '--format', '{{.State.Health.Status}}', id])).trim();
      }
      assert.equal(status, 'healthy');
    } finally {
      await d.run(['container', 'rm', '-f', id]);
    }
  });

  test('a context over 500 MB warns, once, and still builds', async () => {
    const dir = await context('large', { Dockerfile: 'FROM busybox\nLABEL large=yes\n' });
    // Sparse: the CLI reads and sends 501 MB of zeros without the disk holding them.
    const big = path.join(dir, 'big.bin');
    await fsp.writeFile(big, '');
    await fsp.truncate(big, 501 * 1024 * 1024);
    const r = await d.run(['image', 'build', '-q', '-t', 'large:1', dir], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('WARNING: build context'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0] as string, /is over 500 MB; consider a \.dockerignore/);
  });

  test('build from stdin: a lone Dockerfile', async () => {
    const r = await d.run(['image', 'build', '-q', '-t', 'stdin:1', '-'], { input: 'FROM busybox\nLABEL from=stdin\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^sha256:[a-f0-9]{64}$/);
    assert.equal((await d.ok(['image', 'inspect', '--format', '{{index .Config.Labels "from"}}', 'stdin:1'])).trim(), 'stdin');
  });
});
