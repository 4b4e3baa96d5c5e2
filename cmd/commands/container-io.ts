/** `container logs|stats|export|cp`: the commands that stream data out of (or into) containers. */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { engine, ExitError, eprintln } from '../cli';
import type { EngineClient } from '../client';
import { humanSize, parseTimestamp, renderList } from '../format';
import type { ContainerStatsEntry, LogEntry } from '../../common/rpc/engine-types';
import { daemonMessage, fromDaemon } from './container-common';
import { statsRow, STATS_HEADERS, STATS_TABLE } from './container-format';

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

// ----- logs -----

/** Docker's RFC3339NanoFixed in UTC: always nine fraction digits. */
export function logTimestamp(timeNano: number | bigint): string {
  const nanos = BigInt(timeNano);
  const seconds = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  const iso = new Date(Number(seconds) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${fraction}Z`;
}

function timestampFlag(flag: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  try {
    const ts = parseTimestamp(value);
    return ts.seconds * 1000 + Math.floor(ts.nanos / 1e6);
  } catch (err) {
    throw new ExitError(1, `invalid value for "${flag}": ${messageOf(err)}`);
  }
}

export async function containerLogs(
  id: string,
  opts: { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string; details?: boolean },
): Promise<number> {
  let tail = -1;
  if (opts.tail !== undefined && opts.tail !== 'all') {
    if (!/^\d+$/.test(opts.tail)) throw new ExitError(1, `Error response from daemon: invalid value for "tail": "${opts.tail}"`);
    tail = Number(opts.tail);
  }
  const since = timestampFlag('since', opts.since);
  const until = timestampFlag('until', opts.until);
  const client = await engine();
  const abort = new AbortController();
  const stopOnInterrupt = () => abort.abort();
  process.once('SIGINT', stopOnInterrupt);
  try {
    for await (const entry of client.stream<LogEntry>(
      'ContainerLogs',
      { id, follow: !!opts.follow, tail, since, until, stdout: true, stderr: true, details: !!opts.details },
      abort.signal,
    )) {
      const prefix = opts.timestamps ? `${logTimestamp(entry.time_nano)} ` : '';
      const data = prefix ? Buffer.concat([Buffer.from(prefix), entry.data]) : entry.data;
      const out = entry.stream === 'stderr' ? process.stderr : process.stdout;
      if (!out.write(data)) await new Promise((r) => out.once('drain', r));
    }
  } catch (err) {
    throw fromDaemon(err);
  } finally {
    process.off('SIGINT', stopOnInterrupt);
  }
  return 0;
}

// ----- stats -----

const CLEAR_SCREEN = '\x1b[2J\x1b[H';

export async function containerStats(
  names: string[],
  opts: { stream?: boolean; all?: boolean; format?: string; trunc?: boolean },
): Promise<number> {
  const trunc = opts.trunc !== false;
  const client = await engine();
  const streaming = opts.stream !== false;
  const latest = new Map<string, { entry: ContainerStatsEntry; given: string }>();
  const givenFor = (entry: ContainerStatsEntry) =>
    names.find((n) => n === entry.name.replace(/^\//, '') || entry.id.startsWith(n)) ?? entry.name.replace(/^\//, '');
  const render = () =>
    renderList(
      [...latest.values()].map(({ entry, given }) => statsRow(entry, given, trunc)),
      { format: opts.format, defaultTable: STATS_TABLE, headers: STATS_HEADERS },
    );
  let redraw: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  try {
    for await (const entry of client.stream<ContainerStatsEntry>(
      'ContainerStats',
      { ids: names, stream: streaming, all: !!opts.all },
      abort.signal,
    )) {
      latest.set(entry.id, { entry, given: givenFor(entry) });
      // A round of samples arrives together; one redraw per round.
      if (streaming && !redraw) {
        redraw = setTimeout(() => {
          redraw = undefined;
          process.stdout.write(CLEAR_SCREEN + render());
        }, 50);
      }
    }
  } catch (err) {
    throw fromDaemon(err);
  } finally {
    process.off('SIGINT', stop);
    if (redraw) clearTimeout(redraw);
  }
  if (!streaming) process.stdout.write(render());
  return 0;
}

// ----- export -----

async function streamTo(
  client: EngineClient,
  method: string,
  request: unknown,
  output: string | undefined,
): Promise<number> {
  const tmp = output ? `${output}.tmp-${process.pid}` : undefined;
  const sink = tmp ? createWriteStream(tmp) : process.stdout;
  let bytes = 0;
  const chunks = (async function* () {
    for await (const msg of client.stream<{ data: Buffer }>(method, request)) {
      bytes += msg.data.length;
      yield msg.data;
    }
  })();
  try {
    await pipeline(chunks, sink, { end: !!tmp });
    if (tmp) await fsp.rename(tmp, output!);
  } catch (err) {
    if (tmp) await fsp.rm(tmp, { force: true });
    throw fromDaemon(err);
  }
  return bytes;
}

export async function containerExport(id: string, opts: { output?: string }): Promise<number> {
  if (!opts.output && process.stdout.isTTY) throw new ExitError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const client = await engine();
  await streamTo(client, 'ContainerExport', { id }, opts.output);
  return 0;
}

// ----- cp -----

export interface CopyEndpoint {
  container?: string;
  path: string;
}

/** Docker's splitCpArg: `container:path` unless the argument is an absolute or explicitly local path. */
export function splitCopyArg(arg: string): CopyEndpoint {
  if (path.isAbsolute(arg) || arg.startsWith('./') || arg.startsWith('../')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

export async function containerCp(source: string, destination: string, opts: { quiet?: boolean; archive?: boolean; followLink?: boolean }) {
  const src = splitCopyArg(source);
  const dst = splitCopyArg(destination);
  if (src.container && dst.container) throw new ExitError(1, 'copying between containers is not supported');
  if (!src.container && !dst.container) throw new ExitError(1, 'must specify at least one container source');
  const client = await engine();
  if (src.container) {
    if (src.path === '') throw new ExitError(1, 'filepath cannot be empty');
    return copyFromContainer(client, src.container, src.path, dst.path, !!opts.quiet, !!opts.followLink);
  }
  if (dst.path === '') throw new ExitError(1, 'filepath cannot be empty');
  return copyToContainer(client, src.path, dst.container!, dst.path, destination, opts);
}

/** Docker's assertsDirectory: a path ending in a separator or in `.` names a directory. */
function assertsDirectory(p: string, sep: string): boolean {
  return p.endsWith(sep) || p === '.' || p.endsWith(`${sep}.`);
}

/** Makes a path in the container absolute (relative paths are from its root, as Docker's). */
function containerPath(p: string): string {
  return p.startsWith('/') ? p : `/${p}`;
}

async function copyFromContainer(
  client: EngineClient,
  container: string,
  srcPath: string,
  dstPath: string,
  quiet: boolean,
  followLink: boolean,
): Promise<number> {
  const request = { id: container, path: containerPath(srcPath), follow_link: followLink };
  if (dstPath === '-') {
    await streamTo(client, 'ContainerCopyFrom', request, undefined);
    return 0;
  }
  const tar = (await import('tar-stream')).default;
  const extract = tar.extract();
  const copyContents = srcPath.endsWith('/.');
  const dstStat = await fsp.stat(dstPath).catch(() => undefined);
  const assertsDir = assertsDirectory(dstPath, path.sep);
  if (!dstStat) {
    // Docker's ValidateOutputPath: the parent of a new destination must be there.
    const parent = path.dirname(path.resolve(dstPath));
    const parentStat = await fsp.stat(parent).catch(() => undefined);
    if (!parentStat) throw new ExitError(1, `invalid output path: directory ${JSON.stringify(parent)} does not exist`);
    if (!parentStat.isDirectory()) throw new ExitError(1, 'not a directory');
    if (dstPath.endsWith(path.sep + '.')) throw new ExitError(1, `invalid output path: directory "${dstPath}" does not exist`);
  }
  let bytes = 0;
  let rootType: 'directory' | 'file' | undefined;
  let rootName = '';
  // The daemon roots a `dir/.` archive at `./` (entries `./a`, `./sub/b`): the root has no name of
  // its own and every entry lies below it.
  let rootIsDot = false;
  const relativeName = (entryName: string): string => {
    const name = entryName.replace(/\/+$/, '').replace(/^(\.\/|\/)+/, '');
    return name === '.' ? '' : name;
  };
  const targetFor = (entryName: string): string => {
    const name = relativeName(entryName);
    const parts = name === '' ? [] : name.split('/');
    if (parts.some((p) => p === '..')) throw new ExitError(1, `invalid archive entry: ${entryName}`);
    const rest = rootIsDot ? name : parts.slice(1).join('/');
    let root: string;
    if (dstStat?.isDirectory() && !rootIsDot) root = copyContents && rootType === 'directory' ? dstPath : path.join(dstPath, rootName);
    else root = dstPath;
    return rest ? path.join(root, rest) : root;
  };
  // Stops the download when extraction fails, so that the failure, not a stalled stream, ends
  // the command.
  const abort = new AbortController();
  let extractFailure: unknown;
  const done = new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => {
      extractFailure = err;
      reject(err);
    };
    extract.on('entry', (header, stream, next) => {
      const run = async () => {
        if (rootType === undefined) {
          rootType = header.type === 'directory' ? 'directory' : 'file';
          rootName = relativeName(header.name).split('/')[0] ?? '';
          rootIsDot = rootName === '';
          // Docker's PrepareArchiveCopy: a directory never replaces a file, and only a
          // directory creates the missing directory a trailing `/` names.
          if (rootType === 'directory' && dstStat && !dstStat.isDirectory()) throw new ExitError(1, 'cannot copy directory');
          if (rootType === 'file' && !dstStat && assertsDir) throw new ExitError(1, 'no such directory');
        }
        const target = targetFor(header.name);
        const mode = (header.mode ?? 0o644) & 0o7777;
        switch (header.type) {
          case 'directory':
            await fsp.mkdir(target, { recursive: true, mode });
            stream.resume();
            break;
          case 'symlink':
            await fsp.rm(target, { force: true });
            await fsp.symlink(header.linkname ?? '', target);
            stream.resume();
            break;
          case 'file':
          case 'contiguous-file':
            await fsp.mkdir(path.dirname(target), { recursive: true });
            await pipeline(stream, createWriteStream(target, { mode }));
            await fsp.chmod(target, mode);
            break;
          default:
            stream.resume();
        }
        if (header.mtime && header.type !== 'symlink') await fsp.utimes(target, header.mtime, header.mtime).catch(() => undefined);
      };
      run().then(() => next(), fail);
    });
    extract.on('finish', resolve);
    extract.on('error', fail);
  });
  // The failure may come while the download is still being read: handled here, it is rethrown
  // below instead of escaping as an unhandled rejection.
  done.catch(() => abort.abort());
  try {
    for await (const msg of client.stream<{ data: Buffer }>('ContainerCopyFrom', request, abort.signal)) {
      bytes += msg.data.length;
      if (!extract.write(msg.data)) await Promise.race([new Promise<void>((r) => extract.once('drain', () => r())), done]);
    }
    if (!abort.signal.aborted) extract.end(null);
    await done;
  } catch (err) {
    extract.destroy();
    if (err instanceof ExitError) throw err;
    // Writing the local copy failed: no daemon to blame.
    if (err === extractFailure) throw new ExitError(1, messageOf(err));
    throw fromDaemon(err);
  }
  if (!quiet) eprintln(`Successfully copied ${humanSize(bytes)} to ${dstPath}`);
  return 0;
}

type EntryKind = 'directory' | 'file' | 'missing';

/** What `path` is in the container, from the first header of its archive. */
async function probeContainerPath(client: EngineClient, id: string, p: string): Promise<EntryKind> {
  const tar = (await import('tar-stream')).default;
  const extract = tar.extract();
  const abort = new AbortController();
  const kind = new Promise<EntryKind>((resolve, reject) => {
    extract.once('entry', (header, stream) => {
      resolve(header.type === 'directory' ? 'directory' : 'file');
      stream.resume();
      abort.abort();
    });
    extract.on('finish', () => resolve('missing'));
    extract.on('error', reject);
  });
  // A bad archive rejects `kind` while the loop below still reads: handled now, thrown at the end.
  kind.catch(() => abort.abort());
  try {
    for await (const msg of client.stream<{ data: Buffer }>('ContainerCopyFrom', { id, path: p }, abort.signal)) {
      extract.write(msg.data);
      if (abort.signal.aborted) break;
    }
    if (!abort.signal.aborted) extract.end(null);
  } catch (err) {
    if ((err as { kind?: string }).kind === 'NotFound' && !/no such container/i.test(messageOf(err))) return 'missing';
    throw fromDaemon(err);
  }
  return kind;
}

async function copyToContainer(
  client: EngineClient,
  srcPath: string,
  container: string,
  dstPath: string,
  given: string,
  opts: { quiet?: boolean; archive?: boolean; followLink?: boolean },
): Promise<number> {
  const target = containerPath(dstPath);
  const dstKind = await probeContainerPath(client, container, target);
  let bytes = 0;
  const send = (destinationDir: string, source: AsyncIterable<Buffer>) =>
    client.clientStream('ContainerCopyTo', async (writeMsg) => {
      await writeMsg({ header: { id: container, path: destinationDir, copy_uid_gid: !!opts.archive } });
      for await (const chunk of source) {
        bytes += chunk.length;
        await writeMsg({ data: chunk });
      }
    });
  try {
    if (srcPath === '-') {
      if (dstKind !== 'directory') throw new ExitError(1, `destination "${container}:${dstPath}" must be a directory`);
      await send(target, process.stdin as AsyncIterable<Buffer>);
    } else {
      const srcStat = await (opts.followLink ? fsp.stat(srcPath) : fsp.lstat(srcPath)).catch(() => undefined);
      if (!srcStat) throw new ExitError(1, `lstat ${path.resolve(srcPath)}: no such file or directory`);
      const copyContents = srcPath.endsWith(`${path.sep}.`) || srcPath === '.';
      let destinationDir: string;
      let rootName: string;
      if (dstKind === 'directory') {
        destinationDir = target;
        rootName = copyContents ? '.' : path.basename(path.resolve(srcPath));
      } else {
        // Docker's PrepareArchiveCopy: the archive is unpacked in the destination's parent under
        // the destination's name, so a directory creates a missing destination, trailing `/` or
        // not; a file can't become the directory such a path names.
        if (dstKind === 'file' && srcStat.isDirectory()) throw new ExitError(1, 'cannot copy directory');
        const asDir = assertsDirectory(target, '/');
        if (dstKind === 'missing' && asDir && !srcStat.isDirectory()) throw new ExitError(1, 'no such directory');
        const clean = path.posix.resolve(target);
        if (asDir && target.endsWith('.')) {
          destinationDir = clean;
          rootName = '.';
        } else {
          destinationDir = path.posix.dirname(clean);
          rootName = path.posix.basename(clean);
        }
      }
      await send(destinationDir, packPath(srcPath, rootName, !!opts.followLink));
    }
  } catch (err) {
    if (err instanceof ExitError) throw err;
    throw new ExitError(1, daemonMessage(err));
  }
  if (!opts.quiet) eprintln(`Successfully copied ${humanSize(bytes)} to ${given}`);
  return 0;
}

/** A tar of a local file or directory with its root entry renamed to `rootName` (`.`: contents only). */
async function* packPath(source: string, rootName: string, followLink: boolean): AsyncGenerator<Buffer> {
  const tar = (await import('tar-stream')).default;
  const pack = tar.pack();
  const addAll = async () => {
    const add = async (abs: string, name: string, follow: boolean) => {
      const st = follow ? await fsp.stat(abs) : await fsp.lstat(abs);
      const common = { mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        if (name !== '.') pack.entry({ ...common, name: `${name}/`, type: 'directory' });
        for (const child of (await fsp.readdir(abs)).sort()) {
          await add(path.join(abs, child), name === '.' ? child : `${name}/${child}`, false);
        }
      } else if (st.isSymbolicLink()) {
        pack.entry({ ...common, name, type: 'symlink', linkname: await fsp.readlink(abs) });
      } else if (st.isFile()) {
        await pipeline(createReadStream(abs), pack.entry({ ...common, name, size: st.size }));
      }
    };
    await add(source, rootName, followLink);
    pack.finalize();
  };
  const adding = addAll().catch((err: unknown) => pack.destroy(err as Error));
  for await (const chunk of pack) yield chunk as Buffer;
  await adding;
}
