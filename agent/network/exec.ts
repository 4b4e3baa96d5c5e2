import { launcher } from '../../common/process';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion, feeding `input` on stdin; never throws for a non-zero exit.
 * Through the daemon's process launcher: no fork of the daemon per `ip`, iptables or CNI call.
 */
export function execCapture(
  file: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return launcher().run(file, args, {
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

/** Runs a program and returns its stdout, or throws an Error carrying its stderr. */
export async function execOk(file: string, args: readonly string[], input?: string): Promise<string> {
  const r = await execCapture(file, args, input === undefined ? {} : { input });
  if (r.code !== 0) {
    const detail = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
    throw new Error(`${file} ${args.join(' ')}: ${detail || `exit status ${r.code}`}`);
  }
  return r.stdout;
}
