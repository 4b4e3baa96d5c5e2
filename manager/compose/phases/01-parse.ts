/**
 * Phase 1 — parse. YAML 1.2 text → plain tree, with a way to point errors at a line and column.
 * Most Compose files are plain block YAML, which the fast reader (`yaml-fast.ts`) reads directly;
 * anything else (anchors, aliases, merge keys, tags, block scalars…) goes to the full parser in
 * `01-parse-full.ts`, which loads the `yaml` library only then.
 */
import { readSimpleYaml, locateSimpleYaml } from '../yaml-fast';
import type { SourcePosition } from '../errors';
import { Tagged } from '../tree';
import type { TreeMap, TreePath } from '../tree';
import type { ParsedFile } from './01-parse-full';

export type { ParsedFile };

export async function parseComposeYaml(file: string, text: string, warnings: string[]): Promise<ParsedFile> {
  const fast = readSimpleYaml(text);
  if (fast !== null && typeof fast === 'object' && !Array.isArray(fast) && !(fast instanceof Tagged)) {
    warnVersion(fast, file, warnings);
    const locate = (path: TreePath): { pos: SourcePosition; depth: number } => {
      const { line, col, depth } = locateSimpleYaml(text, path);
      return { pos: { file, line, col }, depth };
    };
    return { file, tree: fast, locate };
  }
  const { parseFull } = await import('./01-parse-full');
  const parsed = parseFull(file, text, warnings);
  warnVersion(parsed.tree, file, warnings);
  return parsed;
}

function warnVersion(tree: TreeMap, file: string, warnings: string[]): void {
  if (Object.hasOwn(tree, 'version')) {
    warnings.push(`${file}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`);
    delete tree.version;
  }
}
