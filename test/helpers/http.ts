/** Small helpers for tests that reach containers from the host (always on 127.0.0.1). */
import * as http from 'node:http';
import * as net from 'node:net';

/** GETs a URL and resolves with the body; fails after 2 s without an answer. */
export function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve(body));
    });
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Runs `fn` until it succeeds, `tries` times with 150 ms between, then throws its last error. */
export async function retry<T>(fn: () => Promise<T>, tries = 50): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw last;
}

/** A TCP port free on 127.0.0.1 right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
