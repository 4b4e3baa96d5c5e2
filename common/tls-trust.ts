/**
 * The certificate authorities tscompose's own TLS connections trust (registries, token servers,
 * downloads of `ADD <url>` and of remote build contexts): the system's store, as Docker's Go
 * programs read it, plus the extra CAs named by NODE_EXTRA_CA_CERTS.
 *
 * - The system's store is the file SSL_CERT_FILE names, else the first bundle of the
 *   distributions' usual places (Go's list). Node's own default is the Mozilla list compiled into
 *   node, which knows nothing of a CA an administrator added with update-ca-certificates. Only a
 *   host without any bundle falls back to it.
 * - NODE_EXTRA_CA_CERTS makes node parse its file at every start, before any of our code runs:
 *   ~35 ms here for Debian's 140-certificate bundle, on each CLI command. So `bin/tscompose`
 *   starts node without it and passes its value on as TSCOMPOSE_EXTRA_CA_CERTS; it is read here,
 *   once, when the first TLS connection needs it. Started as `node bin/tscompose`, the process
 *   still has NODE_EXTRA_CA_CERTS, which is read the same way.
 */
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';

const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Gentoo, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL 6
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine
];

let trusted: string[] | undefined;
const contexts = new Map<string, tls.SecureContext>();

function readable(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** PEM texts: the system's bundle (or node's list) and the extra CAs. Read once. */
export function trustedCertificates(): string[] {
  if (trusted) return trusted;
  const fromEnv = process.env['SSL_CERT_FILE'];
  const system = fromEnv ? readable(fromEnv) : SYSTEM_BUNDLES.map(readable).find((text) => text !== undefined);
  const extra = readable(process.env['TSCOMPOSE_EXTRA_CA_CERTS'] || process.env['NODE_EXTRA_CA_CERTS']);
  trusted = [...(system !== undefined ? [system] : tls.rootCertificates), ...(extra !== undefined ? [extra] : [])];
  return trusted;
}

/**
 * A secure context trusting the CAs above and `material.ca` (a registry's certs.d), with the
 * client certificate `material.cert`/`material.key` when given. Parsing a bundle costs milliseconds, so contexts are made once per
 * distinct material and shared by every connection that uses it.
 */
export function secureContextFor(material: { ca?: string[]; cert?: string; key?: string } = {}): tls.SecureContext {
  const key = JSON.stringify(material);
  let context = contexts.get(key);
  if (!context) {
    context = tls.createSecureContext({
      ca: [...trustedCertificates(), ...(material.ca ?? [])],
      ...(material.cert !== undefined && { cert: material.cert }),
      ...(material.key !== undefined && { key: material.key }),
    });
    contexts.set(key, context);
  }
  return context;
}
