/**
 * The CLI's HTTP/2 client (common/rpc/h2-session.ts) against Node's own HTTP/2 server (nghttp2,
 * what grpc-js serves with): header blocks with Huffman coding and the dynamic table, trailers,
 * flow control both ways beyond the default 64 KB windows, resets, and a server that goes away.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { H2_CANCEL, H2Session, type H2Stream, type Headers } from '../../common/rpc/h2-session';
import { H2Client, type MethodDefinition } from '../../common/rpc/h2-client';

const dir = mkdtempSync(path.join(tmpdir(), 'tsc-h2-'));
const sock = path.join(dir, 'h2.sock');
let server: http2.Http2Server;
const sessions: H2Session[] = [];
const serverSessions: http2.ServerHttp2Session[] = [];

before(async () => {
  server = http2.createServer();
  server.on('session', (session) => serverSessions.push(session));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined); // the reset and dropped-connection cases
    const route = headers[':path'];
    if (route === '/echo') {
      // Echoes the body back, then trailers: exercises both windows.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-request-te': String(headers['te']) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'done' }));
      stream.pipe(stream);
    } else if (route === '/headers') {
      // The same long values twice: the second reply is indexed from the dynamic table.
      const value = 'Ünïcode and ascii: image store: No such image: busybox:latest %s';
      stream.respond({ ':status': 200, 'x-long': value, 'x-digits': '0123456789'.repeat(20) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '5', 'grpc-message': encodeURI('No such image: x:y') }));
      stream.end('body');
      stream.resume();
    } else if (route === '/big') {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(1 << 20, 7));
      stream.resume();
    } else if (route === '/reset') {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    } else if (route === '/hang') {
      stream.respond({ ':status': 200 });
    }
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
});

after(async () => {
  for (const s of sessions) s.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function open(window = 65_535): H2Session {
  const s = new H2Session(sock, window);
  sessions.push(s);
  return s;
}

interface Reply {
  headers: Headers;
  trailers?: Headers;
  body: Buffer;
  rstCode: number;
  aborted: boolean;
}

function collect(stream: H2Stream, pauseFor = 0): Promise<Reply> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let headers: Headers = {};
    let trailers: Headers | undefined;
    stream.on('response', (h: Headers) => (headers = h));
    stream.on('trailers', (t: Headers) => (trailers = t));
    stream.on('data', (b: Buffer) => parts.push(b));
    if (pauseFor > 0) {
      stream.pause();
      setTimeout(() => stream.resume(), pauseFor);
    }
    stream.on('close', () => resolve({ headers, trailers, body: Buffer.concat(parts), rstCode: stream.rstCode, aborted: stream.aborted }));
  });
}

test('a 3 MB body goes up and comes back through 64 KB windows, with headers and trailers', async () => {
  const s = open();
  const stream = s.request({ ':method': 'POST', ':scheme': 'http', ':path': '/echo', ':authority': 'localhost', te: 'trailers' });
  const reply = collect(stream);
  const body = Buffer.alloc(3 << 20);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  let written = 0;
  for (let at = 0; at < body.length; at += 1 << 18) {
    await new Promise<void>((resolve) => stream.write(body.subarray(at, at + (1 << 18)), resolve));
    written += 1 << 18;
  }
  stream.end();
  const r = await reply;
  assert.equal(written, body.length);
  assert.equal(r.headers[':status'], '200');
  assert.equal(r.headers['content-type'], 'application/grpc');
  assert.equal(r.headers['x-request-te'], 'trailers');
  assert.deepEqual(r.trailers, { 'grpc-status': '0', 'grpc-message': 'done' });
  assert.ok(r.body.equals(body), 'the echo is the body, byte for byte');
});

test('Huffman-coded and dynamically indexed header values decode as sent, twice in a row', async () => {
  const s = open();
  for (let i = 0; i < 2; i++) {
    const stream = s.request({ ':method': 'POST', ':scheme': 'http', ':path': '/headers', ':authority': 'localhost' });
    stream.end();
    const r = await collect(stream);
    // Node sends a header value's characters as latin1 bytes, and that is how they come back.
    assert.equal(r.headers['x-long'], 'Ünïcode and ascii: image store: No such image: busybox:latest %s');
    assert.equal(r.headers['x-digits'], '0123456789'.repeat(20));
    assert.equal(r.trailers?.['grpc-status'], '5');
    assert.equal(decodeURI(r.trailers?.['grpc-message'] ?? ''), 'No such image: x:y');
    assert.equal(r.body.toString(), 'body');
  }
});

test('a paused reader gets all of a 1 MB reply once resumed (its window is granted as it reads)', async () => {
  const s = open(65_535);
  const stream = s.request({ ':method': 'POST', ':scheme': 'http', ':path': '/big', ':authority': 'localhost' });
  stream.end();
  const r = await collect(stream, 200);
  assert.equal(r.body.length, 1 << 20);
  assert.ok(r.body.every((b) => b === 7));
});

test('a reset from the server closes the stream with its code; our own reset cancels', async () => {
  const s = open();
  const refused = s.request({ ':method': 'POST', ':scheme': 'http', ':path': '/reset', ':authority': 'localhost' });
  refused.end();
  assert.equal((await collect(refused)).rstCode, http2.constants.NGHTTP2_REFUSED_STREAM);
  const hanging = s.request({ ':method': 'POST', ':scheme': 'http', ':path': '/hang', ':authority': 'localhost' });
  const done = collect(hanging);
  setTimeout(() => hanging.close(), 50);
  assert.equal((await done).rstCode, H2_CANCEL);
});

test('a stream open when the connection drops closes as aborted; a missing socket is a connect error', async () => {
  const s = open();
  const stream = s.request({ ':method': 'POST', ':scheme': 'http', ':path': '/hang', ':authority': 'localhost' });
  const done = collect(stream);
  stream.once('response', () => {
    for (const session of serverSessions) session.destroy();
  });
  const r = await done;
  assert.equal(r.aborted, true);
  assert.equal(stream.connectError, undefined, 'it had connected');

  const missing = new H2Session(path.join(dir, 'nobody.sock'), 65_535);
  const lost = missing.request({ ':method': 'POST', ':scheme': 'http', ':path': '/x', ':authority': 'localhost' });
  const m = await collect(lost);
  assert.equal(m.aborted, true);
  assert.match(lost.connectError?.message ?? '', /ENOENT/);
});

test('an H2Client made via another calls over that one\'s connection, and over its own once that one is closed', async () => {
  // /echo returns the framed request as the reply, with grpc-status 0: a unary call of bytes.
  const echo = (name: string): Record<string, MethodDefinition> => ({
    [name]: { path: '/echo', requestStream: false, responseStream: false, requestSerialize: (v) => Buffer.from(String(v)), responseDeserialize: (b) => b.toString() },
  });
  const call = (c: H2Client, name: string, req: string) =>
    new Promise<unknown>((resolve, reject) => (c[name] as (r: unknown, cb: (e: Error | null, r?: unknown) => void) => void)(req, (e, r) => (e ? reject(e) : resolve(r))));
  const before = serverSessions.length;
  const engine = new H2Client(sock, echo('Engine'));
  const manager = new H2Client(sock, echo('Manager'), {}, engine);
  try {
    assert.equal(await call(engine, 'Engine', 'one'), 'one');
    assert.equal(await call(manager, 'Manager', 'two'), 'two');
    assert.equal(serverSessions.length - before, 1, 'both calls on one connection');
    engine.close();
    assert.equal(await call(manager, 'Manager', 'three'), 'three');
    assert.equal(serverSessions.length - before, 2, 'its own connection once the other is closed');
  } finally {
    engine.close();
    manager.close();
  }
});
