/**
 * RUN in a runc container of our runtime, on the step's working root.
 *
 * Network: the host's network namespace by default, as buildkit's OCI worker without CNI does
 * (`RUN --network=host` semantics: package managers reach the network, loopback services on the
 * host are reachable); `--network=none` gets a private namespace with only loopback. The other
 * namespaces are private. /etc/hosts, /etc/resolv.conf and /etc/hostname are generated and bound
 * in; a mount point runc had to create for them (or for any mount) is removed from the step's
 * changes afterwards, so it never lands in the layer.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { followLog } from '../../container/logs';
import { OPAQUE_XATTR, readXattrsRecursive } from '../../image/overlay-whiteout';
import type { Runtime } from '../../runtime/runtime';
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
  /** `RUN --mount`s already resolved to host directories (bind, cache) or tmpfs. */
  mounts: MountOptions[];
  dockerfile: string;
  line: number;
}

export interface RunDeps {
  runtime: Runtime;
  /** Private scratch space of this build. */
  workDir: string;
}

const HOSTNAME = 'buildkitsandbox';

/** Runs the command; output goes to the vertex; a non-zero exit is Docker's error. */
export async function runCommand(deps: RunDeps, req: RunRequest, vertex: Vertex, signal: AbortSignal): Promise<MountPointRecord[]> {
  const id = `tscb-${randomBytes(10).toString('hex')}`;
  const dir = path.join(deps.workDir, id);
  await fsp.mkdir(dir, { recursive: true });
  const hostResolv = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const etc = await writeEtcFiles(path.join(dir, 'etc'), {
    hosts: `127.0.0.1\tlocalhost ${HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
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
  const mountPoints = await missingMountPoints(req.rootfs, spec.mounts.map((m) => m.destination));
  const logPath = path.join(dir, 'output.log');
  const description = `process "${argv.join(' ')}" did not complete successfully`;
  let exitCode: number;
  let created = false;
  try {
    await deps.runtime.create({ id, spec, name: `build ${req.dockerfile}:${req.line}`, logPath });
    created = true;
    await deps.runtime.start(id);
    let running = true;
    const following = followLog(logPath, {
      offset: 0,
      live: () => running,
      onLines: (lines) => {
        for (const l of lines) vertex.log(l.data.toString('utf8').replace(/\n$/, ''), l.stream);
      },
    });
    const onAbort = () => void deps.runtime.kill(id, 'SIGKILL').catch(() => undefined);
    signal.addEventListener('abort', onAbort);
    try {
      exitCode = (await deps.runtime.wait(id)).exitCode;
    } finally {
      signal.removeEventListener('abort', onAbort);
      running = false;
      await following;
    }
  } catch (err) {
    throw dockerfileError(req.dockerfile, req.line, `${description}: ${(err as Error).message.replace(/^runtime: container \S+: /, '')}`, 'FailedPrecondition');
  } finally {
    if (created) await deps.runtime.delete(id, { force: true }).catch(() => undefined);
    await fsp.rm(dir, { recursive: true, force: true });
  }
  if (signal.aborted) throw dockerfileError(req.dockerfile, req.line, 'build cancelled', 'Cancelled');
  if (exitCode !== 0) throw dockerfileError(req.dockerfile, req.line, `${description}: exit code: ${exitCode}`, 'FailedPrecondition');
  return mountPoints;
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
