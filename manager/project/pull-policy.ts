/**
 * Compose's `pull_policy` (and `up --pull`) reduced to the four behaviours it has: `daily`,
 * `weekly` and `every_<duration>` refresh like `always`; anything unknown acts as `missing`.
 */
export type PullPolicy = 'always' | 'missing' | 'never' | 'build';

export function normalizePullPolicy(p: string | undefined): PullPolicy {
  switch (p) {
    case 'always':
    case 'daily':
    case 'weekly':
      return 'always';
    case 'never':
      return 'never';
    case 'build':
      return 'build';
    default:
      return p?.startsWith('every_') ? 'always' : 'missing';
  }
}
