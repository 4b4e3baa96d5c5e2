/**
 * RUN in a runc container on the step's working root: one `runc run` in the foreground, its
 * output piped straight to the step's vertex. A build step needs no supervisor that outlives the
 * daemon, so conmon, the container log file, the pid and exit files and the separate create,
 * start and delete calls of the runtime's containers are left out: that was most of a RUN's time.
 * Build containers live under their own runc root, so `ps` and the runtime never see them; one
 * left by a crash is removed when the next build starts (`removeStaleBuildContainers`).
 *
 * Network: the host's network namespace by default, as buildkit's OCI worker without CNI does
 * (`RUN --network=host` semantics: package managers reach the network, loopback services on the
 * host are reachable); `--network=none` gets a private namespace with only loopback. The other
 * namespaces are private. /etc/hosts, /etc/resolv.conf and /etc/hostname are generated and bound
 * in; a mount point runc had to create for them (or for any mount) is removed from the step's
 * changes afterwards, so it never lands in the layer.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { OPAQUE_XATTR, readXattrsRecursive } from '../../image/overlay-whiteout';
import { cgroupsPathFor, removeCgroup } from '../../runtime/cgroups';
import { buildSpec, writeEtcFiles, type MountOptions } from '../../runtime/spec';
import { resolveUser } from '../../runtime/user';
import { dockerfileError } from '../dockerfile/errors';
import type { MountSpec } from '../dockerfile/mounts';
import type { Vertex } from './progress';

export interface RunRequest {
  rootfs: string;
  argv: string[];
  /** A `#!` heredoc script to run as a file, instead of argv. */
  script?: string;
  env: Record<string, string>;
  user: string;
  workdir: string;
  network: 'default' | 'none' | 'host';
  /** `host:ip` entries added to /etc/hosts; `host-gateway` is the host (loopback on its network). */
  extraHosts?: readonly string[];
  /** `RUN --mount`s already resolved to host directories (bind, cache) or tmpfs. */
  mounts: MountOptions[];
  dockerfile: string;
  line: number;
}

export interface RunDeps {
  runc: RuncLocation;
  /** Private scratch space of this build. */
  workDir: string;
}

/** The runc binary, and the state directory (`runc --root`) of build containers. */
export interface RuncLocation {
  path: string;
  root: string;
}

const execFileAsync = promisify(execFile);

const HOSTNAME = 'buildkitsandbox';

/** Runs the command; output goes to the vertex; a non-zero exit is Docker's error. */
export async function runCommand(deps: RunDeps, req: RunRequest, vertex: Vertex, signal: AbortSignal): Promise<MountPointRecord[]> {
  const id = `tscb-${randomBytes(10).toString('hex')}`;
  const dir = path.join(deps.workDir, id);
  await fsp.mkdir(dir, { recursive: true });
  const hostResolv = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const etc = await writeEtcFiles(path.join(dir, 'etc'), {
    hosts: `127.0.0.1\tlocalhost ${HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n${extraHostLines(req.extraHosts ?? [])}`,
    hostname: `${HOSTNAME}\n`,
    resolvConf: hostResolv,
  });
  const user = await resolveUser(req.rootfs, req.user || undefined).catch((err: Error) => {
    throw dockerfileError(req.dockerfile, req.line, err.message.replace(/^runtime: /, ''));
  });
  const mounts = [...req.mounts];
  let argv = req.argv;
  if (req.script !== undefined) {
    const script = path.join(dir, 'script');
    await fsp.writeFile(script, req.script, { mode: 0o755 });
    const target = `/dev/.buildscript-${id}`;
    mounts.push({ type: 'bind', source: script, target, readonly: true, recursive: false });
    argv = [target];
  }
  const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
  if (!('HOME' in req.env)) env.push(`HOME=${user.home}`);
  const spec = buildSpec({
    rootfs: req.rootfs,
    args: argv,
    env,
    cwd: req.workdir || '/',
    user,
    hostname: HOSTNAME,
    network: req.network === 'none' ? 'private' : 'host',
    mounts,
    etcFiles: etc,
    annotations: { 'org.tscompose.build': 'true' },
  });
  spec.linux.cgroupsPath = cgroupsPathFor(id, '/tscompose-build');
  const mountPoints = await missingMountPoints(req.rootfs, spec.mounts.map((m) => m.destination));
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));
  const description = `process "${argv.join(' ')}" did not complete successfully`;
  const runcLog = path.join(dir, 'runc.log');
  let exitCode: number;
  try {
    exitCode = await runcRun(deps.runc, id, dir, runcLog, vertex, signal);
  } catch (err) {
    // `runc run` removes its container when the process ends; this is for when it could not.
    await execFileAsync(deps.runc.path, ['--root', deps.runc.root, 'delete', '--force', id]).catch(() => undefined);
    await removeCgroup(spec.linux.cgroupsPath).catch(() => undefined);
    throw dockerfileError(req.dockerfile, req.line, `${description}: ${(err as Error).message}`, 'FailedPrecondition');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  if (signal.aborted) throw dockerfileError(req.dockerfile, req.line, 'build cancelled', 'Cancelled');
  if (exitCode !== 0) throw dockerfileError(req.dockerfile, req.line, `${description}: exit code: ${exitCode}`, 'FailedPrecondition');
  return mountPoints;
}

/**
 * `runc run` in the foreground: the process's stdout and stderr are runc's, read line by line into
 * the vertex; runc exits with the process's status. A failure of runc itself (it logs at level
 * error) is an error rather than an exit code. Cancelling kills the container; runc then exits.
 */
async function runcRun(runc: RuncLocation, id: string, bundle: string, log: string, vertex: Vertex, signal: AbortSignal): Promise<number> {
  await fsp.mkdir(runc.root, { recursive: true, mode: 0o700 });
  const child = spawn(runc.path, ['--root', runc.root, '--log', log, '--log-format', 'json', 'run', '--bundle', bundle, id], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = (stream: Readable, name: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => vertex.log(line, name));
      rl.on('close', resolve);
    });
  const output = Promise.all([lines(child.stdout, 'stdout'), lines(child.stderr, 'stderr')]);
  const onAbort = () => void execFileAsync(runc.path, ['--root', runc.root, 'kill', id, 'KILL']).catch(() => undefined);
  signal.addEventListener('abort', onAbort);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, sig) => resolve(code ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
    });
    await output;
    const failure = await runcFailure(log);
    if (failure !== undefined) throw new Error(failure);
    return status;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The last error runc logged about itself, if any (not the process's own exit status). */
async function runcFailure(log: string): Promise<string | undefined> {
  const text = await fsp.readFile(log, 'utf8').catch(() => '');
  let message: string | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) message = entry.msg.replace(/^runc run failed: /, '');
    } catch {
      // a partial line
    }
  }
  return message;
}

/** Removes build containers a crashed daemon left in the build runc root. */
export async function removeStaleBuildContainers(runc: RuncLocation): Promise<void> {
  const names = await fsp.readdir(runc.root).catch(() => [] as string[]);
  for (const id of names.filter((n) => n.startsWith('tscb-'))) {
    await execFileAsync(runc.path, ['--root', runc.root, 'delete', '--force', id]).catch(() => undefined);
    await removeCgroup(cgroupsPathFor(id, '/tscompose-build')).catch(() => undefined);
  }
}

/** A mount point runc will have to create in the root, with the parents that existed before. */
export interface MountPointRecord {
  path: string;
  /** Parents that existed before, with their metadata, nearest first. */
  parents: Array<{ path: string; mode: number; uid: number; gid: number }>;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  return fsp.lstat(p).catch(() => undefined);
}

async function missingMountPoints(rootfs: string, destinations: string[]): Promise<MountPointRecord[]> {
  const out: MountPointRecord[] = [];
  for (const destination of destinations) {
    if (destination.startsWith('/dev/') || destination.startsWith('/proc/') || destination.startsWith('/sys/')) continue;
    if (await lstatOrUndefined(path.join(rootfs, destination))) continue;
    const parents: MountPointRecord['parents'] = [];
    for (let p = path.posix.dirname(destination); p !== '/'; p = path.posix.dirname(p)) {
      const st = await lstatOrUndefined(path.join(rootfs, p));
      if (st) parents.push({ path: p, mode: st.mode, uid: st.uid, gid: st.gid });
    }
    out.push({ path: destination, parents });
  }
  return out;
}

/**
 * Takes out of the upper directory what only the runtime put there: empty mount points it created
 * and, when nothing else changed in them, the parent directories they caused to be copied up.
 */
export async function removeRuntimeArtifacts(upper: string, records: readonly MountPointRecord[]): Promise<void> {
  for (const record of records) {
    const host = path.join(upper, record.path);
    const st = await lstatOrUndefined(host);
    if (!st) continue;
    const empty = st.isDirectory() ? (await fsp.readdir(host)).length === 0 : st.isFile() && st.size === 0;
    if (!empty) continue;
    await fsp.rm(host, { recursive: true, force: true });
    for (let p = path.posix.dirname(record.path); p !== '/'; p = path.posix.dirname(p)) {
      const dir = path.join(upper, p);
      const dst = await lstatOrUndefined(dir);
      if (!dst?.isDirectory() || (await fsp.readdir(dir)).length > 0) break;
      const before = record.parents.find((q) => q.path === p);
      // A directory the image already had, unchanged but for the copy-up: no change to record.
      // One runc created holds nothing now and goes as well.
      if (before && (before.mode !== dst.mode || before.uid !== dst.uid || before.gid !== dst.gid)) break;
      if (await isOpaque(dir)) break;
      await fsp.rmdir(dir);
    }
  }
}

async function isOpaque(dir: string): Promise<boolean> {
  const xattrs = await readXattrsRecursive(dir).catch(() => new Map<string, Map<string, Buffer>>());
  return xattrs.get('')?.get(OPAQUE_XATTR)?.toString() === 'y';
}

/** `RUN --mount` types this builder runs; the rest are refused with the Dockerfile line. */
export function checkMountSupported(mount: MountSpec, dockerfile: string, line: number): void {
  if (mount.type === 'ssh') {
    throw dockerfileError(dockerfile, line, `RUN --mount=type=${mount.type} is not supported by this builder`);
  }
}

/** `host:ip` entries as /etc/hosts lines; a build's RUN shares the host's network, so `host-gateway` is loopback. */
function extraHostLines(entries: readonly string[]): string {
  return entries
    .map((entry) => {
      const i = entry.indexOf(':');
      const ip = entry.slice(i + 1);
      return `${ip === 'host-gateway' ? '127.0.0.1' : ip}\t${entry.slice(0, i)}\n`;
    })
    .join('');
}
