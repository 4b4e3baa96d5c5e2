/**
 * A GET that follows redirects, over http or https, trusting the CAs of tls-trust: what `ADD
 * <url>` and remote build contexts download with. Node's fetch trusts node's own CA list only.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { secureContextFor } from './tls-trust';

export interface HttpGetResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  /** The body, to read or to drop (`resume()`). */
  body: http.IncomingMessage;
}

/** Resolves with the first answer that is not a redirect (at most `redirects` are followed). */
export async function httpGet(url: string, redirects = 20): Promise<HttpGetResponse> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  if (!secure && target.protocol !== 'http:') throw new Error(`unsupported protocol ${target.protocol}`);
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    // `secureContext` reaches tls.connect, as https.Agent's options do; RequestOptions' type omits
    // it. Made only for https: it reads and parses the CA bundle.
    const req = secure ? https.get(target, { secureContext: secureContextFor() } as https.RequestOptions, resolve) : http.get(target, resolve);
    req.on('error', reject);
  });
  const status = res.statusCode ?? 0;
  const location = res.headers.location;
  if (status >= 300 && status < 400 && status !== 304 && location !== undefined) {
    res.resume();
    if (redirects <= 0) throw new Error(`too many redirects (last to ${location})`);
    return httpGet(new URL(location, target).toString(), redirects - 1);
  }
  return { status, statusText: res.statusMessage ?? '', headers: res.headers, body: res };
}
