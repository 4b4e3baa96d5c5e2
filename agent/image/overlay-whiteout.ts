import { spawn } from 'node:child_process';

/**
 * The two spellings of "deleted" and "replaced" between an OCI layer tar and an overlayfs layer
 * directory, and the few file-system calls Node lacks (mknod, xattrs), done by spawning the
 * small tools from coreutils and Debian's `attr` package.
 *
 * OCI tar form                          overlayfs form (lower or upper directory)
 * `dir/.wh.NAME` (empty regular file)   `dir/NAME`, a character device 0/0
 * `dir/.wh..wh..opq`                    xattr `trusted.overlay.opaque=y` on `dir`
 */

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** Other `.wh..wh.` names are AUFS bookkeeping (e.g. `.wh..wh.plnk`), meaningless here. */
export const AUFS_META_PREFIX = '.wh..wh.';
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
/** Xattrs an upper directory may carry that make it depend on the lower layers' content. */
export const OVERLAY_DEPENDENT_XATTRS = ['trusted.overlay.redirect', 'trusted.overlay.metacopy'];

const MKNOD = '/usr/bin/mknod';
const SETFATTR = '/usr/bin/setfattr';
const GETFATTR = '/usr/bin/getfattr';

interface RunResult {
  stdout: Buffer;
}

function run(cmd: string, args: string[], input?: Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve({ stdout: Buffer.concat(out) });
      const msg = Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? '';
      reject(new Error(`${cmd.split('/').pop()} exited with ${code ?? signal}${msg ? `: ${msg}` : ''}`));
    });
    if (input && child.stdin) {
      child.stdin.on('error', () => {
        // The exit status reports the failure; an EPIPE here adds nothing.
      });
      child.stdin.end(input);
    }
  });
}

export type NodeKind = 'char' | 'block' | 'fifo';

/** mknod(2), which Node does not offer. The node gets mode 0666 less umask; callers chmod after. */
export async function mknod(path: string, kind: NodeKind, major = 0, minor = 0): Promise<void> {
  const args = kind === 'fifo' ? [path, 'p'] : [path, kind === 'char' ? 'c' : 'b', String(major), String(minor)];
  await run(MKNOD, args);
}

/** An overlayfs whiteout: a character device 0/0. */
export const makeWhiteout = (path: string): Promise<void> => mknod(path, 'char', 0, 0);

/** Quotes a path the way getfattr --dump does, which setfattr --restore reads back. */
function quotePath(path: string): Buffer {
  const bytes = Buffer.from(path, 'utf8');
  const out: number[] = [];
  for (const b of bytes) {
    if (b <= 0x20 || b >= 0x7f || b === 0x5c || b === 0x3d) {
      out.push(0x5c, ...Buffer.from(b.toString(8).padStart(3, '0'), 'latin1'));
    } else out.push(b);
  }
  return Buffer.from(out);
}

function unquotePath(q: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < q.length; i++) {
    const c = q[i]!;
    if (c === 0x5c && i + 3 < q.length && /^[0-7]{3}$/.test(q.toString('latin1', i + 1, i + 4))) {
      out.push(parseInt(q.toString('latin1', i + 1, i + 4), 8));
      i += 3;
    } else out.push(c);
  }
  return Buffer.from(out);
}

export interface XattrAssignment {
  /** Absolute path; never followed if it is a symlink. */
  path: string;
  xattrs: Map<string, Buffer>;
}

/** Sets many xattrs with one `setfattr --restore`, without following symlinks. */
export async function setXattrs(assignments: XattrAssignment[]): Promise<void> {
  const parts: Buffer[] = [];
  for (const a of assignments) {
    if (a.xattrs.size === 0) continue;
    parts.push(Buffer.from('# file: '), quotePath(a.path), Buffer.from('\n'));
    for (const [name, value] of a.xattrs) {
      // Value in hex so that any bytes survive; names are plain ASCII in practice.
      parts.push(Buffer.from(`${name}=0x${value.toString('hex')}\n`, 'utf8'));
    }
    parts.push(Buffer.from('\n'));
  }
  if (parts.length === 0) return;
  await run(SETFATTR, ['-h', '--restore=-'], Buffer.concat(parts));
}

/**
 * Every xattr (all namespaces) of every file under root, symlinks not followed, keyed by the
 * path relative to root ('' for root itself). One `getfattr -R` for the whole tree.
 */
export async function readXattrsRecursive(root: string): Promise<Map<string, Map<string, Buffer>>> {
  const { stdout } = await run(GETFATTR, ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root]);
  const result = new Map<string, Map<string, Buffer>>();
  const rootBytes = Buffer.from(root.replace(/\/+$/, ''), 'utf8');
  let current: Map<string, Buffer> | undefined;
  let start = 0;
  while (start < stdout.length) {
    let end = stdout.indexOf(0x0a, start);
    if (end === -1) end = stdout.length;
    const line = stdout.subarray(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    if (line.toString('latin1', 0, 8) === '# file: ') {
      const abs = unquotePath(line.subarray(8));
      const rel = abs.equals(rootBytes) ? '' : abs.subarray(rootBytes.length + 1).toString('utf8');
      current = new Map();
      result.set(rel, current);
      continue;
    }
    const eq = line.indexOf(0x3d);
    if (!current || eq === -1) continue;
    const name = line.toString('utf8', 0, eq);
    const raw = line.toString('latin1', eq + 1);
    let value: Buffer;
    if (raw.startsWith('0x')) value = Buffer.from(raw.slice(2), 'hex');
    else if (raw.startsWith('0s')) value = Buffer.from(raw.slice(2), 'base64');
    else value = Buffer.from(raw.replace(/^"|"$/g, ''), 'utf8');
    current.set(name, value);
  }
  return result;
}
