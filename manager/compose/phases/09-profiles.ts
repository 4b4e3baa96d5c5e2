/**
 * Phase 9 — apply profiles. A service without `profiles` is always enabled; one with profiles
 * only when one of them is active (`*` activates all).
 *
 * Services named on the command line come in two kinds:
 * - `selected` (`config SERVICE…`): enabled whatever their profiles, their profiles become
 *   active, and everything they depend on is enabled too; the model then holds just those
 *   services and their dependencies (compose-go's WithSelectedServices).
 * - `enabled` (the verbs that act on a project: `up worker`, `exec worker`, `stop worker`…):
 *   their profiles become active and the project keeps every service those profiles and the
 *   others enable (WithServicesEnabled). A dependency in a profile still inactive is the same
 *   error as without them, as Compose's docs show for `up phpmyadmin`.
 */
import type { Reporter } from '../errors';
import { didYouMean } from '../errors';
import { isMap } from '../tree';
import type { TreeMap } from '../tree';

export interface ProfileResult {
  tree: TreeMap;
  disabled: string[];
  activeProfiles: string[];
}

function deps(svc: unknown): string[] {
  if (!isMap(svc)) return [];
  if (Array.isArray(svc.depends_on)) return svc.depends_on.map(String);
  return isMap(svc.depends_on) ? Object.keys(svc.depends_on) : [];
}

export interface NamedServices {
  selected?: string[];
  enabled?: string[];
}

export function applyProfiles(tree: TreeMap, profiles: string[], named: NamedServices, rep: Reporter): ProfileResult {
  const services = isMap(tree.services) ? tree.services : {};
  const active = new Set(profiles.filter((p) => p !== ''));
  const selected = named.selected ?? [];
  for (const name of selected) {
    const svc = services[name];
    if (!isMap(svc)) throw rep.notFound(['services'], `no such service: ${name}${didYouMean(name, Object.keys(services))}`);
  }
  // An unknown name among `enabled` is the verb's to report, in its own words.
  for (const name of [...selected, ...(named.enabled ?? [])]) {
    const svc = services[name];
    if (isMap(svc) && Array.isArray(svc.profiles)) for (const p of svc.profiles) active.add(String(p));
  }
  const all = active.has('*');
  const byProfile = (svc: unknown): boolean => {
    const ps = isMap(svc) && Array.isArray(svc.profiles) ? svc.profiles : [];
    return ps.length === 0 || all || ps.some((p) => active.has(String(p)));
  };
  const enabled = new Set<string>();
  if (selected.length > 0) {
    const stack = [...selected];
    while (stack.length > 0) {
      const n = stack.pop() as string;
      if (enabled.has(n) || !isMap(services[n])) continue;
      enabled.add(n);
      stack.push(...deps(services[n]));
    }
  } else {
    for (const [n, svc] of Object.entries(services)) if (byProfile(svc)) enabled.add(n);
    for (const n of enabled) {
      const svc = services[n];
      if (!isMap(svc)) continue;
      for (const d of deps(svc)) {
        const spec = isMap(svc.depends_on) ? svc.depends_on[d] : undefined;
        if (enabled.has(d) || !isMap(services[d])) continue;
        if (isMap(spec) && spec.required === false && isMap(svc.depends_on)) {
          delete svc.depends_on[d];
          continue;
        }
        const ps = (services[d] as TreeMap).profiles;
        throw rep.invalid(
          ['services', n, 'depends_on', d],
          `service ${JSON.stringify(n)} depends on service ${JSON.stringify(d)}, which is disabled by its profiles (${Array.isArray(ps) ? ps.join(', ') : ''}); enable one with --profile or name ${JSON.stringify(d)} on the command line`,
        );
      }
    }
  }
  const kept: TreeMap = {};
  const disabled: string[] = [];
  for (const [n, svc] of Object.entries(services)) {
    if (enabled.has(n)) kept[n] = svc;
    else disabled.push(n);
  }
  tree.services = kept;
  return { tree, disabled, activeProfiles: [...active].sort() };
}
