/**
 * The client side of one HTTP/2 connection (RFC 9113) over a unix socket: just what gRPC calls
 * to the local daemon need. Node's own node:http2 costs every CLI command ~25 ms of start-up (it
 * loads TLS, crypto and HTTP/1 with it, and nghttp2's session setup); this speaks the protocol
 * over node:net instead.
 *
 * Vocabulary: a *session* is the connection; a *stream* is one call on it. A stream's *send
 * window* is how many DATA bytes the server lets us send before it grants more (WINDOW_UPDATE);
 * our *receive window* is the same in the other direction, which we grant as the reader consumes,
 * so a paused reader makes the server wait instead of us buffering. A *header block* is HPACK
 * (RFC 7541): requests are sent as literals without indexing (no encoder state to keep), replies
 * are decoded with the dynamic table the server's encoder keeps in step with ours.
 *
 * Not here, because the daemon never needs them from this client: TLS, server push (disabled in
 * our SETTINGS), priorities (ignored), request trailers.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
// Data-only modules of hpack.js: the static table (RFC 7541 Appendix A) and the Huffman code
// (Appendix B) as [bits, code] per symbol.
import huffman from 'hpack.js/lib/hpack/huffman.js';
import staticTable from 'hpack.js/lib/hpack/static-table.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

/** Error codes (RFC 9113 §7) used here. */
export const H2_NO_ERROR = 0x0;
export const H2_PROTOCOL_ERROR = 0x1;
export const H2_REFUSED_STREAM = 0x7;
export const H2_CANCEL = 0x8;

const DEFAULT_WINDOW = 65_535;
/** The largest frame we accept: the protocol's default, which we never raise. */
const MAX_FRAME = 16_384;
const HEADER_TABLE_SIZE = 4096;

export type Headers = Record<string, string>;

/** One HTTP/2 connection; 'connect' once the socket is up, 'close' when it is gone. */
export class H2Session extends EventEmitter {
  connecting = true;
  /** The socket connected at some point. */
  connected = false;
  /** No new streams: closing, or the server said GOAWAY, or the connection is gone. */
  closed = false;
  destroyed = false;
  /** Why the connection failed or was lost, if it did. */
  error: Error | undefined;
  private readonly socket: net.Socket;
  private readonly streams = new Map<number, H2Stream>();
  private nextStreamId = 1;
  private sendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = MAX_FRAME;
  private unacknowledged = 0;
  private input: Buffer = Buffer.alloc(0);
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[] } | undefined;
  private readonly decoder = new HpackDecoder(HEADER_TABLE_SIZE);
  private corked = false;
  private waitingForDrain: Array<() => void> = [];

  constructor(
    socketPath: string,
    /** Our receive window, per stream and for the connection. */
    readonly receiveWindow: number,
  ) {
    super();
    this.socket = net.connect(socketPath);
    this.socket.on('connect', () => {
      this.connecting = false;
      this.connected = true;
      this.emit('connect');
    });
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('drain', () => this.drained());
    this.socket.on('error', (err) => (this.error ??= err));
    this.socket.on('close', () => this.lost());
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(receiveWindow, 8);
    this.socket.cork();
    this.socket.write(PREFACE);
    this.frame(SETTINGS, 0, 0, settings);
    if (receiveWindow > DEFAULT_WINDOW) this.windowUpdate(0, receiveWindow - DEFAULT_WINDOW);
    this.socket.uncork();
  }

  ref(): void {
    this.socket.ref();
  }

  unref(): void {
    this.socket.unref();
  }

  /** Opens a stream: a POST with these headers, its body to be written. */
  request(headers: Headers): H2Stream {
    if (this.closed) throw new Error('HTTP/2 session is closed');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new H2Stream(this, id, this.peerInitialWindow);
    this.streams.set(id, stream);
    this.frame(HEADERS, END_HEADERS, id, encodeHeaders(headers));
    return stream;
  }

  /** No new streams; the connection ends once those in flight have. */
  close(): void {
    this.closed = true;
    if (this.streams.size === 0) this.socket.end();
  }

  /** @internal A frame to the socket; frames of one tick go out in one write. */
  frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    const head = Buffer.allocUnsafe(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(streamId, 5);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(head);
    if (payload.length > 0) this.socket.write(payload);
  }

  /** @internal Grants the server `n` more bytes on a stream (0: the connection). */
  windowUpdate(streamId: number, n: number): void {
    const body = Buffer.allocUnsafe(4);
    body.writeUInt32BE(n, 0);
    this.frame(WINDOW_UPDATE, 0, streamId, body);
  }

  /** @internal How many DATA bytes a stream may send now, at most `want`. */
  sendable(stream: H2Stream, want: number): number {
    return Math.max(0, Math.min(want, stream.sendWindow, this.sendWindow, this.peerMaxFrame));
  }

  /** @internal */
  sent(n: number): void {
    this.sendWindow -= n;
  }

  /** @internal Runs `fn` once the socket has room again (at once if it has). */
  whenWritable(fn: () => void): void {
    if (this.socket.writableNeedDrain) this.waitingForDrain.push(fn);
    else fn();
  }

  /** @internal A stream is over: forget it; a closing session ends with its last stream. */
  forget(stream: H2Stream): void {
    this.streams.delete(stream.id);
    if (this.closed && this.streams.size === 0 && !this.destroyed) this.socket.end();
  }

  private drained(): void {
    const waiting = this.waitingForDrain;
    this.waitingForDrain = [];
    for (const fn of waiting) fn();
  }

  private receive(chunk: Buffer): void {
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    let at = 0;
    while (this.input.length - at >= 9) {
      const length = this.input.readUIntBE(at, 3);
      if (length > MAX_FRAME) return this.fail(`frame of ${length} bytes exceeds ${MAX_FRAME}`);
      if (this.input.length - at < 9 + length) break;
      const type = this.input[at + 3]!;
      const flags = this.input[at + 4]!;
      const streamId = this.input.readUInt32BE(at + 5) & 0x7fffffff;
      const payload = this.input.subarray(at + 9, at + 9 + length);
      at += 9 + length;
      try {
        this.dispatch(type, flags, streamId, payload);
      } catch (err) {
        return this.fail((err as Error).message);
      }
      if (this.destroyed) return;
    }
    this.input = at === this.input.length ? Buffer.alloc(0) : this.input.subarray(at);
  }

  private dispatch(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerBlock && type !== CONTINUATION) throw new Error('header block interrupted');
    switch (type) {
      case DATA: {
        // Flow control counts the whole frame, padding included.
        this.consumedByConnection(payload.length);
        const body = flags & PADDED ? unpad(payload) : payload;
        this.streams.get(streamId)?.receiveData(body, payload.length, (flags & END_STREAM) !== 0);
        return;
      }
      case HEADERS: {
        let fragment = flags & PADDED ? unpad(payload) : payload;
        if (flags & PRIORITY) fragment = fragment.subarray(5);
        this.headerBlock = { streamId, endStream: (flags & END_STREAM) !== 0, parts: [fragment] };
        if (flags & END_HEADERS) this.headersDone();
        return;
      }
      case CONTINUATION:
        if (!this.headerBlock || this.headerBlock.streamId !== streamId) throw new Error('unexpected CONTINUATION');
        this.headerBlock.parts.push(payload);
        if (flags & END_HEADERS) this.headersDone();
        return;
      case RST_STREAM:
        this.streams.get(streamId)?.reset(payload.readUInt32BE(0));
        return;
      case SETTINGS:
        if (flags & ACK) return;
        this.applySettings(payload);
        this.frame(SETTINGS, ACK, 0, Buffer.alloc(0));
        return;
      case PING:
        if (!(flags & ACK)) this.frame(PING, ACK, 0, payload);
        return;
      case GOAWAY: {
        const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
        this.closed = true;
        for (const stream of [...this.streams.values()]) if (stream.id > lastStreamId) stream.reset(H2_REFUSED_STREAM);
        return;
      }
      case WINDOW_UPDATE: {
        const n = payload.readUInt32BE(0) & 0x7fffffff;
        if (streamId === 0) {
          this.sendWindow += n;
          for (const stream of this.streams.values()) stream.flush();
        } else {
          this.streams.get(streamId)?.grant(n);
        }
        return;
      }
      case PUSH_PROMISE:
        throw new Error('server push was disabled');
      default:
        // Unknown and PRIORITY frames are ignored (RFC 9113 §4.1, §5.3.2).
        return;
    }
  }

  private headersDone(): void {
    const block = this.headerBlock!;
    this.headerBlock = undefined;
    // Decoded even for a stream we no longer know: the table must stay in step with the server's.
    const headers = this.decoder.decode(block.parts.length === 1 ? block.parts[0]! : Buffer.concat(block.parts));
    this.streams.get(block.streamId)?.receiveHeaders(headers, block.endStream);
  }

  private applySettings(payload: Buffer): void {
    for (let i = 0; i + 6 <= payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.grant(delta);
      } else if (id === SETTINGS_MAX_FRAME_SIZE) {
        this.peerMaxFrame = value;
      }
      // SETTINGS_HEADER_TABLE_SIZE bounds the server's decoder: ours never indexes, so no matter.
    }
  }

  private consumedByConnection(n: number): void {
    this.unacknowledged += n;
    if (this.unacknowledged >= this.receiveWindow / 2) {
      this.windowUpdate(0, this.unacknowledged);
      this.unacknowledged = 0;
    }
  }

  /** A protocol error: the connection is unusable. */
  private fail(reason: string): void {
    this.error ??= new Error(`HTTP/2 protocol error: ${reason}`);
    this.frame(GOAWAY, 0, 0, Buffer.from([0, 0, 0, 0, 0, 0, 0, H2_PROTOCOL_ERROR]));
    this.socket.end();
    this.socket.destroy();
  }

  private lost(): void {
    this.connecting = false;
    this.closed = true;
    this.destroyed = true;
    for (const stream of [...this.streams.values()]) stream.connectionLost();
    this.emit('close');
  }
}

/**
 * One stream: 'response' (the first header block), 'data' (Buffers), 'trailers' (a header block
 * after that), 'end' (the server ended its side), 'close' (the stream is over: `rstCode` tells
 * how; `aborted` when the connection went with it).
 */
export class H2Stream extends EventEmitter {
  sendWindow: number;
  rstCode = H2_NO_ERROR;
  aborted = false;
  destroyed = false;
  writableEnded = false;
  private gotHeaders = false;
  private remoteEnded = false;
  private sentEnd = false;
  private paused = false;
  private unacknowledged = 0;
  private readonly queue: Array<{ data: Buffer; end: boolean; done?: () => void }> = [];

  constructor(
    private readonly session: H2Session,
    readonly id: number,
    initialWindow: number,
  ) {
    super();
    this.sendWindow = initialWindow;
  }

  /** Why the connection could not be made, for a stream that never had one. */
  get connectError(): Error | undefined {
    return this.session.connected ? undefined : this.session.error;
  }

  /** Queues body bytes; `done` once they are framed and the socket has room for more. */
  write(data: Buffer, done?: () => void): void {
    if (this.destroyed || this.writableEnded) {
      if (done) process.nextTick(done);
      return;
    }
    this.queue.push({ data, end: false, done });
    this.flush();
  }

  /** Ends our side (END_STREAM), after what was written. */
  end(data?: Buffer): void {
    if (this.destroyed || this.writableEnded) return;
    this.writableEnded = true;
    this.queue.push({ data: data ?? Buffer.alloc(0), end: true });
    this.flush();
  }

  /** Abandons the stream (RST_STREAM with `code`). */
  close(code = H2_CANCEL): void {
    if (this.destroyed) return;
    this.session.frame(RST_STREAM, 0, this.id, u32(code));
    this.reset(code);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.acknowledge(0);
  }

  /** @internal Sends what the windows allow. */
  flush(): void {
    while (this.queue.length > 0 && !this.destroyed) {
      const item = this.queue[0]!;
      if (item.data.length > 0) {
        const n = this.session.sendable(this, item.data.length);
        if (n === 0) return;
        const last = n === item.data.length;
        this.session.frame(DATA, last && item.end ? END_STREAM : 0, this.id, item.data.subarray(0, n));
        this.sendWindow -= n;
        this.session.sent(n);
        item.data = item.data.subarray(n);
        if (!last) continue;
      } else if (item.end) {
        this.session.frame(DATA, END_STREAM, this.id, item.data);
      }
      this.queue.shift();
      if (item.done) this.session.whenWritable(item.done);
      if (item.end) {
        this.sentEnd = true;
        if (this.remoteEnded) this.finish();
      }
    }
  }

  /** @internal */
  grant(n: number): void {
    this.sendWindow += n;
    this.flush();
  }

  /** @internal */
  receiveHeaders(headers: Headers, endStream: boolean): void {
    if (this.destroyed) return;
    if (!this.gotHeaders) {
      this.gotHeaders = true;
      this.emit('response', headers);
    } else {
      this.emit('trailers', headers);
    }
    if (endStream) this.remoteEnd();
  }

  /** @internal `size` is the frame's flow-controlled length (padding included). */
  receiveData(body: Buffer, size: number, endStream: boolean): void {
    if (this.destroyed) return;
    this.acknowledge(size);
    if (body.length > 0) this.emit('data', body);
    if (endStream) this.remoteEnd();
  }

  /** @internal The stream was reset, by the server or by us. */
  reset(code: number): void {
    if (this.destroyed) return;
    this.rstCode = code;
    this.finish();
  }

  /** @internal */
  connectionLost(): void {
    if (this.destroyed) return;
    this.aborted = true;
    this.finish();
  }

  /** Grants the server what the reader took, once a good part of the window is used. */
  private acknowledge(n: number): void {
    this.unacknowledged += n;
    if (this.paused || this.remoteEnded) return;
    if (this.unacknowledged >= this.session.receiveWindow / 2) {
      this.session.windowUpdate(this.id, this.unacknowledged);
      this.unacknowledged = 0;
    }
  }

  private remoteEnd(): void {
    this.remoteEnded = true;
    this.emit('end');
    if (this.sentEnd) this.finish();
  }

  private finish(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue.length = 0;
    this.session.forget(this);
    this.emit('close');
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** A padded frame's payload without its pad length octet and padding. */
function unpad(payload: Buffer): Buffer {
  const pad = payload[0]!;
  if (pad >= payload.length) throw new Error('padding exceeds the frame');
  return payload.subarray(1, payload.length - pad);
}

// --- HPACK ---------------------------------------------------------------------------------------

/** Request headers as literals without indexing (RFC 7541 §6.2.2), names by static index where any. */
export function encodeHeaders(headers: Headers): Buffer {
  const out: number[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const index = STATIC_NAME_INDEX.get(name);
    if (index !== undefined) {
      encodeInt(out, 0x00, 4, index);
    } else {
      out.push(0x00);
      encodeString(out, name);
    }
    encodeString(out, value);
  }
  return Buffer.from(out);
}

function encodeInt(out: number[], flags: number, prefixBits: number, n: number): void {
  const max = (1 << prefixBits) - 1;
  if (n < max) {
    out.push(flags | n);
    return;
  }
  out.push(flags | max);
  n -= max;
  while (n >= 128) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function encodeString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  encodeInt(out, 0x00, 7, bytes.length);
  for (const b of bytes) out.push(b);
}

interface StaticEntry {
  name: string;
  value: string;
}
const STATIC: readonly StaticEntry[] = (staticTable as { table: StaticEntry[] }).table;
const STATIC_NAME_INDEX = new Map<string, number>();
STATIC.forEach((e, i) => {
  if (!STATIC_NAME_INDEX.has(e.name)) STATIC_NAME_INDEX.set(e.name, i + 1);
});

/** Decodes header blocks, keeping the dynamic table (RFC 7541 §2.3.2) across them. */
export class HpackDecoder {
  private readonly dynamic: Array<[string, string]> = [];
  private size = 0;
  private maxSize: number;

  constructor(private readonly limit: number) {
    this.maxSize = limit;
  }

  decode(block: Buffer): Headers {
    const headers: Headers = {};
    const add = (name: string, value: string) => {
      // As Node does: a repeated field's values joined with ', ' (gRPC sends none twice).
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    };
    const r = { at: 0 };
    while (r.at < block.length) {
      const b = block[r.at]!;
      if (b & 0x80) {
        const [name, value] = this.entry(decodeInt(block, r, 7));
        add(name, value);
      } else if (b & 0x40) {
        const index = decodeInt(block, r, 6);
        const name = index === 0 ? decodeString(block, r) : this.entry(index)[0];
        const value = decodeString(block, r);
        this.insert(name, value);
        add(name, value);
      } else if (b & 0x20) {
        const size = decodeInt(block, r, 5);
        if (size > this.limit) throw new Error(`HPACK table size ${size} exceeds ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
      } else {
        // Without indexing (0000) or never indexed (0001): the same to a decoder.
        const index = decodeInt(block, r, 4);
        const name = index === 0 ? decodeString(block, r) : this.entry(index)[0];
        add(name, decodeString(block, r));
      }
    }
    return headers;
  }

  private entry(index: number): readonly [string, string] {
    if (index >= 1 && index <= STATIC.length) {
      const e = STATIC[index - 1]!;
      return [e.name, e.value];
    }
    const e = this.dynamic[index - STATIC.length - 1];
    if (!e) throw new Error(`HPACK index ${index} is not in the table`);
    return e;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    if (size <= this.maxSize) {
      this.dynamic.unshift([name, value]);
      this.size += size;
    }
  }

  /** Drops the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.size + room > this.maxSize) {
      const [name, value] = this.dynamic.pop()!;
      this.size -= name.length + value.length + 32;
    }
  }
}

function decodeInt(buf: Buffer, r: { at: number }, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let n = buf[r.at++]! & max;
  if (n < max) return n;
  let shift = 0;
  for (;;) {
    if (r.at >= buf.length) throw new Error('HPACK integer truncated');
    const b = buf[r.at++]!;
    n += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return n;
    if (shift > 28) throw new Error('HPACK integer too large');
  }
}

function decodeString(buf: Buffer, r: { at: number }): string {
  if (r.at >= buf.length) throw new Error('HPACK string truncated');
  const huffmanCoded = (buf[r.at]! & 0x80) !== 0;
  const length = decodeInt(buf, r, 7);
  if (r.at + length > buf.length) throw new Error('HPACK string truncated');
  const bytes = buf.subarray(r.at, r.at + length);
  r.at += length;
  return huffmanCoded ? huffmanDecode(bytes) : bytes.toString('latin1');
}

/** Huffman code → symbol, one map per code length (the code is at most 30 bits). */
let huffmanByLength: Array<Map<number, number>> | undefined;

function huffmanDecode(bytes: Buffer): string {
  huffmanByLength ??= buildHuffmanTable();
  const out: number[] = [];
  let code = 0;
  let bits = 0;
  for (const byte of bytes) {
    for (let i = 7; i >= 0; i--) {
      code = (code << 1) | ((byte >> i) & 1);
      bits++;
      const symbol = huffmanByLength[bits]?.get(code);
      if (symbol === undefined) {
        if (bits >= 30) throw new Error('HPACK Huffman code invalid');
        continue;
      }
      if (symbol === 256) throw new Error('HPACK Huffman string holds EOS');
      out.push(symbol);
      code = 0;
      bits = 0;
    }
  }
  // Padding: fewer than 8 bits, all ones (the start of EOS).
  if (bits > 7 || code !== (1 << bits) - 1) throw new Error('HPACK Huffman padding invalid');
  return Buffer.from(out).toString('latin1');
}

function buildHuffmanTable(): Array<Map<number, number>> {
  const table: Array<Map<number, number>> = [];
  (huffman as { encode: Array<[number, number]> }).encode.forEach(([bits, code], symbol) => {
    (table[bits] ??= new Map()).set(code, symbol);
  });
  return table;
}
