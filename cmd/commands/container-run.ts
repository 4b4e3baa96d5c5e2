/**
 * `container run|create|start|attach|exec`: everything that creates a process and may hold the
 * terminal while it runs. The attach stream opens before the container starts so no output is
 * lost; the exit status follows Docker's CLI (125 daemon or flags, 126 not runnable, 127 not
 * found, else the container's own).
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { engine, eprintln, ExitError, println } from '../cli';
import type { DuplexCall, EngineClient } from '../client';
import { isKind } from '../../common/errors';
import type { AttachInput, AttachOutput, ContainerSpec, ExecSpec } from '../../common/rpc/engine-types';
import { parseDetachKeys, parseEnv, parseRunFlags, runError, type RunFlags, type RunOptions } from '../parse/run-flags';
import { DEFAULT_DETACH_KEYS, DetachKeyScanner, enterRawMode, terminalSize, watchResize, type TerminalSize } from '../terminal';
import type { ProgressMessage } from '../progress';
import { daemonMessage, fromDaemon } from './container-common';
import { startErrorStatus, withDefaultTag } from './container-format';

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** How long to wait for the daemon to acknowledge an attach before starting anyway. */
const ATTACH_READY_TIMEOUT_MS = 2000;

// ----- create, with the pull Docker's CLI does for a missing image -----

function isMissingImage(err: unknown): boolean {
  return isKind(err, 'NotFound') && /no such image/i.test(messageOf(err));
}

/**
 * Pulls through the daemon with Docker's progress display on stderr, as `run` shows it. A
 * daemon without ImagePull leaves `missing` as the error to report.
 */
async function pullImage(client: EngineClient, image: string, platform: string, quiet: boolean, missing: unknown): Promise<void> {
  if (!client.hasMethod('ImagePull')) throw runError(daemonMessage(missing));
  const { ProgressDisplay } = await import('../progress');
  const display = new ProgressDisplay(process.stderr, process.stderr.isTTY === true);
  try {
    for await (const m of client.stream<ProgressMessage>('ImagePull', { reference: image, all_tags: false, platform })) {
      if (!quiet) display.show(m);
    }
  } catch (err) {
    if (/does not implement the method/i.test(messageOf(err))) throw runError(daemonMessage(missing));
    throw runError(daemonMessage(err));
  }
}

async function createContainer(client: EngineClient, spec: ContainerSpec, options: RunOptions): Promise<string> {
  if (options.pull === 'always') await pullImage(client, spec.image, spec.platform, options.quiet, new Error(`No such image: ${spec.image}`));
  let reply: { id: string; warnings: string[] };
  try {
    reply = await client.call('ContainerCreate', spec);
  } catch (err) {
    if (!isMissingImage(err) || options.pull !== 'missing') throw runError(daemonMessage(err));
    eprintln(`Unable to find image '${withDefaultTag(spec.image)}' locally`);
    await pullImage(client, spec.image, spec.platform, options.quiet, err);
    try {
      reply = await client.call('ContainerCreate', spec);
    } catch (retryErr) {
      throw runError(daemonMessage(retryErr));
    }
  }
  for (const w of reply.warnings) eprintln(`WARNING: ${w}`);
  return reply.id;
}

/** The cidfile is claimed before the container exists, as Docker does, and dropped if creation fails. */
function claimCidfile(path: string): { write(id: string): void; discard(): void } {
  if (path === '') return { write: () => undefined, discard: () => undefined };
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw runError(`container ID file found, make sure the other container isn't running or delete ${path}`);
    }
    throw runError(`failed to create the container ID file: ${messageOf(err)}`);
  }
  return {
    write: (id) => {
      writeSync(fd, id);
      closeSync(fd);
    },
    discard: () => {
      closeSync(fd);
      rmSync(path, { force: true });
    },
  };
}

function checkTty(attachStdin: boolean, tty: boolean): void {
  if (attachStdin && tty && !process.stdin.isTTY) throw new ExitError(1, 'the input device is not a TTY');
}

export async function containerCreate(image: string, command: string[], flags: RunFlags): Promise<number> {
  const { spec, options } = parseRunFlags(image, command, { ...flags, detach: true });
  // As Docker's create: -i means a later `start -a`/`attach` owns stdin, and its end is the
  // container's (a container without a terminal then reads to end of input and exits).
  spec.stdin_once = !!flags.interactive;
  const client = await engine();
  println(await createWithCidfile(client, spec, options));
  return 0;
}

/** Creates the container, recording its ID in `--cidfile` (which is dropped if creation fails). */
async function createWithCidfile(client: EngineClient, spec: ContainerSpec, options: RunOptions): Promise<string> {
  const cidfile = claimCidfile(options.cidfile);
  let id: string;
  try {
    id = await createContainer(client, spec, options);
  } catch (err) {
    cidfile.discard();
    throw err;
  }
  cidfile.write(id);
  return id;
}

export async function containerRun(image: string, command: string[], flags: RunFlags): Promise<number> {
  const { spec, options } = parseRunFlags(image, command, flags);
  if (!options.detach) checkTty(options.attachStdin, spec.tty);
  const client = await engine();
  const id = await createWithCidfile(client, spec, options);

  if (options.detach) {
    await startOrFail(client, id);
    println(id);
    return 0;
  }

  const detachKeys = options.detachKeys ? parseDetachKeys(options.detachKeys) : DEFAULT_DETACH_KEYS;
  const session = await openSession(client, 'ContainerAttach', {
    open: { id, stdin: options.attachStdin, logs: false, detach_keys: options.detachKeys },
    stdin: options.attachStdin,
    tty: spec.tty,
    stdout: options.attachStdout,
    stderr: options.attachStderr,
    detachKeys,
    resize: (size) => ({ resize: { id, exec_id: '', ...size } }),
  });
  // Waiting starts before the start, so a short-lived container's exit can't be missed.
  const exited = client.call<{ exit_code: number; error: string }>('ContainerWait', {
    id,
    condition: spec.auto_remove ? 'removed' : 'next-exit',
  });
  exited.catch(() => undefined);
  try {
    await startOrFail(client, id);
  } catch (err) {
    session.cancel();
    throw err;
  }
  session.started();
  const stopProxy = options.sigProxy && !spec.tty ? proxySignals(client, id) : () => undefined;
  try {
    const result = await session.done;
    if (result.detached) return 0;
    try {
      const waited = await exited;
      if (waited.error) throw new ExitError(125, `tscompose: ${daemonMessage(new Error(waited.error))}`);
      return waited.exit_code;
    } catch (err) {
      if (err instanceof ExitError) throw err;
      if (result.exitCode !== undefined) return result.exitCode;
      throw runError(daemonMessage(err));
    }
  } finally {
    stopProxy();
  }
}

async function startOrFail(client: EngineClient, id: string): Promise<void> {
  try {
    await client.call('ContainerStart', { id });
  } catch (err) {
    throw new ExitError(startErrorStatus(messageOf(err)), `tscompose: ${daemonMessage(err)}`);
  }
}

/** Forwards the signals we receive to the container (Docker's --sig-proxy); returns the undo. */
function proxySignals(client: EngineClient, id: string): () => void {
  const handlers = PROXIED_SIGNALS.map((signal) => {
    const handler = () => {
      client.call('ContainerKill', { id, signal }).catch((err: unknown) => eprintln(messageOf(err)));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

// ----- the attach session -----

interface SessionConfig {
  open: { id: string; stdin: boolean; logs: boolean; detach_keys: string; exec?: ExecSpec };
  stdin: boolean;
  tty: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys: number[];
  resize: (size: TerminalSize) => AttachInput;
}

interface SessionResult {
  exitCode?: number;
  detached: boolean;
}

interface Session {
  /** Call once the process runs: sends the terminal size and follows its changes. */
  started(): void;
  cancel(): void;
  done: Promise<SessionResult>;
  /** The first reply of an exec: its ID, needed for resizes. */
  execId: Promise<string>;
}

/** The oneof member a reply carries (proto-loader names it in `part`). */
function partOf(msg: AttachOutput): AttachOutput['part'] {
  if (msg.part) return msg.part;
  if (msg.stdout !== undefined) return 'stdout';
  if (msg.stderr !== undefined) return 'stderr';
  if (msg.exec_id !== undefined) return 'exec_id';
  if (msg.exit_code !== undefined) return 'exit_code';
  return undefined;
}

function write(stream: NodeJS.WriteStream, data: Uint8Array): Promise<void> {
  if (stream.write(data)) return Promise.resolve();
  return new Promise((resolve) => stream.once('drain', () => resolve()));
}

/**
 * Opens ContainerAttach or ContainerExec and wires it to our terminal: output to stdout and
 * stderr, stdin forwarded (raw on a terminal with -t) through the detach key scanner.
 */
async function openSession(client: EngineClient, method: 'ContainerAttach' | 'ContainerExec', config: SessionConfig): Promise<Session> {
  const call: DuplexCall<AttachOutput> = client.duplex<AttachOutput>(method);
  await call.write({ open: config.open });
  await Promise.race([call.ready, new Promise((r) => setTimeout(r, ATTACH_READY_TIMEOUT_MS).unref())]);

  let detached = false;
  let resolveExecId: (id: string) => void = () => undefined;
  const execId = new Promise<string>((resolve) => (resolveExecId = resolve));
  const cleanups: Array<() => void> = [];
  const cleanup = () => {
    while (cleanups.length > 0) cleanups.pop()!();
  };

  if (config.stdin) {
    const restoreMode = config.tty ? enterRawMode() : () => undefined;
    const scanner = new DetachKeyScanner(config.detachKeys);
    const onData = (chunk: Buffer) => {
      const { forward, detached: sawKeys } = scanner.feed(chunk);
      if (forward.length > 0) void call.write({ stdin: forward });
      if (sawKeys) {
        detached = true;
        call.cancel();
      }
    };
    const onEnd = () => void call.write({ stdin_close: true });
    process.stdin.on('data', onData);
    process.stdin.once('end', onEnd);
    process.stdin.resume();
    cleanups.push(() => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      restoreMode();
      // Our stdin must not keep the process alive once the container is done with it.
      process.stdin.pause();
      process.stdin.destroy();
    });
  }

  const done = (async (): Promise<SessionResult> => {
    let exitCode: number | undefined;
    try {
      for await (const msg of call.replies) {
        switch (partOf(msg)) {
          case 'stdout':
            if (config.stdout && msg.stdout) await write(process.stdout, msg.stdout);
            break;
          case 'stderr':
            if (config.stderr && msg.stderr) await write(process.stderr, msg.stderr);
            break;
          case 'exit_code':
            exitCode = msg.exit_code ?? 0;
            break;
          case 'exec_id':
            resolveExecId(msg.exec_id ?? '');
            break;
        }
      }
    } catch (err) {
      if (!detached) throw err;
    } finally {
      cleanup();
      resolveExecId('');
    }
    return { exitCode, detached };
  })();

  return {
    started: () => {
      if (!config.tty) return;
      const size = terminalSize();
      if (size) void call.write(config.resize(size));
      cleanups.push(watchResize((s) => void call.write(config.resize(s))));
    },
    cancel: () => {
      call.cancel();
      cleanup();
    },
    done,
    execId,
  };
}

// ----- start and attach -----

interface InspectDoc {
  Id?: string;
  Config?: { Tty?: boolean; OpenStdin?: boolean };
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean };
  HostConfig?: { AutoRemove?: boolean };
}

async function inspectContainer(client: EngineClient, name: string): Promise<InspectDoc> {
  try {
    const reply = await client.call<{ json: string[] }>('ContainerInspect', { names: [name] });
    return JSON.parse(reply.json[0] ?? '{}') as InspectDoc;
  } catch (err) {
    throw fromDaemon(err);
  }
}

function detachKeysOf(keys: string | undefined): number[] {
  if (!keys) return DEFAULT_DETACH_KEYS;
  try {
    return parseDetachKeys(keys);
  } catch (err) {
    throw new ExitError(1, `Invalid detach keys (${keys}) provided: ${messageOf(err)}`);
  }
}

export async function containerStart(
  names: string[],
  opts: { attach?: boolean; interactive?: boolean; detachKeys?: string; sigProxy?: boolean | string },
): Promise<number> {
  const client = await engine();
  if (!opts.attach && !opts.interactive) {
    const failed: string[] = [];
    for (const name of names) {
      try {
        await client.call('ContainerStart', { id: name });
        println(name);
      } catch (err) {
        eprintln(daemonMessage(err));
        failed.push(name);
      }
    }
    if (failed.length > 0) throw new ExitError(1, `Error: failed to start containers: ${failed.join(', ')}`);
    return 0;
  }
  if (names.length > 1) throw new ExitError(1, 'you cannot start and attach multiple containers at once');
  const name = names[0]!;
  const doc = await inspectContainer(client, name);
  const id = doc.Id ?? name;
  const tty = !!doc.Config?.Tty;
  const attachStdin = !!opts.interactive && !!doc.Config?.OpenStdin;
  checkTty(attachStdin, tty);
  const keys = detachKeysOf(opts.detachKeys);
  const session = await openSession(client, 'ContainerAttach', {
    open: { id, stdin: attachStdin, logs: false, detach_keys: opts.detachKeys ?? '' },
    stdin: attachStdin,
    tty,
    stdout: true,
    stderr: true,
    detachKeys: keys,
    resize: (size) => ({ resize: { id, exec_id: '', ...size } }),
  });
  const exited = client.call<{ exit_code: number; error: string }>('ContainerWait', {
    id,
    condition: doc.HostConfig?.AutoRemove ? 'removed' : 'next-exit',
  });
  exited.catch(() => undefined);
  if (!doc.State?.Running) {
    try {
      await client.call('ContainerStart', { id });
    } catch (err) {
      session.cancel();
      throw fromDaemon(err);
    }
  }
  session.started();
  const stopProxy = opts.sigProxy !== false && opts.sigProxy !== 'false' && !tty ? proxySignals(client, id) : () => undefined;
  try {
    const result = await session.done;
    if (result.detached) return 0;
    // An auto-removed container (`run --rm`) is waited for until it is gone, as Docker's CLI
    // does: the command's end must not race the removal.
    if (result.exitCode !== undefined && !doc.HostConfig?.AutoRemove) return result.exitCode;
    try {
      return (await exited).exit_code;
    } catch (err) {
      if (result.exitCode !== undefined) return result.exitCode;
      throw err;
    }
  } catch (err) {
    throw fromDaemon(err);
  } finally {
    stopProxy();
  }
}

export async function containerAttach(
  name: string,
  opts: { stdin?: boolean; detachKeys?: string; sigProxy?: boolean | string },
): Promise<number> {
  const client = await engine();
  const doc = await inspectContainer(client, name);
  if (doc.State?.Restarting) throw new ExitError(1, 'You cannot attach to a restarting container, wait until it is running');
  if (doc.State?.Paused) throw new ExitError(1, 'You cannot attach to a paused container, unpause it first');
  if (!doc.State?.Running) throw new ExitError(1, 'You cannot attach to a stopped container, start it first');
  const id = doc.Id ?? name;
  const tty = !!doc.Config?.Tty;
  const attachStdin = opts.stdin !== false && !!doc.Config?.OpenStdin;
  checkTty(attachStdin, tty);
  const session = await openSession(client, 'ContainerAttach', {
    open: { id, stdin: attachStdin, logs: false, detach_keys: opts.detachKeys ?? '' },
    stdin: attachStdin,
    tty,
    stdout: true,
    stderr: true,
    detachKeys: detachKeysOf(opts.detachKeys),
    resize: (size) => ({ resize: { id, exec_id: '', ...size } }),
  });
  session.started();
  const stopProxy = opts.sigProxy !== false && opts.sigProxy !== 'false' && !tty ? proxySignals(client, id) : () => undefined;
  try {
    const result = await session.done;
    if (result.detached) return 0;
    if (result.exitCode !== undefined) return result.exitCode;
    const waited = await client.call<{ exit_code: number }>('ContainerWait', { id, condition: 'not-running' });
    return waited.exit_code;
  } catch (err) {
    throw fromDaemon(err);
  } finally {
    stopProxy();
  }
}

// ----- exec -----

export interface ExecFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  envFile?: string[];
  user?: string;
  workdir?: string;
  privileged?: boolean;
  detachKeys?: string;
}

/** Docker's status for an exec that failed: 126 when the command couldn't run, else 1. */
function execErrorStatus(message: string): number {
  return startErrorStatus(message) === 125 ? 1 : 126;
}

export async function containerExec(container: string, command: string[], flags: ExecFlags): Promise<number> {
  const env = parseEnv(flags.envFile ?? [], flags.env ?? [], (name) => process.env[name]);
  const keys = detachKeysOf(flags.detachKeys);
  const detach = !!flags.detach;
  const tty = !!flags.tty;
  const stdin = !!flags.interactive && !detach;
  if (!detach) checkTty(stdin, tty);
  const size = tty ? terminalSize() : undefined;
  const exec: ExecSpec = {
    cmd: command,
    env,
    user: flags.user ?? '',
    working_dir: flags.workdir ?? '',
    tty,
    stdin,
    detach,
    privileged: !!flags.privileged,
    height: size?.height ?? 0,
    width: size?.width ?? 0,
  };
  const client = await engine();
  let execId = '';
  let session: Session;
  try {
    session = await openSession(client, 'ContainerExec', {
      open: { id: container, exec, stdin, logs: false, detach_keys: flags.detachKeys ?? '' },
      stdin,
      tty,
      stdout: !detach,
      stderr: !detach,
      detachKeys: keys,
      resize: (s) => ({ resize: { id: container, exec_id: execId, ...s } }),
    });
  } catch (err) {
    throw new ExitError(execErrorStatus(messageOf(err)), daemonMessage(err));
  }
  void session.execId.then((id) => {
    execId = id;
    if (id) session.started();
  });
  try {
    const result = await session.done;
    if (result.detached || detach) return 0;
    return result.exitCode ?? 0;
  } catch (err) {
    throw new ExitError(execErrorStatus(messageOf(err)), daemonMessage(err));
  }
}
