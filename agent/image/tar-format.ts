/**
 * A byte-exact tar codec for OCI layers: ustar headers, PAX extended headers (path, linkpath,
 * size, uid, gid, mtime, SCHILY.xattr.*) and GNU long names/links. Written here rather than taken
 * from tar-stream because tar-stream decodes PAX values as UTF-8, which corrupts binary xattr values
 * such as `security.capability` (cap_setuid on newuidmap has byte 0x80), and because a layer's
 * diffID needs every byte, trailing padding included, to be hashed while the archive is read.
 */

import { noteTransientBytes } from '../../common/transient';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarHeader {
  /** As stored in the archive (PAX/GNU long name applied), not yet normalised. */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Body length; 0 for everything but regular files. */
  size: number;
  /** Seconds since the epoch, possibly fractional (PAX). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.NAME` records, values byte-exact. */
  xattrs: Map<string, Buffer>;
}

export const BLOCK = 512;
const MAX_EXTENDED_HEADER = 1 << 20;
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A malformed archive; the reader's caller adds the layer's name. */
export class TarFormatError extends Error {
  constructor(
    message: string,
    readonly truncated = false,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- reading

/**
 * Pulls bytes from an async iterable without copying: headers come out as 512-byte views, bodies
 * as views into the chunks the source produced. Every byte pulled is shown to `onBytes` first, so
 * a hash over it covers exactly the stream.
 */
export class ByteSource {
  private chunk: Buffer = Buffer.alloc(0);
  private offset = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly onBytes: (chunk: Buffer) => void,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private get available(): number {
    return this.chunk.length - this.offset;
  }

  private async fill(): Promise<boolean> {
    while (!this.ended) {
      const r = await this.iterator.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      const view = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      if (view.length === 0) continue;
      noteTransientBytes(view.length);
      this.onBytes(view);
      this.chunk = view;
      this.offset = 0;
      return true;
    }
    return false;
  }

  /** Exactly n bytes, or null when the stream ended before the first of them. */
  async readExact(n: number): Promise<Buffer | null> {
    if (this.available >= n) {
      const out = this.chunk.subarray(this.offset, this.offset + n);
      this.offset += n;
      return out;
    }
    const parts: Buffer[] = [];
    let missing = n;
    while (missing > 0) {
      if (this.available === 0 && !(await this.fill())) {
        if (missing === n) return null;
        throw new TarFormatError('unexpected end of data', true);
      }
      const take = Math.min(missing, this.available);
      parts.push(this.chunk.subarray(this.offset, this.offset + take));
      this.offset += take;
      missing -= take;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** n bytes as a sequence of views; the stream ending early is a truncation. */
  async *read(n: number): AsyncGenerator<Buffer> {
    let missing = n;
    while (missing > 0) {
      if (this.available === 0 && !(await this.fill())) throw new TarFormatError('unexpected end of data', true);
      const take = Math.min(missing, this.available);
      const out = this.chunk.subarray(this.offset, this.offset + take);
      this.offset += take;
      missing -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.read(n));
  }

  /** Reads to the end so the hash covers bytes after the end-of-archive marker too. */
  async drain(): Promise<void> {
    this.offset = this.chunk.length;
    while (await this.fill()) this.offset = this.chunk.length;
  }

  /** Stops the source (destroys an underlying stream) after a failure. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function parseNumber(b: Buffer, field: string): number {
  // GNU base-256: the high bit of the first byte marks a big-endian binary number.
  if (b.length > 0 && (b[0]! & 0x80) !== 0) {
    if ((b[0]! & 0x40) !== 0) throw new TarFormatError(`negative ${field} in header`);
    let v = b[0]! & 0x3f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw new TarFormatError(`${field} out of range in header`);
    return v;
  }
  let s = 0;
  while (s < b.length && (b[s] === 0x20 || b[s] === 0)) s++;
  let v = 0;
  let i = s;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  for (; i < b.length; i++) {
    if (b[i] !== 0 && b[i] !== 0x20) throw new TarFormatError(`invalid ${field} in header`);
  }
  return v;
}

function cString(b: Buffer): Buffer {
  const end = b.indexOf(0);
  return end === -1 ? b : b.subarray(0, end);
}

function decodeName(b: Buffer): string {
  try {
    return utf8Strict.decode(b);
  } catch {
    throw new TarFormatError(`entry name is not valid UTF-8: ${JSON.stringify(b.toString('latin1'))}`);
  }
}

function checksumMatches(h: Buffer): boolean {
  let stored: number;
  try {
    stored = parseNumber(h.subarray(148, 156), 'checksum');
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs: Map<string, Buffer>;
}

function parsePax(body: Buffer): PaxRecords {
  const out: PaxRecords = { xattrs: new Map() };
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space === -1) break;
    const len = Number(body.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= space - pos + 1 || pos + len > body.length || body[pos + len - 1] !== 0x0a) {
      throw new TarFormatError('malformed PAX record');
    }
    const record = body.subarray(space + 1, pos + len - 1);
    pos += len;
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new TarFormatError('malformed PAX record');
    const key = decodeName(record.subarray(0, eq));
    const value = record.subarray(eq + 1);
    const num = (): number => {
      const n = Number(value.toString('latin1'));
      if (!Number.isFinite(n)) throw new TarFormatError(`malformed PAX ${key}`);
      return n;
    };
    if (key === 'path') out.path = decodeName(value);
    else if (key === 'linkpath') out.linkpath = decodeName(value);
    else if (key === 'size') out.size = num();
    else if (key === 'uid') out.uid = num();
    else if (key === 'gid') out.gid = num();
    else if (key === 'mtime') out.mtime = num();
    else if (key.startsWith('SCHILY.xattr.')) out.xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
    else if (key.startsWith('GNU.sparse.')) throw new TarFormatError('sparse files are not supported');
  }
  return out;
}

/**
 * Reads a tar archive entry by entry. After `next()` returns a header, its body (size bytes) may
 * be read with `body()`; an unread body is skipped by the following `next()`.
 */
export class TarReader {
  private pendingSkip = 0;
  private bodyRemaining = 0;
  /** Byte offset of the current header in the archive, for messages. */
  offset = 0;
  private position = 0;

  constructor(private readonly src: ByteSource) {}

  private async readBlock(): Promise<Buffer | null> {
    const b = await this.src.readExact(BLOCK);
    if (b) this.position += BLOCK;
    return b;
  }

  private async readExtended(size: number, what: string): Promise<Buffer> {
    if (size > MAX_EXTENDED_HEADER) throw new TarFormatError(`${what} of ${size} bytes is too large`);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const b = await this.src.readExact(padded);
    if (!b && padded > 0) throw new TarFormatError('unexpected end of data', true);
    this.position += padded;
    return Buffer.from((b ?? Buffer.alloc(0)).subarray(0, size));
  }

  /** The next entry, or null at the end-of-archive marker. A stream ending without one is truncated. */
  async next(): Promise<TarHeader | null> {
    const skip = this.pendingSkip + this.bodyRemaining;
    if (skip > 0) {
      await this.src.skip(skip);
      this.position += skip;
    }
    this.pendingSkip = 0;
    this.bodyRemaining = 0;

    let pax: PaxRecords | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      this.offset = this.position;
      const h = await this.readBlock();
      if (!h) throw new TarFormatError('unexpected end of data (no end-of-archive marker)', true);
      if (isZeroBlock(h)) {
        if (pax || longName !== undefined || longLink !== undefined) throw new TarFormatError('extended header without an entry');
        return null;
      }
      if (!checksumMatches(h)) {
        throw new TarFormatError(`invalid header checksum at offset ${this.offset} (not a tar archive, or corrupt)`);
      }
      const flag = h[156]!;
      const size = parseNumber(h.subarray(124, 136), 'size');
      switch (String.fromCharCode(flag)) {
        case 'x':
          pax = parsePax(await this.readExtended(size, 'PAX header'));
          continue;
        case 'g':
          // Global PAX headers carry archive comments (git archive); nothing in them applies here.
          await this.readExtended(size, 'PAX global header');
          continue;
        case 'L':
          longName = decodeName(cString(await this.readExtended(size, 'GNU long name')));
          continue;
        case 'K':
          longLink = decodeName(cString(await this.readExtended(size, 'GNU long link')));
          continue;
      }

      const isUstar = h.toString('latin1', 257, 263) === 'ustar\0';
      let name = decodeName(cString(h.subarray(0, 100)));
      if (isUstar && h[345] !== 0) name = `${decodeName(cString(h.subarray(345, 500)))}/${name}`;
      let type: TarEntryType;
      switch (String.fromCharCode(flag)) {
        case '0':
        case '\0':
        case '7':
          type = name.endsWith('/') ? 'directory' : 'file';
          break;
        case '1':
          type = 'hardlink';
          break;
        case '2':
          type = 'symlink';
          break;
        case '3':
          type = 'char';
          break;
        case '4':
          type = 'block';
          break;
        case '5':
          type = 'directory';
          break;
        case '6':
          type = 'fifo';
          break;
        default:
          throw new TarFormatError(
            `entry ${JSON.stringify(longName ?? pax?.path ?? name)}: unsupported tar entry type ${JSON.stringify(String.fromCharCode(flag))}`,
          );
      }
      const header: TarHeader = {
        name: pax?.path ?? longName ?? name,
        type,
        mode: parseNumber(h.subarray(100, 108), 'mode') & 0o7777,
        uid: pax?.uid ?? parseNumber(h.subarray(108, 116), 'uid'),
        gid: pax?.gid ?? parseNumber(h.subarray(116, 124), 'gid'),
        size: pax?.size ?? size,
        mtime: pax?.mtime ?? parseNumber(h.subarray(136, 148), 'mtime'),
        linkname: pax?.linkpath ?? longLink ?? decodeName(cString(h.subarray(157, 257))),
        devmajor: parseNumber(h.subarray(329, 337), 'devmajor'),
        devminor: parseNumber(h.subarray(337, 345), 'devminor'),
        xattrs: pax?.xattrs ?? new Map(),
      };
      // Only regular files have a body; for other types the size field is ignored, as Go's
      // archive/tar (which wrote most layers in existence) does.
      const bodySize = type === 'file' ? header.size : 0;
      header.size = bodySize;
      this.bodyRemaining = header.size;
      this.pendingSkip = bodySize - header.size + ((BLOCK - (bodySize % BLOCK)) % BLOCK);
      return header;
    }
  }

  /** The current entry's body as views into the source's chunks (valid until consumed). */
  async *body(): AsyncGenerator<Buffer> {
    const n = this.bodyRemaining;
    this.bodyRemaining = 0;
    let left = n;
    try {
      for await (const chunk of this.src.read(n)) {
        left -= chunk.length;
        this.position += chunk.length;
        yield chunk;
      }
    } finally {
      // An abandoned body is skipped by the next call to next().
      this.bodyRemaining = left;
    }
  }
}

// ---------------------------------------------------------------- writing

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

function writeOctal(buf: Buffer, offset: number, width: number, value: number): boolean {
  // width includes the terminating NUL
  const s = value.toString(8);
  if (value < 0 || !Number.isInteger(value) || s.length > width - 1) return false;
  buf.write(s.padStart(width - 1, '0'), offset, 'latin1');
  buf[offset + width - 1] = 0;
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length prefix counts its own digits.
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

function splitUstarName(name: string): { prefix: string; name: string } | null {
  if (!isAscii(name)) return null;
  if (name.length <= 100) return { prefix: '', name };
  // Split at a '/' so that prefix ≤ 155 and name ≤ 100.
  for (let i = name.length - 1; i >= 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (rest.length > 100) return null;
    if (prefix.length <= 155 && rest.length > 0) return { prefix, name: rest };
  }
  return null;
}

function ustarBlock(
  h: Pick<TarHeader, 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'devmajor' | 'devminor'> & {
    name: string;
    prefix: string;
    linkname: string;
    typeflag: string;
  },
): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, h.uid) || writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, h.gid) || writeOctal(b, 116, 8, 0);
  writeOctal(b, 124, 12, h.size) || writeOctal(b, 124, 12, 0);
  writeOctal(b, 136, 12, h.mtime) || writeOctal(b, 136, 12, 0);
  b.write(h.typeflag, 156, 1, 'latin1');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(b, 329, 8, h.devmajor);
  writeOctal(b, 337, 8, h.devminor);
  b.write(h.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/**
 * The header block(s) for one entry: a ustar block, preceded by a PAX header when a name, a link
 * target or a number does not fit, or when there are xattrs. Output is a pure function of the
 * header, so equal trees give byte-equal archives. A directory's name gets its trailing '/'.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const mtime = Math.floor(h.mtime);
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const records: Buffer[] = [];
  const split = splitUstarName(name);
  if (!split) records.push(paxRecord('path', Buffer.from(name, 'utf8')));
  const linkFits = isAscii(h.linkname) && h.linkname.length <= 100;
  if (!linkFits) records.push(paxRecord('linkpath', Buffer.from(h.linkname, 'utf8')));
  const fitsOctal = (v: number, width: number): boolean => v >= 0 && Number.isInteger(v) && v.toString(8).length < width;
  if (!fitsOctal(h.uid, 8)) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (!fitsOctal(h.gid, 8)) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (!fitsOctal(h.size, 12)) records.push(paxRecord('size', Buffer.from(String(h.size))));
  if (!fitsOctal(mtime, 12)) records.push(paxRecord('mtime', Buffer.from(String(mtime))));
  for (const key of [...h.xattrs.keys()].sort()) {
    records.push(paxRecord(`SCHILY.xattr.${key}`, h.xattrs.get(key)!));
  }
  const main = ustarBlock({
    ...h,
    mtime,
    name: split ? split.name : name.slice(0, 100).replace(/[^\x00-\x7f]/g, '_'),
    prefix: split ? split.prefix : '',
    linkname: linkFits ? h.linkname : '',
    typeflag: TYPEFLAG[h.type],
  });
  if (records.length === 0) return main;
  const paxBody = Buffer.concat(records);
  const paxHeader = ustarBlock({
    name: 'PaxHeader',
    prefix: '',
    linkname: '',
    typeflag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: paxBody.length,
    mtime: 0,
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, paxBody, Buffer.alloc(padding(paxBody.length)), main]);
}

export const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** Two zero blocks close an archive. */
export const endOfArchive = (): Buffer => Buffer.alloc(2 * BLOCK);
