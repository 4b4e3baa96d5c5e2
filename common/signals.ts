/** Signal names and numbers as Docker reads them, for the agent's kill/stop and the manager's kill. */
import * as os from 'node:os';

/**
 * Docker's signal.ParseSignal: a number from 1 to 64, a name with or without `SIG`, or
 * `RTMIN+n`/`RTMAX-n`. Undefined when it is none of those.
 */
export function parseSignal(sig: string): number | undefined {
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const name = sig.toUpperCase().replace(/^SIG/, '');
  const rt = /^RT(MIN|MAX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === 'MIN' ? 34 : 64) + Number(rt[2] ?? 0);
    return n >= 34 && n <= 64 ? n : undefined;
  }
  return (os.constants.signals as Record<string, number | undefined>)[`SIG${name}`];
}

export function signalNumber(sig: string): string {
  return String(parseSignal(sig) ?? sig);
}
