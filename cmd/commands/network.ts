/** `network …` commands. */
import { engine, eprintln, ExitError, parseFilters, println } from '../cli';
import { goTime, GO_STRUCT_TYPE, renderList } from '../format';
import type { NetworkSummary } from '../../common/rpc/engine-types';
import { confirmPrune, forEachNameReply, fromDaemon, inspectEach, keyValueMap, printPruneReport } from './container-common';
import { naturalLess, shortId } from './container-format';

export async function networkCreate(
  name: string,
  opts: {
    driver?: string;
    subnet?: string;
    gateway?: string;
    ipRange?: string;
    internal?: boolean;
    attachable?: boolean;
    label?: string[];
    opt?: string[];
  },
): Promise<number> {
  if ((opts.gateway || opts.ipRange) && !opts.subnet) {
    throw new ExitError(1, 'every ip-range or gateway must have a corresponding subnet');
  }
  const client = await engine();
  try {
    const reply = await client.call<{ id: string; warning: string }>('NetworkCreate', {
      name,
      driver: opts.driver ?? 'bridge',
      subnet: opts.subnet ?? '',
      gateway: opts.gateway ?? '',
      ip_range: opts.ipRange ?? '',
      internal: !!opts.internal,
      attachable: !!opts.attachable,
      labels: keyValueMap(opts.label),
      options: keyValueMap(opts.opt),
      check_duplicate: true,
    });
    if (reply.warning) eprintln(`Warning: ${reply.warning}`);
    println(reply.id);
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}

class NetworkRow {
  /** Docker's row type: a field it does not have is an error, not `<no value>`. */
  readonly [GO_STRUCT_TYPE] = '*network.networkContext';
  readonly ID: string;
  readonly Name: string;
  readonly Driver: string;
  readonly Scope: string;
  readonly IPv6: string;
  readonly Internal: string;
  readonly Labels: string;
  readonly CreatedAt: string;

  constructor(
    private readonly n: NetworkSummary,
    trunc: boolean,
  ) {
    this.ID = trunc ? shortId(n.id) : n.id;
    this.Name = n.name;
    this.Driver = n.driver;
    this.Scope = n.scope;
    this.IPv6 = 'false';
    this.Internal = String(n.internal);
    this.Labels = Object.keys(n.labels)
      .sort()
      .map((k) => `${k}=${n.labels[k]}`)
      .join(',');
    this.CreatedAt = goTime(n.created);
  }

  Label(name: string): string {
    return this.n.labels[name] ?? '';
  }

  toJSON(): Record<string, string> {
    const { CreatedAt, Driver, ID, IPv6, Internal, Labels, Name, Scope } = this;
    return { CreatedAt, Driver, ID, IPv6, Internal, Labels, Name, Scope };
  }
}

export async function networkLs(opts: { quiet?: boolean; filter?: string[]; format?: string; trunc?: boolean }): Promise<number> {
  const filters = parseFilters(opts.filter);
  const client = await engine();
  let networks: NetworkSummary[];
  try {
    networks = (await client.call<{ networks: NetworkSummary[] }>('NetworkList', { filters })).networks;
  } catch (err) {
    throw fromDaemon(err);
  }
  networks.sort((a, b) => (naturalLess(a.name, b.name) ? -1 : naturalLess(b.name, a.name) ? 1 : 0));
  const rows = networks.map((n) => new NetworkRow(n, opts.trunc !== false));
  process.stdout.write(
    renderList(rows, {
      format: opts.format,
      defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
      headers: {
        ID: 'NETWORK ID',
        Name: 'NAME',
        Driver: 'DRIVER',
        Scope: 'SCOPE',
        IPv6: 'IPV6',
        Internal: 'INTERNAL',
        Labels: 'LABELS',
        CreatedAt: 'CREATED AT',
      },
      quiet: opts.quiet,
      quietField: 'ID',
    }),
  );
  return 0;
}

export async function networkInspect(names: string[], opts: { format?: string }): Promise<number> {
  const client = await engine();
  return inspectEach(client, 'NetworkInspect', 'network', names, opts);
}

export async function networkRm(names: string[], opts: { force?: boolean }): Promise<number> {
  const client = await engine();
  return forEachNameReply(() => client.call('NetworkRemove', { names, force: !!opts.force }));
}

export async function networkConnect(network: string, container: string, opts: { alias?: string[]; ip?: string }): Promise<number> {
  const client = await engine();
  try {
    await client.call('NetworkConnect', { network, container, aliases: opts.alias ?? [], ipv4_address: opts.ip ?? '' });
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}

export async function networkDisconnect(network: string, container: string, opts: { force?: boolean }): Promise<number> {
  const client = await engine();
  try {
    await client.call('NetworkDisconnect', { network, container, force: !!opts.force });
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}

export async function networkPrune(opts: { force?: boolean; filter?: string[] }): Promise<number> {
  const filters = parseFilters(opts.filter);
  if (!(await confirmPrune('WARNING! This will remove all custom networks not used by at least one container.', opts.force))) return 0;
  const client = await engine();
  try {
    printPruneReport('Deleted Networks', await client.call('NetworkPrune', { all: false, filters }), false);
  } catch (err) {
    throw fromDaemon(err);
  }
  return 0;
}
