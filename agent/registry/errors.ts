/**
 * Registry error bodies (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":…}]}`) turned into
 * our error kinds with the words Docker prints for them, e.g.
 * `manifest for busybox:1.0 not found: manifest unknown: manifest unknown`.
 */
import { TsError, failedPrecondition, notFound, unavailable } from '../../common/errors';
import { parseWwwAuthenticate } from './auth';
import { familiarName, familiarString, type Reference } from './reference';
import type { HttpResponse } from './transport';

export interface RegistryErrorDetail {
  code: string;
  message: string;
}

/** The first error a registry reported, with the OAuth `error=` of a Bearer challenge first. */
export function errorDetailOf(res: HttpResponse, body: Buffer): RegistryErrorDetail | undefined {
  if (res.status === 401 || res.status === 403) {
    for (const c of parseWwwAuthenticate(headerText(res.headers['www-authenticate']))) {
      if (c.scheme !== 'bearer') continue;
      if (c.params.error === 'insufficient_scope')
        return { code: 'DENIED', message: c.params.error_description || 'requested access to the resource is denied' };
      if (c.params.error === 'invalid_token')
        return { code: 'UNAUTHORIZED', message: c.params.error_description || 'authentication required' };
    }
  }
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    const first = parsed.errors?.[0];
    if (first?.code) return { code: first.code, message: first.message ?? '' };
  } catch {
    // Not a registry error body (a proxy's HTML page, an empty 404): the status speaks.
  }
  return undefined;
}

export function headerText(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h.join(', ') : h;
}

/** `manifest unknown: manifest unknown`, as distribution's errcode prints itself. */
export function formatDetail(d: RegistryErrorDetail): string {
  return `${d.code.toLowerCase().replace(/_/g, ' ')}: ${d.message}`;
}

export function unexpectedStatus(res: HttpResponse): TsError {
  return unavailable(`received unexpected HTTP status: ${res.status} ${res.statusText}`.trimEnd());
}

/** A registry answer to a request made for a pull of `ref`, in Docker's words. */
export function pullError(res: HttpResponse, body: Buffer, ref: Reference): TsError {
  const d = errorDetailOf(res, body);
  if (!d) {
    if (res.status === 404) return notFound(`manifest for ${familiarString(ref)} not found: manifest unknown`);
    if (res.status === 401) return failedPrecondition('unauthorized: authentication required');
    return unexpectedStatus(res);
  }
  switch (d.code) {
    case 'DENIED':
      return notFound(
        `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${formatDetail(d)}`,
      );
    case 'MANIFEST_UNKNOWN':
      return notFound(`manifest for ${familiarString(ref)} not found: ${formatDetail(d)}`);
    case 'NAME_UNKNOWN':
      return notFound(`repository ${familiarName(ref)} not found: ${formatDetail(d)}`);
    default:
      return genericError(res, d);
  }
}

/** A registry answer to any other request (push, tags, blob), in Docker's words. */
export function registryError(res: HttpResponse, body: Buffer): TsError {
  const d = errorDetailOf(res, body);
  if (!d) {
    if (res.status === 401) return failedPrecondition('unauthorized: authentication required');
    return unexpectedStatus(res);
  }
  return genericError(res, d);
}

function genericError(res: HttpResponse, d: RegistryErrorDetail): TsError {
  const text = formatDetail(d);
  if (res.status === 404 || d.code.endsWith('_UNKNOWN')) return notFound(text);
  if (res.status === 401 || res.status === 403 || d.code === 'DENIED' || d.code === 'UNAUTHORIZED')
    return failedPrecondition(text);
  if (res.status >= 500 || res.status === 429) return unavailable(text);
  return failedPrecondition(text);
}
