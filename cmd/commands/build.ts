/**
 * `image build`: sends the build context (the directory minus `.dockerignore`d files, as a tar;
 * or stdin with `-`) and the Dockerfile to the daemon, and shows the build's progress the way
 * buildkit does: plain `#N` lines, or a compact view on a terminal. `-q` prints only the image ID.
 */
import { createReadStream, promises as fsp, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { engine, ExitError, println, readStdin } from '../cli';
import { cloneGitContext, downloadContext, remoteContextKind } from './remote-context';
import type { DuplexCall } from '../client';
import { readDockerignoreSync } from '../../agent/build/context/ignore';
import { contextSizeWarning, detectStdinContext, walkContextSync, type ContextEntry } from '../../agent/build/context/walk';
import { CompactRenderer, plainLine, type ProgressStatus } from '../../agent/build/executor/progress';
import { encodeHeader, endOfArchive, padding, type TarEntryType } from '../../agent/image/tar-format';
import type { BuildOptions, BuildProgress, BuildSecret } from '../../common/rpc/engine-types';
import { parseExtraHost } from '../parse/run-flags';

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
  secret?: string[];
  buildContext?: string[];
  network?: string;
  addHost?: string[];
  iidfile?: string;
}

const CHUNK = 1 << 20;
/** Context files up to this size are read in one synchronous call rather than streamed. */
const SMALL_FILE = 256 * 1024;

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

/** A secret to send with the build, before it is read. */
export interface SecretSource {
  id: string;
  /** A file's path (`src=`), or an environment variable (`env=`) of `environment`. */
  file?: string;
  env?: string;
  /** Defaults for the `RUN --mount`s of this secret (Compose's long syntax). */
  uid?: string;
  gid?: string;
  mode?: number;
}

/**
 * `--secret id=foo,src=./file` / `id=foo,env=VAR` / `type=env,id=VAR`, as `docker buildx build`
 * takes them.
 */
export function parseSecretFlags(values: readonly string[] | undefined): SecretSource[] {
  return (values ?? []).map((value) => {
    const fields = new Map<string, string>();
    for (const field of value.split(',')) {
      const eq = field.indexOf('=');
      const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
      if (!['type', 'id', 'src', 'source', 'env'].includes(key)) throw new ExitError(125, `invalid argument "${value}" for "--secret" flag: unexpected key '${key}'`);
      fields.set(key === 'source' ? 'src' : key, eq < 0 ? '' : field.slice(eq + 1));
    }
    const type = fields.get('type') ?? (fields.has('env') ? 'env' : 'file');
    if (type !== 'file' && type !== 'env') throw new ExitError(125, `invalid argument "${value}" for "--secret" flag: unsupported secret type "${type}"`);
    const id = fields.get('id') ?? (type === 'file' ? path.basename(fields.get('src') ?? '') : fields.get('env')) ?? '';
    if (!id) throw new ExitError(125, `invalid argument "${value}" for "--secret" flag: id is required`);
    if (type === 'env') return { id, env: fields.get('env') || id };
    const file = fields.get('src');
    if (!file) throw new ExitError(125, `invalid argument "${value}" for "--secret" flag: src=<file> (or env=<VAR>) is required for secret "${id}"`);
    return { id, file };
  });
}

/** Reads the secrets' values; a file or variable that is not there is an error naming the secret. */
export async function readSecrets(sources: readonly SecretSource[], environment: Readonly<Record<string, string | undefined>> = process.env): Promise<BuildSecret[]> {
  const out: BuildSecret[] = [];
  for (const source of sources) {
    let value: Buffer;
    if (source.env !== undefined) {
      const v = environment[source.env];
      if (v === undefined) throw new ExitError(1, `secret "${source.id}": environment variable ${source.env} is not set`);
      value = Buffer.from(v, 'utf8');
    } else {
      try {
        value = await fsp.readFile(source.file ?? '');
      } catch (err) {
        throw new ExitError(1, `secret "${source.id}": cannot read ${source.file ?? ''}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    out.push({
      id: source.id,
      value,
      uid: source.uid ?? '',
      gid: source.gid ?? '',
      mode: source.mode === undefined ? '' : source.mode.toString(8),
    });
  }
  return out;
}

/** `--build-context name=dir|docker-image://ref`, as a map. */
export function parseBuildContexts(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new ExitError(125, `invalid argument "${v}" for "--build-context" flag: expected name=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export interface ContextPlan {
  options: Pick<BuildOptions, 'dockerfile' | 'dockerfile_content' | 'named_contexts'>;
  /** Writes the context tar as `data` messages, then each local named context's. */
  send(write: (msg: unknown) => Promise<void>): Promise<void>;
}

/**
 * Sends a byte stream as `data` messages of up to CHUNK bytes. The tar packer yields many small
 * pieces (a 512-byte header, the data, its padding): gathering them saves a message and a flow
 * control round trip per piece, which is most of the upload time of a small context.
 */
async function chunks(source: AsyncIterable<Buffer>, write: (msg: unknown) => Promise<void>, context = ''): Promise<void> {
  const send = (data: Buffer) => write(context ? { data, context } : { data });
  let pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    pending.push(chunk);
    size += chunk.length;
    if (size < CHUNK) continue;
    const all = Buffer.concat(pending, size);
    let off = 0;
    for (; all.length - off >= CHUNK; off += CHUNK) await send(all.subarray(off, off + CHUNK));
    pending = off < all.length ? [all.subarray(off)] : [];
    size = all.length - off;
  }
  if (size > 0) await send(Buffer.concat(pending, size));
}

/**
 * Adds named contexts to a plan: a directory (relative to the current directory) is sent as a
 * tar after the main context, minus its own `.dockerignore`; `docker-image://ref` is resolved by
 * the daemon. Other sources (Git, HTTP, `oci-layout://`) are refused, naming the context.
 */
export async function withNamedContexts(plan: ContextPlan, named: Readonly<Record<string, string>>, baseDir = process.cwd()): Promise<ContextPlan> {
  const entries = Object.entries(named);
  if (entries.length === 0) return plan;
  const wire: Record<string, string> = {};
  const dirs: Array<{ name: string; dir: string; patterns: readonly string[] }> = [];
  for (const [name, value] of entries) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new ExitError(125, `invalid build context name ${JSON.stringify(name)}`);
    if (value.startsWith('docker-image://')) {
      if (value.length === 'docker-image://'.length) throw new ExitError(125, `build context "${name}": docker-image:// needs an image reference`);
      wire[name] = value;
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(value)) throw new ExitError(1, `build context "${name}": ${value} is not supported (use a directory or docker-image://<ref>)`);
    const dir = path.resolve(baseDir, value);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new ExitError(1, `build context "${name}": path "${value}" is not a directory`);
    wire[name] = 'local:';
    dirs.push({ name, dir, patterns: readDockerignoreSync(dir).patterns });
  }
  return {
    options: { ...plan.options, named_contexts: { ...(plan.options.named_contexts ?? {}), ...wire } },
    send: async (write) => {
      await plan.send(write);
      for (const { name, dir, patterns } of dirs) await chunks(tarContext(dir, patterns), write, name);
    },
  };
}

/** `build -`: a tar (the whole context) or a lone Dockerfile (an empty context). */
async function stdinContext(file: string | undefined): Promise<ContextPlan> {
  if (file === '-') throw new ExitError(125, 'invalid argument: can\'t use stdin for both build context and dockerfile');
  return bufferedContext(await readStdin(), file);
}

/**
 * A context read whole (stdin, or a download): a tar archive, plain or compressed, is the context
 * with `file` (default `Dockerfile`) inside it; anything else is the Dockerfile, with an empty
 * context.
 */
function bufferedContext(input: Buffer, file: string | undefined): ContextPlan {
  const kind = detectStdinContext(input.subarray(0, 512));
  if (kind === 'dockerfile') {
    return { options: { dockerfile: 'Dockerfile', dockerfile_content: input.toString('utf8'), named_contexts: {} }, send: async () => undefined };
  }
  if (kind === 'bzip2' || kind === 'xz') throw new ExitError(1, `unable to prepare context: ${kind} compressed contexts are not supported; use gzip or plain tar`);
  return {
    options: { dockerfile: file ?? 'Dockerfile', dockerfile_content: '', named_contexts: {} },
    send: (write) => chunks((async function* () { yield input; })(), write),
  };
}

/**
 * The context of a build: `-` for stdin, a directory, or a URL (see remote-context.ts). `cleanup`
 * removes what was fetched for it, after the build. For a remote context, `-f` names a file
 * inside it, as Docker reads it.
 */
export async function resolveContext(context: string, dockerfile: { file?: string; inline?: string }): Promise<{ plan: ContextPlan; cleanup: () => void }> {
  const none = () => undefined;
  if (context === '-') return { plan: await stdinContext(dockerfile.file), cleanup: none };
  const remote = remoteContextKind(context);
  if (remote === undefined) return { plan: await directoryContext(context, dockerfile), cleanup: none };
  if (remote === 'url') {
    if (dockerfile.inline !== undefined) throw new ExitError(1, `unable to prepare context: ${context}: an inline Dockerfile needs a directory or Git context`);
    return { plan: bufferedContext(await downloadContext(context), dockerfile.file), cleanup: none };
  }
  const clone = await cloneGitContext(context);
  try {
    const file = dockerfile.file === undefined || dockerfile.file === '-' ? dockerfile.file : path.resolve(clone.dir, dockerfile.file);
    return { plan: await directoryContext(clone.dir, { ...dockerfile, file }), cleanup: clone.remove };
  } catch (err) {
    clone.remove();
    throw err;
  }
}

/**
 * A directory context: `file` is the Dockerfile's path (relative to the current directory; `-`
 * for stdin), or `inline` the Dockerfile itself (Compose's `dockerfile_inline`).
 */
export async function directoryContext(dir: string, flags: { file?: string; inline?: string }): Promise<ContextPlan> {
  const contextDir = path.resolve(dir);
  // Synchronous calls throughout: nothing to overlap them with, and each asynchronous one is a
  // thread-pool round trip (and loads fs/promises).
  if (!statSync(contextDir, { throwIfNoEntry: false })?.isDirectory()) throw new ExitError(1, `unable to prepare context: path "${dir}" not found`);
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
    const found = candidates.find((p) => statSync(p, { throwIfNoEntry: false })?.isFile() === true);
    if (found === undefined) {
      throw new ExitError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${candidates[0] as string}: no such file or directory`);
    }
    dockerfilePath = found;
    content = readFileSync(found, 'utf8');
  }
  const relative = path.relative(contextDir, dockerfilePath);
  const inside = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
  const ignore = readDockerignoreSync(contextDir, dockerfilePath);
  return {
    options: { dockerfile: inside ? relative.split(path.sep).join('/') : path.basename(dockerfilePath), dockerfile_content: content, named_contexts: {} },
    send: (write) => chunks(tarContext(contextDir, ignore.patterns), write),
  };
}

/**
 * The context as a tar stream: what `.dockerignore` keeps, symlinks as links, a file's further
 * hard links as links to the first one sent (as Docker's client archives it), owners and modes
 * kept. Written with the engine's own tar encoder rather than a streaming packer: the packer's
 * modules and its per-entry stream machinery cost more start-up time than a small context's upload.
 */
async function* tarContext(contextDir: string, patterns: readonly string[]): AsyncGenerator<Buffer> {
  const types: Record<ContextEntry['type'], TarEntryType> = { dir: 'directory', symlink: 'symlink', file: 'file' };
  const label = JSON.stringify(path.relative(process.cwd(), contextDir) || '.');
  let total = 0;
  let warned = false;
  /** dev:ino → the path a file was first sent as. */
  const firstSent = new Map<string, string>();
  for await (const entry of walkContextSync(contextDir, patterns)) {
    let linkname = entry.linkTarget ?? '';
    let type = types[entry.type];
    if (entry.type === 'file') {
      const identity = `${entry.dev}:${entry.ino}`;
      const first = firstSent.get(identity);
      if (first === undefined) firstSent.set(identity, entry.path);
      else {
        type = 'hardlink';
        linkname = first;
      }
    }
    const size = type === 'file' ? entry.size : 0;
    total += size;
    const warning = warned ? undefined : contextSizeWarning(label, total);
    if (warning !== undefined) {
      warned = true;
      process.stderr.write(warning + '\n');
    }
    yield encodeHeader({
      name: entry.path,
      type,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      size,
      mtime: Math.floor(entry.mtimeMs / 1000),
      linkname,
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
    });
    if (type !== 'file') continue;
    const file = path.join(contextDir, entry.path);
    let sent = 0;
    if (size <= SMALL_FILE) {
      // A stream costs four thread-pool round trips (open, stat, read, close) per file, which
      // is most of the upload time of a context of small files; one synchronous read is not.
      const data = readFileSync(file);
      sent = data.length;
      if (sent === size) yield data;
    } else {
      for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
        sent += chunk.length;
        if (sent > size) break;
        yield chunk;
      }
    }
    // The header promised `size` bytes: a file that changed meanwhile would corrupt the archive.
    if (sent !== size) throw new ExitError(1, `unable to prepare context: ${entry.path} changed size while being sent`);
    if (padding(size) > 0) yield Buffer.alloc(padding(size));
  }
  yield endOfArchive();
}

export async function imageBuild(context: string, flags: BuildFlags): Promise<number> {
  const { plan: mainPlan, cleanup } = await resolveContext(context, flags);
  try {
    return await buildFromPlan(mainPlan, flags);
  } finally {
    cleanup();
  }
}

async function buildFromPlan(mainPlan: ContextPlan, flags: BuildFlags): Promise<number> {
  const plan = await withNamedContexts(mainPlan, parseBuildContexts(flags.buildContext));
  const secrets = await readSecrets(parseSecretFlags(flags.secret));
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
    secrets,
    network: flags.network ?? '',
    extra_hosts: (flags.addHost ?? []).map(parseExtraHost),
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
  if (flags.iidfile !== undefined) {
    try {
      await fsp.writeFile(flags.iidfile, imageId, { mode: 0o644 });
    } catch (err) {
      throw new ExitError(1, `ERROR: write iidfile: ${(err as Error).message}`);
    }
  }
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
