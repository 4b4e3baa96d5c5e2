/** `image …` commands and their top-level forms (`tag`, `rmi`, `load`, `save`, `import`, `history`). */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { engine, ExitError, out, parseFilters, println, eprintln } from '../cli';
import { compileTemplate, renderList, humanSize, timeAgo, goTime, rfc3339, GoDuration, goNil, formatValue, GO_STRUCT_TYPE } from '../format';
import { notFound } from '../../common/errors';
import { STREAM_CHUNK } from '../../common/transient';
import { readAnswer } from '../terminal';

interface ImageSummary {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  created: number;
  size: number;
  shared_size: number;
  unique_size: number;
  containers: number;
  labels: Record<string, string>;
}

const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

function splitTag(familiar: string): [string, string] {
  const i = familiar.lastIndexOf(':');
  if (i <= familiar.lastIndexOf('/')) return [familiar, '<none>'];
  return [familiar.slice(0, i), familiar.slice(i + 1)];
}

/**
 * One row of `image ls`: one per tag. The derived columns are getters on the prototype, so a
 * table computes only what it shows, and making a row is one small allocation.
 */
class ImageRow {
  /** Docker's row type: a field it does not have is an error, not `<no value>`. */
  readonly [GO_STRUCT_TYPE] = '*formatter.imageContext';
  constructor(
    private readonly img: ImageSummary,
    readonly ID: string,
    readonly Repository: string,
    readonly Tag: string,
    private readonly now: number,
  ) {}

  get Digest(): string {
    const entry = this.img.repo_digests.find((d) => d.startsWith(this.Repository + '@'));
    return entry ? entry.slice(entry.indexOf('@') + 1) : '<none>';
  }
  get CreatedSince(): string {
    return this.img.created ? timeAgo(this.img.created, this.now) : 'N/A';
  }
  get CreatedAt(): string {
    return this.img.created ? goTime(this.img.created) : '';
  }
  get Size(): string {
    return humanSize(this.img.size);
  }
  get VirtualSize(): string {
    return humanSize(this.img.size);
  }
  get SharedSize(): string {
    return humanSize(this.img.shared_size);
  }
  get UniqueSize(): string {
    return humanSize(this.img.unique_size);
  }
  get Containers(): string {
    return String(this.img.containers);
  }

  /** `{{json .}}`: every column, keys sorted as Docker's Go map marshals them. */
  toJSON(): Record<string, string> {
    const { Containers, CreatedAt, CreatedSince, Digest, ID, Repository, SharedSize, Size, Tag, UniqueSize, VirtualSize } = this;
    return { Containers, CreatedAt, CreatedSince, Digest, ID, Repository, SharedSize, Size, Tag, UniqueSize, VirtualSize };
  }
}

export async function imageLs(
  repository: string | undefined,
  opts: { all?: boolean; digests?: boolean; filter?: string[]; format?: string; trunc?: boolean; quiet?: boolean },
): Promise<number> {
  const client = await engine();
  const reply = await client.call<{ images: ImageSummary[] }>('ImageList', {
    all: !!opts.all,
    filters: parseFilters(opts.filter),
    reference: repository ?? '',
  });
  const now = Date.now();
  const noTrunc = opts.trunc === false;
  const rows: ImageRow[] = [];
  for (const img of reply.images) {
    const id = noTrunc ? img.id : shortId(img.id);
    if (img.repo_tags.length === 0) rows.push(new ImageRow(img, id, '<none>', '<none>', now));
    for (const t of img.repo_tags) {
      const [repo, tag] = splitTag(t);
      rows.push(new ImageRow(img, id, repo, tag, now));
    }
  }
  const defaultTable = opts.digests
    ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  out(
    renderList(rows, {
      format: opts.format,
      defaultTable,
      headers: {
        ID: 'IMAGE ID',
        Repository: 'REPOSITORY',
        Tag: 'TAG',
        Digest: 'DIGEST',
        CreatedSince: 'CREATED',
        CreatedAt: 'CREATED AT',
        Size: 'SIZE',
        SharedSize: 'SHARED SIZE',
        UniqueSize: 'UNIQUE SIZE',
        Containers: 'CONTAINERS',
        VirtualSize: 'VIRTUAL SIZE',
      },
      quiet: opts.quiet,
      quietField: 'ID',
    }),
  );
  return 0;
}

export async function imageTag(source: string, target: string): Promise<number> {
  const client = await engine();
  await client.call('ImageTag', { source, target });
  return 0;
}

export async function imageRm(names: string[], opts: { force?: boolean; prune?: boolean }): Promise<number> {
  const client = await engine();
  const reply = await client.call<{ lines: string[]; errors: string[] }>('ImageRemove', {
    names,
    force: !!opts.force,
    no_prune: opts.prune === false,
  });
  for (const l of reply.lines) println(l);
  for (const e of reply.errors) eprintln(`Error response from daemon: ${e}`);
  return reply.errors.length > 0 ? 1 : 0;
}

export async function imageInspect(names: string[], opts: { format?: string }): Promise<number> {
  const client = await engine();
  const docs: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      const r = await client.call<{ json: string[] }>('ImageInspect', { names: [name] });
      docs.push(JSON.parse(r.json[0] ?? 'null'));
    } catch (err) {
      errors.push(`Error: No such image: ${name}`);
      void err;
    }
  }
  printInspect(docs, opts.format);
  for (const e of errors) eprintln(e);
  return errors.length > 0 ? 1 : 0;
}

/** Docker's inspect output: an indented JSON array, the same array on one line (`json`), or a template run per object. */
export function printInspect(docs: unknown[], format?: string): void {
  if (!format) {
    println(docs.length === 0 ? '[]' : JSON.stringify(docs, null, 4));
    return;
  }
  if (format === 'json') {
    println(JSON.stringify(docs));
    return;
  }
  let tpl: ReturnType<typeof compileTemplate>;
  try {
    tpl = compileTemplate(format);
  } catch (err) {
    // Docker's inspect exits 64 for a template that does not parse (1 for one that fails to run).
    const message = err instanceof Error ? err.message : String(err);
    throw new ExitError(64, message.startsWith('template parsing error: ') ? message : `template parsing error: ${message}`);
  }
  for (const d of docs) println(tpl.execute(asGoValues(d)));
}

/**
 * Fields of Docker's inspect structs that are slices or maps: JSON writes a nil one as null, and
 * Go's template prints it as `[]` or `map[]`; a null anywhere else is a nil pointer, `<nil>`.
 */
const SLICE_FIELDS = new Set([
  'Aliases', 'Args', 'Binds', 'BlkioDeviceReadBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteBps', 'BlkioDeviceWriteIOps',
  'BlkioWeightDevice', 'CapAdd', 'CapDrop', 'Cmd', 'DNSNames', 'DeviceCgroupRules', 'DeviceRequests', 'Devices', 'Dns',
  'DnsOptions', 'DnsSearch', 'Entrypoint', 'Env', 'ExtraHosts', 'GroupAdd', 'Layers', 'Links', 'MaskedPaths', 'Mounts',
  'OnBuild', 'ReadonlyPaths', 'RepoDigests', 'RepoTags', 'SecondaryIPAddresses', 'SecondaryIPv6Addresses', 'SecurityOpt',
  'Shell', 'Test', 'Ulimits', 'VolumesFrom',
]);
const MAP_FIELDS = new Set(['DriverOpts', 'ExposedPorts', 'Labels', 'Networks', 'Options', 'PortBindings', 'Ports', 'StorageOpt', 'Sysctls', 'Tmpfs', 'Volumes']);

/**
 * An inspect document as Docker's CLI templates see it, its typed structs rather than the JSON:
 * nil slices, maps and pointers as Go prints them, health-check durations as Go durations (below). The objects
 * changed are copies.
 */
export function asGoValues(doc: unknown): unknown {
  return withGoDurations(withGoNils(withOmittedZeros(doc)));
}

/** A value already standing for a Go one (a nil, a duration): it has its own JSON form. */
function isGoValue(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

type GoZero = 'slice' | 'map' | 'pointer';

/**
 * Struct fields Docker's JSON leaves out when empty (omitempty), which a template over the struct
 * still finds as a nil of their kind: by the object they belong to.
 */
const OMITTED_FIELDS: ReadonlyArray<{ path: readonly string[]; fields: Readonly<Record<string, GoZero>> }> = [
  { path: ['HostConfig'], fields: { Tmpfs: 'map', Sysctls: 'map', StorageOpt: 'map', Mounts: 'slice', Init: 'pointer' } },
  { path: ['Config'], fields: { ExposedPorts: 'map', Healthcheck: 'pointer', Shell: 'slice' } },
  { path: ['ContainerConfig'], fields: { ExposedPorts: 'map', Healthcheck: 'pointer', Shell: 'slice' } },
  { path: ['State'], fields: { Health: 'pointer' } },
];

/** The document with the omitted fields of its structs back as nils, which `json` leaves out again. */
function withOmittedZeros(doc: unknown): unknown {
  let out = doc;
  for (const { path, fields } of OMITTED_FIELDS) {
    out = replaceAt(out, path, (struct) => {
      if (typeof struct !== 'object' || struct === null || Array.isArray(struct)) return struct;
      const missing = Object.entries(fields).filter(([k]) => !(k in struct));
      if (missing.length === 0) return struct;
      return { ...struct, ...Object.fromEntries(missing.map(([k, kind]) => [k, goNil(kind, { omitted: true })])) };
    });
  }
  return out;
}

function withGoNils(value: unknown): unknown {
  if (isGoValue(value)) return value;
  if (Array.isArray(value)) return value.map(withGoNils);
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, v === null ? goNil(SLICE_FIELDS.has(k) ? 'slice' : MAP_FIELDS.has(k) ? 'map' : 'pointer') : withGoNils(v)]),
  );
}

/**
 * Where inspect documents hold a Go `time.Duration` (container and image configs' health checks).
 * Docker's CLI runs a template over its typed structs, so these print as `30s` there, while the
 * JSON (plain inspect, `--format json`, `{{json …}}`) keeps the nanoseconds. The JSON leaves a
 * zero duration or retry count out (omitempty); the struct has it, so a template sees `0s`.
 */
const HEALTHCHECK_PATHS: ReadonlyArray<readonly string[]> = [['Config', 'Healthcheck'], ['ContainerConfig', 'Healthcheck']];
const DURATION_FIELDS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'];

/** The document with its health checks' durations as GoDurations, the objects on their paths copied. */
function withGoDurations(doc: unknown): unknown {
  let out = doc;
  for (const path of HEALTHCHECK_PATHS) {
    out = replaceAt(out, path, (hc) => {
      if (typeof hc !== 'object' || hc === null || Array.isArray(hc) || isGoValue(hc)) return hc;
      const typed: Record<string, unknown> = { Retries: 0, ...hc };
      for (const field of DURATION_FIELDS) {
        const v = typed[field] ?? 0;
        typed[field] = typeof v === 'number' ? new GoDuration(v) : v;
      }
      // `{{json}}` of the whole check is Docker's JSON again, zeros left out; printed, it is
      // Docker 20.10's HealthConfig struct (which has no StartInterval).
      Object.defineProperty(typed, 'toJSON', { value: () => hc, enumerable: false });
      const printed = ['Test', 'Interval', 'Timeout', 'StartPeriod', 'Retries'].map((f) => formatValue(typed[f] ?? goNil('slice'))).join(' ');
      Object.defineProperty(typed, 'toString', { value: () => `{${printed}}`, enumerable: false });
      return typed;
    });
  }
  return out;
}

function replaceAt(value: unknown, path: readonly string[], replace: (v: unknown) => unknown): unknown {
  if (path.length === 0) return replace(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const [key, ...rest] = path as [string, ...string[]];
  if (!Object.prototype.hasOwnProperty.call(value, key)) return value;
  const record = value as Record<string, unknown>;
  const next = replaceAt(record[key], rest, replace);
  return next === record[key] ? value : { ...record, [key]: next };
}

export async function imageHistory(
  name: string,
  opts: { human?: boolean; trunc?: boolean; quiet?: boolean; format?: string },
): Promise<number> {
  const client = await engine();
  const reply = await client.call<{
    entries: Array<{ id: string; created: number; created_by: string; size: number; comment: string; tags: string[] }>;
  }>('ImageHistory', { name });
  const now = Date.now();
  const noTrunc = opts.trunc === false;
  const rows = reply.entries.map((e) => {
    let createdBy = e.created_by;
    if (!noTrunc && createdBy.length > 45) createdBy = createdBy.slice(0, 44) + '…';
    return {
      ID: e.id === '<missing>' ? e.id : noTrunc ? e.id : shortId(e.id),
      CreatedSince: opts.human === false ? rfc3339(e.created) : timeAgo(e.created, now),
      CreatedAt: rfc3339(e.created),
      CreatedBy: createdBy,
      Size: opts.human === false ? String(e.size) : humanSize(e.size),
      Comment: e.comment,
    };
  });
  process.stdout.write(
    renderList(rows, {
      format: opts.format,
      defaultTable: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
      headers: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' },
      quiet: opts.quiet,
      quietField: 'ID',
    }),
  );
  return 0;
}

export async function imageLoad(opts: { input?: string }): Promise<number> {
  let input: NodeJS.ReadableStream;
  if (opts.input) {
    try {
      await fsp.access(opts.input);
    } catch {
      throw notFound(`open ${opts.input}: no such file or directory`);
    }
    input = createReadStream(opts.input, { highWaterMark: STREAM_CHUNK });
  } else {
    if (process.stdin.isTTY) throw new ExitError(1, 'requested load from stdin, but stdin is empty');
    input = process.stdin;
  }
  const client = await engine();
  const reply = await client.clientStream<{ lines: string[] }>('ImageLoad', async (write) => {
    for await (const chunk of input) await write({ data: chunk });
  });
  // -q quiets progress, of which there is none here; the "Loaded image" lines stay, as in Docker.
  for (const l of reply.lines) println(l);
  return 0;
}

export async function imageSave(names: string[], opts: { output?: string }): Promise<number> {
  if (!opts.output && process.stdout.isTTY)
    throw new ExitError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const client = await engine();
  const tmp = opts.output ? `${opts.output}.tmp-${process.pid}` : undefined;
  const sink = tmp ? createWriteStream(tmp) : process.stdout;
  const chunks = (async function* () {
    for await (const msg of client.stream<{ data: Buffer }>('ImageSave', { names })) yield msg.data;
  })();
  try {
    await pipeline(chunks, sink, { end: !!tmp });
    if (tmp) await fsp.rename(tmp, opts.output!);
  } catch (err) {
    if (tmp) await fsp.rm(tmp, { force: true });
    throw err;
  }
  return 0;
}

export async function imageImport(
  file: string,
  reference: string | undefined,
  opts: { change?: string[]; message?: string; platform?: string },
): Promise<number> {
  let input: NodeJS.ReadableStream;
  if (file === '-') input = process.stdin;
  else if (/^https?:\/\//.test(file)) throw new ExitError(1, `importing from a URL is not supported here: ${file}`);
  else {
    try {
      await fsp.access(file);
    } catch {
      throw notFound(`open ${file}: no such file or directory`);
    }
    input = createReadStream(file, { highWaterMark: STREAM_CHUNK });
  }
  const client = await engine();
  const reply = await client.clientStream<{ id: string }>('ImageImport', async (write) => {
    await write({ header: { changes: opts.change ?? [], reference: reference ?? '', message: opts.message ?? '', platform: opts.platform ?? '' } });
    for await (const chunk of input) await write({ data: chunk });
  });
  println(reply.id);
  return 0;
}

export async function imagePrune(opts: { all?: boolean; filter?: string[]; force?: boolean }): Promise<number> {
  if (!opts.force) {
    const warning = opts.all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!(await confirm(warning))) return 0;
  }
  const client = await engine();
  const r = await client.call<{ deleted: string[]; space_reclaimed: number }>('ImagePrune', {
    all: !!opts.all,
    filters: parseFilters(opts.filter),
  });
  if (r.deleted.length > 0) {
    println('Deleted Images:');
    for (const d of r.deleted) println(d);
    println();
  }
  println(`Total reclaimed space: ${humanSize(r.space_reclaimed, 4)}`);
  return 0;
}

export async function confirm(warning: string): Promise<boolean> {
  process.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  return /^y(es)?$/i.test(await readAnswer());
}
