/**
 * `image import`: a root filesystem tarball becomes a one-layer image, with `--change`
 * instructions (a subset of Dockerfile instructions) applied to its config, as `docker import`.
 */
import { PassThrough, Readable } from 'node:stream';
import { invalidArgument, TsError } from '../../common/errors';
import { putBlob } from './content';
import { MediaType, hostPlatform, parsePlatform, type ContainerConfig, type ImageConfig, type ImageManifest } from './oci';
import type { ImageService } from './service';
import { familiarString, normalizeTag, parseReference, type ImageRecord } from './store';

export interface ImportOptions {
  changes: string[];
  reference?: string;
  message?: string;
  platform?: string;
  /** Where the tarball came from, for the history comment (`-` for stdin). */
  source?: string;
}

const ALLOWED_CHANGES = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL'];

/** Applies `--change` instructions to a container config, as Docker's import and commit do. */
export function applyChanges(config: ContainerConfig, changes: string[]): ContainerConfig {
  const c: ContainerConfig = structuredClone(config);
  for (const raw of changes) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(\S+)\s*(.*)$/s.exec(line);
    const word = m?.[1]?.toUpperCase() ?? '';
    const rest = (m?.[2] ?? '').trim();
    if (!ALLOWED_CHANGES.includes(word))
      throw invalidArgument(`${word.toLowerCase() || line} is not a valid change command`);
    if (!rest) throw invalidArgument(`${word} requires at least one argument`);
    switch (word) {
      case 'CMD':
        c.Cmd = execOrShell(rest, word);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = execOrShell(rest, word);
        break;
      case 'ENV':
        for (const [k, v] of keyValues(rest, word)) {
          c.Env = (c.Env ?? []).filter((e) => e.split('=')[0] !== k);
          c.Env.push(`${k}=${v}`);
        }
        break;
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, word)) c.Labels[k] = v;
        break;
      case 'EXPOSE':
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of rest.split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw invalidArgument(`EXPOSE: invalid port "${p}"`);
          c.ExposedPorts[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        break;
      case 'USER':
        c.User = rest;
        break;
      case 'WORKDIR':
        c.WorkingDir = rest.startsWith('/') ? rest : `${c.WorkingDir || '/'}${(c.WorkingDir || '/').endsWith('/') ? '' : '/'}${rest}`;
        break;
      case 'VOLUME':
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of rest.startsWith('[') ? parseJsonArray(rest, word) : rest.split(/\s+/)) c.Volumes[v] = {};
        break;
      case 'STOPSIGNAL':
        c.StopSignal = rest;
        break;
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), rest];
        break;
    }
  }
  return c;
}

function execOrShell(rest: string, word: string): string[] {
  if (rest.startsWith('[')) {
    try {
      return parseJsonArray(rest, word);
    } catch {
      // Docker falls back to shell form when the JSON doesn't parse.
    }
  }
  return ['/bin/sh', '-c', rest];
}

function parseJsonArray(s: string, word: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw invalidArgument(`${word}: invalid JSON array: ${s}`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidArgument(`${word}: expected a JSON array of strings`);
  return v;
}

/** `K=V K2="v 2"` or the legacy `K V` form. */
function keyValues(rest: string, word: string): Array<[string, string]> {
  if (!rest.includes('=')) {
    const m = /^(\S+)\s+(.*)$/s.exec(rest);
    if (!m) throw invalidArgument(`${word} needs a value: ${rest}`);
    return [[m[1]!, m[2]!]];
  }
  const out: Array<[string, string]> = [];
  const re = /([^\s=]+)=("((?:\\.|[^"\\])*)"|'([^']*)'|(\S*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rest))) {
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? m[5] ?? '');
    out.push([m[1]!, value]);
  }
  if (out.length === 0) throw invalidArgument(`${word}: cannot parse "${rest}"`);
  return out;
}

export async function importImage(images: ImageService, source: Readable, opts: ImportOptions): Promise<string> {
  const input = await nonEmpty(source);
  const config0 = applyChanges({}, opts.changes);
  const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const tag = opts.reference ? normalizeTag(opts.reference) : undefined;
  const leased: string[] = [];
  const lease = (d: string) => {
    images.leases.add(d);
    leased.push(d);
  };
  // One pass over the input feeds both the blob (as given, maybe gzip) and the unpacker.
  // Object mode: their readers get the chunks as they came, where a byte stream would join what
  // it holds into one new Buffer of up to its high-water mark (see STREAM_CHUNK).
  const toBlob = new PassThrough({ objectMode: true, highWaterMark: 8 });
  const toUnpack = new PassThrough({ objectMode: true, highWaterMark: 8 });
  input.on('data', (chunk: Buffer) => {
    const a = toBlob.write(chunk);
    const b = toUnpack.write(chunk);
    if (!a || !b) {
      input.pause();
      let waiting = (a ? 0 : 1) + (b ? 0 : 1);
      const resume = () => {
        if (--waiting === 0) input.resume();
      };
      if (!a) toBlob.once('drain', resume);
      if (!b) toUnpack.once('drain', resume);
    }
  });
  input.on('end', () => {
    toBlob.end();
    toUnpack.end();
  });
  input.on('error', (e) => {
    toBlob.destroy(e);
    toUnpack.destroy(e);
  });
  const writer = await images.content.writer(`import-${process.pid}-${Math.random()}`);
  const blobDone = (async () => {
    for await (const chunk of toBlob) await writer.write(chunk as Buffer);
    return writer.commit();
  })();
  try {
    const [blob, layer] = await Promise.all([blobDone, images.snapshots.applyLayer(toUnpack, undefined, `of ${opts.source ?? 'the imported tarball'}`)]);
    lease(blob.digest);
    lease(layer.diffId);
    const gz = blob.digest !== layer.diffId;
    const now = new Date().toISOString();
    const config: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created: now,
      config: config0,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: now, created_by: '', comment: opts.message || `Imported from ${opts.source ?? '-'}` }],
    };
    const cfgInfo = await putBlob(images.content, JSON.stringify(config));
    lease(cfgInfo.digest);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfgInfo.digest, size: cfgInfo.size },
      layers: [{ mediaType: gz ? MediaType.OciLayerGzip : MediaType.OciLayer, digest: blob.digest, size: blob.size }],
    };
    const mInfo = await putBlob(images.content, JSON.stringify(manifest));
    lease(mInfo.digest);
    const record: ImageRecord = {
      id: cfgInfo.digest,
      manifestDigest: mInfo.digest,
      manifestMediaType: MediaType.OciManifest,
      repoDigests: [],
      created: Date.parse(now),
      layers: [{ diffId: layer.diffId, blobDigest: blob.digest, blobSize: blob.size, mediaType: manifest.layers[0]!.mediaType }],
      size: layer.size,
    };
    await images.store.put(record, tag ? [tag] : []);
    images.events.emit('image', 'import', record.id, { name: tag ? familiarString(parseReference(tag)) : record.id });
    return record.id;
  } catch (err) {
    await writer.abort().catch(() => undefined);
    for (const d of leased) images.leases.delete(d);
    await images.gc();
    if (err instanceof TsError) throw err;
    throw invalidArgument(`image import: ${(err as Error).message}`);
  } finally {
    for (const d of leased) images.leases.delete(d);
  }
}

/** The same stream, after checking that it has at least one byte. */
async function nonEmpty(source: Readable): Promise<Readable> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  if (first.done || first.value.length === 0) throw invalidArgument('image import: the tarball is empty');
  return Readable.from(
    (async function* () {
      yield first.value;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    })(),
    { objectMode: false },
  );
}
