/**
 * Docker's mount flags (`-v/--volume`, `--mount`, `--tmpfs`) parsed into one `MountRequest`,
 * with Docker's checks and messages. Each flag goes through two stages in Docker — the CLI's
 * parsing, then the daemon's validation — and both happen here, so a bad flag fails before
 * anything is created. The only check left to the engine is whether a `--mount type=bind`
 * source exists (`bindSourceDoesNotExist`): that needs the host, and these functions are pure.
 */
import * as path from 'node:path';
import { invalidArgument, type TsError } from '../../common/errors';
import { TMPFS_DATA_KEYS, TMPFS_FLAGS } from '../../common/tmpfs-options';
import { parseBytes } from '../format';
import { parseGoBool } from './go-bool';

export type MountType = 'bind' | 'volume' | 'tmpfs';
export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

export interface BindMountOptions {
  /** Omitted: `rprivate`. */
  propagation?: Propagation;
  /** Make the host directory when it is missing: `-v` does, `--mount` only with `bind-create-src`. */
  createHostPath?: boolean;
  /** SELinux relabelling: `z` shared between containers, `Z` private to this one. */
  selinux?: 'z' | 'Z';
  /** Bind only the directory, not the mounts below it (`bind-recursive=disabled`). */
  nonRecursive?: boolean;
  /** With `readonly`: submounts stay writable (`bind-recursive=writable`, Docker 24's behaviour). */
  readOnlyNonRecursive?: boolean;
  /** With `readonly`: fail unless submounts can be made read-only too (`bind-recursive=readonly`). */
  readOnlyForceRecursive?: boolean;
}

export interface VolumeMountOptions {
  /** Do not copy the image's content at the target into an empty volume. */
  noCopy?: boolean;
  /** Labels and driver for a volume created by this mount. */
  labels?: Record<string, string>;
  driver?: string;
  driverOptions?: Record<string, string>;
  /** Mount this directory of the volume instead of its root. */
  subpath?: string;
}

export interface TmpfsMountOptions {
  sizeBytes?: number;
  /** Permission bits of the tmpfs root, e.g. 0o1777. */
  mode?: number;
  /** Other mount(8) options of `--tmpfs` as given (`noexec`, `uid=1000`, `size=50%`), ro/rw excepted. */
  options?: string[];
}

/** One mount of a container, whichever flag asked for it. */
export interface MountRequest {
  type: MountType;
  /** bind: absolute host path; volume: the volume name, omitted for an anonymous volume; tmpfs: omitted. */
  source?: string;
  /** Absolute, cleaned path inside the container. */
  target: string;
  readOnly: boolean;
  /** Docker Desktop's file-sharing hint (`consistent`, `cached`, `delegated`); no effect on Linux. */
  consistency?: string;
  bindOptions?: BindMountOptions;
  volumeOptions?: VolumeMountOptions;
  tmpfsOptions?: TmpfsMountOptions;
}

export interface ParseMountOptions {
  /** Directory that `./x` sources are relative to (Docker 23+ resolves them); without it they are refused. */
  cwd?: string;
  /** `--volume-driver`: the driver of volumes named by `-v`. */
  volumeDriver?: string;
}

const PROPAGATIONS: ReadonlySet<string> = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const CONSISTENCIES: ReadonlySet<string> = new Set(['consistent', 'cached', 'delegated']);

/** The engine's error for a `--mount type=bind` whose source is missing on the host. */
export function bindSourceDoesNotExist(source: string): TsError {
  return invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
}

// ---------------------------------------------------------------------------------------------
// -v / --volume

/**
 * `-v name:/path[:opts]`, `-v /host:/path[:opts]`, `-v /path` (anonymous volume). Options:
 * `ro`/`rw`, `z`/`Z`, a propagation, `nocopy`, a consistency; at most one of each kind.
 */
export function parseVolumeFlag(spec: string, opts: ParseMountOptions = {}): MountRequest {
  const raw = resolveRelativeSource(checkVolumeSections(spec), opts.cwd);
  const invalidSpec = `invalid volume specification: '${raw}'`;
  const parts = splitN(raw, ':', 4);
  if (parts[0] === '') throw invalidArgument(invalidSpec);
  let source = '';
  let target: string;
  let mode = '';
  switch (parts.length) {
    case 1:
      target = parts[0]!;
      break;
    case 2:
      // A volume cannot be given a mode without a name: `/foo:rw` is not `/foo` read-write.
      if (isValidMode(parts[1]!)) throw invalidArgument(invalidSpec);
      source = parts[0]!;
      target = parts[1]!;
      break;
    case 3:
      source = parts[0]!;
      target = parts[1]!;
      mode = parts[2]!;
      break;
    default:
      throw invalidArgument(invalidSpec);
  }
  if (!isValidMode(mode)) throw invalidArgument(`invalid mode: ${mode}`);
  const modes = mode === '' ? [] : mode.split(',');
  const type: MountType = path.posix.isAbsolute(source) ? 'bind' : isRelativePath(source) ? 'bind' : 'volume';
  const propagation = modes.find((m) => PROPAGATIONS.has(m)) as Propagation | undefined;
  const selinux = modes.find((m) => m === 'z' || m === 'Z') as 'z' | 'Z' | undefined;
  const consistency = modes.find((m) => CONSISTENCIES.has(m));
  const noCopy = modes.includes('nocopy');

  const fail = (message: string): never => {
    throw invalidArgument(`${invalidSpec}: invalid mount config for type "${type}": ${message}`);
  };
  checkTarget(target, fail);
  const req: MountRequest = { type, target: cleanPath(target), readOnly: modes.includes('ro') };
  if (consistency) req.consistency = consistency;
  if (type === 'bind') {
    if (noCopy) fail('field VolumeOptions must not be specified');
    checkAbsolute(source, fail);
    req.source = cleanPath(source);
    req.bindOptions = { createHostPath: true };
    if (propagation) req.bindOptions.propagation = propagation;
    if (selinux) req.bindOptions.selinux = selinux;
  } else {
    if (propagation) fail('field BindOptions must not be specified');
    if (source) req.source = source;
    const volumeOptions: VolumeMountOptions = {};
    if (noCopy) volumeOptions.noCopy = true;
    if (opts.volumeDriver) volumeOptions.driver = opts.volumeDriver;
    if (Object.keys(volumeOptions).length > 0) req.volumeOptions = volumeOptions;
  }
  return req;
}

/** The CLI's first pass over `-v` (compose's ParseVolume): empty sections and extra colons. */
function checkVolumeSections(spec: string): string {
  if (spec === '') throw invalidArgument('invalid empty volume spec');
  if (spec.length <= 2) return spec;
  const sections = spec.split(':');
  sections.forEach((section, i) => {
    if (section === '') throw invalidArgument(`invalid spec: ${spec}: empty section between colons`);
    // A colon after source and target are both known.
    if (i >= 2 && i < sections.length - 1) throw invalidArgument(`invalid spec: ${spec}: too many colons`);
  });
  return spec;
}

/** Docker 23+ makes `./x` and `../x` host paths absolute against the working directory. */
function resolveRelativeSource(spec: string, cwd: string | undefined): string {
  const colon = spec.indexOf(':');
  if (colon === -1 || cwd === undefined) return spec;
  const host = spec.slice(0, colon);
  if (!isRelativePath(host)) return spec;
  return path.resolve(cwd, host) + spec.slice(colon);
}

function isRelativePath(source: string): boolean {
  return source.startsWith('.');
}

/** moby's linuxValidMountMode: known words only, at most one of each kind. */
function isValidMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = { rw: 0, label: 0, propagation: 0, copy: 0, consistency: 0 };
  for (const m of mode.split(',')) {
    if (m === 'rw' || m === 'ro') counts.rw++;
    else if (m === 'z' || m === 'Z') counts.label++;
    else if (PROPAGATIONS.has(m)) counts.propagation++;
    else if (m === 'nocopy') counts.copy++;
    else if (CONSISTENCIES.has(m)) counts.consistency++;
    else return false;
  }
  return Object.values(counts).every((n) => n <= 1);
}

// ---------------------------------------------------------------------------------------------
// --mount

/**
 * `--mount type=bind|volume|tmpfs,source=…,target=…,readonly,…` (CSV). The type defaults to
 * volume. Messages are the CLI's for the flag syntax and the engine's for the configuration.
 */
export function parseMountFlag(value: string, opts: ParseMountOptions = {}): MountRequest {
  const fields = parseCsvRecord(value);
  let type = 'volume';
  let source: string | undefined;
  let target = '';
  let readOnly = false;
  let consistency: string | undefined;
  let bind: BindMountOptions | undefined;
  let volume: VolumeMountOptions | undefined;
  let tmpfs: TmpfsMountOptions | undefined;
  const bindOptions = () => (bind ??= {});
  const volumeOptions = () => (volume ??= {});
  const tmpfsOptions = () => (tmpfs ??= {});

  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq === -1 ? '' : field.slice(eq + 1);
    if (eq === -1) {
      switch (key) {
        case 'readonly':
        case 'ro':
          readOnly = true;
          continue;
        case 'volume-nocopy':
          volumeOptions().noCopy = true;
          continue;
        case 'bind-nonrecursive':
          bindOptions().nonRecursive = true;
          continue;
        case 'bind-create-src':
          bindOptions().createHostPath = true;
          continue;
        default:
          throw invalidArgument(`invalid field '${field}' must be a key=value pair`);
      }
    }
    const badValue = (): never => {
      throw invalidArgument(`invalid value for ${key}: ${val}`);
    };
    switch (key) {
      case 'type':
        type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        source = val;
        if (opts.cwd !== undefined && isRelativePath(val)) source = path.resolve(opts.cwd, val);
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = val;
        break;
      case 'readonly':
      case 'ro':
        readOnly = parseGoBool(val) ?? badValue();
        break;
      case 'consistency':
        consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().propagation = val.toLowerCase() as Propagation;
        break;
      case 'bind-nonrecursive':
        bindOptions().nonRecursive = parseGoBool(val) ?? badValue();
        break;
      case 'bind-recursive':
        switch (val) {
          case 'enabled':
            break;
          case 'disabled':
            bindOptions().nonRecursive = true;
            break;
          case 'writable':
            bindOptions().readOnlyNonRecursive = true;
            break;
          case 'readonly':
            bindOptions().readOnlyForceRecursive = true;
            break;
          default:
            throw invalidArgument(
              `invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`,
            );
        }
        break;
      case 'bind-create-src':
        bindOptions().createHostPath = parseGoBool(val) ?? badValue();
        break;
      case 'volume-subpath':
        volumeOptions().subpath = val;
        break;
      case 'volume-nocopy':
        volumeOptions().noCopy = parseGoBool(val) ?? badValue();
        break;
      case 'volume-label':
        setKeyValue((volumeOptions().labels ??= {}), val);
        break;
      case 'volume-driver':
        volumeOptions().driver = val;
        break;
      case 'volume-opt':
        setKeyValue((volumeOptions().driverOptions ??= {}), val);
        break;
      case 'tmpfs-size':
        tmpfsOptions().sizeBytes = tryParseBytes(val) ?? badValue();
        break;
      case 'tmpfs-mode':
        tmpfsOptions().mode = parseOctalMode(val) ?? badValue();
        break;
      default:
        throw invalidArgument(`unexpected key '${key}' in '${field}'`);
    }
  }

  if (type === '') throw invalidArgument('type is required');
  if (target === '') throw invalidArgument('target is required');
  if (volume && type !== 'volume') throw invalidArgument(`cannot mix 'volume-*' options with mount type '${type}'`);
  if (bind && type !== 'bind') throw invalidArgument(`cannot mix 'bind-*' options with mount type '${type}'`);
  if (tmpfs && type !== 'tmpfs') throw invalidArgument(`cannot mix 'tmpfs-*' options with mount type '${type}'`);
  if (bind?.readOnlyNonRecursive && !readOnly) {
    throw invalidArgument("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  }
  if (bind?.readOnlyForceRecursive) {
    if (!readOnly) throw invalidArgument("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (bind.propagation !== 'rprivate') {
      throw invalidArgument("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
    }
  }

  // The engine's validation of the mount it receives.
  const fail = (message: string): never => {
    throw invalidArgument(`invalid mount config for type "${type}": ${message}`);
  };
  checkTarget(target, fail);
  const req: MountRequest = { type: type as MountType, target: cleanPath(target), readOnly };
  if (consistency) req.consistency = consistency;
  switch (type) {
    case 'bind': {
      if (!source) fail('field Source must not be empty');
      checkAbsolute(source!, fail);
      if (bind?.propagation && !PROPAGATIONS.has(bind.propagation)) fail(`invalid propagation mode: ${bind.propagation}`);
      req.source = cleanPath(source!);
      req.bindOptions = { createHostPath: false, ...bind };
      break;
    }
    case 'volume': {
      const anonymous = !source;
      if (volume?.subpath) {
        if (anonymous) fail('must not set Subpath when using anonymous volumes');
        if (!isLocalPath(volume.subpath)) fail('subpath must be a relative path within the volume');
      }
      if (readOnly && anonymous) fail('must not set ReadOnly mode when using anonymous volumes');
      if (source) req.source = source;
      if (volume) req.volumeOptions = volume;
      break;
    }
    case 'tmpfs':
      if (source) fail('field Source must not be specified');
      if (tmpfs) req.tmpfsOptions = tmpfs;
      break;
    default:
      fail('mount type unknown');
  }
  return req;
}

/** Go's encoding/csv for one record: comma-separated fields, `"…"` quoting with `""` for a quote. */
function parseCsvRecord(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= line.length) throw invalidArgument(`parse error on line 1, column ${start + 1}: extraneous or missing " in quoted-field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i];
        i++;
      }
      if (i < line.length && line[i] !== ',') {
        throw invalidArgument(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
      }
    } else {
      const end = line.indexOf(',', i);
      field = end === -1 ? line.slice(i) : line.slice(i, end);
      const quote = field.indexOf('"');
      if (quote !== -1) throw invalidArgument(`parse error on line 1, column ${i + quote + 1}: bare " in non-quoted-field`);
      i = end === -1 ? line.length : end;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

// ---------------------------------------------------------------------------------------------
// --tmpfs

/** `--tmpfs /run[:rw,noexec,size=64m,mode=1770,uid=1000]`. */
export function parseTmpfsFlag(value: string): MountRequest {
  const colon = value.indexOf(':');
  const target = colon === -1 ? value : value.slice(0, colon);
  const data = colon === -1 ? '' : value.slice(colon + 1);
  checkTarget(target, (message) => {
    throw invalidArgument(message);
  });
  const req: MountRequest = { type: 'tmpfs', target: cleanPath(target), readOnly: false };
  const tmpfs: TmpfsMountOptions = {};
  const rest: string[] = [];
  for (const option of data === '' ? [] : data.split(',')) {
    if (TMPFS_FLAGS.has(option)) {
      if (option === 'ro' || option === 'rw') req.readOnly = option === 'ro';
      else if (option !== 'defaults') rest.push(option);
      continue;
    }
    const eq = option.indexOf('=');
    const key = option.slice(0, eq);
    if (eq === -1 || !TMPFS_DATA_KEYS.has(key)) {
      // Go's %q of the option split at '='.
      const parts = eq === -1 ? [option] : [key, option.slice(eq + 1)];
      throw invalidArgument(`invalid tmpfs option [${parts.map((p) => JSON.stringify(p)).join(' ')}]`);
    }
    const val = option.slice(eq + 1);
    if (key === 'size' && !val.endsWith('%')) {
      const size = tryParseBytes(val);
      if (size === undefined) throw invalidArgument(`invalid tmpfs option: invalid size: '${val}'`);
      tmpfs.sizeBytes = size;
    } else if (key === 'mode') {
      const mode = parseOctalMode(val);
      if (mode === undefined) throw invalidArgument(`invalid tmpfs option: invalid mode: '${val}'`);
      tmpfs.mode = mode;
    } else {
      rest.push(option);
    }
  }
  if (rest.length > 0) tmpfs.options = rest;
  if (Object.keys(tmpfs).length > 0) req.tmpfsOptions = tmpfs;
  return req;
}

// ---------------------------------------------------------------------------------------------
// as Docker's API carries them (what inspect's HostConfig shows)

/** `-v`'s value as Docker's CLI puts it in HostConfig.Binds: as given, a relative host path made absolute. */
export function volumeFlagBind(spec: string, opts: ParseMountOptions = {}): string {
  return resolveRelativeSource(spec, opts.cwd);
}

/**
 * A `--mount` as Docker's CLI sends it in HostConfig.Mounts (its API `Mount`, empty fields left
 * out as Go's `omitempty` does): an options object only for a kind of option that was given.
 */
export function apiMountOf(req: MountRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { Type: req.type };
  if (req.source) out.Source = req.source;
  out.Target = req.target;
  if (req.readOnly) out.ReadOnly = true;
  if (req.consistency) out.Consistency = req.consistency;
  const b = req.bindOptions;
  // A bind's options always hold createHostPath; they were given only when one is set.
  const bind = withoutEmpty({
    Propagation: b?.propagation,
    NonRecursive: b?.nonRecursive,
    CreateMountpoint: b?.createHostPath,
    ReadOnlyNonRecursive: b?.readOnlyNonRecursive,
    ReadOnlyForceRecursive: b?.readOnlyForceRecursive,
  });
  if (Object.keys(bind).length > 0) out.BindOptions = bind;
  const v = req.volumeOptions;
  if (v) {
    out.VolumeOptions = withoutEmpty({
      NoCopy: v.noCopy,
      Labels: sortedKeys(v.labels),
      Subpath: v.subpath,
      DriverConfig: withoutEmpty({ Name: v.driver, Options: sortedKeys(v.driverOptions) }),
    });
  }
  const t = req.tmpfsOptions;
  if (t) out.TmpfsOptions = withoutEmpty({ SizeBytes: t.sizeBytes, Mode: t.mode });
  return out;
}

/** Go's `omitempty` over a struct's fields: false, 0, '' and a nil map or pointer (undefined) are left out. */
function withoutEmpty(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== false && v !== 0 && v !== ''));
}

/** A map as Go marshals it: sorted keys; an empty one is left out by `omitempty` (undefined). */
function sortedKeys(map: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!map || Object.keys(map).length === 0) return undefined;
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// ---------------------------------------------------------------------------------------------
// all flags of one container

export interface ContainerMountFlags {
  volumes?: readonly string[];
  mounts?: readonly string[];
  tmpfs?: readonly string[];
}

/** Every mount flag of a `run`/`create`, in flag order; two mounts on one target are refused as Docker does. */
export function parseContainerMounts(flags: ContainerMountFlags, opts: ParseMountOptions = {}): MountRequest[] {
  const all = [
    ...(flags.volumes ?? []).map((v) => parseVolumeFlag(v, opts)),
    ...(flags.mounts ?? []).map((m) => parseMountFlag(m, opts)),
    ...(flags.tmpfs ?? []).map((t) => parseTmpfsFlag(t)),
  ];
  const seen = new Set<string>();
  for (const m of all) {
    if (seen.has(m.target)) throw invalidArgument(`Duplicate mount point: ${m.target}`);
    seen.add(m.target);
  }
  return all;
}

// ---------------------------------------------------------------------------------------------
// shared checks

function checkTarget(target: string, fail: (message: string) => never): void {
  if (target === '') fail('field Target must not be empty');
  if (path.posix.normalize(target.replace(/\\/g, '/')) === '/') fail("invalid specification: destination can't be '/'");
  checkAbsolute(target, fail);
}

function checkAbsolute(p: string, fail: (message: string) => never): void {
  if (!path.posix.isAbsolute(p.replace(/\\/g, '/'))) fail(`invalid mount path: '${p}' mount path must be absolute`);
}

/** Go's path.Clean for absolute paths. */
function cleanPath(p: string): string {
  const normalized = path.posix.normalize(p);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** Go's filepath.IsLocal: relative, non-empty, and not escaping with `..`. */
function isLocalPath(p: string): boolean {
  if (p === '' || path.posix.isAbsolute(p)) return false;
  const normalized = path.posix.normalize(p);
  return normalized !== '..' && !normalized.startsWith('../');
}

function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i === -1) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

function tryParseBytes(v: string): number | undefined {
  try {
    return parseBytes(v);
  } catch {
    return undefined;
  }
}

function parseOctalMode(v: string): number | undefined {
  if (!/^[0-7]+$/.test(v)) return undefined;
  const mode = parseInt(v, 8);
  return mode <= 0xffffffff ? mode : undefined;
}

function setKeyValue(target: Record<string, string>, keyValue: string): void {
  const eq = keyValue.indexOf('=');
  const key = eq === -1 ? keyValue : keyValue.slice(0, eq);
  if (key !== '') target[key] = eq === -1 ? '' : keyValue.slice(eq + 1);
}
