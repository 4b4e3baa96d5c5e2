/**
 * Image references, with Docker's grammar (distribution/reference) and its normalisation rules:
 * `busybox` is `docker.io/library/busybox:latest`, `user/app:1.0` is `docker.io/user/app:1.0`.
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path-component ( "/" path-component )*
 *
 * The first component is a domain only when it looks like one (contains `.` or `:`, or is
 * `localhost`, or has uppercase letters): `user/app` is a Hub repository, `host:5000/app` is not.
 */
import { invalidArgument } from '../../common/errors';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** The host that serves the Registry API for `docker.io` references. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** The key Docker's `config.json` stores Hub credentials under. */
export const DOCKER_HUB_INDEX_SERVER = 'https://index.docker.io/v1/';

const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6})(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const PATH_RE = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const DOMAIN_RE = new RegExp(`^${domain}$`);
const TAG_RE = new RegExp(`^${tag}$`);
const DIGEST_RE = new RegExp(`^${digest}$`);
const ANCHORED_ID_RE = /^[a-f0-9]{64}$/;

/** A fully qualified reference: `domain/path[:tag][@digest]`. */
export interface Reference {
  /** `docker.io`, `localhost:5000`, `ghcr.io`. */
  readonly domain: string;
  /** The repository inside the registry: `library/busybox`, `user/app`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

function formatError(reason?: string): Error {
  return invalidArgument(reason ? `invalid reference format: ${reason}` : 'invalid reference format');
}

/** Splits off the domain with Docker's rule, then applies the Hub defaults. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let dom: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    dom = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    dom = first;
    remainder = name.slice(i + 1);
  }
  if (dom === LEGACY_DEFAULT_DOMAIN) dom = DEFAULT_DOMAIN;
  if (dom === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain: dom, remainder };
}

/**
 * Parses what a user typed (`busybox`, `user/app:1.0`, `host:5000/ns/app@sha256:…`) into a
 * fully qualified reference. No default tag is added: see `withDefaultTag`.
 */
export function parseReference(input: string): Reference {
  if (input === '') throw formatError();
  if (ANCHORED_ID_RE.test(input))
    throw invalidArgument(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);

  let rest = input;
  let dgst: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    dgst = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(dgst)) throw formatError();
  }
  let tg: string | undefined;
  // A tag follows the last ':' only when no '/' comes after it (else the ':' was a port).
  const colon = rest.lastIndexOf(':');
  if (colon !== -1 && !rest.slice(colon + 1).includes('/')) {
    tg = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tg)) throw formatError();
  }

  const { domain: dom, remainder } = splitDockerDomain(rest);
  if (remainder === '') throw formatError('repository name must have at least one component');
  if (remainder.toLowerCase() !== remainder) throw formatError('repository name must be lowercase');
  if (!DOMAIN_RE.test(dom)) throw formatError();
  if (!PATH_RE.test(remainder)) throw formatError();
  if (dom.length + 1 + remainder.length > NAME_TOTAL_LENGTH_MAX)
    throw formatError(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);

  const ref: { domain: string; path: string; tag?: string; digest?: string } = { domain: dom, path: remainder };
  if (tg !== undefined) ref.tag = tg;
  if (dgst !== undefined) ref.digest = dgst;
  return ref;
}

/** Adds `:latest` when the reference has neither a tag nor a digest, as `docker pull` does. */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return { ...ref, tag: DEFAULT_TAG };
}

/** The name alone, fully qualified: `docker.io/library/busybox`. */
export function fullName(ref: Pick<Reference, 'domain' | 'path'>): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical string: `docker.io/library/busybox:latest@sha256:…`. */
export function referenceString(ref: Reference): string {
  return fullName(ref) + suffixOf(ref);
}

/** The name as Docker shows it: `busybox`, `user/app`, `localhost:5000/app`. */
export function familiarName(ref: Pick<Reference, 'domain' | 'path'>): string {
  if (ref.domain !== DEFAULT_DOMAIN) return fullName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX) && !ref.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/'))
    return ref.path.slice(OFFICIAL_REPO_PREFIX.length);
  return ref.path;
}

/** The whole reference as Docker shows it: `busybox:latest`, `localhost:5000/app@sha256:…`. */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffixOf(ref);
}

function suffixOf(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** The tag or digest the Registry API addresses a manifest by; the digest wins when both are set. */
export function manifestKey(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** The host (with port) that serves the Registry API for a domain. */
export function apiHost(dom: string): string {
  return dom === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : dom;
}

/** The key credentials for a domain are stored under in `config.json`. */
export function credentialKey(dom: string): string {
  return dom === DEFAULT_DOMAIN || dom === LEGACY_DEFAULT_DOMAIN || dom === DOCKER_HUB_API_HOST
    ? DOCKER_HUB_INDEX_SERVER
    : dom;
}

/** True when a string is a valid tag (for `docker tag` and `push`). */
export function isValidTag(s: string): boolean {
  return TAG_RE.test(s);
}
