/**
 * Phase 10 — semantic checks the schema cannot express: references to undefined networks,
 * volumes, secrets, configs and services; dependency cycles (the message prints the cycle);
 * `container_name` with several replicas; an unknown `deploy.mode`, and replicas asked of a
 * global one. A host port published twice is `up`'s to refuse: the file must still load for
 * `ps` and `down` of a project that runs.
 */
import type { Reporter } from '../errors';
import { didYouMean } from '../errors';
import { isMap } from '../tree';
import type { Tree, TreeMap } from '../tree';

const keys = (v: Tree | undefined): string[] => (isMap(v) ? Object.keys(v) : []);
/** Swarm's service modes; the job modes run here as the modes they extend. */
const DEPLOY_MODES = ['replicated', 'global', 'replicated-job', 'global-job'];

export function checkSemantics(tree: TreeMap, rep: Reporter): void {
  const services = isMap(tree.services) ? tree.services : {};
  const names = Object.keys(services);
  const defined = {
    networks: new Set(keys(tree.networks)),
    volumes: new Set(keys(tree.volumes)),
    secrets: new Set(keys(tree.secrets)),
    configs: new Set(keys(tree.configs)),
  };

  for (const name of names) {
    const svc = services[name];
    if (!isMap(svc)) continue;
    const at = ['services', name];
    for (const n of keys(svc.networks)) {
      if (!defined.networks.has(n)) throw rep.invalid([...at, 'networks', n], `service ${JSON.stringify(name)} refers to undefined network ${JSON.stringify(n)}${didYouMean(n, defined.networks)}`);
    }
    if (Array.isArray(svc.volumes)) {
      svc.volumes.forEach((v, i) => {
        if (isMap(v) && v.type === 'volume' && typeof v.source === 'string' && v.source !== '' && !defined.volumes.has(v.source)) {
          throw rep.invalid([...at, 'volumes', i], `service ${JSON.stringify(name)} refers to undefined volume ${JSON.stringify(v.source)}; declare it under the top-level volumes${didYouMean(v.source, defined.volumes)}`);
        }
      });
    }
    const refs: [Tree | undefined, 'secrets' | 'configs', (string | number)[]][] = [
      [svc.secrets, 'secrets', [...at, 'secrets']],
      [svc.configs, 'configs', [...at, 'configs']],
      [isMap(svc.build) ? svc.build.secrets : undefined, 'secrets', [...at, 'build', 'secrets']],
    ];
    for (const [list, kind, p] of refs) {
      if (!Array.isArray(list)) continue;
      list.forEach((r, i) => {
        const src = isMap(r) ? String(r.source) : String(r);
        if (!defined[kind].has(src)) throw rep.invalid([...p, i], `service ${JSON.stringify(name)} refers to undefined ${kind.slice(0, -1)} ${JSON.stringify(src)}${didYouMean(src, defined[kind])}`);
      });
    }
    for (const d of keys(svc.depends_on)) {
      if (d === name) throw rep.invalid([...at, 'depends_on', d], `service ${JSON.stringify(name)} depends on itself`);
      if (!isMap(services[d])) throw rep.invalid([...at, 'depends_on', d], `service ${JSON.stringify(name)} depends on undefined service ${JSON.stringify(d)}${didYouMean(d, names)}`);
    }
    const deploy = isMap(svc.deploy) ? svc.deploy : {};
    if (deploy.mode !== undefined && !DEPLOY_MODES.includes(String(deploy.mode))) {
      throw rep.invalid([...at, 'deploy', 'mode'], `service ${JSON.stringify(name)}: unknown deploy mode ${JSON.stringify(deploy.mode)}; use ${DEPLOY_MODES.join(', ')}`);
    }
    if ((deploy.mode === 'global' || deploy.mode === 'global-job') && (deploy.replicas !== undefined || svc.scale !== undefined)) {
      // Swarm's rule and words: a global service runs one task per node.
      const where = deploy.replicas !== undefined ? [...at, 'deploy', 'replicas'] : [...at, 'scale'];
      throw rep.invalid(where, `service ${JSON.stringify(name)}: replicas can only be used with replicated or replicated-job mode`);
    }
    const replicas = typeof deploy.replicas === 'number' ? deploy.replicas : typeof svc.scale === 'number' ? svc.scale : 1;
    if (svc.container_name !== undefined && replicas > 1) {
      throw rep.invalid([...at, 'container_name'], `service ${JSON.stringify(name)} sets container_name but asks for ${replicas} replicas; container names must be unique, so remove container_name or use one replica`);
    }
  }
  checkDependencyCycles(services, rep);
}

/** Depth-first search with colours; a back edge closes a cycle, printed from its start. */
function checkDependencyCycles(services: TreeMap, rep: Reporter): void {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    const svc = services[n];
    for (const d of isMap(svc) ? keys(svc.depends_on) : []) {
      if (!isMap(services[d])) continue;
      const s = state.get(d);
      if (s === 1) {
        const cycle = [...stack.slice(stack.indexOf(d)), d];
        throw rep.invalid(['services', n, 'depends_on', d], `dependency cycle: ${cycle.join(' → ')}`);
      }
      if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of Object.keys(services)) if (!state.has(n)) visit(n);
}
