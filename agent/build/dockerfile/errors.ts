import { TsError, type ErrorKind } from '../../../common/errors';

/** `Dockerfile:7: unknown instruction: COPPY (did you mean COPY?)` — the one shape of every parse error. */
export function dockerfileError(
  file: string,
  line: number | undefined,
  problem: string,
  kind: ErrorKind = 'InvalidArgument',
): TsError {
  const where = line === undefined ? file : `${file}:${line}`;
  return new TsError(kind, `${where}: ${problem.split('\n')[0] ?? problem}`);
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0] as number;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j] as number;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, (previous[j - 1] as number) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length] as number;
}

/** The closest candidate to a misspelt word, if it is close enough to be a plausible typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(lower.length / 3));
  return bestDistance <= allowed ? best : undefined;
}
