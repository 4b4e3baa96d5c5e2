/**
 * Image archives: `image load` and `image save`.
 *
 * We read the two formats Docker reads: the docker-archive (`manifest.json` listing config and
 * layer files, the format of `docker save` up to Docker 24) and the OCI image layout
 * (`oci-layout`, `index.json`, `blobs/sha256/…`). Docker 25+ writes both in one tarball, and so do
 * we: `manifest.json` points into `blobs/`, so old and new `docker load` read what we save.
 *
 * A load is all or nothing: blobs are verified as they stream in, layers are unpacked into the
 * snapshotter's tmp area, and only the final metadata commit makes the images visible. On failure
 * every blob and layer the load added, and nothing else, is removed.
 */
import { PassThrough, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import tar from 'tar-stream';
import { invalidArgument, TsError, wrap } from '../../common/errors';
import { STREAM_CHUNK } from '../../common/transient';
import { putBlob, type ContentWriter } from './content';
import {
  MediaType,
  hostPlatform,
  isIndexMediaType,
  selectPlatform,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from './oci';
import type { ImageService } from './service';
import { unpackLayer } from './unpack';
import { familiarString, normalizeTag, parseReference, type ImageRecord, type LayerRef } from './store';
import { referenceString } from '../registry/reference';

const SMALL_FILE = 4 << 20;

/** Peeks at the first bytes and gunzips when they are gzip's magic. */
export function maybeGunzip(input: Readable): Readable {
  // Object mode: the reader gets the chunks as they came, not joined (see STREAM_CHUNK).
  const out = new PassThrough({ objectMode: true, highWaterMark: 8 });
  let gzip = false;
  (async () => {
    const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let first = Buffer.alloc(0);
    while (first.length < 2) {
      const r = await it.next();
      if (r.done) break;
      first = Buffer.concat([first, r.value]);
    }
    gzip = first[0] === 0x1f && first[1] === 0x8b;
    const rest = Readable.from(
      (async function* () {
        if (first.length > 0) yield first;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield r.value;
        }
      })(),
      { objectMode: false },
    );
    if (gzip) await pipeline(rest, createGunzip(), out);
    else await pipeline(rest, out);
  })().catch((e: Error) => out.destroy(gzip && !(e instanceof TsError) ? truncatedOr(e) : e));
  return out;
}

function truncatedOr(e: Error): Error {
  if (/unexpected end of file/i.test(e.message)) return invalidArgument('image load: archive truncated (unexpected end of gzip stream)');
  return invalidArgument(`image load: archive is not valid gzip: ${e.message}`);
}

interface ArchiveFile {
  /** Digest of the file's bytes, which are in the content store. */
  digest: string;
  size: number;
  /** Parsed when the file is small JSON (manifest.json, index.json, configs…). */
  text?: string;
}

/** Loads a tarball; returns Docker's `Loaded image…` lines. */
export async function loadArchive(images: ImageService, input: Readable): Promise<string[]> {
  const added = new Set<string>();
  const leased: string[] = [];
  const lease = (d: string) => {
    images.leases.add(d);
    leased.push(d);
  };
  // Layer tars unpacked while they were read (see `speculate`), by blob digest.
  const unpacked: EarlyUnpacks = { byDigest: new Map(), all: [] };
  try {
    const files = await readArchive(images, input, added, lease, unpacked);
    const plans = planImages(files);
    const lines: string[] = [];
    const records: Array<{ record: ImageRecord; tags: string[] }> = [];
    for (const plan of plans) {
      const config = JSON.parse(await readText(images, plan.configDigest)) as ImageConfig;
      if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids))
        throw invalidArgument(`image load: config ${plan.configDigest} has no rootfs.diff_ids`);
      if (config.rootfs.diff_ids.length !== plan.layers.length)
        throw invalidArgument(
          `image load: image ${plan.configDigest} lists ${config.rootfs.diff_ids.length} layers in its config but ${plan.layers.length} in its manifest`,
        );
      const layers: LayerRef[] = [];
      let size = 0;
      for (let i = 0; i < plan.layers.length; i++) {
        const blob = plan.layers[i]!;
        const diffId = config.rootfs.diff_ids[i]!;
        lease(diffId);
        const had = await images.snapshots.hasLayer(diffId);
        const early = had ? undefined : await unpacked.byDigest.get(blob.digest);
        let info;
        try {
          if (early && early.diffId === diffId) {
            // Unpacked as it came in: no second read of the blob.
            info = { diffId, size: early.size };
            await images.snapshots.adoptLayer(path.join(early.tmp, 'diff'), info);
          } else {
            info = await images.snapshots.applyLayer(images.content.readStream(blob.digest, 0, STREAM_CHUNK), diffId, blob.digest);
          }
        } catch (err) {
          if (isNoSpace(err)) throw noSpace(images, err);
          throw new TsError(
            err instanceof TsError ? err.kind : 'InvalidArgument',
            `image load: layer ${blob.digest}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        if (!had) added.add(diffId);
        size += info.size;
        layers.push({
          diffId,
          blobDigest: blob.digest,
          blobSize: blob.size,
          mediaType: blob.mediaType ?? (blob.digest === diffId ? MediaType.OciLayer : MediaType.OciLayerGzip),
        });
      }
      let manifestDigest = plan.manifestDigest;
      let manifestMediaType = plan.manifestMediaType ?? MediaType.OciManifest;
      if (!manifestDigest) {
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, digest: plan.configDigest, size: plan.configSize },
          layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.blobDigest, size: l.blobSize })),
        };
        const info = await putBlob(images.content, JSON.stringify(manifest));
        lease(info.digest);
        if (!files.has(info.digest)) added.add(info.digest);
        manifestDigest = info.digest;
        manifestMediaType = MediaType.OciManifest;
      }
      const record: ImageRecord = {
        id: plan.configDigest,
        manifestDigest,
        manifestMediaType,
        repoDigests: [],
        created: config.created ? Date.parse(config.created) || 0 : 0,
        layers,
        size,
      };
      records.push({ record, tags: plan.tags.map(normalizeTag) });
    }
    for (const { record, tags } of records) {
      const { replaced } = await images.store.put(record, tags);
      for (const r of replaced) {
        lines.push(
          `The image ${familiarString(parseReference(r.tag))} already exists, renaming the old one with ID ${r.previous} to empty string`,
        );
      }
      if (tags.length === 0) {
        lines.push(`Loaded image ID: ${record.id}`);
        images.events.emit('image', 'load', record.id, { name: record.id });
      }
      for (const t of tags) {
        const fam = familiarString(parseReference(t));
        lines.push(`Loaded image: ${fam}`);
        images.events.emit('image', 'load', record.id, { name: fam });
      }
    }
    // The archive's own files (manifest.json, index.json, oci-layout…) are not part of any image.
    for (const d of leased) images.leases.delete(d);
    await removeUnreferenced(images, added);
    return lines;
  } catch (err) {
    // Whatever this load added and no image references goes; what was there before stays.
    for (const d of leased) images.leases.delete(d);
    await removeUnreferenced(images, added);
    throw err instanceof TsError ? err : wrap(err, 'image load');
  } finally {
    for (const d of leased) images.leases.delete(d);
    // Trees unpacked ahead and not adopted (not a layer after all, or a failed load) go.
    for (const p of unpacked.all) {
      const u = await p;
      if (u) await fsp.rm(u.tmp, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

async function removeUnreferenced(images: ImageService, added: Set<string>): Promise<void> {
  const used = new Set<string>();
  for (const img of images.store.images()) {
    used.add(img.id);
    used.add(img.manifestDigest);
    for (const l of img.layers) {
      used.add(l.blobDigest);
      used.add(l.diffId);
    }
  }
  for (const d of added) {
    if (used.has(d) || images.leases.has(d)) continue;
    await images.content.delete(d);
    await images.snapshots.removeLayer(d);
  }
}

async function readText(images: ImageService, digest: string): Promise<string> {
  return (await images.content.readAll(digest)).toString('utf8');
}

/**
 * Streams the tarball's files into the content store, each verified by its own digest.
 *
 * Every file that was not in the store before goes into `added`, so a failed load can remove
 * exactly what it brought. On failure this waits for the entry being written to settle (its
 * ingest aborted or its blob committed and recorded) before throwing, so cleanup never races a
 * late commit; and the first error an entry raised (a digest mismatch, a full disk) wins over
 * the "premature close" the tar parser reports after it.
 */
async function readArchive(
  images: ImageService,
  input: Readable,
  added: Set<string>,
  lease: (d: string) => void,
  unpacked: EarlyUnpacks,
): Promise<Map<string, ArchiveFile>> {
  const files = new Map<string, ArchiveFile>();
  const extract = tar.extract();
  const source = maybeGunzip(input);
  let sawEntry = false;
  let entryError: unknown;
  let inFlight: Promise<void> = Promise.resolve();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      sawEntry = true;
      const name = path.posix.normalize(header.name.replace(/^\.?\//, '')).replace(/\/$/, '');
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        stream.resume();
        stream.on('end', next);
        return;
      }
      inFlight = (async () => {
        const isBlobPath = /^blobs\/sha256\/[a-f0-9]{64}$/.test(name);
        const small = (header.size ?? 0) <= SMALL_FILE;
        const chunks: Buffer[] = [];
        // Files outside blobs/ have no digest in their name: hash them here to know, before
        // the commit, whether the store already had them.
        const hash = isBlobPath ? undefined : createHash('sha256');
        let writer: ContentWriter | undefined;
        let early: Speculation | undefined;
        try {
          writer = await images.content.writer(`load-${process.pid}-${randomBytes(8).toString('hex')}`);
          let first = true;
          for await (const chunk of stream) {
            if (first) {
              first = false;
              if ((header.size ?? 0) >= SPECULATE_FROM && looksLikeLayer(chunk as Buffer)) {
                early = speculate(images, name);
                unpacked.all.push(early.result);
              }
            }
            const feeding = early?.feed(chunk as Buffer);
            await writer.write(chunk as Buffer);
            hash?.update(chunk as Buffer);
            if (small) chunks.push(chunk as Buffer);
            await feeding;
          }
          early?.end();
          if (writer.offset !== (header.size ?? 0))
            throw invalidArgument(`image load: archive truncated in entry "${name}"`);
          const expectedDigest = isBlobPath ? `sha256:${name.slice(13)}` : `sha256:${hash!.digest('hex')}`;
          const existed = await images.content.has(expectedDigest);
          let info;
          try {
            info = await writer.commit(isBlobPath ? { digest: expectedDigest } : undefined);
          } catch (err) {
            if (isNoSpace(err)) throw err;
            throw invalidArgument(`image load: entry "${name}": ${(err as Error).message}`);
          }
          writer = undefined;
          lease(info.digest);
          if (!existed) added.add(info.digest);
          if (early) {
            // A blob stored twice in one archive keeps its first tree (the others are removed).
            if (unpacked.byDigest.has(info.digest)) early.discard();
            else unpacked.byDigest.set(info.digest, early.result);
            early = undefined;
          }
          const file: ArchiveFile = { digest: info.digest, size: info.size };
          if (small) file.text = Buffer.concat(chunks).toString('utf8');
          files.set(name, file);
          files.set(info.digest, file);
          next();
        } catch (err) {
          entryError ??= err;
          early?.discard();
          await writer?.abort().catch(() => undefined);
          stream.resume();
          next(err as Error);
        }
      })();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  try {
    await Promise.all([pipeline(source, extract), done]);
  } catch (err) {
    await inFlight;
    const first = entryError ?? err;
    if (first instanceof TsError) throw first;
    if (isNoSpace(first)) throw noSpace(images, first);
    const msg = (first as Error).message ?? String(first);
    if (/unexpected end|premature close|truncated/i.test(msg)) throw invalidArgument('image load: archive truncated (unexpected end of data)');
    throw invalidArgument(`image load: not a valid tar archive: ${msg}`);
  }
  if (!sawEntry) throw invalidArgument('image load: empty archive: no files in the tarball');
  return files;
}

/** Entries from this size on are unpacked as they are read when they look like layer tars. */
const SPECULATE_FROM = 512 << 10;

/** A layer tar unpacked into the snapshotter's tmp area (`tmp/diff`), not yet a layer. */
interface Unpacked {
  tmp: string;
  diffId: string;
  size: number;
}

interface EarlyUnpacks {
  byDigest: Map<string, Promise<Unpacked | undefined>>;
  /** Every one started, adopted or not: their tmp dirs are removed at the end of the load. */
  all: Array<Promise<Unpacked | undefined>>;
}

interface Speculation {
  /** Hands the unpacker a chunk; resolves once it has room for more (or has given up). */
  feed(chunk: Buffer): Promise<void>;
  end(): void;
  /** Stops it (its tree, if any, is removed with the others at the end of the load). */
  discard(): void;
  /** The unpacked tree, or undefined when the bytes weren't a layer the unpacker could read. */
  result: Promise<Unpacked | undefined>;
}

/** A tar (ustar magic at 257) or a gzip stream. */
function looksLikeLayer(chunk: Buffer): boolean {
  if (chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) return true;
  return chunk.length >= 262 && chunk.toString('latin1', 257, 262) === 'ustar';
}

/**
 * Unpacks an archive entry while it is being stored, so that a layer is neither read twice nor
 * unpacked only after the whole archive arrived. It is only a head start: if the entry is not
 * used as a layer, or the unpacker fails, the tree is dropped, and the layer is applied from the
 * stored blob as before (which reports the error, if there is one).
 */
function speculate(images: ImageService, name: string): Speculation {
  const tmp = path.join(images.snapshots.root, 'tmp', `load-${randomBytes(8).toString('hex')}`);
  // Object mode, as maybeGunzip's: some 4 MB of chunks, handed to the unpacker one by one.
  const pipe = new PassThrough({ objectMode: true, highWaterMark: 32 });
  let failed = false;
  let discarded = false;
  const result = (async (): Promise<Unpacked | undefined> => {
    try {
      const diffDir = path.join(tmp, 'diff');
      await fsp.mkdir(diffDir, { recursive: true });
      const { diffId, size } = await unpackLayer(pipe, diffDir, { layer: name });
      if (discarded) throw new Error('discarded');
      return { tmp, diffId, size };
    } catch {
      failed = true;
      pipe.destroy();
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      return undefined;
    }
  })();
  return {
    feed(chunk) {
      if (failed || discarded) return Promise.resolve();
      if (pipe.write(chunk)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        pipe.once('drain', resolve);
        void result.then(() => resolve());
      });
    },
    end() {
      if (!failed && !discarded) pipe.end();
    },
    discard() {
      discarded = true;
      pipe.destroy();
    },
    result,
  };
}

function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function noSpace(images: ImageService, err: unknown): TsError {
  return new TsError('Unavailable', `image load: no space left on device under ${images.root}: ${(err as Error).message}`, { cause: err });
}

interface ImagePlan {
  configDigest: string;
  configSize: number;
  layers: Array<{ digest: string; size: number; mediaType?: string }>;
  tags: string[];
  manifestDigest?: string;
  manifestMediaType?: string;
}

function parseJson<T>(file: ArchiveFile | undefined, what: string): T {
  if (!file || file.text === undefined) throw invalidArgument(`image load: ${what} missing from the archive`);
  try {
    return JSON.parse(file.text) as T;
  } catch (err) {
    throw invalidArgument(`image load: ${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function planImages(files: Map<string, ArchiveFile>): ImagePlan[] {
  const manifestJson = files.get('manifest.json');
  const indexJson = files.get('index.json');
  if (manifestJson) {
    const entries = parseJson<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(manifestJson, 'manifest.json');
    if (!Array.isArray(entries)) throw invalidArgument('image load: manifest.json is not a list of images');
    // The OCI index of a Docker 25+ archive holds the original manifests: keep their digests.
    const ociByConfig = new Map<string, { digest: string; mediaType: string; layerTypes: string[] }>();
    if (indexJson) {
      for (const m of ociManifests(files, parseJson<ImageIndex>(indexJson, 'index.json'))) {
        ociByConfig.set(m.manifest.config.digest, {
          digest: m.digest,
          mediaType: m.mediaType,
          layerTypes: m.manifest.layers.map((l) => l.mediaType),
        });
      }
    }
    return entries.map((e, i) => {
      if (typeof e.Config !== 'string' || !Array.isArray(e.Layers))
        throw invalidArgument(`image load: manifest.json entry ${i} lacks Config or Layers`);
      const cfg = files.get(normPath(e.Config));
      if (!cfg) throw invalidArgument(`image load: manifest.json names config "${e.Config}", which is not in the archive`);
      const layers = e.Layers.map((l) => {
        const f = files.get(normPath(l));
        if (!f) throw invalidArgument(`image load: manifest.json names layer "${l}", which is not in the archive`);
        return { digest: f.digest, size: f.size };
      });
      const oci = ociByConfig.get(cfg.digest);
      const plan: ImagePlan = { configDigest: cfg.digest, configSize: cfg.size, layers, tags: e.RepoTags ?? [] };
      if (oci && oci.layerTypes.length === layers.length) {
        plan.manifestDigest = oci.digest;
        plan.manifestMediaType = oci.mediaType;
        layers.forEach((l, k) => ((l as { mediaType?: string }).mediaType = oci.layerTypes[k]));
      }
      return plan;
    });
  }
  if (indexJson) {
    const index = parseJson<ImageIndex>(indexJson, 'index.json');
    const plans: ImagePlan[] = [];
    for (const m of ociManifests(files, index)) {
      const cfg = files.get(m.manifest.config.digest);
      if (!cfg) throw invalidArgument(`image load: config ${m.manifest.config.digest} is not in the archive`);
      plans.push({
        configDigest: cfg.digest,
        configSize: cfg.size,
        layers: m.manifest.layers.map((l) => {
          if (!files.has(l.digest)) throw invalidArgument(`image load: layer ${l.digest} is not in the archive`);
          return { digest: l.digest, size: l.size, mediaType: l.mediaType };
        }),
        tags: m.tags,
        manifestDigest: m.digest,
        manifestMediaType: m.mediaType,
      });
    }
    return plans;
  }
  throw invalidArgument('image load: the archive has neither manifest.json nor index.json: not a docker save or OCI layout tarball');
}

function normPath(p: string): string {
  return path.posix.normalize(p.replace(/^\.?\//, ''));
}

/** The image manifests an OCI index leads to, with the names its annotations give them. */
function ociManifests(
  files: Map<string, ArchiveFile>,
  index: ImageIndex,
): Array<{ digest: string; mediaType: string; manifest: ImageManifest; tags: string[] }> {
  const out: Array<{ digest: string; mediaType: string; manifest: ImageManifest; tags: string[] }> = [];
  const byDigest = new Map<string, { digest: string; mediaType: string; manifest: ImageManifest; tags: string[] }>();
  const visit = (descs: ImageIndex['manifests'], inheritedTags: string[]) => {
    for (const d of descs ?? []) {
      const tags = [...inheritedTags];
      const full = d.annotations?.['io.containerd.image.name'];
      const refName = d.annotations?.['org.opencontainers.image.ref.name'];
      if (full) tags.push(full);
      else if (refName && /[/:]/.test(refName)) {
        try {
          parseReference(refName);
          tags.push(refName);
        } catch {
          // a bare tag without a repository can't name an image here
        }
      }
      const file = files.get(d.digest);
      if (!file) {
        if (isIndexMediaType(d.mediaType)) throw invalidArgument(`image load: index ${d.digest} is not in the archive`);
        throw invalidArgument(`image load: manifest ${d.digest} is not in the archive`);
      }
      const doc = parseJson<ImageManifest & ImageIndex>(file, `blob ${d.digest}`);
      if (isIndexMediaType(d.mediaType) || isIndexMediaType(doc.mediaType) || Array.isArray(doc.manifests)) {
        const chosen = selectPlatform(doc, hostPlatform());
        const sub = chosen ? [chosen] : doc.manifests.filter((m) => files.has(m.digest)).slice(0, 1);
        if (sub.length === 0) throw invalidArgument(`image load: index ${d.digest} has no manifest for ${hostPlatform().os}/${hostPlatform().architecture}`);
        visit(sub, tags);
        continue;
      }
      const existing = byDigest.get(d.digest);
      if (existing) {
        existing.tags.push(...tags.filter((t) => !existing.tags.includes(t)));
        continue;
      }
      const entry = { digest: d.digest, mediaType: d.mediaType ?? doc.mediaType ?? MediaType.OciManifest, manifest: doc, tags };
      byDigest.set(d.digest, entry);
      out.push(entry);
    }
  };
  visit(index.manifests, []);
  return out;
}

/** Writes the named images as one tarball, readable by `docker load` old and new. */
export async function saveArchive(images: ImageService, names: string[], out: Writable): Promise<void> {
  if (names.length === 0) throw invalidArgument('image save: no image names given');
  const chosen = new Map<string, { record: ImageRecord; tags: string[] }>();
  for (const name of names) {
    const record = images.resolve(name);
    const entry = chosen.get(record.id) ?? { record, tags: [] };
    // Docker saves the tags that were asked for by name, or all tags when asked by ID.
    let asTag: string | undefined;
    try {
      const full = normalizeTag(name);
      if (images.store.allTags()[full] === record.id) asTag = full;
    } catch {
      asTag = undefined;
    }
    const tags = asTag ? [asTag] : images.store.tagsOf(record.id);
    for (const t of tags) if (!entry.tags.includes(t)) entry.tags.push(t);
    chosen.set(record.id, entry);
  }
  const pack = tar.pack();
  const written = new Set<string>();
  const sink = pipeline(pack, out);
  const addFile = (name: string, data: Buffer | string) =>
    new Promise<void>((resolve, reject) => {
      pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve()));
    });
  const addBlob = async (digest: string) => {
    if (written.has(digest)) return;
    written.add(digest);
    const info = await images.content.info(digest);
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name: `blobs/sha256/${digest.slice(7)}`, size: info.size, mode: 0o644, mtime: new Date(0) }, (err) =>
        err ? reject(err) : resolve(),
      );
      pipeline(images.content.readStream(digest, 0, STREAM_CHUNK), entry).catch(reject);
    });
  };
  try {
    const manifestJson: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    for (const { record, tags } of chosen.values()) {
      for (const l of record.layers) await addBlob(l.blobDigest);
      await addBlob(record.id);
      await addBlob(record.manifestDigest);
      const manifestInfo = await images.content.info(record.manifestDigest);
      manifestJson.push({
        Config: `blobs/sha256/${record.id.slice(7)}`,
        RepoTags: tags.map((t) => familiarString(parseReference(t))),
        Layers: record.layers.map((l) => `blobs/sha256/${l.blobDigest.slice(7)}`),
      });
      const desc = { mediaType: record.manifestMediaType, digest: record.manifestDigest, size: manifestInfo.size };
      if (tags.length === 0) index.manifests.push(desc);
      for (const t of tags) {
        const ref = parseReference(t);
        index.manifests.push({
          ...desc,
          annotations: { 'io.containerd.image.name': referenceString(ref), 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' },
        });
      }
      images.events.emit('image', 'save', record.id, { name: tags[0] ? familiarString(parseReference(tags[0])) : record.id });
    }
    await addFile('index.json', JSON.stringify(index));
    await addFile('manifest.json', JSON.stringify(manifestJson));
    await addFile('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    pack.finalize();
    await sink;
  } catch (err) {
    pack.destroy(err as Error);
    await sink.catch(() => undefined);
    throw err;
  }
}

