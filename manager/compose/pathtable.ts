/**
 * A table keyed by tree-path patterns such as `'services.*.ports'`, where `*` matches any one map
 * key or sequence index. Merge, normalisation and path-resolution rules are declared as such
 * tables; lookups walk a small trie, so a rule lookup costs one step per path segment.
 * Exact segments win over `*`.
 */
import type { TreePath } from './tree';

interface TrieNode<T> {
  value?: T;
  children: Map<string, TrieNode<T>>;
}

export class PathTable<T> {
  private readonly root: TrieNode<T> = { children: new Map() };

  constructor(entries: Record<string, T>) {
    for (const [pattern, value] of Object.entries(entries)) {
      let node = this.root;
      for (const seg of pattern === '' ? [] : pattern.split('.')) {
        let next = node.children.get(seg);
        if (!next) {
          next = { children: new Map() };
          node.children.set(seg, next);
        }
        node = next;
      }
      node.value = value;
    }
  }

  get(path: TreePath): T | undefined {
    return this.find(this.root, path, 0);
  }

  private find(node: TrieNode<T>, path: TreePath, i: number): T | undefined {
    if (i === path.length) return node.value;
    const seg = String(path[i]);
    const exact = node.children.get(seg);
    if (exact) {
      const r = this.find(exact, path, i + 1);
      if (r !== undefined) return r;
    }
    const any = node.children.get('*');
    return any ? this.find(any, path, i + 1) : undefined;
  }

  /** True when some pattern continues below `path` — lets walkers skip subtrees with no rules. */
  hasBelow(path: TreePath): boolean {
    return this.reach(this.root, path, 0);
  }

  private reach(node: TrieNode<T>, path: TreePath, i: number): boolean {
    if (i === path.length) return node.children.size > 0;
    const seg = String(path[i]);
    const exact = node.children.get(seg);
    if (exact && this.reach(exact, path, i + 1)) return true;
    const any = node.children.get('*');
    return any ? this.reach(any, path, i + 1) : false;
  }
}
