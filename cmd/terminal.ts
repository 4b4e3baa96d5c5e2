/**
 * The local terminal while a container's process owns it: raw mode, size changes, and the
 * detach key sequence (ctrl-p,ctrl-q by default), which the CLI intercepts itself so that a
 * detach works whatever the daemon does with the keys.
 */
import { spawnSync } from 'node:child_process';

export const DEFAULT_DETACH_KEYS = [0x10, 0x11];

export interface TerminalSize {
  height: number;
  width: number;
}

/** The size of our terminal, or undefined when stdout isn't one. */
export function terminalSize(): TerminalSize | undefined {
  const out = process.stdout;
  if (!out.isTTY || !out.rows || !out.columns) return undefined;
  return { height: out.rows, width: out.columns };
}

/** Calls `onResize` on every terminal size change (SIGWINCH); returns the unsubscribe. */
export function watchResize(onResize: (size: TerminalSize) => void): () => void {
  if (!process.stdout.isTTY) return () => undefined;
  const listener = () => {
    const size = terminalSize();
    if (size) onResize(size);
  };
  process.stdout.on('resize', listener);
  return () => process.stdout.off('resize', listener);
}

/**
 * Puts stdin in raw mode when it is a terminal; returns the function restoring it. Raw as Docker
 * makes it (Go's MakeRaw): output processing goes too, which libuv's raw mode keeps, so that the
 * container's terminal, which ends its lines `\r\n` already, is not given a second `\r` by ours.
 * Restoring gives back the settings libuv saved before its first change, output processing
 * included.
 */
export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => undefined;
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  // Node has no call for termios' output flags; stty works on the terminal it is given as stdin.
  spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      stdin.setRawMode(wasRaw);
    } catch {
      // stdin already closed: nothing left to restore
    }
  };
  // A crash must not leave the user's shell in raw mode.
  process.once('exit', restore);
  return restore;
}

/**
 * Finds the detach sequence in stdin. Bytes that could start the sequence are held back until
 * the sequence completes (then they are swallowed) or breaks (then they are passed on), as
 * Docker's escape proxy does.
 */
export class DetachKeyScanner {
  private matched = 0;

  constructor(private readonly keys: readonly number[] = DEFAULT_DETACH_KEYS) {}

  feed(chunk: Uint8Array): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: Buffer.from(chunk), detached: false };
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) {
          this.matched = 0;
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = 0;
      // A broken sequence may be the start of a new one (ctrl-p ctrl-p ctrl-q).
      if (byte === this.keys[0]) this.matched = 1;
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}

/** One line of the user's answer on stdin, terminal or pipe; the end of input is an empty answer (a no). */
export async function readAnswer(): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return answer.trim();
}
