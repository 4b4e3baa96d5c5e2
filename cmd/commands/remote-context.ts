/**
 * Build contexts named by a URL, fetched by the CLI before the build as Docker's CLI does:
 *
 * - a Git repository (`git://…`, `git@host:repo`, `github.com/…`, or an http(s) URL ending in
 *   `.git`), optionally followed by `#ref:subdir`, is cloned into a temporary directory with the
 *   `git` program and sent like any directory context;
 * - any other http(s) URL is downloaded: a tar archive (plain or gzip) is the context, anything
 *   else is taken as the Dockerfile itself, as with `build -`.
 *
 * The daemon never sees the URL: it receives a context as from a local directory or stdin.
 */
import { mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ExitError } from '../cli';

export type RemoteContextKind = 'git' | 'url';

/**
 * Docker's rule (cli/command/image/build.go, urlutil): a local directory wins; then a Git
 * address; then any http(s) URL. Undefined for a local path.
 */
export function remoteContextKind(value: string, baseDir = process.cwd()): RemoteContextKind | undefined {
  if (statSync(path.resolve(baseDir, value), { throwIfNoEntry: false })?.isDirectory() === true) return undefined;
  const isUrl = /^https?:\/\//i.test(value);
  if (/^(git:\/\/|git@|ssh:\/\/|github\.com\/)/.test(value) || (isUrl && /\.git(#.+)?$/.test(value))) return 'git';
  if (isUrl) return 'url';
  return undefined;
}

export interface GitSource {
  /** What `git fetch` is given: the address without its fragment. */
  remote: string;
  /** A branch, tag or commit; '' for the repository's default branch. */
  ref: string;
  /** A directory inside the repository to use as the context; '' for its root. */
  subdir: string;
}

/** `URL#ref:subdir`, as Docker parses it (`github.com/x/y` is fetched over https). */
export function parseGitSource(value: string): GitSource {
  const address = value.startsWith('github.com/') ? `https://${value}` : value;
  const hash = address.indexOf('#');
  const remote = hash < 0 ? address : address.slice(0, hash);
  const fragment = hash < 0 ? '' : address.slice(hash + 1);
  const colon = fragment.indexOf(':');
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  const subdir = colon < 0 ? '' : fragment.slice(colon + 1);
  // A ref is passed to git as an argument: one starting with '-' would be read as an option.
  if (ref.startsWith('-')) throw new ExitError(1, `unable to prepare context: invalid refspec: ${ref}`);
  if (remote === '') throw new ExitError(1, `unable to prepare context: ${value}: no repository address`);
  return { remote, ref, subdir };
}

/** A fetched repository: `dir` is the context (the clone, or its subdir); `remove` deletes it all. */
export interface ClonedContext {
  dir: string;
  remove(): void;
}

/**
 * Clones `value` into a temporary directory: a shallow fetch of the ref where the server allows
 * it (dumb-HTTP servers don't, and get a full one), checked out with its submodules. Git never
 * prompts: a repository that needs credentials it doesn't have fails instead of waiting.
 */
export async function cloneGitContext(value: string): Promise<ClonedContext> {
  const source = parseGitSource(value);
  const root = mkdtempSync(path.join(tmpdir(), 'tscompose-build-git-'));
  const remove = () => rmSync(root, { recursive: true, force: true });
  try {
    const git = (args: string[]) => runGit(root, args, value);
    await git(['init', '-q']);
    await git(['remote', 'add', 'origin', source.remote]);
    const fetch = (shallow: boolean) => git(['fetch', '-q', ...(shallow ? ['--depth', '1'] : []), 'origin', '--', source.ref === '' ? 'HEAD' : source.ref]);
    try {
      await fetch(true);
    } catch (err) {
      if (!/shallow|dumb/i.test((err as Error).message)) throw err;
      await fetch(false);
    }
    await git(['checkout', '-q', 'FETCH_HEAD']);
    await git(['submodule', 'update', '-q', '--init', '--recursive', '--depth', '1']);
    // The build context is the tree, not the repository's history (BuildKit drops .git too).
    rmSync(path.join(root, '.git'), { recursive: true, force: true });
    return { dir: contextSubdir(root, source.subdir, value), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** The fragment's subdirectory, which must be a directory inside the clone (symlinks resolved). */
function contextSubdir(root: string, subdir: string, value: string): string {
  if (subdir === '') return root;
  const fail = (why: string) => new ExitError(1, `unable to prepare context: ${value}: subdirectory "${subdir}" ${why}`);
  let resolved: string;
  try {
    resolved = realpathSync(path.join(root, subdir));
  } catch {
    throw fail('does not exist in the repository');
  }
  const realRoot = realpathSync(root);
  if (resolved !== realRoot && !resolved.startsWith(realRoot + path.sep)) throw fail('is outside the repository');
  if (!statSync(resolved).isDirectory()) throw fail('is not a directory');
  return resolved;
}

async function runGit(cwd: string, args: string[], value: string): Promise<void> {
  // Loaded here: every build imports this module, and only Git contexts run a program.
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '' }, maxBuffer: 16 << 20 },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(new ExitError(1, `unable to prepare context: ${value} is a Git repository, and building from one needs the git program, which is not installed`));
        }
        // git's last line says what went wrong ("fatal: couldn't find remote ref nope").
        const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
        const why = lines.at(-1) ?? `exit status ${String(err.code)}`;
        reject(new ExitError(1, `unable to prepare context: git ${args[0] as string} of ${value} failed: ${why}`));
      },
    );
  });
}

/** Downloads an http(s) context whole: Docker's CLI reads it into memory too. */
export async function downloadContext(url: string): Promise<Buffer> {
  // Loaded here: node's http, https and tls modules cost every other command their start-up.
  const { httpGet } = await import('../../common/http-get');
  let response: Awaited<ReturnType<typeof httpGet>>;
  try {
    response = await httpGet(url);
  } catch (err) {
    throw new ExitError(1, `unable to prepare context: unable to download remote context ${url}: ${(err as Error).message}`);
  }
  if (response.status < 200 || response.status > 299) {
    response.body.resume();
    throw new ExitError(1, `unable to prepare context: unable to download remote context ${url}: failed to GET ${url} with status ${response.status} ${response.statusText}`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
