/** Where the daemon lives, as the CLI and the daemon both resolve it. */
export const DEFAULT_HOST = 'unix:///run/tscompose/tscompose.sock';
export const DEFAULT_DATA_ROOT = '/var/lib/tscompose';

export function resolveHost(flag?: string): string {
  return flag || process.env['TSCOMPOSE_HOST'] || DEFAULT_HOST;
}

export function resolveDataRoot(flag?: string): string {
  return flag || process.env['TSCOMPOSE_DATA_ROOT'] || DEFAULT_DATA_ROOT;
}

/**
 * Where the daemon looks for registries' CAs and client certificates (certs.d layout):
 * `$TSCOMPOSE_CERTS_D` alone when set, else the agent's defaults (ours, then Docker's).
 */
export function resolveCertsDirs(): string[] | undefined {
  const dir = process.env['TSCOMPOSE_CERTS_D'];
  return dir ? [dir] : undefined;
}

/** The filesystem path of a `unix://` host. */
export function socketPath(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host "${host}": only unix:///path sockets are supported`);
}
