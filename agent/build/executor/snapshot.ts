/**
 * A build step's working root: the layers so far under overlayfs with a fresh upper directory,
 * mounted on the host. When the step is done its upper directory becomes the step's layer: the
 * tar (`diffDirectory`) goes to the content store and the directory itself is adopted by the
 * snapshotter, so nothing is unpacked twice. An upper that holds no change yields no layer.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { diffDirectory, writeLayer } from '../../image/diff';
import type { ImageService } from '../../image/service';
import { mountOverlay, unmount } from '../../image/snapshotter';
import type { CachedLayer } from './cache';

/** The diffID of a tar with no entries (two zero blocks), as Docker knows it. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface WorkingRoot {
  /** Where the merged tree is mounted on the host. */
  rootfs: string;
  /** The snapshot's writable directory (what the step changed). */
  upper: string;
  /** The tree of `readLayers`, when asked for. */
  readRoot?: string;
}

export interface SnapshotDeps {
  images: ImageService;
  /** A directory for mount points, private to this build. */
  workDir: string;
  /** Holds blobs and layers until the cache or an image names them. */
  lease(digest: string): void;
}

/**
 * Mounts `layers` with a fresh upper, runs `step` on the merged tree, unmounts, and turns the
 * changes into a layer. `beforeCommit` runs after the unmount, on the upper directory alone.
 */
export async function withWorkingRoot(
  deps: SnapshotDeps,
  layers: readonly string[],
  step: (root: WorkingRoot) => Promise<void>,
  beforeCommit?: (upper: string) => Promise<void>,
  /** Layers of a second tree to read from (`COPY --from`), mounted beside it as `readRoot`. */
  readLayers?: readonly string[],
): Promise<CachedLayer | undefined> {
  const key = `build-${randomBytes(8).toString('hex')}`;
  const readKey = `build-ro-${randomBytes(8).toString('hex')}`;
  const snapshots = deps.images.snapshots;
  const rootfs = path.join(deps.workDir, 'mnt', key);
  const readRoot = path.join(deps.workDir, 'mnt', readKey);
  const upper = snapshots.upperPath(key);
  const mounted: string[] = [];
  const mount = async (k: string, l: readonly string[], target: string) => {
    await mountOverlay(await snapshots.prepare(k, [...l]), target);
    mounted.push(target);
  };
  try {
    try {
      // Both mounts at once: each is a mount(8) process to wait for.
      const results = await Promise.allSettled([mount(key, layers, rootfs), ...(readLayers ? [mount(readKey, readLayers, readRoot)] : [])]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await step({ rootfs, upper, ...(readLayers ? { readRoot } : {}) });
    } finally {
      await Promise.all(
        mounted.map(async (target) => {
          await unmount(target);
          await fsp.rmdir(target).catch(() => undefined);
        }),
      );
    }
    await beforeCommit?.(upper);
    return await commitUpper(deps, upper);
  } finally {
    await snapshots.removeActive(key);
    if (readLayers) await snapshots.removeActive(readKey);
  }
}

/** Mounts `layers` read-only-in-spirit (changes are discarded) for reading, e.g. `COPY --from`. */
export async function withReadRoot<T>(deps: SnapshotDeps, layers: readonly string[], read: (rootfs: string) => Promise<T>): Promise<T> {
  const key = `build-ro-${randomBytes(8).toString('hex')}`;
  const snapshots = deps.images.snapshots;
  const rootfs = path.join(deps.workDir, 'mnt', key);
  try {
    await mountOverlay(await snapshots.prepare(key, [...layers]), rootfs);
    try {
      return await read(rootfs);
    } finally {
      await unmount(rootfs);
      await fsp.rmdir(rootfs).catch(() => undefined);
    }
  } finally {
    await snapshots.removeActive(key);
  }
}

async function commitUpper(deps: SnapshotDeps, upper: string): Promise<CachedLayer | undefined> {
  const { content, snapshots } = deps.images;
  const writer = await content.writer(`build-layer-${randomBytes(8).toString('hex')}`);
  let blob: { diffId: string; size: number };
  try {
    // The tar comes in small pieces (a header, the data, padding); while one write is in flight
    // the next ones gather and go as one (writev), rather than one file write per piece.
    const sink = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _enc, cb) {
        writer.write(chunk).then(() => cb(), cb);
      },
      writev(chunks, cb) {
        writer.write(Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(() => cb(), cb);
      },
    });
    blob = await writeLayer(diffDirectory(upper), sink);
    if (blob.diffId === EMPTY_LAYER_DIFF_ID) {
      await writer.abort();
      return undefined;
    }
    deps.lease(blob.diffId);
    await writer.commit({ digest: blob.diffId, size: blob.size });
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
  await snapshots.adoptLayer(upper, { diffId: blob.diffId, size: blob.size });
  return { diffId: blob.diffId, size: blob.size };
}
