/**
 * `tscompose config`: loads the project and prints its canonical model (YAML by default), or one
 * facet of it (--services, --volumes, --hash …). The YAML is itself a valid Compose file that
 * loads back to the same model, so `config | config -f -` is a fixed point.
 */
import { writeFile } from 'node:fs/promises';
import { invalidArgument } from '../../common/errors';
import { loadProject, projectOptionsFromFlags, serviceConfigHash, toJson, toYaml } from '../../manager/compose/index';
import type { GlobalProjectFlags, LoadedProject, ProjectOptions } from '../../manager/compose/index';
import { extractVariables } from '../../manager/compose/interpolation';
import type { VariableUse } from '../../manager/compose/interpolation';
import { isMap } from '../../manager/compose/tree';
import type { Tree } from '../../manager/compose/tree';

export interface ConfigFlags {
  format?: string;
  services?: boolean;
  volumes?: boolean;
  networks?: boolean;
  profiles?: boolean;
  images?: boolean;
  hash?: string;
  quiet?: boolean;
  output?: string;
  /** commander turns `--no-interpolate` into `interpolate: false`. */
  interpolate?: boolean;
  normalize?: boolean;
  pathResolution?: boolean;
  environment?: boolean;
  variables?: boolean;
}

export interface ConfigIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

const lines = (xs: Iterable<string>): string => {
  const arr = [...xs];
  return arr.length === 0 ? '' : `${arr.join('\n')}\n`;
};

export async function runConfig(global: GlobalProjectFlags, flags: ConfigFlags, services: string[], io: ConfigIo): Promise<number> {
  const format = flags.format ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') throw invalidArgument(`config: unsupported --format ${JSON.stringify(format)}; expected yaml or json`);
  const extra: Partial<ProjectOptions> = {
    interpolate: flags.interpolate !== false && !flags.variables,
    // Short syntax holding `${…}` cannot be normalised, so an uninterpolated model stays as written.
    normalize: flags.normalize !== false && flags.interpolate !== false && !flags.variables,
    resolvePaths: flags.pathResolution !== false,
  };
  if (services.length > 0) extra.servicesSelected = services;
  const opts = projectOptionsFromFlags(global, extra);
  if (opts.files?.includes('-')) opts.stdinContent = await readAll(io.stdin);
  // Listing every profile, or every variable the files use, needs every service, whatever is active.
  if (flags.profiles || flags.variables) opts.profiles = ['*'];

  const project = await loadProject(opts);
  for (const w of project.warnings) io.stderr.write(`WARN ${w}\n`);
  if (flags.quiet) return 0;

  const out = render(project, flags, format, services);
  if (flags.output) await writeFile(flags.output, out);
  else io.stdout.write(out);
  return 0;
}

function render(project: LoadedProject, flags: ConfigFlags, format: string, selected: string[]): string {
  const model = project.model;
  if (flags.services) return lines(Object.keys(model.services));
  if (flags.volumes) return lines(Object.keys(model.volumes));
  if (flags.networks) return lines(Object.keys(model.networks));
  if (flags.profiles) {
    const all = new Set<string>();
    for (const s of Object.values(model.services)) for (const p of s.profiles ?? []) all.add(p);
    return lines([...all].sort());
  }
  if (flags.images) return lines(Object.values(model.services).map((s) => s.image ?? `${model.name}-${s.name}`));
  if (flags.hash !== undefined) {
    const wanted = flags.hash === '*' ? Object.keys(model.services) : flags.hash.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return lines(
      wanted.map((name) => {
        const svc = model.services[name];
        if (!svc) throw invalidArgument(`no such service: ${name}`);
        return `${name} ${serviceConfigHash(svc)}`;
      }),
    );
  }
  if (flags.environment) return lines(Object.keys(project.environment).sort().map((k) => `${k}=${project.environment[k]}`));
  if (flags.variables) return renderVariables(project, format);
  void selected;
  return format === 'json' ? toJson(project) : toYaml(project);
}

/** Variables referenced by the (uninterpolated) files, as compose's `config --variables` table. */
function renderVariables(project: LoadedProject, format: string): string {
  const vars = new Map<string, VariableUse>();
  const walk = (v: Tree): void => {
    if (typeof v === 'string') extractVariables(v, vars);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isMap(v)) Object.values(v).forEach(walk);
  };
  walk(project.canonical);
  const rows = [...vars.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (format === 'json') {
    const obj: Record<string, VariableUse> = {};
    for (const r of rows) obj[r.name] = r;
    return `${JSON.stringify(obj, null, 2)}\n`;
  }
  const table = [['NAME', 'REQUIRED', 'DEFAULT VALUE', 'ALTERNATE VALUE'], ...rows.map((r) => [r.name, String(r.required), r.defaultValue ?? '', r.alternateValue ?? ''])];
  const widths = (table[0] as string[]).map((_, i) => Math.max(...table.map((row) => (row[i] as string).length)));
  return lines(table.map((row) => row.map((c, i) => c.padEnd(widths[i] as number)).join('   ').trimEnd()));
}
