/**
 * `image build`: sends the build context (the directory minus `.dockerignore`d files, as a tar;
 * or stdin with `-`) and the Dockerfile to the daemon, and shows the build's progress the way
 * buildkit does: plain `#N` lines, or a compact view on a terminal. `-q` prints only the image ID.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import tarStream from 'tar-stream';
import { engine, ExitError, println, readStdin } from '../cli';
import type { DuplexCall } from '../client';
import { readDockerignore } from '../../agent/build/context/ignore';
import { detectStdinContext, walkContext } from '../../agent/build/context/walk';
import { CompactRenderer, plainLine, type ProgressStatus } from '../../agent/build/executor/progress';
import type { BuildOptions, BuildProgress } from '../../common/rpc/engine-types';

export interface BuildFlags {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  target?: string;
  cache?: boolean;
  label?: string[];
  quiet?: boolean;
  progress?: string;
  pull?: boolean;
  platform?: string;
}

const CHUNK = 1 << 20;

/** `--build-arg K=V`, or `K` to take the value from this environment (skipped when unset there). */
export function parseBuildArgs(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq === 0) throw new ExitError(125, `invalid argument "${v}" for "--build-arg" flag: empty name`);
    if (eq > 0) out[v.slice(0, eq)] = v.slice(eq + 1);
    else if (process.env[v] !== undefined) out[v] = process.env[v] as string;
  }
  return out;
}

export function parseLabels(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq < 0) out[v] = '';
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export interface ContextPlan {
  options: Pick<BuildOptions, 'dockerfile' | 'dockerfile_content'>;
  /** Writes the context tar as `data` messages. */
  send(write: (msg: unknown) => Promise<void>): Promise<void>;
}

async function chunks(source: AsyncIterable<Buffer>, write: (msg: unknown) => Promise<void>): Promise<void> {
  for await (const chunk of source) {
    for (let off = 0; off < chunk.length; off += CHUNK) await write({ data: chunk.subarray(off, off + CHUNK) });
  }
}

/** `build -`: a tar (the whole context) or a lone Dockerfile (an empty context). */
async function stdinContext(flags: BuildFlags): Promise<ContextPlan> {
  if (flags.file === '-') throw new ExitError(125, 'invalid argument: can\'t use stdin for both build context and dockerfile');
  const input = await readStdin();
  const kind = detectStdinContext(input.subarray(0, 512));
  if (kind === 'dockerfile') {
    return { options: { dockerfile: 'Dockerfile', dockerfile_content: input.toString('utf8') }, send: async () => undefined };
  }
  if (kind === 'bzip2' || kind === 'xz') throw new ExitError(1, `unable to prepare context: ${kind} compressed contexts are not supported; use gzip or plain tar`);
  return {
    options: { dockerfile: flags.file ?? 'Dockerfile', dockerfile_content: '' },
    send: (write) => chunks((async function* () { yield input; })(), write),
  };
}

/**
 * A directory context: `file` is the Dockerfile's path (relative to the current directory; `-`
 * for stdin), or `inline` the Dockerfile itself (Compose's `dockerfile_inline`).
 */
export async function directoryContext(dir: string, flags: { file?: string; inline?: string }): Promise<ContextPlan> {
  const contextDir = path.resolve(dir);
  const st = await fsp.stat(contextDir).catch(() => undefined);
  if (!st?.isDirectory()) throw new ExitError(1, `unable to prepare context: path "${dir}" not found`);
  let dockerfilePath: string;
  let content: string;
  if (flags.inline !== undefined) {
    dockerfilePath = path.join(contextDir, 'Dockerfile');
    content = flags.inline;
  } else if (flags.file === '-') {
    dockerfilePath = path.join(contextDir, 'Dockerfile');
    content = (await readStdin()).toString('utf8');
  } else {
    const candidates = flags.file !== undefined ? [path.resolve(flags.file)] : [path.join(contextDir, 'Dockerfile'), path.join(contextDir, 'dockerfile')];
    const found = await firstExisting(candidates);
    if (found === undefined) {
      throw new ExitError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${candidates[0] as string}: no such file or directory`);
    }
    dockerfilePath = found;
    content = await fsp.readFile(found, 'utf8');
  }
  const relative = path.relative(contextDir, dockerfilePath);
  const inside = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
  const ignore = await readDockerignore(contextDir, dockerfilePath);
  return {
    options: { dockerfile: inside ? relative.split(path.sep).join('/') : path.basename(dockerfilePath), dockerfile_content: content },
    send: (write) => chunks(tarContext(contextDir, ignore.patterns), write),
  };
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const p of paths) if (await fsp.stat(p).then((s) => s.isFile(), () => false)) return p;
  return undefined;
}

/** The context as a tar stream: what `.dockerignore` keeps, symlinks as links, owners and modes kept. */
function tarContext(contextDir: string, patterns: readonly string[]): AsyncIterable<Buffer> {
  const pack = tarStream.pack();
  const fill = async (): Promise<void> => {
    for await (const entry of walkContext(contextDir, patterns)) {
      const header = { name: entry.path, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: new Date(entry.mtimeMs) };
      if (entry.type === 'dir') {
        pack.entry({ ...header, type: 'directory' });
      } else if (entry.type === 'symlink') {
        pack.entry({ ...header, type: 'symlink', linkname: entry.linkTarget ?? '' });
      } else {
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ ...header, type: 'file', size: entry.size }, (err) => (err ? reject(err) : resolve()));
          createReadStream(path.join(contextDir, entry.path)).on('error', reject).pipe(sink);
        });
      }
    }
    pack.finalize();
  };
  fill().catch((err: unknown) => pack.destroy(err as Error));
  return pack as unknown as AsyncIterable<Buffer>;
}

export async function imageBuild(context: string, flags: BuildFlags): Promise<number> {
  if (/^(https?:\/\/|git@|git:\/\/)/.test(context)) throw new ExitError(1, `unable to prepare context: remote contexts (${context}) are not supported`);
  const plan = context === '-' ? await stdinContext(flags) : await directoryContext(context, flags);
  const quiet = flags.quiet === true;
  const mode = flags.progress ?? 'auto';
  if (!['auto', 'plain', 'tty', 'quiet', 'rawjson'].includes(mode)) throw new ExitError(125, `invalid progress mode ${JSON.stringify(mode)}: use auto, plain, tty or quiet`);
  const silent = quiet || mode === 'quiet';
  const tty = mode === 'tty' || (mode === 'auto' && process.stderr.isTTY === true);
  const writeErr = (line: string) => process.stderr.write(line + '\n');
  const compact = new CompactRenderer(writeErr);
  const show = (m: BuildProgress) => {
    if (silent) return;
    const event = { vertex: m.vertex, status: m.status as ProgressStatus, text: m.text, elapsedMs: Number(m.elapsed_ms) };
    if (mode === 'rawjson') writeErr(JSON.stringify(event));
    else if (tty) compact.show(event);
    else writeErr(plainLine(event));
  };

  const options: BuildOptions = {
    ...plan.options,
    tags: flags.tag ?? [],
    build_args: parseBuildArgs(flags.buildArg),
    target: flags.target ?? '',
    no_cache: flags.cache === false,
    pull: flags.pull === true,
    labels: parseLabels(flags.label),
    quiet,
    progress: mode,
    platform: flags.platform ?? '',
  };
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  let imageId = '';
  try {
    imageId = await streamBuild(plan, options, show, abort.signal);
  } catch (err) {
    throw new ExitError(1, `ERROR: failed to solve: ${(err as Error).message}`);
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  if (!imageId) return 130;
  if (quiet) println(imageId);
  return 0;
}

/**
 * Streams one build to the daemon: the options, then the context, then its progress to `show`.
 * Returns the image ID, or '' when `signal` cancelled it; a failed build throws.
 */
export async function streamBuild(plan: ContextPlan, options: BuildOptions, show: (m: BuildProgress) => void, signal?: AbortSignal): Promise<string> {
  const client = await engine();
  const call: DuplexCall<BuildProgress> = client.duplex<BuildProgress>('ImageBuild');
  const cancel = () => call.cancel();
  if (signal?.aborted) return '';
  signal?.addEventListener('abort', cancel, { once: true });
  let imageId = '';
  try {
    await call.write({ options });
    await plan.send((msg) => call.write(msg));
    call.end();
    for await (const m of call.replies) {
      if (m.image_id) imageId = m.image_id;
      else show(m);
    }
  } catch (err) {
    if (signal?.aborted) return '';
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  return imageId;
}
