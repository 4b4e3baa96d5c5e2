import type { Readable, Writable } from 'node:stream';
import type { ContainerStats } from './cgroups';
import type { OciSpec, OciUser } from './oci';
import type { ResourceOptions } from './spec';

/**
 * The runtime runs OCI containers on this host, one supervisor process per container.
 *
 * Vocabulary:
 * - **bundle**: the container's directory holding `config.json` (the OCI spec). The runtime
 *   owns it: `<root>/containers/<id>/`. The supervisor also keeps its control files there.
 * - **supervisor**: the small process (conmon) that is the container process's parent. It
 *   captures stdout/stderr to the log file, records the exit code, serves attach, and outlives
 *   the daemon that started it.
 * - **create / start**: as in runc: create builds namespaces, cgroup and mounts and leaves the
 *   process waiting just before exec; start lets it exec the user's program.
 * - **exit file**: where the supervisor writes the exit code (`128+signal` for a signal) when
 *   the container process ends. A stopped container's code is read from it, even when our
 *   daemon was not running at the time.
 * - **attach**: live stdin/stdout/stderr of the container's main process (or of an exec
 *   session), through the supervisor's socket; in TTY mode there is one output stream.
 * - **exec session**: an extra process run inside a running container, with its own
 *   supervisor, streams and exit code.
 * - **recover**: a restarted daemon re-adopts the containers that kept running without it.
 */
export interface Runtime {
  /** Writes the bundle and creates the container under a fresh supervisor; the process does not run yet. */
  create(opts: CreateOptions): Promise<ContainerState>;
  /** Runs the created container's process. */
  start(id: string): Promise<void>;
  /** Current state, read from the OCI runtime, the supervisor and the exit file. */
  state(id: string): Promise<ContainerState>;
  /** All containers the runtime has on disk, running or not. */
  list(): Promise<ContainerState[]>;
  /** Re-adopts a container after a daemon restart; same answer as state(), validated against pid reuse. */
  recover(id: string): Promise<ContainerState>;
  /** Resolves when the container process has exited. */
  wait(id: string, signal?: AbortSignal): Promise<ExitStatus>;
  /**
   * The exit of the container process if it has ended, else undefined, without waiting. Cheaper
   * than state(): while the supervisor lives and has written no exit file, the process runs.
   */
  exitStatus(id: string): Promise<ExitStatus | undefined>;
  /** Sends a signal (name like `SIGTERM` or number) to the container's main process. */
  kill(id: string, signal?: string | number): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Removes the container; `force` kills it first if it still runs. Leaves no process, cgroup or file behind. */
  delete(id: string, opts?: { force?: boolean }): Promise<void>;
  /** Runs an extra process in a running container. */
  exec(id: string, opts: ExecOptions): Promise<ExecSession>;
  /** Live streams of the main process (stdin only when created with `stdin: true`). */
  attach(id: string): Promise<AttachStreams>;
  /** Resizes the container's terminal (TTY mode only). */
  resize(id: string, size: ConsoleSize): Promise<void>;
  /** CPU, memory, pids and block I/O counters of the container's cgroup. */
  stats(id: string): Promise<ContainerStats>;
  /** Changes resource limits of a created or running container. */
  update(id: string, resources: ResourceOptions): Promise<void>;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface ConsoleSize {
  height: number;
  width: number;
}

export interface ExitStatus {
  /** The process's exit code, or 128+signal; 255 when the supervisor died before it could record one. */
  exitCode: number;
  oomKilled: boolean;
  /** ISO 8601, when the exit was recorded. */
  finishedAt?: string;
}

export interface ContainerState {
  id: string;
  status: ContainerStatus;
  /** Host pid of the container's main process, 0 when it does not run. */
  pid: number;
  /** Host pid of the supervisor, 0 when it is gone. */
  supervisorPid: number;
  exitCode?: number;
  oomKilled: boolean;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  bundle: string;
  logPath: string;
  terminal: boolean;
  stdin: boolean;
  cgroupsPath: string;
}

export interface CreateOptions {
  /** Container id: 1–64 of [A-Za-z0-9_.-]. */
  id: string;
  spec: OciSpec;
  /** Human name passed to the supervisor for its own logs. */
  name?: string;
  /** Log file in conmon's k8s-file format; default `<bundle>/ctr.log`. */
  logPath?: string;
  /** Bytes after which the supervisor truncates the log; default unlimited. */
  logSizeMax?: number;
  /** Keep the process's stdin open for attach (Docker's `-i`). */
  stdin?: boolean;
  /** With `stdin`: an attach client hanging up does not close the process's stdin (Docker's StdinOnce=false). */
  keepStdinOpen?: boolean;
}

export interface ExecOptions {
  args: string[];
  env?: string[];
  cwd?: string;
  user?: OciUser;
  tty?: boolean;
  /** Give the process a stdin (Docker's `exec -i`). */
  stdin?: boolean;
  /** Return once the process runs, without streams; its exit code is still reported. */
  detach?: boolean;
  consoleSize?: ConsoleSize;
  /** Capabilities and no-new-privileges default to the container's own. */
  privileged?: boolean;
}

export interface ExecSession {
  id: string;
  /** Host pid of the exec'd process. */
  pid: number;
  /** Live streams; absent for detached sessions. */
  streams?: AttachStreams;
  /** Resolves with the process's exit code (128+signal when killed). */
  exitCode: Promise<number>;
  /** Resizes the session's terminal. */
  resize(size: ConsoleSize): Promise<void>;
}

export interface AttachStreams {
  /** Writes go to the process's stdin; end() closes it. Null when the process has no stdin. */
  stdin: Writable | null;
  stdout: Readable;
  /** Always empty in TTY mode, where the terminal merges both. */
  stderr: Readable;
  /** Detaches without affecting the process. */
  close(): void;
  /** Resolves when the supervisor closes the connection (the process's output ended). */
  closed: Promise<void>;
}
