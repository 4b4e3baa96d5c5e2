/**
 * Modules the build generates and bundles (scripts/build.mjs resolves `tscompose-generated:NAME`
 * to dist/generated/NAME.mjs): the gRPC codecs and the compose validator, precompiled. `load` is
 * `() => import('tscompose-generated:NAME')`, a literal the bundler can see.
 */
export async function importGenerated<T>(load: () => Promise<unknown>): Promise<T | undefined> {
  try {
    return (await load()) as T;
  } catch (err) {
    // Running from source (tests under tsx): there is no such module, callers compile instead.
    if ((err as NodeJS.ErrnoException).code === 'ERR_UNSUPPORTED_ESM_URL_SCHEME') return undefined;
    throw err;
  }
}
