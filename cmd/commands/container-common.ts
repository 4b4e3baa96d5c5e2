/**
 * What the container, network and volume commands share: daemon errors printed Docker's way,
 * per-name operations, prune confirmation and reports, and inspect of several objects.
 */
import { ExitError, eprintln, println } from '../cli';
import { humanSize } from '../format';
import { TsError } from '../../common/errors';
import type { EngineClient } from '../client';
import { confirm, printInspect } from './image';

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** `Error response from daemon: <msg>`, as Docker prints an API error. */
export function daemonMessage(err: unknown): string {
  return `Error response from daemon: ${messageOf(err)}`;
}

/** An engine failure as the command's exit: Docker's message and `status` (1 unless told). */
export function fromDaemon(err: unknown, status = 1): ExitError {
  if (err instanceof ExitError) return err;
  return new ExitError(status, daemonMessage(err));
}

/**
 * Runs `op` on every name at once, then prints each name that succeeded (in the order given)
 * and `Error response from daemon: …` for each failure; exit 1 if any failed.
 */
export async function forEachName(names: string[], op: (name: string) => Promise<unknown>): Promise<number> {
  const results = await Promise.allSettled(names.map((n) => op(n)));
  const errors: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') println(names[i]);
    else errors.push(daemonMessage(r.reason));
  });
  for (const e of errors) eprintln(e);
  return errors.length > 0 ? 1 : 0;
}

/** A batch removal (`NamesReply`): removed names on stdout, failures on stderr; exit 1 if any. */
export async function forEachNameReply(remove: () => Promise<{ removed: string[]; errors: string[] }>): Promise<number> {
  let reply: { removed: string[]; errors: string[] };
  try {
    reply = await remove();
  } catch (err) {
    throw fromDaemon(err);
  }
  for (const name of reply.removed) println(name);
  for (const e of reply.errors) eprintln(`Error response from daemon: ${e}`);
  return reply.errors.length > 0 ? 1 : 0;
}

/**
 * The prune prompt, as Docker's: asked whatever stdin is, so that a script without `-f` (or with
 * nothing to answer) deletes nothing; a `y` read from a pipe proceeds.
 */
export async function confirmPrune(warning: string, force: boolean | undefined): Promise<boolean> {
  if (force) return true;
  return confirm(warning);
}

/** `Deleted X:` and the ids, then `Total reclaimed space:` unless the object has no size. */
export function printPruneReport(title: string, reply: { deleted: string[]; space_reclaimed: number }, withSpace = true): void {
  if (reply.deleted.length > 0) {
    println(`${title}:`);
    for (const d of reply.deleted) println(d);
    println();
  }
  if (withSpace) println(`Total reclaimed space: ${humanSize(reply.space_reclaimed, 4)}`);
}

/**
 * Inspects each name on its own so one missing object doesn't hide the others: documents go
 * through printInspect, failures follow on stderr.
 */
export async function inspectEach(
  client: EngineClient,
  method: string,
  kind: 'container' | 'network' | 'volume',
  names: string[],
  opts: { format?: string; size?: boolean },
): Promise<number> {
  const results = await Promise.allSettled(
    names.map((name) => client.call<{ json: string[] }>(method, { names: [name], ignore_missing: false, size: !!opts.size })),
  );
  const docs: unknown[] = [];
  const errors: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      for (const json of r.value.json) docs.push(JSON.parse(json));
      return;
    }
    const notFound = r.reason instanceof TsError && r.reason.kind === 'NotFound';
    if (notFound && kind !== 'network') errors.push(`Error: No such ${kind}: ${names[i]}`);
    else errors.push(daemonMessage(r.reason));
  });
  try {
    printInspect(docs, opts.format);
  } catch (err) {
    if (err instanceof ExitError) throw err;
    throw new ExitError(1, `template parsing error: ${messageOf(err)}`);
  }
  for (const e of errors) eprintln(e);
  return errors.length > 0 ? 1 : 0;
}

/** `k=v` flags into a map; a missing `=` gives an empty value. */
export function keyValueMap(values: string[] | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq === -1) map[v] = '';
    else map[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return map;
}
