/**
 * The CLI's command families, as data: which family registers each top-level command. The build
 * also reads it (scripts/build.mjs), so that bin/tscompose can pick the bundle of a command line
 * before loading any.
 */

/** Command families in the full program's registration order (which its help lists). */
export const FAMILIES = ['daemon', 'image', 'image-top', 'registry', 'container', 'network', 'volume', 'system', 'compose'] as const;
export type Family = (typeof FAMILIES)[number];

/**
 * Top-level command name → the family registering it. A name missing here is tried in the compose
 * family (Compose's verbs, the most numerous, are not listed), then gets the full program.
 */
export const FAMILY_OF: Record<string, Family | undefined> = Object.assign(Object.create(null) as Record<string, Family>, {
  daemon: 'daemon',
  image: 'image',
  tag: 'image-top',
  rmi: 'image-top',
  history: 'image-top',
  load: 'image-top',
  save: 'image-top',
  import: 'image-top',
  login: 'registry',
  logout: 'registry',
  search: 'registry',
  container: 'container',
  attach: 'container',
  commit: 'container',
  export: 'container',
  diff: 'container',
  stats: 'container',
  rename: 'container',
  update: 'container',
  network: 'network',
  volume: 'volume',
  version: 'system',
  system: 'system',
  builder: 'system',
  info: 'system',
  events: 'system',
  inspect: 'system',
});

