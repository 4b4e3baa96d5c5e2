/** `image pull`, `image push`, `login` and `logout`. */
import { engine, eprintln, ExitError, println, readStdin } from '../cli';
import { ProgressDisplay, type ProgressMessage } from '../progress';
import { DEFAULT_TAG, fullName, parseReference, referenceString, withDefaultTag, type Reference } from '../../agent/registry/reference';

/** Docker's exit status for a command stopped by Ctrl-C. */
const INTERRUPTED = 130;

function parseOrExit(name: string): Reference {
  try {
    return parseReference(name);
  } catch (err) {
    throw new ExitError(1, (err as Error).message);
  }
}

/**
 * Streams a pull or push, drawing its progress unless quiet. Ctrl-C cancels the call, which
 * makes the daemon abort the operation.
 */
async function streamProgress(method: string, request: unknown, quiet: boolean): Promise<boolean> {
  const client = await engine();
  const display = ProgressDisplay.forStdout();
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  try {
    for await (const m of client.stream<ProgressMessage>(method, request, controller.signal)) if (!quiet) display.show(m);
  } catch (err) {
    // Whatever the stream died of after a Ctrl-C, the user stopped it: exit as interrupted.
    if (controller.signal.aborted) return false;
    throw new ExitError(1, `Error response from daemon: ${(err as Error).message}`);
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  return !controller.signal.aborted;
}

/** `--disable-content-trust=false` asks for signatures, which are neither made nor checked here: refused, not ignored. */
function refuseContentTrust(opts: { disableContentTrust?: boolean }): void {
  if (opts.disableContentTrust === false) throw new ExitError(1, 'content trust (image signing and verification) is not supported');
}

export async function imagePull(
  name: string,
  opts: { allTags?: boolean; quiet?: boolean; platform?: string; disableContentTrust?: boolean },
): Promise<number> {
  refuseContentTrust(opts);
  const parsed = parseOrExit(name);
  const quiet = !!opts.quiet;
  if (opts.allTags && (parsed.tag !== undefined || parsed.digest !== undefined))
    throw new ExitError(1, "tag can't be used with --all-tags/-a");
  const ref = opts.allTags ? parsed : withDefaultTag(parsed);
  if (!opts.allTags && parsed.tag === undefined && parsed.digest === undefined && !quiet)
    println(`Using default tag: ${DEFAULT_TAG}`);
  const done = await streamProgress('ImagePull', { reference: name, all_tags: !!opts.allTags, platform: opts.platform ?? '' }, quiet);
  if (!done) return INTERRUPTED;
  println(opts.allTags ? fullName(ref) : referenceString(ref));
  return 0;
}

export async function imagePush(name: string, opts: { allTags?: boolean; quiet?: boolean; disableContentTrust?: boolean }): Promise<number> {
  refuseContentTrust(opts);
  const parsed = parseOrExit(name);
  const quiet = !!opts.quiet;
  if (opts.allTags && parsed.tag !== undefined) throw new ExitError(1, "tag can't be used with --all-tags/-a");
  const ref = opts.allTags ? parsed : withDefaultTag(parsed);
  if (!opts.allTags && parsed.tag === undefined && parsed.digest === undefined && !quiet)
    println(`Using default tag: ${DEFAULT_TAG}`);
  const done = await streamProgress('ImagePush', { reference: name, all_tags: !!opts.allTags }, quiet);
  if (!done) return INTERRUPTED;
  if (quiet) println(opts.allTags ? fullName(ref) : referenceString(ref));
  return 0;
}

export async function login(
  server: string | undefined,
  opts: { username?: string; password?: string; passwordStdin?: boolean },
): Promise<number> {
  let { username, password } = opts;
  if (password !== undefined) {
    eprintln('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    if (opts.passwordStdin) throw new ExitError(1, '--password and --password-stdin are mutually exclusive');
  }
  if (opts.passwordStdin) {
    if (!username) throw new ExitError(1, 'Must provide --username with --password-stdin');
    password = (await readStdin()).toString('utf8').replace(/[\r\n]+$/, '');
  }
  if (!username || !password) {
    if (!process.stdin.isTTY) throw new ExitError(1, 'Error: Cannot perform an interactive login from a non TTY device');
    username ||= (await prompt('Username: ', false)).trim();
    if (!username) throw new ExitError(1, 'Error: Non-null Username Required');
    password ||= await prompt('Password: ', true);
    if (!password) throw new ExitError(1, 'Error: Password Required');
  }
  const client = await engine();
  try {
    const reply = await client.call<{ status: string; credentials_file?: string }>('Login', { server: server ?? '', username, password });
    // Docker's warning, word for word but for the file, which is the daemon's.
    if (reply.credentials_file) {
      eprintln(`WARNING! Your password will be stored unencrypted in ${reply.credentials_file}.`);
      eprintln('Configure a credential helper to remove this warning. See');
      eprintln('https://docs.docker.com/engine/reference/commandline/login/#credentials-store');
      eprintln('');
    }
    println(reply.status);
  } catch (err) {
    throw new ExitError(1, `Error response from daemon: ${(err as Error).message}`);
  }
  return 0;
}

export async function logout(server: string | undefined): Promise<number> {
  const client = await engine();
  try {
    const reply = await client.call<{ status: string }>('Logout', { server: server ?? '' });
    println(reply.status);
  } catch (err) {
    throw new ExitError(1, `Error response from daemon: ${(err as Error).message}`);
  }
  return 0;
}

/** Reads a line from the terminal; a secret is not echoed. */
async function prompt(question: string, secret: boolean): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  if (secret) {
    // Nothing the user types reaches the screen; the newline after it does.
    const writer = rl as unknown as { _writeToOutput: (s: string) => void };
    writer._writeToOutput = (s: string) => {
      if (s.startsWith(question) || s === '\r\n' || s === '\n') process.stdout.write(s.startsWith(question) ? question : '\n');
    };
  }
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}
