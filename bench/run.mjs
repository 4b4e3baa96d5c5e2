#!/usr/bin/env node
/**
 * `npm run bench`: tscompose against Docker (dockerd 20.10, docker-compose 1.29, skopeo) on this
 * machine. `node bench/run.mjs [case…]` runs only the named cases; all by default:
 *
 * - images:     `image load`/`import` of a ~100 MB image, `image ls` with 200 rows, CLI start-up,
 *               idle daemon RSS (vs docker load/import/images/version).
 * - containers: `container run --rm … true`; 50 × `run -d … sleep` then `rm -f`; RSS per running
 *               container (daemon + conmon vs dockerd + containerd + shim); `container ls -a` with 200
 *               running (vs docker run/rm/ps).
 * - config:     `config` of a generated 500-service compose file (vs docker-compose config).
 * - compose:    50 services `up -d` cold, again unchanged, `ps`, `down` (vs docker-compose 1.29);
 *               a 200-service project up and down.
 * - registry:   push/pull of a 200 MB, 5-layer image to/from a local docker-registry (vs docker
 *               push/pull and skopeo copy); peak daemon RSS during the pull.
 * - build:      a two-stage Dockerfile: cold, no-change, one-file-changed (vs docker build, legacy
 *               builder and BuildKit when the buildx plugin exists).
 *
 * Every server is private: a tscompose daemon on its own data root and socket, a dockerd with its
 * own data/exec root and socket, `--iptables=false`, and a bridge the bench creates (and deletes) for
 * its default network, docker-registry on a free loopback port. All are stopped and their traces
 * (containers, mounts, bridges, chains, temp dirs) removed at the end, on failure too.
 *
 * The compose and registry cases wait for the machine to go quiet (lib's `settle`) before each
 * timed sample, of either tool: the previous command's background work is not charged to the next.
 *
 * Env: BENCH_N (repetitions, default 5), BENCH_MB (size of the images case's image, default 100),
 * BENCH_COMPOSE_N (compose rounds, default 3), BENCH_NO_DOCKER=1 to leave Docker out.
 */
import { existsSync, mkdtempSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CLI, NODE, REPO, waitUntil, busyboxRootfsTar, freePort, hasCmd, log, out, rssKb, snapshotCli, startDocker, startOurs, unmountUnder,
} from './lib.mjs';

const ALL = ['images', 'containers', 'config', 'compose', 'registry', 'build'];
const selected = process.argv.slice(2);
for (const c of selected) if (!ALL.includes(c)) {
  process.stderr.write(`unknown case ${c}; cases: ${ALL.join(' ')}\n`);
  process.exit(2);
}
const cases = selected.length ? ALL.filter((c) => selected.includes(c)) : ALL;

const work = mkdtempSync(path.join(os.tmpdir(), 'tsc-bench-'));
const cleanups = [];
const N = Math.max(1, Number(process.env.BENCH_N ?? 5));
const withDocker = process.env.BENCH_NO_DOCKER !== '1' && hasCmd('dockerd') && hasCmd('docker');

/** What every case gets: lazily started private daemons, each with `bench/busybox:1`. */
function makeContext() {
  let ours;
  let docker;
  let ourBusybox;
  let dockerBusybox;
  let rootfs;
  const ctx = {
    work,
    cleanups,
    N,
    withDocker,
    registryPort: undefined,
    idle: {},
    T: (...args) => args,
    async ours() {
      if (!ours) {
        ours = startOurs(path.join(work, 'ours'), cleanups).then(async (o) => {
          await new Promise((r) => setTimeout(r, 1500));
          ctx.idle.ours = rssKb(o.child.pid);
          return o;
        });
      }
      return ours;
    },
    async docker() {
      if (!withDocker) return undefined;
      if (!docker) {
        const bridge = cases.some((c) => ['containers', 'compose', 'build'].includes(c));
        const insecureRegistries = ctx.registryPort ? [`127.0.0.1:${ctx.registryPort}`] : [];
        docker = startDocker(path.join(work, 'dockerd'), cleanups, { bridge, insecureRegistries }).then(async (d) => {
          await new Promise((r) => setTimeout(r, 1500));
          ctx.idle.docker = rssKb(d.daemonPid());
          ctx.idle.containerd = rssKb(d.containerdPid());
          return d;
        });
      }
      return docker;
    },
    busyboxTar() {
      rootfs ??= busyboxRootfsTar(work);
      return rootfs;
    },
    /** `bench/busybox:1` in our daemon; returns its env. */
    async oursBusybox() {
      const o = await ctx.ours();
      if (!ourBusybox) {
        out(CLI, ctx.T('image', 'import', '-c', 'CMD ["sh"]', ctx.busyboxTar(), 'bench/busybox:1'), o.env);
        ourBusybox = true;
      }
      return o;
    },
    async dockerBusybox() {
      const d = await ctx.docker();
      if (d && !dockerBusybox) {
        out('docker', ['import', '-c', 'CMD ["sh"]', ctx.busyboxTar(), 'bench/busybox:1'], d.env);
        dockerBusybox = true;
      }
      return d;
    },
  };
  return ctx;
}

let failed = false;
let cleaning;
/** Stops every server the bench started and removes its work dir; once, whoever asks first. */
function cleanUp() {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => process.stderr.write(`cleanup: ${e}\n`));
    unmountUnder(work);
    await fsp.rm(work, { recursive: true, force: true });
  })();
  return cleaning;
}
// An interrupted bench still stops its daemons, dockerd and registry (between two commands: a
// case's synchronous child runs to its end first).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}: stopping the servers it started\n`);
    void cleanUp().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
  });
}
try {
  log(`bench: cases ${cases.join(' ')}; N=${N}; Docker ${withDocker ? 'yes' : 'no'}; work dir ${work}`);
  // A concurrent `npm run build` may have dist/ half-written: wait for it, then copy it.
  await waitUntil(() => existsSync(path.join(REPO, 'dist', 'tscompose.cjs')) && existsSync(path.join(REPO, 'dist', 'daemon.cjs')), 'dist/ (npm run build)', 120_000);
  snapshotCli(path.join(work, 'cli'));
  const ctx = makeContext();
  // Docker's registry flag is fixed at its start: choose the registry's port first.
  if (cases.includes('registry')) ctx.registryPort = await freePort();
  // Start the daemons up front (in parallel), so idle RSS is measured before any work.
  await Promise.all([ctx.ours(), ctx.docker()]);
  for (const c of cases) {
    const t0 = Date.now();
    log(`bench: ${c}…`);
    try {
      const mod = await import(`./cases/${c}.mjs`);
      await mod.run(ctx);
    } catch (err) {
      failed = true;
      process.stderr.write(`bench: case ${c} failed: ${err?.stack ?? err}\n`);
    }
    log(`bench: ${c} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
} catch (err) {
  failed = true;
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
} finally {
  await cleanUp();
}
process.exitCode = failed ? 1 : 0;
