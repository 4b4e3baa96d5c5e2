/**
 * The snapshotter: filesystem trees that overlayfs stacks into a container's root.
 *
 * Vocabulary (after containerd's snapshotter):
 * - **layer**: a committed, read-only tree, the unpacked content of one layer tar. It is named by
 *   its diffID (the sha256 of the uncompressed tar), so the same layer is unpacked once and shared
 *   by every image and container whose stack contains it, whatever sits below it.
 * - **active snapshot**: a writable tree on top of an ordered list of layers, named by a `key`
 *   chosen by the caller (a container ID, a build step). Its `upper` directory collects the writes.
 * - **mount**: the overlayfs mount that shows layers + upper as one tree.
 *
 * On disk, under the root:
 *   layers/<hex>/diff      a layer's tree; layers/<hex>/size its byte count
 *   l/<short>              short symlinks to layers/<hex>/diff: overlayfs takes all lower dirs in
 *                          one page-sized option string, so short names allow ~200 layers
 *   active/<key>/{upper,work}
 *   tmp/                   unpacks in progress; cleared at start (a crash leaves nothing visible)
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors';
import { mountOne, unmount as unmountPath } from '../../common/mount';
import { parseDigest } from './content';
import { unpackLayer } from './unpack';

export interface LayerInfo {
  diffId: string;
  /** Bytes of the uncompressed layer tar. */
  size: number;
}

export interface OverlayMount {
  type: 'overlay';
  source: 'overlay';
  /** Options for `mount -t overlay`; lower dirs are relative to `cwd`. */
  options: string[];
  /** The directory relative lower dirs are resolved against. */
  cwd: string;
}

export interface Snapshotter {
  hasLayer(diffId: string): Promise<boolean>;
  layerInfo(diffId: string): Promise<LayerInfo>;
  /**
   * Unpacks a layer tar (plain or gzip) as a committed layer. When `expectedDiffId` is given and
   * present, the input is drained and nothing is unpacked; when it is given and differs from what
   * the tar hashes to, the unpack is discarded and an error names both digests.
   */
  applyLayer(input: AsyncIterable<Uint8Array>, expectedDiffId?: string, label?: string, opts?: ApplyOptions): Promise<LayerInfo>;
  /** Registers an already unpacked tree (e.g. a build step's upper dir) as a layer. */
  adoptLayer(dir: string, info: LayerInfo): Promise<void>;
  removeLayer(diffId: string): Promise<void>;
  listLayers(): Promise<LayerInfo[]>;
  /** The directory holding a layer's tree. */
  layerPath(diffId: string): string;

  /** Creates the active snapshot `key` over `layers` (bottom first) and returns how to mount it. */
  prepare(key: string, layers: string[]): Promise<OverlayMount>;
  /** The mount for an existing active snapshot (after a daemon restart, for instance). */
  mountsFor(key: string, layers: string[]): OverlayMount;
  upperPath(key: string): string;
  removeActive(key: string): Promise<void>;
  listActive(): Promise<string[]>;
}

export interface ApplyOptions {
  /** Awaited after the unpack and before the layer is published; its failure discards the layer. */
  beforePublish?: () => Promise<unknown>;
}

export class OverlaySnapshotter implements Snapshotter {
  constructor(readonly root: string) {}

  async init(): Promise<void> {
    for (const d of ['layers', 'l', 'active', 'tmp', 'empty']) await fsp.mkdir(path.join(this.root, d), { recursive: true });
    // Anything in tmp/ is an unpack a crash interrupted: it was never visible, so it goes.
    for (const name of await fsp.readdir(path.join(this.root, 'tmp'))) {
      await fsp.rm(path.join(this.root, 'tmp', name), { recursive: true, force: true });
    }
  }

  layerPath(diffId: string): string {
    return path.join(this.root, 'layers', parseDigest(diffId), 'diff');
  }

  private shortLink(diffId: string): string {
    return path.join('l', parseDigest(diffId).slice(0, 16));
  }

  async hasLayer(diffId: string): Promise<boolean> {
    try {
      await fsp.access(path.join(this.root, 'layers', parseDigest(diffId), 'size'));
      return true;
    } catch {
      return false;
    }
  }

  async layerInfo(diffId: string): Promise<LayerInfo> {
    try {
      const size = Number(await fsp.readFile(path.join(this.root, 'layers', parseDigest(diffId), 'size'), 'utf8'));
      return { diffId, size };
    } catch {
      throw notFound(`snapshotter: layer ${diffId} not found`);
    }
  }

  async applyLayer(input: AsyncIterable<Uint8Array>, expectedDiffId?: string, label?: string, opts: ApplyOptions = {}): Promise<LayerInfo> {
    if (expectedDiffId && (await this.hasLayer(expectedDiffId))) {
      for await (const _ of input);
      await opts.beforePublish?.();
      return this.layerInfo(expectedDiffId);
    }
    const tmp = path.join(this.root, 'tmp', randomBytes(8).toString('hex'));
    const diffDir = path.join(tmp, 'diff');
    await fsp.mkdir(diffDir, { recursive: true });
    try {
      // A layer is known by its diff ID here; the compressed blob's digest is the content store's business.
      const { diffId, size } = await unpackLayer(input, diffDir, { layer: label ?? expectedDiffId ?? 'being unpacked', compressedDigest: false });
      // A bad input is reported as the caller's check sees it (a blob digest, say), not as its diffID.
      await opts.beforePublish?.();
      if (expectedDiffId && diffId !== expectedDiffId) {
        throw failedPrecondition(`snapshotter: layer content is ${diffId}, expected ${expectedDiffId}`);
      }
      await this.publish(tmp, { diffId, size });
      return { diffId, size };
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }

  async adoptLayer(dir: string, info: LayerInfo): Promise<void> {
    if (await this.hasLayer(info.diffId)) return;
    const tmp = path.join(this.root, 'tmp', randomBytes(8).toString('hex'));
    await fsp.mkdir(tmp, { recursive: true });
    try {
      await fsp.rename(dir, path.join(tmp, 'diff'));
      await this.publish(tmp, info);
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }

  /** Moves a finished tmp dir into place. The `size` file is written last: it marks completeness. */
  private async publish(tmp: string, info: LayerInfo): Promise<void> {
    const hex = parseDigest(info.diffId);
    const final = path.join(this.root, 'layers', hex);
    try {
      await fsp.rename(tmp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Someone else published the same layer meanwhile, or a crash left one without its
      // `size` marker: keep a complete one, replace an incomplete one.
      if (await this.hasLayer(info.diffId)) return;
      await fsp.rm(final, { recursive: true, force: true });
      await fsp.rename(tmp, final);
    }
    const link = path.join(this.root, this.shortLink(info.diffId));
    await fsp.rm(link, { force: true });
    await fsp.symlink(path.join('..', 'layers', hex, 'diff'), link);
    await fsp.writeFile(path.join(final, 'size'), String(info.size));
  }

  async removeLayer(diffId: string): Promise<void> {
    const hex = parseDigest(diffId);
    await fsp.rm(path.join(this.root, this.shortLink(diffId)), { force: true });
    // Rename first so a crash mid-delete never leaves a half tree under a valid name.
    const doomed = path.join(this.root, 'tmp', `rm-${hex}-${randomBytes(4).toString('hex')}`);
    try {
      await fsp.rename(path.join(this.root, 'layers', hex), doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await fsp.rm(doomed, { recursive: true, force: true });
  }

  async listLayers(): Promise<LayerInfo[]> {
    const out: LayerInfo[] = [];
    for (const hex of await fsp.readdir(path.join(this.root, 'layers'))) {
      try {
        const size = Number(await fsp.readFile(path.join(this.root, 'layers', hex, 'size'), 'utf8'));
        out.push({ diffId: `sha256:${hex}`, size });
      } catch {
        // incomplete (no size marker): cleaned by the next publish or a GC
      }
    }
    return out;
  }

  upperPath(key: string): string {
    return path.join(this.root, 'active', checkKey(key), 'upper');
  }

  async prepare(key: string, layers: string[]): Promise<OverlayMount> {
    const dir = path.join(this.root, 'active', checkKey(key));
    await fsp.mkdir(path.join(dir, 'upper'), { recursive: true });
    await fsp.mkdir(path.join(dir, 'work'), { recursive: true });
    for (const l of layers) if (!(await this.hasLayer(l))) throw notFound(`snapshotter: layer ${l} not found`);
    return this.mountsFor(key, layers);
  }

  mountsFor(key: string, layers: string[]): OverlayMount {
    const dir = path.join('active', checkKey(key));
    // overlayfs lists lower dirs top first; image layers are bottom first.
    const lowers = layers.length > 0 ? [...layers].reverse().map((l) => this.shortLink(l)) : ['empty'];
    return {
      type: 'overlay',
      source: 'overlay',
      cwd: this.root,
      options: [`lowerdir=${lowers.join(':')}`, `upperdir=${dir}/upper`, `workdir=${dir}/work`, 'index=off', 'redirect_dir=off', 'metacopy=off'],
    };
  }

  async removeActive(key: string): Promise<void> {
    await fsp.rm(path.join(this.root, 'active', checkKey(key)), { recursive: true, force: true });
  }

  async listActive(): Promise<string[]> {
    return fsp.readdir(path.join(this.root, 'active'));
  }
}

function checkKey(key: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(key)) throw invalidArgument(`snapshotter: invalid snapshot key "${key}"`);
  return key;
}

/**
 * Mounts an overlay at `target`. The kernel resolves relative lower dirs against `cwd`. Mounts
 * asked for together (containers starting side by side) share one mount(8): `mountOne`.
 */
export async function mountOverlay(m: OverlayMount, target: string): Promise<void> {
  await fsp.mkdir(target, { recursive: true });
  try {
    await mountOne(m, target);
  } catch (err) {
    throw failedPrecondition(`snapshotter: mounting overlay at ${target} failed: ${(err as Error).message}`);
  }
}

/** Not mounted is fine; a busy mount is detached lazily rather than leaked. */
export async function unmount(target: string): Promise<void> {
  await unmountPath(target).catch(() => undefined);
}
