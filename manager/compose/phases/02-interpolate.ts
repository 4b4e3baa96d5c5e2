/**
 * Phase 2 — interpolate. Every string value (never a key) goes through the template language of
 * `interpolation.ts`. Variables bare and unset become empty strings with one warning per name.
 */

import type { Reporter } from '../errors';
import { TemplateError, substitute } from '../interpolation';
import type { Lookup } from '../interpolation';
import { Tagged, isMap } from '../tree';
import type { Tree, TreeMap } from '../tree';

export function interpolateTree(tree: TreeMap, lookup: Lookup, rep: Reporter, warnings: string[]): TreeMap {
  const warned = new Set<string>();
  const onUnset = (name: string): void => {
    if (warned.has(name)) return;
    warned.add(name);
    warnings.push(`The "${name}" variable is not set. Defaulting to a blank string.`);
  };
  const path: (string | number)[] = [];
  const visit = (v: Tree): Tree => {
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      try {
        return substitute(v, lookup, onUnset);
      } catch (err) {
        if (err instanceof TemplateError) throw rep.invalid([...path], err.message);
        throw err;
      }
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        v[i] = visit(v[i] as Tree);
        path.pop();
      }
      return v;
    }
    if (v instanceof Tagged) return new Tagged(v.tag, visit(v.value));
    if (isMap(v)) {
      for (const k of Object.keys(v)) {
        path.push(k);
        v[k] = visit(v[k] as Tree);
        path.pop();
      }
    }
    return v;
  };
  visit(tree);
  return tree;
}

