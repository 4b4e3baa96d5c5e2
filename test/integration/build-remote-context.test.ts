/**
 * Build contexts named by a URL, against a real daemon and real servers on loopback: a Git
 * repository over dumb HTTP (a static file server) and over git:// (`git daemon`), with
 * `#ref:subdir` fragments; a tar archive and a lone Dockerfile over http; `tscompose build` with a
 * Git `build.context`; and the errors of a missing ref, subdir or URL, which leave no clone behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { freePort, retry } from '../helpers/http';
import { busyboxRootfsTar } from '../helpers/images';

let d: TestDaemon;
let server: Server;
let http: string;
let gitDaemon: ChildProcess | undefined;
let gitUrl: string;
/** The CLI's TMPDIR: clones go there, and must be gone after every build. */
let tmp: string;

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fsp.writeFile(path.join(dir, file), content);
  }
}

/** Waits until something accepts connections on 127.0.0.1:port. */
function waitForPort(port: number): Promise<void> {
  return retry(
    () =>
      new Promise<void>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve();
        });
        s.on('error', reject);
      }),
  );
}

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  tmp = path.join(d.dir, 'cli-tmp');
  await fsp.mkdir(tmp);

  // A repository with two commits: v1 (tagged) and the main branch's head.
  const repo = path.join(d.dir, 'repo');
  const dockerfile = 'FROM busybox:latest\nCOPY msg.txt /msg.txt\nCMD ["cat", "/msg.txt"]\n';
  await writeFiles(repo, { Dockerfile: dockerfile, 'msg.txt': 'root v1\n', 'sub/Dockerfile': dockerfile, 'sub/msg.txt': 'sub v1\n' });
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'v1');
  git(repo, 'tag', 'v1');
  await writeFiles(repo, { 'msg.txt': 'root v2\n', 'sub/msg.txt': 'sub v2\n', 'sub/alt.Dockerfile': 'FROM busybox:latest\nCMD ["echo", "alt"]\n' });
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'v2');
  const served = path.join(d.dir, 'served');
  await fsp.mkdir(served);
  git(served, 'clone', '-q', '--bare', repo, 'repo.git');
  git(path.join(served, 'repo.git'), 'update-server-info');

  // An archive context and a lone Dockerfile, beside the repository.
  const archiveDir = path.join(d.dir, 'archive');
  await writeFiles(archiveDir, { 'build/other.Dockerfile': 'FROM busybox:latest\nCOPY data.txt /data.txt\n', 'data.txt': 'from the archive\n' });
  execFileSync('tar', ['-czf', path.join(served, 'ctx.tar.gz'), '-C', archiveDir, '.']);
  await fsp.writeFile(path.join(served, 'Dockerfile.txt'), 'FROM busybox:latest\nRUN echo from-a-url > /made\n');

  // A static file server: git's dumb HTTP protocol needs nothing more.
  server = createServer((req, res) => {
    const file = path.join(served, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    try {
      if (!file.startsWith(served + path.sep)) throw new Error('outside');
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  http = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const port = await freePort();
  gitDaemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${served}`, '--listen=127.0.0.1', `--port=${port}`, served], { stdio: 'ignore' });
  await waitForPort(port);
  gitUrl = `git://127.0.0.1:${port}`;
});

after(async () => {
  gitDaemon?.kill();
  server?.close();
  await d?.destroy();
});

const build = (args: string[]) => d.run(['image', 'build', '--progress', 'plain', ...args], { env: { TMPDIR: tmp }, timeoutMs: 120_000 });
const runImage = (image: string) => d.ok(['container', 'run', '--rm', image]);

async function assertNoClonesLeft(): Promise<void> {
  assert.deepEqual(await fsp.readdir(tmp), []);
}

describe('build contexts from URLs', () => {
  test('a Git repository over HTTP: the default branch, a tag with a subdir, -f inside the subdir', async () => {
    let r = await build(['-t', 'remote:head', `${http}/repo.git`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runImage('remote:head'), 'root v2\n');

    r = await build(['-t', 'remote:v1sub', `${http}/repo.git#v1:sub`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runImage('remote:v1sub'), 'sub v1\n');

    r = await build(['-t', 'remote:alt', '-f', 'alt.Dockerfile', `${http}/repo.git#main:sub`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runImage('remote:alt'), 'alt\n');
    await assertNoClonesLeft();
  });

  test('a Git repository over git://, shallow', async () => {
    const r = await build(['-t', 'remote:git', `${gitUrl}/repo.git#main:sub`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runImage('remote:git'), 'sub v2\n');
    await assertNoClonesLeft();
  });

  test('a tar.gz over HTTP is the context; a text file is the Dockerfile', async () => {
    let r = await build(['-t', 'remote:tar', '-f', 'build/other.Dockerfile', `${http}/ctx.tar.gz`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await d.ok(['container', 'run', '--rm', 'remote:tar', 'cat', '/data.txt']), 'from the archive\n');

    r = await build(['-t', 'remote:dockerfile', `${http}/Dockerfile.txt`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await d.ok(['container', 'run', '--rm', 'remote:dockerfile', 'cat', '/made']), 'from-a-url\n');
  });

  test('bad remotes: one line naming the URL and the reason, exit 1, nothing left behind', async () => {
    const cases: Array<[string, RegExp]> = [
      [`${http}/repo.git#nope`, /git fetch of .*repo\.git#nope failed: .*nope/],
      [`${http}/repo.git#main:missing`, /subdirectory "missing" does not exist/],
      [`${http}/absent.tar.gz`, /unable to download remote context .*absent\.tar\.gz: failed to GET .* with status 404/],
      [`${http}/repo.git#--upload-pack=touch`, /invalid refspec: --upload-pack=touch/],
    ];
    for (const [url, message] of cases) {
      const r = await build(['-t', 'remote:bad', url]);
      assert.equal(r.code, 1, `${url}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] as string, message);
    }
    await assertNoClonesLeft();
    const ls = await d.ok(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', 'remote']);
    assert.ok(!ls.includes('remote:bad'), ls);
  });

  test('compose build with a Git build.context and a dockerfile inside it', async () => {
    const dir = path.join(d.dir, 'project');
    await writeFiles(dir, {
      'compose.yaml': `name: rc\nservices:\n  web:\n    image: rc-web:1\n    build:\n      context: ${http}/repo.git#v1:sub\n  alt:\n    image: rc-alt:1\n    build:\n      context: ${gitUrl}/repo.git#main:sub\n      dockerfile: alt.Dockerfile\n`,
    });
    const r = await d.run(['build'], { cwd: dir, env: { TMPDIR: tmp }, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runImage('rc-web:1'), 'sub v1\n');
    assert.equal(await runImage('rc-alt:1'), 'alt\n');
    await assertNoClonesLeft();
  });
});
