/**
 * Phase 4 — extends. A service with `extends` is its base service (same file, or `file:`
 * relative to the file that says `extends`) with its own attributes merged over it by the merge
 * phase's rules, to any depth. A base from a file in another directory is first normalised and
 * its relative paths resolved against that file's directory, so paths stay relative to the file
 * that wrote them. Cycles are errors that print the chain.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Reporter } from '../errors';
import { clone, isMap } from '../tree';
import type { Tree, TreeMap } from '../tree';
import { mergeTrees } from './05-merge';

export interface ExtendsScope {
  rep: Reporter;
  projectDir: string;
  /** Parsed and interpolated tree of another Compose file (cached by the caller). */
  loadFile(absPath: string, at: (string | number)[]): Promise<TreeMap>;
  /** Makes a base service from another directory self-contained (normalise + resolve paths). */
  rebase(service: Tree, name: string, fileDir: string): Tree;
}

export async function resolveExtends(tree: TreeMap, file: string, scope: ExtendsScope): Promise<TreeMap> {
  const trees = new Map<string, TreeMap>([[file, tree]]);
  const done = new Set<string>();
  const treeOf = async (f: string, at: (string | number)[]): Promise<TreeMap> => {
    let t = trees.get(f);
    if (!t) {
      t = await scope.loadFile(f, at);
      trees.set(f, t);
    }
    return t;
  };
  const resolveService = async (f: string, name: string, chain: string[], at: (string | number)[]): Promise<TreeMap> => {
    const key = `${f}#${name}`;
    const t = await treeOf(f, at);
    const services = isMap(t.services) ? t.services : undefined;
    const svc = services?.[name];
    if (!isMap(svc)) {
      throw scope.rep.notFound(at, `cannot extend service ${JSON.stringify(name)}: not found in ${f}`);
    }
    if (done.has(key) || svc.extends === undefined) return svc;
    if (chain.includes(key)) {
      const start = chain.indexOf(key);
      const names = [...chain.slice(start), key].map((k) => k.slice(k.lastIndexOf('#') + 1));
      throw scope.rep.invalid(['services', name, 'extends'], `extends cycle: ${names.join(' → ')}`);
    }
    const ext = svc.extends;
    const baseName = typeof ext === 'string' ? ext : isMap(ext) ? String(ext.service) : undefined;
    if (baseName === undefined) throw scope.rep.invalid(['services', name, 'extends'], 'expected a service name or a mapping with `service`');
    let baseFile = f;
    if (isMap(ext) && typeof ext.file === 'string') baseFile = isAbsolute(ext.file) ? ext.file : resolve(dirname(f), ext.file);
    const base = await resolveService(baseFile, baseName, [...chain, key], ['services', name, 'extends']);
    let baseCopy: Tree = clone(base);
    const baseDir = dirname(baseFile);
    if (baseFile !== f && baseDir !== scope.projectDir) baseCopy = scope.rebase(baseCopy, baseName, baseDir);
    const own: TreeMap = { ...svc };
    delete own.extends;
    const merged = mergeTrees(baseCopy, own, ['services', name]) as TreeMap;
    delete merged.extends;
    (services as TreeMap)[name] = merged;
    done.add(key);
    return merged;
  };
  const services = tree.services;
  // A service that is not a mapping is left to the validate phase, which says so.
  if (isMap(services)) for (const name of Object.keys(services)) if (isMap(services[name])) await resolveService(file, name, [], ['services', name]);
  return tree;
}
