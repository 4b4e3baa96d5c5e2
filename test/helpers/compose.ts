/**
 * Compose projects against a test daemon: a daemon with `busybox:latest` imported, project
 * directories holding a compose file, and the CLI run from there as a user would.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestDaemon, type RunResult, type TestDaemon } from './daemon';
import { busyboxRootfsTar } from './images';

/** A test daemon with `busybox:latest` (CMD sh) in its store. */
export async function startBusyboxDaemon(): Promise<TestDaemon> {
  const d = await startTestDaemon();
  try {
    const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
    await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  } catch (err) {
    await d.destroy();
    throw err;
  }
  return d;
}

/** A project directory (its name is the project's) with a compose.yaml. */
export class ComposeProject {
  constructor(
    readonly d: TestDaemon,
    readonly dir: string,
  ) {}

  get name(): string {
    return path.basename(this.dir);
  }

  static async create(d: TestDaemon, name: string, yaml: string, files: Record<string, string> = {}): Promise<ComposeProject> {
    const dir = path.join(d.dir, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'compose.yaml'), yaml);
    for (const [f, content] of Object.entries(files)) await fsp.writeFile(path.join(dir, f), content);
    return new ComposeProject(d, dir);
  }

  /** Replaces the compose file. */
  async write(yaml: string): Promise<void> {
    await fsp.writeFile(path.join(this.dir, 'compose.yaml'), yaml);
  }

  run(args: string[], timeoutMs?: number): Promise<RunResult> {
    return this.d.run(args, { cwd: this.dir, timeoutMs });
  }

  ok(args: string[]): Promise<string> {
    return this.d.ok(args, { cwd: this.dir });
  }

  /** `exec -T` in a service's first container; its stdout, trimmed. */
  async exec(service: string, ...cmd: string[]): Promise<string> {
    return (await this.ok(['exec', '-T', service, ...cmd])).trim();
  }

  /** `sh -c script` in a service's first container; its stdout, trimmed. */
  sh(service: string, script: string): Promise<string> {
    return this.exec(service, 'sh', '-c', script);
  }

  async ps(args: string[] = []): Promise<PsEntry[]> {
    const out = await this.ok(['ps', '--format', 'json', ...args]);
    return out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as PsEntry);
  }

  /** `down`, ignoring a failure (for `after` hooks). */
  async down(...flags: string[]): Promise<void> {
    await this.run(['down', '-t', '1', ...flags]).catch(() => undefined);
  }
}

export interface PsEntry {
  Name: string;
  Service: string;
  State: string;
  Health: string;
  Status: string;
  ExitCode: number;
}

/** `container inspect` of one container, as JSON. */
export async function inspectContainer(d: TestDaemon, name: string): Promise<ContainerDoc> {
  const [doc] = JSON.parse(await d.ok(['container', 'inspect', name])) as ContainerDoc[];
  if (!doc) throw new Error(`no container ${name}`);
  return doc;
}

/** The parts of `container inspect` these tests read (Docker's shape). */
export interface ContainerDoc {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; Health?: { Status: string } };
  RestartCount: number;
  Config: { Labels: Record<string, string>; Hostname: string; Domainname: string; User: string; WorkingDir: string; Env: string[]; Tty: boolean; OpenStdin: boolean; StopSignal?: string; StopTimeout?: number };
  HostConfig: Record<string, unknown> & { NetworkMode: string; RestartPolicy: { Name: string; MaximumRetryCount: number } };
  NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null; DNSNames?: string[] | null }> };
  Mounts: Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean }>;
}

/** A project directory under the daemon's dir holding `files` (name → content). */
export async function projectDir(d: TestDaemon, name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(d.dir, name);
  await fsp.mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await fsp.writeFile(path.join(dir, file), content);
  return dir;
}


/** Non-empty output lines. */
export const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** Fails with the command's stderr unless it exited with `code`. */
export function expectCode(r: RunResult, code: number): RunResult {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
