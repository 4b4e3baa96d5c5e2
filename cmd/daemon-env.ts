/**
 * The environment of a daemon the CLI starts (cmd/client.ts): the CLI's, with glibc's mmap
 * threshold fixed at its default (128 kB) unless the caller chose malloc settings. A threshold
 * that moves (glibc raises it to the size of each large block freed) also raises the amount of
 * freed memory malloc keeps instead of returning it; the daemon avoids large blocks where it can
 * (common/transient), and this covers the rest: a daemon started in the foreground gets what its
 * caller's environment says. Kept free of imports: the bench loads it to start its daemon the
 * same way.
 */
export function daemonEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const tunables = env['GLIBC_TUNABLES'];
  if (tunables?.includes('glibc.malloc.') || Object.keys(env).some((k) => k.startsWith('MALLOC_'))) return env;
  const fixed = 'glibc.malloc.mmap_threshold=131072';
  return { ...env, GLIBC_TUNABLES: tunables ? `${tunables}:${fixed}` : fixed };
}
