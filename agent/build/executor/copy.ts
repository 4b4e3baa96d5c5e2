/**
 * COPY and ADD into a step's root: sources from the build context (or another stage's or image's
 * tree), heredoc files, downloaded URLs, and ADD's extraction of local tar archives. Follows
 * Docker's destination rules: a destination ending in `/`, an existing directory, several
 * sources, a wildcard or a directory source all make the destination a directory.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { invalidArgument } from '../../../common/errors';
import { launcher } from '../../../common/process';
import { unpackLayer } from '../../image/unpack';
import { resolveUser } from '../../runtime/user';
import { ContextIndex, containsWildcards, hardlinkSources, selectSources, type SelectedEntry } from '../context/sources';
import { dockerfileError } from '../dockerfile/errors';
import type { AddInstruction, CopyInstruction } from '../dockerfile/instructions';
import { classifyAddSource } from '../dockerfile/plan';
import { copyInto, isDirectoryInRoot, mkdirInRoot, parseChmod, writeFileInRoot, type CopyItem, type Owner } from './fsops';

/** A file fetched for `ADD <url>`. */
export interface Download {
  url: string;
  /** Host path of the downloaded bytes. */
  file: string;
  /** The name it gets under a directory destination: the URL path's last segment. */
  name: string;
  mtimeMs?: number;
}

export interface CopyStepOptions {
  /** The image's WorkingDir: relative destinations are under it. */
  workdir: string;
  /** Where sources come from: the context, or a stage's or image's tree for `--from`. */
  sources?: ContextIndex;
  /** `--from` copies keep the sources' ownership; context copies are owned by root. */
  keepOwnership: boolean;
  downloads: Download[];
  /** Scratch space for archive extraction. */
  tmpDir: string;
  dockerfile: string;
}

/** `--chown=user[:group]`, resolved against the destination root's passwd and group files. */
export async function resolveChown(rootfs: string, spec: string): Promise<Owner> {
  const [user = '', group] = spec.split(':', 2);
  const uid = /^\d+$/.test(user) ? Number(user) : (await resolveUser(rootfs, user)).uid;
  if (group === undefined || group === '') return { uid, gid: uid };
  const gid = /^\d+$/.test(group) ? Number(group) : (await resolveUser(rootfs, `0:${group}`)).gid;
  return { uid, gid };
}

/** The first bytes of a file. */
async function headOf(file: string, length: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(length);
    const { bytesRead } = await fh.read(head, 0, length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const isTarHeader = (data: Buffer): boolean => data.length >= 262 && data.subarray(257, 262).toString('latin1') === 'ustar';

/** Whether a context file, whose first bytes are `head`, is a tar archive the unpacker reads itself (plain, gzip or zstd). */
async function isArchive(file: string, head: Buffer): Promise<boolean> {
  let data = head;
  if (data[0] === 0x28 && data[1] === 0xb5 && data[2] === 0x2f && data[3] === 0xfd) return true;
  if (data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = gunzipSync(await fsp.readFile(file), { finishFlush: 2 }).subarray(0, 512);
    } catch {
      return false;
    }
  }
  return isTarHeader(data);
}

/** The programs that undo the compressions Node cannot read, as Docker's archive package runs `xz`. */
const EXTERNAL_DECOMPRESSORS = [
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], program: 'xz', suffix: '.xz' },
  { magic: [0x42, 0x5a, 0x68], program: 'bzip2', suffix: '.bz2' },
];

/**
 * An xz or bzip2 file decompressed into `tmpDir` when what it holds is a tar archive (ADD extracts
 * it); undefined for any other file, which ADD copies as it is.
 */
async function decompressedTar(file: string, head: Buffer, tmpDir: string): Promise<string | undefined> {
  const tool = EXTERNAL_DECOMPRESSORS.find((d) => d.magic.every((b, i) => head[i] === b));
  if (!tool) return undefined;
  const dir = await fsp.mkdtemp(path.join(tmpDir, 'add-decompress-'));
  // The program wants its suffix on the name: a link carries it, and -f lets it read through one
  // (the link goes, the file it names stays).
  const packed = path.join(dir, `archive${tool.suffix}`);
  await fsp.symlink(file, packed);
  const r = await launcher().run(tool.program, ['-d', '-q', '-f', packed], { stdout: 'ignore' });
  const unpacked = path.join(dir, 'archive');
  if (r.code === 0 && isTarHeader(await headOf(unpacked, 512))) return unpacked;
  await fsp.rm(dir, { recursive: true, force: true });
  // Not decompressible, or no tar inside: copied as a file, as Docker does. A missing program is
  // no reason to copy an archive the user asked to have extracted.
  if (r.code === 127 || /not found|ENOENT/i.test(r.stderr)) {
    throw invalidArgument(`ADD of ${path.basename(file)} needs the ${tool.program} program on the daemon's host`);
  }
  return undefined;
}

function destinationPath(workdir: string, destination: string): { abs: string; explicitDir: boolean } {
  const explicitDir = destination.endsWith('/') || destination === '.' || destination.endsWith('/.');
  const abs = path.posix.resolve(workdir || '/', destination);
  return { abs, explicitDir };
}

export async function copyStep(rootfs: string, ins: CopyInstruction | AddInstruction, opts: CopyStepOptions): Promise<void> {
  const fail = (problem: string): never => {
    throw dockerfileError(opts.dockerfile, ins.line, problem);
  };
  let owner: Owner | undefined;
  let mode: number | undefined;
  try {
    if (ins.chown !== undefined && ins.chown !== '') owner = await resolveChown(rootfs, ins.chown);
    if (ins.chmod !== undefined && ins.chmod !== '') mode = parseChmod(ins.chmod);
  } catch (err) {
    fail((err as Error).message);
  }
  const localSources = ins.kind === 'ADD' ? ins.sources.filter((s) => classifyAddSource(s) === 'context') : ins.sources;
  if (ins.kind === 'ADD' && ins.sources.some((s) => classifyAddSource(s) === 'git')) fail('ADD of a Git repository is not supported by this builder');

  const selected: SelectedEntry[] = opts.sources
    ? selectSources(opts.sources, localSources, {
        excludes: ins.excludes,
        parents: ins.kind === 'COPY' && ins.parents,
        dockerfile: opts.dockerfile,
        line: ins.line,
        instruction: ins.kind,
      })
    : [];
  const { abs, explicitDir } = destinationPath(opts.workdir, ins.destination);
  const matches = selected.filter((s) => s.match);
  const several = localSources.length + ins.inline.length + opts.downloads.length > 1 || (localSources.some(containsWildcards) && matches.length > 1);
  const fromDirectory = matches.some((s) => s.entry.type === 'dir' || s.copyPath.includes('/'));
  const existingDir = await isDirectoryInRoot(rootfs, abs);
  if (several && !explicitDir && !existingDir) {
    fail(`When using ${ins.kind} with more than one source file, the destination must be a directory and end with a /`);
  }
  const destIsDir = explicitDir || several || fromDirectory || existingDir;
  const at = (copyPath: string): string => (destIsDir ? path.posix.join(abs, copyPath) : abs);
  if (destIsDir) await mkdirInRoot(rootfs, abs, owner);

  const items: CopyItem[] = [];
  const archives: string[] = [];
  /** Directories holding decompressed copies of xz and bzip2 archives. */
  const scratch: string[] = [];
  const root = opts.sources?.root ?? '/';
  const linked = hardlinkSources(selected);
  for (const [i, { entry, copyPath }] of selected.entries()) {
    if (copyPath === '') continue; // the source directory itself: its contents land in the destination
    const source = path.join(root, entry.path);
    const topLevelFile = entry.type === 'file' && !copyPath.includes('/');
    if (ins.kind === 'ADD' && ins.unpack !== false && topLevelFile) {
      const head = await headOf(source, 4096);
      if (await isArchive(source, head)) {
        archives.push(source);
        continue;
      }
      const decompressed = await decompressedTar(source, head, opts.tmpDir);
      if (decompressed !== undefined) {
        archives.push(decompressed);
        scratch.push(path.dirname(decompressed));
        continue;
      }
    }
    const item: CopyItem = { source, type: entry.type, target: at(copyPath), mode: entry.mode, mtimeMs: entry.mtimeMs };
    if (opts.keepOwnership) item.owner = { uid: entry.uid, gid: entry.gid };
    if (entry.linkTarget !== undefined) item.linkTarget = entry.linkTarget;
    const first = linked[i];
    if (first !== undefined) item.hardlinkOf = at(first);
    items.push(item);
  }
  try {
    await copyInto(rootfs, items, mode === undefined ? (owner ? { owner } : {}) : { ...(owner ? { owner } : {}), mode });
    for (const archive of archives) await extractArchive(rootfs, archive, abs, owner, mode, opts.tmpDir);
  } finally {
    for (const dir of scratch) await fsp.rm(dir, { recursive: true, force: true });
  }
  for (const file of ins.inline) {
    await writeFileInRoot(rootfs, at(file.name), file.content, mode ?? 0o644, owner ?? { uid: 0, gid: 0 });
  }
  for (const download of opts.downloads) {
    const target = destIsDir ? path.posix.join(abs, download.name) : abs;
    await writeFileInRoot(rootfs, target, await fsp.readFile(download.file), mode ?? 0o600, owner ?? { uid: 0, gid: 0 }, download.mtimeMs);
  }
}

/** ADD of a local archive: its tree is merged into the destination, ownership kept unless --chown. */
async function extractArchive(rootfs: string, archive: string, dest: string, owner: Owner | undefined, mode: number | undefined, tmpDir: string): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(tmpDir, 'add-'));
  const tree = path.join(dir, 'tree');
  try {
    try {
      await unpackLayer(createReadStream(archive), tree, { layer: path.basename(archive) });
    } catch (err) {
      throw invalidArgument(`ADD failed to extract ${path.basename(archive)}: ${(err as Error).message}`);
    }
    const index = await ContextIndex.build(tree);
    await mkdirInRoot(rootfs, dest, owner);
    const entries = [...index.entries.values()];
    // The archive's hard links stay links, as extracting it in place would leave them.
    const linked = hardlinkSources(entries.map((entry) => ({ entry, copyPath: entry.path, tree: 0 })));
    const items: CopyItem[] = entries.map((entry, i) => ({
      source: path.join(tree, entry.path),
      type: entry.type,
      target: path.posix.join(dest, entry.path),
      mode: entry.mode,
      mtimeMs: entry.mtimeMs,
      owner: { uid: entry.uid, gid: entry.gid },
      ...(entry.linkTarget !== undefined ? { linkTarget: entry.linkTarget } : {}),
      ...(linked[i] !== undefined ? { hardlinkOf: path.posix.join(dest, linked[i]) } : {}),
    }));
    await copyInto(rootfs, items, { ...(owner ? { owner } : {}), ...(mode !== undefined ? { mode } : {}) });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
