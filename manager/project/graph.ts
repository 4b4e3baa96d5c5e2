/**
 * The dependency graph of a project's services: `depends_on`, plus the implicit dependencies
 * Compose adds for `network_mode: service:x`, `volumes_from: x` and `links`. Start-up follows
 * it (a service after what it depends on), shutdown goes against it.
 */
import { failedPrecondition } from '../../common/errors';
import type { DependsOn, ServiceConfig } from '../compose/index';

export type Condition = DependsOn['condition'];

export interface Dependency {
  service: string;
  condition: Condition;
  required: boolean;
  /** Restart this service when the dependency is recreated or restarted. */
  restart: boolean;
}

export type DependencyGraph = Map<string, Dependency[]>;

export function dependenciesOf(service: ServiceConfig): Dependency[] {
  const out = new Map<string, Dependency>();
  for (const [name, d] of Object.entries(service.depends_on ?? {})) {
    out.set(name, { service: name, condition: d.condition, required: d.required, restart: d.restart === true });
  }
  const implicit = (name: string) => {
    if (!out.has(name)) out.set(name, { service: name, condition: 'service_started', required: true, restart: false });
  };
  const mode = service.network_mode ?? '';
  if (mode.startsWith('service:')) implicit(mode.slice('service:'.length));
  for (const from of service.volumes_from ?? []) {
    if (!from.startsWith('container:')) implicit(from.split(':')[0] ?? from);
  }
  for (const link of service.links ?? []) implicit(link.split(':')[0] ?? link);
  return [...out.values()];
}

export function buildGraph(services: Record<string, ServiceConfig>): DependencyGraph {
  const g: DependencyGraph = new Map();
  for (const [name, svc] of Object.entries(services)) g.set(name, dependenciesOf(svc));
  return g;
}

/**
 * Services in start-up order, grouped by level: every service of a level depends only on
 * services of earlier levels, so a level may start in parallel. Dependencies outside the graph
 * (disabled or unselected services) are ignored. Names within a level are sorted, for stable
 * output.
 */
export function startupLevels(graph: DependencyGraph): string[][] {
  const remaining = new Map<string, Set<string>>();
  for (const [name, deps] of graph) remaining.set(name, new Set(deps.map((d) => d.service).filter((d) => graph.has(d))));
  const levels: string[][] = [];
  while (remaining.size > 0) {
    const ready = [...remaining].filter(([, deps]) => deps.size === 0).map(([name]) => name).sort();
    if (ready.length === 0) {
      throw failedPrecondition(`dependency cycle between services ${[...remaining.keys()].sort().map((s) => JSON.stringify(s)).join(', ')}`);
    }
    levels.push(ready);
    for (const name of ready) remaining.delete(name);
    for (const deps of remaining.values()) for (const name of ready) deps.delete(name);
  }
  return levels;
}

/** Shutdown order: dependents before what they depend on. */
export function shutdownLevels(graph: DependencyGraph): string[][] {
  return startupLevels(graph).reverse();
}

/** `names` and everything they depend on, transitively. */
export function withDependencies(graph: DependencyGraph, names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const stack = [...names];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (out.has(name)) continue;
    out.add(name);
    for (const d of graph.get(name) ?? []) stack.push(d.service);
  }
  return out;
}

/** Services that depend on `name` directly, with how. */
export function dependentsOf(graph: DependencyGraph, name: string): Array<{ service: string; dependency: Dependency }> {
  const out: Array<{ service: string; dependency: Dependency }> = [];
  for (const [service, deps] of graph) for (const d of deps) if (d.service === name) out.push({ service, dependency: d });
  return out;
}

/** The `com.docker.compose.depends_on` label: `db:service_healthy:false`. */
export function dependsOnLabel(deps: Dependency[]): string {
  return deps.map((d) => `${d.service}:${d.condition}:${d.restart}`).join(',');
}
