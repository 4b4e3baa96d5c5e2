/**
 * The mount options a tmpfs may be given, as Docker accepts them: one vocabulary for the CLI's
 * `--tmpfs`, the manager's Compose `tmpfs:` entries and the agent's check at create.
 */

/** Mount flags a tmpfs may be given (`--tmpfs /t:exec`, Compose's `tmpfs: /t:exec`), as Docker accepts them. */
export const TMPFS_FLAGS: ReadonlySet<string> = new Set([
  'defaults', 'ro', 'rw', 'suid', 'nosuid', 'dev', 'nodev', 'exec', 'noexec', 'sync', 'async', 'dirsync',
  'remount', 'mand', 'nomand', 'atime', 'noatime', 'diratime', 'nodiratime', 'bind', 'rbind', 'unbindable',
  'runbindable', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'relatime', 'norelatime',
  'strictatime', 'nostrictatime',
]);

/** `key=value` options of a tmpfs. */
export const TMPFS_DATA_KEYS: ReadonlySet<string> = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** Whether `option` is a tmpfs mount option Docker accepts (a flag, or one of the data keys with a value). */
export function isTmpfsOption(option: string): boolean {
  const eq = option.indexOf('=');
  return eq === -1 ? TMPFS_FLAGS.has(option) : TMPFS_DATA_KEYS.has(option.slice(0, eq));
}
