import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/**
 * Bytes a directory tree holds, as Docker counts a volume's size for `system df -v`: the
 * apparent size of everything but directories, each hard-linked inode once. Entries that vanish
 * during the walk are skipped, since containers may be writing while it runs.
 */
export async function directorySize(root: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const files: string[] = [];
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) pending.push(full);
      else files.push(full);
    }
    const stats = await Promise.all(files.map((f) => fsp.lstat(f, { bigint: true }).catch(() => undefined)));
    for (const st of stats) {
      if (!st || st.size === 0n) continue;
      const inode = `${st.dev}:${st.ino}`;
      if (seen.has(inode)) continue;
      seen.add(inode);
      total += Number(st.size);
    }
  }
  return total;
}
