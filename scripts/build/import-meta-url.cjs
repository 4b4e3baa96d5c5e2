// Injected into the CommonJS bundle (scripts/build.mjs): `import.meta.url` of ES module sources
// is the bundle's own file URL there.
export const import_meta_url = require('node:url').pathToFileURL(__filename).href;
