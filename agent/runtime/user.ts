import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument, notFound } from '../../common/errors';
import type { OciUser } from './oci';

/** A user resolved against an image's own /etc/passwd and /etc/group. */
export interface ResolvedUser extends OciUser {
  additionalGids: number[];
  /** The passwd entry's home, `/` when the user has no entry (Docker's fallback). */
  home: string;
}

/**
 * Turns Docker's `--user` forms (`name`, `uid`, `name:group`, `uid:gid`, `name:gid`…) into numeric
 * ids by reading the image's passwd and group files. Names that the image does not know are
 * errors; numeric ids need no entry. The groups are Docker's: the primary gid first, then, when
 * no group was given, those listing the passwd entry's name (found by name or uid), then
 * `groupAdd` (`--group-add`: names of the image's groups or numbers).
 */
export async function resolveUser(rootfs: string, spec: string | undefined, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  const [userPart = '', groupPart] = (spec ?? '').split(':', 2);
  const passwd = parseColonFile(await readInRoot(rootfs, '/etc/passwd'));
  const groups = parseColonFile(await readInRoot(rootfs, '/etc/group'));

  const wantedUser = userPart === '' ? '0' : userPart;
  const entry = passwd.find((f) => (isNumeric(wantedUser) ? f[2] === wantedUser : f[0] === wantedUser));
  if (!entry && !isNumeric(wantedUser)) {
    throw notFound(`runtime: unable to find user ${wantedUser}: no matching entries in passwd file`);
  }
  const uid = entry ? toId(entry[2], 'uid') : toId(wantedUser, 'uid');
  let gid = entry ? toId(entry[3], 'gid') : 0;
  if (groupPart !== undefined && groupPart !== '') {
    if (isNumeric(groupPart)) {
      gid = toId(groupPart, 'gid');
    } else {
      const g = groups.find((f) => f[0] === groupPart);
      if (!g) throw notFound(`runtime: unable to find group ${groupPart}: no matching entries in group file`);
      gid = toId(g[2], 'gid');
    }
  }
  const userName = entry?.[0];
  // As runc's user lookup: memberships only in the implicit form (`uid`, `name`), not with a group.
  const implicit = groupPart === undefined || groupPart === '';
  const memberOf =
    userName === undefined || !implicit ? [] : groups.filter((g) => (g[3] ?? '').split(',').includes(userName)).map((g) => toId(g[2], 'gid'));
  const added = groupAdd.map((name) => {
    const g = groups.find((f) => f[0] === name || f[2] === name);
    if (g) return toId(g[2], 'gid');
    if (!isNumeric(name)) throw notFound(`runtime: unable to find group ${name}: no matching entries in group file`);
    return toId(name, 'gid');
  });
  return { uid, gid, additionalGids: [...new Set([gid, ...memberOf, ...added])], home: entry?.[5] || '/' };
}

function isNumeric(s: string): boolean {
  return /^\d+$/.test(s);
}

function toId(s: string | undefined, what: string): number {
  if (s === undefined || !isNumeric(s)) throw invalidArgument(`runtime: invalid ${what} ${JSON.stringify(s)}`);
  const n = Number(s);
  if (n > 0xffffffff) throw invalidArgument(`runtime: ${what} ${s} out of range`);
  return n;
}

function parseColonFile(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/**
 * Reads a file of an image as the container would see it: symlinks are followed inside the
 * root, so an image whose /etc/passwd points at `/etc/shadow` reads its own shadow, not the
 * host's. A missing file reads as empty, as for images without passwd.
 */
async function readInRoot(root: string, file: string): Promise<string> {
  const resolved = await resolveInRoot(root, file);
  try {
    return await fsp.readFile(resolved, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

export async function resolveInRoot(root: string, file: string): Promise<string> {
  const pending = file.split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = path.join(root, ...done, part);
    let target: string | undefined;
    try {
      target = await fsp.readlink(candidate);
    } catch {
      target = undefined;
    }
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++hops > 40) throw invalidArgument(`runtime: too many symlinks resolving ${file}`);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return path.join(root, ...done);
}
