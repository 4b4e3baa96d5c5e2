/**
 * What the engine bundle (dist/engine.cjs) loads for a command its families don't define: the
 * build resolves this module to dist/tscompose.cjs, the full program, which runs the command line
 * when loaded. Outside the bundles nothing imports it (cmd/main.ts only does in the engine bundle).
 */
export {};
