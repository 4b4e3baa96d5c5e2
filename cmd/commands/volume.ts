/** `volume …` commands. */
import { engine, eprintln, ExitError, parseFilters, println } from '../cli';
import { GO_STRUCT_TYPE, humanSize, renderList } from '../format';
import type { VolumeSummary } from '../../common/rpc/engine-types';
import { confirmPrune, forEachNameReply, fromDaemon, inspectEach, keyValueMap, printPruneReport } from './container-common';
import { naturalLess } from './container-format';

export async function volumeCreate(
  positionalName: string | undefined,
  opts: { driver?: string; label?: string[]; opt?: string[]; name?: string },
): Promise<number> {
  if (positionalName && opts.name && positionalName !== opts.name) {
    throw new ExitError(1, `conflicting options: cannot specify a volume-name through both --name and as a positional arg`);
  }
  const client = await engine();
  try {
    const reply = await client.call<{ json: string }>('VolumeCreate', {
      name: positionalName ?? opts.name ?? '',
      driver: opts.driver ?? 'local',
      labels: keyValueMap(opts.label),
      options: keyValueMap(opts.opt),
    });
    const doc = JSON.parse(reply.json) as { Name?: string };
    println(doc.Name ?? '');
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}

class VolumeRow {
  /** Docker's row type: a field it does not have is an error, not `<no value>`. */
  readonly [GO_STRUCT_TYPE] = '*formatter.volumeContext';
  readonly Name: string;
  readonly Driver: string;
  readonly Scope: string;
  readonly Mountpoint: string;
  readonly Labels: string;
  readonly Links: string;
  readonly Size: string;
  readonly Availability = 'N/A';
  readonly Group = 'N/A';

  constructor(private readonly v: VolumeSummary) {
    this.Name = v.name;
    this.Driver = v.driver;
    this.Scope = v.scope || 'local';
    this.Mountpoint = v.mountpoint;
    this.Labels = Object.keys(v.labels)
      .sort()
      .map((k) => `${k}=${v.labels[k]}`)
      .join(',');
    this.Links = v.ref_count >= 0 ? String(v.ref_count) : 'N/A';
    this.Size = v.size >= 0 ? humanSize(v.size) : 'N/A';
  }

  Label(name: string): string {
    return this.v.labels[name] ?? '';
  }

  toJSON(): Record<string, string> {
    const { Availability, Driver, Group, Labels, Links, Mountpoint, Name, Scope, Size } = this;
    return { Availability, Driver, Group, Labels, Links, Mountpoint, Name, Scope, Size };
  }
}

export async function volumeLs(opts: { quiet?: boolean; filter?: string[]; format?: string }): Promise<number> {
  const filters = parseFilters(opts.filter);
  const client = await engine();
  let reply: { volumes: VolumeSummary[]; warnings: string[] };
  try {
    reply = await client.call('VolumeList', { filters });
  } catch (err) {
    throw fromDaemon(err);
  }
  const volumes = [...reply.volumes].sort((a, b) => (naturalLess(a.name, b.name) ? -1 : naturalLess(b.name, a.name) ? 1 : 0));
  process.stdout.write(
    renderList(
      volumes.map((v) => new VolumeRow(v)),
      {
        format: opts.format,
        defaultTable: 'table {{.Driver}}\t{{.Name}}',
        headers: { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE' },
        quiet: opts.quiet,
        quietField: 'Name',
      },
    ),
  );
  for (const w of reply.warnings) eprintln(w);
  return 0;
}

export async function volumeInspect(names: string[], opts: { format?: string }): Promise<number> {
  const client = await engine();
  return inspectEach(client, 'VolumeInspect', 'volume', names, opts);
}

export async function volumeRm(names: string[], opts: { force?: boolean }): Promise<number> {
  const client = await engine();
  return forEachNameReply(() => client.call('VolumeRemove', { names, force: !!opts.force }));
}

export async function volumePrune(opts: { force?: boolean; all?: boolean; filter?: string[] }): Promise<number> {
  const filters = parseFilters(opts.filter);
  const warning = opts.all
    ? 'WARNING! This will remove all local volumes not used by at least one container.'
    : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
  if (!(await confirmPrune(warning, opts.force))) return 0;
  const client = await engine();
  try {
    printPruneReport('Deleted Volumes', await client.call('VolumePrune', { all: !!opts.all, filters }));
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}
