/** `RUN --mount=type=cache,target=/root/.cache,sharing=locked` — parsing and defaults as in buildkit. */

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface MountSpec {
  type: MountType;
  /** Where the mount appears in the RUN container. */
  target: string;
  /** bind/cache: path inside `from` (or the context); defaults to its root. */
  source?: string;
  /** bind/cache: a stage name or index, or an image; the build context when absent. */
  from?: string;
  /** cache: the cache's identity (defaults to target); secret/ssh: the secret or agent id. */
  id?: string;
  readOnly: boolean;
  /** cache only. */
  sharing?: CacheSharing;
  /** Octal file mode for cache/secret/ssh. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** secret/ssh: fail when the secret or agent is not provided. */
  required?: boolean;
  /** secret: expose the secret as this environment variable instead of a file. */
  env?: string;
  /** tmpfs: size in bytes. */
  size?: number;
}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];

/** Splits on commas outside double quotes, removing the quotes (Go's csv reader, one record). */
function splitCsv(value: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (quoted) {
      if (ch === '"' && value[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  if (quoted) throw new Error(`invalid mount ${value}: unterminated quote`);
  fields.push(field);
  return fields;
}

function parseBool(key: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return true;
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw new Error(`invalid value for ${key}: ${value}`);
}

function parseInteger(key: string, value: string | undefined, radix = 10): number {
  const digits = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (value === undefined || !digits.test(value)) {
    throw new Error(`invalid value for ${key}: ${value ?? ''}`);
  }
  return Number.parseInt(value, radix);
}

/** `64m`, `1g`, `4096` → bytes (Docker's RAMInBytes, binary units). */
function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(value.trim());
  if (!match) throw new Error(`invalid value for size: ${value}`);
  const units = ['', 'k', 'm', 'g', 't', 'p'];
  return Math.round(Number(match[1]) * 1024 ** units.indexOf((match[2] ?? '').toLowerCase()));
}

/**
 * Parses one `--mount` value. `expand` substitutes variables in each option value (mount options
 * are expandable in buildkit); pass the identity to only validate.
 */
export function parseMount(value: string, expand: (word: string) => string = (w) => w): MountSpec {
  const options = new Map<string, string | undefined>();
  for (const field of splitCsv(value)) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    options.set(key, eq < 0 ? undefined : expand(field.slice(eq + 1)));
  }
  const typeValue = (options.get('type') ?? 'bind').toLowerCase();
  if (!(MOUNT_TYPES as readonly string[]).includes(typeValue)) throw new Error(`unsupported mount type "${typeValue}"`);
  const type = typeValue as MountType;
  const spec: MountSpec = { type, target: '', readOnly: type === 'bind' || type === 'secret' || type === 'ssh' };

  for (const [key, raw] of options) {
    switch (key) {
      case 'type':
        break;
      case 'target':
      case 'dst':
      case 'destination':
        spec.target = raw ?? '';
        break;
      case 'source':
      case 'src':
        spec.source = raw ?? '';
        break;
      case 'from':
        spec.from = raw ?? '';
        break;
      case 'id':
        spec.id = raw ?? '';
        break;
      case 'readonly':
      case 'ro':
        spec.readOnly = parseBool(key, raw);
        break;
      case 'readwrite':
      case 'rw':
        spec.readOnly = !parseBool(key, raw);
        break;
      case 'sharing': {
        const sharing = (raw ?? '').toLowerCase();
        if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') {
          throw new Error(`unsupported sharing value "${raw ?? ''}"`);
        }
        spec.sharing = sharing;
        break;
      }
      case 'mode':
        spec.mode = parseInteger(key, raw, 8);
        break;
      case 'uid':
        spec.uid = parseInteger(key, raw);
        break;
      case 'gid':
        spec.gid = parseInteger(key, raw);
        break;
      case 'required':
        spec.required = parseBool(key, raw);
        break;
      case 'env':
        spec.env = raw ?? '';
        break;
      case 'size':
        spec.size = parseSize(raw ?? '');
        break;
      default:
        throw new Error(`unexpected key '${key}' in '${value}'`);
    }
  }

  if (type === 'secret') {
    if (!spec.id && !spec.target) {
      if (!spec.env) throw new Error('one of id or target is required for a secret mount');
      spec.id = spec.env;
    }
    if (!spec.id) spec.id = spec.target.split('/').pop() ?? spec.target;
    if (!spec.target && !spec.env) spec.target = `/run/secrets/${spec.id}`;
  } else if (type === 'ssh') {
    spec.id ??= 'default';
    if (!spec.target) spec.target = '/run/buildkit/ssh_agent.0';
  } else if (!spec.target) {
    throw new Error(`mount type=${type} requires a target`);
  }
  if (type === 'cache') {
    spec.id ??= spec.target;
    spec.sharing ??= 'shared';
  }
  if (type !== 'bind' && type !== 'cache' && spec.from !== undefined) {
    throw new Error(`from is not supported for mount type=${type}`);
  }
  return spec;
}
