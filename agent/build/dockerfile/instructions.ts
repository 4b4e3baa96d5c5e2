/**
 * Typed Dockerfile instructions (buildkit `instructions/parse.go`), grouped into build stages, plus
 * their canonical text and variable substitution. Nothing here touches the filesystem.
 */
import { dockerfileError, suggest } from './errors';
import { parseFlags, type FlagSpec, type ParsedFlags } from './flags';
import { parseMount, type MountSpec } from './mounts';
import {
  chompHeredoc,
  parseHeredocWord,
  parseRawDockerfile,
  type Heredoc,
  type ParserDirectives,
  type RawInstruction,
} from './parser';

interface Located {
  /** 1-based line where the instruction starts. */
  line: number;
  endLine: number;
  /** The logical source line (continuations joined), for messages and history. */
  original: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

/** Shell form keeps the command as one string (`command[0]`); exec form is the JSON array. */
export type CommandForm = 'shell' | 'exec';

/** A `COPY <<EOF /dst` source: a file made from the heredoc body. */
export interface InlineFile {
  /** The heredoc delimiter, used as the file name. */
  name: string;
  /** The body, with tabs already stripped for `<<-`. */
  content: string;
  /** Whether `$VAR` in the body is substituted (unquoted delimiter). */
  expand: boolean;
}

export interface FromInstruction extends Located {
  kind: 'FROM';
  /** Image reference, `scratch`, or an earlier stage's name. */
  image: string;
  /** `AS name`, lower-cased as buildkit does. */
  stageName?: string;
  platform?: string;
}
export interface ArgInstruction extends Located {
  kind: 'ARG';
  /** `ARG a=1 b`: each name with its default when given. */
  args: { name: string; value?: string }[];
}
export interface EnvInstruction extends Located {
  kind: 'ENV';
  pairs: KeyValue[];
}
export interface LabelInstruction extends Located {
  kind: 'LABEL';
  pairs: KeyValue[];
}
export interface RunInstruction extends Located {
  kind: 'RUN';
  form: CommandForm;
  command: string[];
  /** Heredocs named on the line; bodies are as written (the shell handles `<<-`). */
  heredocs: Heredoc[];
  mounts: MountSpec[];
  /** The raw `--mount` values, re-parsed with substitution when a stage is resolved. */
  mountFlags: string[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
  devices: string[];
}
export interface CmdInstruction extends Located {
  kind: 'CMD';
  form: CommandForm;
  command: string[];
}
export interface EntrypointInstruction extends Located {
  kind: 'ENTRYPOINT';
  form: CommandForm;
  command: string[];
}
export interface ShellInstruction extends Located {
  kind: 'SHELL';
  shell: string[];
}
export interface WorkdirInstruction extends Located {
  kind: 'WORKDIR';
  path: string;
}
export interface UserInstruction extends Located {
  kind: 'USER';
  user: string;
}
export interface ExposeInstruction extends Located {
  kind: 'EXPOSE';
  /** As written (`80`, `53/udp`, `8000-8010/tcp`); see `parseExposedPorts`. */
  ports: string[];
}
export interface VolumeInstruction extends Located {
  kind: 'VOLUME';
  volumes: string[];
}
interface CopyLike extends Located {
  form: CommandForm;
  /** Context (or `--from`) paths and globs; ADD also takes URLs and Git addresses. */
  sources: string[];
  inline: InlineFile[];
  destination: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  excludes: string[];
}
export interface CopyInstruction extends CopyLike {
  kind: 'COPY';
  from?: string;
  parents: boolean;
}
export interface AddInstruction extends CopyLike {
  kind: 'ADD';
  keepGitDir: boolean;
  checksum?: string;
  unpack?: boolean;
}
export interface HealthcheckInstruction extends Located {
  kind: 'HEALTHCHECK';
  /** `['NONE']`, `['CMD', ...argv]` or `['CMD-SHELL', command]`, as in the image config. */
  test: string[];
  intervalNs?: number;
  timeoutNs?: number;
  startPeriodNs?: number;
  startIntervalNs?: number;
  retries?: number;
}
export interface StopsignalInstruction extends Located {
  kind: 'STOPSIGNAL';
  signal: string;
}
export interface OnbuildInstruction extends Located {
  kind: 'ONBUILD';
  /** The trigger as stored in the image config: text after ONBUILD, heredoc bodies appended. */
  expression: string;
  trigger: Instruction;
}
export interface MaintainerInstruction extends Located {
  kind: 'MAINTAINER';
  /** Deprecated; sets the image's `author` field. */
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | ArgInstruction
  | EnvInstruction
  | LabelInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | WorkdirInstruction
  | UserInstruction
  | ExposeInstruction
  | VolumeInstruction
  | CopyInstruction
  | AddInstruction
  | HealthcheckInstruction
  | StopsignalInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

export const INSTRUCTION_NAMES: readonly InstructionKind[] = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
];

export interface Stage {
  index: number;
  /** Lower-cased `AS` name. */
  name?: string;
  from: FromInstruction;
  /** Everything after FROM, in order. */
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  directives: ParserDirectives;
  escapeToken: string;
  /** ARGs before the first FROM: only usable in FROM lines (and by stages that re-declare them). */
  metaArgs: ArgInstruction[];
  stages: Stage[];
  warnings: string[];
}

const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;
const MINIMUM_DURATION_NS = 1_000_000;

const DURATION_UNITS_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's `time.ParseDuration` (`1m30s`, `1.5h`, `300ms`), in nanoseconds. */
export function parseGoDuration(text: string): number {
  if (text === '0') return 0;
  const match = /^([+-]?)((?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$/u.exec(text);
  if (!match) throw new Error(`time: invalid duration "${text}"`);
  let total = 0;
  for (const part of (match[2] as string).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/gu)) {
    total += Number(part[1]) * (DURATION_UNITS_NS[part[2] as string] as number);
  }
  return Math.round(match[1] === '-' ? -total : total);
}

function healthDuration(flags: ParsedFlags, name: string): number | undefined {
  const value = flags.strings.get(name);
  if (value === undefined || value === '') return undefined;
  const ns = parseGoDuration(value);
  if (ns < MINIMUM_DURATION_NS) throw new Error(`Interval "${name}" cannot be less than 1ms`);
  return ns;
}

const FLAG_SPECS: Record<string, FlagSpec> = {
  from: { platform: 'string' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list' },
  add: {
    chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool',
    exclude: 'list',
  },
  run: { mount: 'list', network: 'string', security: 'string', device: 'list' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

function located(raw: RawInstruction): Located {
  return { line: raw.startLine, endLine: raw.endLine, original: raw.original.trim() };
}

function requireExactlyOne(raw: RawInstruction, name: string): string {
  if (raw.args.length !== 1) throw new Error(`${name} requires exactly one argument`);
  return raw.args[0] as string;
}

function requireAtLeastOne(raw: RawInstruction, name: string): void {
  if (raw.args.length === 0) throw new Error(`${name} requires at least one argument`);
}

function pairs(raw: RawInstruction, name: string): KeyValue[] {
  requireAtLeastOne(raw, name);
  const out: KeyValue[] = [];
  for (let i = 0; i < raw.args.length; i += 2) {
    const key = raw.args[i] as string;
    if (key === '') throw new Error(`${name} names can not be blank`);
    out.push({ key, value: raw.args[i + 1] ?? '' });
  }
  return out;
}

function commandLine(raw: RawInstruction): { form: CommandForm; command: string[] } {
  return { form: raw.json ? 'exec' : 'shell', command: [...raw.args] };
}

function copyLike(raw: RawInstruction, name: 'COPY' | 'ADD', flags: ParsedFlags): CopyLike {
  if (raw.args.length < 2) {
    throw new Error(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  const destination = raw.args[raw.args.length - 1] as string;
  if (!raw.json && parseHeredocWord(destination)) throw new Error(`${name} cannot accept a heredoc as a destination`);
  const bodies = new Map(raw.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const inline: InlineFile[] = [];
  for (const source of raw.args.slice(0, -1)) {
    const heredoc = raw.json ? undefined : parseHeredocWord(source);
    if (heredoc) {
      const body = bodies.get(heredoc.name)?.content ?? '';
      inline.push({ name: heredoc.name, content: heredoc.chomp ? chompHeredoc(body) : body, expand: heredoc.expand });
    } else {
      sources.push(source);
    }
  }
  const result: CopyLike = {
    ...located(raw),
    form: raw.json ? 'exec' : 'shell',
    sources,
    inline,
    destination,
    link: flags.bools.get('link') ?? false,
    excludes: flags.lists.get('exclude') ?? [],
  };
  const chown = flags.strings.get('chown');
  const chmod = flags.strings.get('chmod');
  if (chown !== undefined) result.chown = chown;
  if (chmod !== undefined) result.chmod = chmod;
  return result;
}

/** Types one raw instruction. Throws plain Errors; `parseDockerfile` adds the file and line. */
function typeInstruction(raw: RawInstruction, escapeToken: string): Instruction {
  const name = raw.keyword.toUpperCase();
  const flags = parseFlags(name, raw.flags, FLAG_SPECS[raw.keyword] ?? {});
  const at = located(raw);
  switch (raw.keyword) {
    case 'from': {
      const args = raw.args;
      let stageName: string | undefined;
      if (args.length === 3 && (args[1] as string).toLowerCase() === 'as') {
        stageName = (args[2] as string).toLowerCase();
        if (!STAGE_NAME_RE.test(stageName)) {
          throw new Error(`invalid name for build stage: "${args[2] as string}", name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) {
        throw new Error('FROM requires either one or three arguments');
      }
      const from: FromInstruction = { ...at, kind: 'FROM', image: args[0] as string };
      if (stageName !== undefined) from.stageName = stageName;
      const platform = flags.strings.get('platform');
      if (platform !== undefined) from.platform = platform;
      return from;
    }
    case 'arg': {
      requireAtLeastOne(raw, 'ARG');
      const args = raw.args.map((word) => {
        const eq = word.indexOf('=');
        if (eq < 0) return { name: word };
        if (eq === 0) throw new Error('ARG names can not be blank');
        return { name: word.slice(0, eq), value: word.slice(eq + 1) };
      });
      return { ...at, kind: 'ARG', args };
    }
    case 'env':
      return { ...at, kind: 'ENV', pairs: pairs(raw, 'ENV') };
    case 'label':
      return { ...at, kind: 'LABEL', pairs: pairs(raw, 'LABEL') };
    case 'run': {
      requireAtLeastOne(raw, 'RUN');
      const mountFlags = flags.lists.get('mount') ?? [];
      const run: RunInstruction = {
        ...at,
        kind: 'RUN',
        ...commandLine(raw),
        heredocs: raw.heredocs,
        mounts: mountFlags.map((m) => parseMount(m)),
        mountFlags,
        devices: flags.lists.get('device') ?? [],
      };
      const network = flags.strings.get('network');
      if (network !== undefined) {
        if (network !== 'default' && network !== 'none' && network !== 'host') {
          throw new Error(`unsupported network mode "${network}"`);
        }
        run.network = network;
      }
      const security = flags.strings.get('security');
      if (security !== undefined) {
        if (security !== 'sandbox' && security !== 'insecure') throw new Error(`unsupported security mode "${security}"`);
        run.security = security;
      }
      return run;
    }
    case 'cmd':
      return { ...at, kind: 'CMD', ...commandLine(raw) };
    case 'entrypoint':
      return { ...at, kind: 'ENTRYPOINT', ...commandLine(raw) };
    case 'shell':
      requireAtLeastOne(raw, 'SHELL');
      if (!raw.json) throw new Error('SHELL requires the arguments to be in JSON form');
      return { ...at, kind: 'SHELL', shell: [...raw.args] };
    case 'workdir':
      return { ...at, kind: 'WORKDIR', path: requireExactlyOne(raw, 'WORKDIR') };
    case 'user':
      return { ...at, kind: 'USER', user: requireExactlyOne(raw, 'USER') };
    case 'stopsignal':
      return { ...at, kind: 'STOPSIGNAL', signal: requireExactlyOne(raw, 'STOPSIGNAL') };
    case 'maintainer':
      return { ...at, kind: 'MAINTAINER', maintainer: requireExactlyOne(raw, 'MAINTAINER') };
    case 'expose':
      requireAtLeastOne(raw, 'EXPOSE');
      return { ...at, kind: 'EXPOSE', ports: [...raw.args] };
    case 'volume': {
      requireAtLeastOne(raw, 'VOLUME');
      const volumes = raw.args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw new Error('VOLUME specified can not be an empty string');
      return { ...at, kind: 'VOLUME', volumes };
    }
    case 'copy': {
      const copy: CopyInstruction = {
        ...copyLike(raw, 'COPY', flags),
        kind: 'COPY',
        parents: flags.bools.get('parents') ?? false,
      };
      const from = flags.strings.get('from');
      if (from !== undefined) copy.from = from;
      return copy;
    }
    case 'add': {
      const add: AddInstruction = {
        ...copyLike(raw, 'ADD', flags),
        kind: 'ADD',
        keepGitDir: flags.bools.get('keep-git-dir') ?? false,
      };
      const checksum = flags.strings.get('checksum');
      if (checksum !== undefined) add.checksum = checksum;
      const unpack = flags.bools.get('unpack');
      if (unpack !== undefined) add.unpack = unpack;
      return add;
    }
    case 'healthcheck':
      return typeHealthcheck(raw, flags, at);
    case 'onbuild': {
      const trigger = raw.trigger;
      if (!trigger) throw new Error('ONBUILD requires at least one argument');
      const triggerName = trigger.keyword.toUpperCase();
      if (triggerName === 'ONBUILD') throw new Error('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (triggerName === 'FROM' || triggerName === 'MAINTAINER') {
        throw new Error(`${triggerName} isn't allowed as an ONBUILD trigger`);
      }
      let expression = raw.original.trim().replace(/^onbuild\s*/i, '');
      for (const heredoc of trigger.heredocs) expression += '\n' + heredoc.content + heredoc.name;
      return { ...at, kind: 'ONBUILD', expression, trigger: typeInstruction(trigger, escapeToken) };
    }
    default: {
      const guess = suggest(raw.keywordAsWritten, INSTRUCTION_NAMES);
      throw new Error(`unknown instruction: ${raw.keywordAsWritten}${guess ? ` (did you mean ${guess}?)` : ''}`);
    }
  }
}

function typeHealthcheck(raw: RawInstruction, flags: ParsedFlags, at: Located): HealthcheckInstruction {
  requireAtLeastOne(raw, 'HEALTHCHECK');
  const type = (raw.args[0] as string).toUpperCase();
  const rest = raw.args.slice(1);
  if (type === 'NONE') {
    if (rest.length !== 0) throw new Error('HEALTHCHECK NONE takes no arguments');
    if (flags.used.length > 0) throw new Error('HEALTHCHECK NONE takes no options');
    return { ...at, kind: 'HEALTHCHECK', test: ['NONE'] };
  }
  if (type !== 'CMD') throw new Error(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  if (rest.length === 0) throw new Error('Missing command after HEALTHCHECK CMD');
  const health: HealthcheckInstruction = {
    ...at,
    kind: 'HEALTHCHECK',
    test: raw.json ? ['CMD', ...rest] : ['CMD-SHELL', ...rest],
  };
  const interval = healthDuration(flags, 'interval');
  const timeout = healthDuration(flags, 'timeout');
  const startPeriod = healthDuration(flags, 'start-period');
  const startInterval = healthDuration(flags, 'start-interval');
  if (interval !== undefined) health.intervalNs = interval;
  if (timeout !== undefined) health.timeoutNs = timeout;
  if (startPeriod !== undefined) health.startPeriodNs = startPeriod;
  if (startInterval !== undefined) health.startIntervalNs = startInterval;
  const retries = flags.strings.get('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw new Error(`invalid value for --retries: ${retries}`);
    const count = Number.parseInt(retries, 10);
    if (count < 1) throw new Error(`--retries must be at least 1 (not ${count})`);
    health.retries = count;
  }
  return health;
}

/** Types a raw instruction, turning any problem into a `Dockerfile:N: problem` error. */
export function typeRawInstruction(raw: RawInstruction, file: string, escapeToken: string): Instruction {
  try {
    return typeInstruction(raw, escapeToken);
  } catch (err) {
    throw dockerfileError(file, raw.startLine, (err as Error).message);
  }
}

/**
 * Parses a Dockerfile into typed instructions grouped by stage. `file` is the name used in
 * messages (`Dockerfile`, `app.Dockerfile`).
 */
export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const raw = parseRawDockerfile(text, file);
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const seenNames = new Map<string, number>();
  for (const rawInstruction of raw.instructions) {
    const instruction = typeRawInstruction(rawInstruction, file, raw.escapeToken);
    if (instruction.kind === 'FROM') {
      if (instruction.stageName !== undefined) {
        const previous = seenNames.get(instruction.stageName);
        if (previous !== undefined) {
          throw dockerfileError(file, instruction.line, `duplicate stage name "${instruction.stageName}" (first used on line ${previous})`);
        }
        seenNames.set(instruction.stageName, instruction.line);
      }
      const stage: Stage = { index: stages.length, from: instruction, instructions: [] };
      if (instruction.stageName !== undefined) stage.name = instruction.stageName;
      stages.push(stage);
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) {
      current.instructions.push(instruction);
    } else if (instruction.kind === 'ARG') {
      metaArgs.push(instruction);
    } else {
      throw dockerfileError(file, instruction.line, `${instruction.kind} before the first FROM: only ARG may precede FROM`);
    }
  }
  if (stages.length === 0) throw dockerfileError(file, undefined, 'no build stage: the Dockerfile has no FROM instruction');
  return { file, directives: raw.directives, escapeToken: raw.escapeToken, metaArgs, stages, warnings: raw.warnings };
}

/**
 * Parses ONBUILD trigger expressions from a base image's config into instructions, so a child
 * build can run them before its own first instruction.
 */
export function parseTriggers(expressions: readonly string[], file = 'ONBUILD'): Instruction[] {
  return expressions.map((expression) => {
    const raw = parseRawDockerfile(expression, file);
    const first = raw.instructions[0];
    if (!first || raw.instructions.length !== 1) throw dockerfileError(file, undefined, `invalid trigger: ${expression}`);
    return typeRawInstruction(first, file, raw.escapeToken);
  });
}

export interface ExposedPort {
  start: number;
  end: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** `80`, `80/udp`, `8000-8010/tcp` (after substitution) → port ranges; keys as in the image config. */
export function parseExposedPorts(ports: readonly string[]): { ports: ExposedPort[]; configKeys: string[] } {
  const parsed: ExposedPort[] = [];
  const keys: string[] = [];
  for (const spec of ports) {
    const match = /^(?:[^:]*:)?(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec.trim());
    if (!match) throw new Error(`Invalid containerPort: ${spec}`);
    const start = Number(match[1]);
    const end = match[2] === undefined ? start : Number(match[2]);
    const protocol = (match[3] ?? 'tcp').toLowerCase() as ExposedPort['protocol'];
    if (start < 1 || end > 65535 || end < start) throw new Error(`Invalid containerPort: ${spec}`);
    parsed.push({ start, end, protocol });
    for (let port = start; port <= end; port++) keys.push(`${port}/${protocol}`);
  }
  return { ports: parsed, configKeys: [...new Set(keys)].sort() };
}

const quoteIfNeeded = (word: string): string => (/[\s"'\\]/.test(word) || word === '' ? JSON.stringify(word) : word);

function flagText(name: string, value: string | boolean | undefined): string {
  if (value === undefined || value === false) return '';
  return value === true ? ` --${name}` : ` --${name}=${value}`;
}

function commandText(form: CommandForm, command: readonly string[]): string {
  return form === 'exec' ? JSON.stringify(command) : command.join(' ');
}

function copyText(ins: CopyInstruction | AddInstruction): string {
  let flags = '';
  if (ins.kind === 'COPY') flags += flagText('from', ins.from);
  flags += flagText('chown', ins.chown) + flagText('chmod', ins.chmod) + flagText('link', ins.link);
  if (ins.kind === 'COPY') flags += flagText('parents', ins.parents);
  if (ins.kind === 'ADD') {
    flags += flagText('keep-git-dir', ins.keepGitDir) + flagText('checksum', ins.checksum);
    if (ins.unpack !== undefined) flags += ` --unpack=${ins.unpack}`;
  }
  for (const exclude of ins.excludes) flags += ` --exclude=${exclude}`;
  const heredocNames = ins.inline.map((f) => `<<${f.name}`);
  const words = [...heredocNames, ...ins.sources, ins.destination];
  const bodies = ins.inline.map((f) => `\n${f.content}${f.name}`).join('');
  const args = ins.form === 'exec' ? JSON.stringify(words) : words.join(' ');
  return `${ins.kind}${flags} ${args}${bodies}`;
}

/**
 * A canonical one-line text of an instruction (multi-line when it carries heredoc bodies). Applied
 * to a substituted instruction it is the "instruction text after substitution" of a cache key.
 */
export function formatInstruction(ins: Instruction): string {
  switch (ins.kind) {
    case 'FROM':
      return `FROM${flagText('platform', ins.platform)} ${ins.image}${ins.stageName ? ` AS ${ins.stageName}` : ''}`;
    case 'ARG':
      return `ARG ${ins.args.map((a) => (a.value === undefined ? a.name : `${a.name}=${quoteIfNeeded(a.value)}`)).join(' ')}`;
    case 'ENV':
    case 'LABEL':
      return `${ins.kind} ${ins.pairs.map((p) => `${quoteIfNeeded(p.key)}=${quoteIfNeeded(p.value)}`).join(' ')}`;
    case 'RUN': {
      let flags = '';
      for (const mount of ins.mountFlags) flags += ` --mount=${mount}`;
      flags += flagText('network', ins.network) + flagText('security', ins.security);
      for (const device of ins.devices) flags += ` --device=${device}`;
      const bodies = ins.heredocs.map((h) => `\n${h.content}${h.name}`).join('');
      return `RUN${flags} ${commandText(ins.form, ins.command)}${bodies}`;
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return `${ins.kind} ${commandText(ins.form, ins.command)}`;
    case 'SHELL':
      return `SHELL ${JSON.stringify(ins.shell)}`;
    case 'WORKDIR':
      return `WORKDIR ${ins.path}`;
    case 'USER':
      return `USER ${ins.user}`;
    case 'STOPSIGNAL':
      return `STOPSIGNAL ${ins.signal}`;
    case 'MAINTAINER':
      return `MAINTAINER ${ins.maintainer}`;
    case 'EXPOSE':
      return `EXPOSE ${ins.ports.join(' ')}`;
    case 'VOLUME':
      return `VOLUME ${JSON.stringify(ins.volumes)}`;
    case 'COPY':
    case 'ADD':
      return copyText(ins);
    case 'HEALTHCHECK': {
      if (ins.test[0] === 'NONE') return 'HEALTHCHECK NONE';
      let flags = '';
      const ns = (name: string, v: number | undefined): string => (v === undefined ? '' : ` --${name}=${v / 1e6}ms`);
      flags += ns('interval', ins.intervalNs) + ns('timeout', ins.timeoutNs) + ns('start-period', ins.startPeriodNs);
      flags += ns('start-interval', ins.startIntervalNs) + flagText('retries', ins.retries?.toString());
      const command = ins.test[0] === 'CMD' ? JSON.stringify(ins.test.slice(1)) : (ins.test[1] ?? '');
      return `HEALTHCHECK${flags} CMD ${command}`;
    }
    case 'ONBUILD':
      return `ONBUILD ${ins.expression}`;
  }
}

/** Substitution for one instruction: `word` for arguments, `heredoc` for expandable heredoc bodies. */
export interface WordExpander {
  word(text: string): string;
  heredoc(text: string): string;
}

const expandPairs = (list: readonly KeyValue[], x: WordExpander): KeyValue[] =>
  list.map((p) => ({ key: x.word(p.key), value: x.word(p.value) }));

function expandOptional(value: string | undefined, x: WordExpander): string | undefined {
  return value === undefined ? undefined : x.word(value);
}

function expandCopyLike<T extends CopyInstruction | AddInstruction>(ins: T, x: WordExpander): T {
  const out: T = {
    ...ins,
    sources: ins.sources.map((s) => x.word(s)),
    destination: x.word(ins.destination),
    excludes: ins.excludes.map((e) => x.word(e)),
    inline: ins.inline.map((f) => (f.expand ? { ...f, content: x.heredoc(f.content) } : f)),
  };
  const chown = expandOptional(ins.chown, x);
  const chmod = expandOptional(ins.chmod, x);
  if (chown !== undefined) out.chown = chown;
  if (chmod !== undefined) out.chmod = chmod;
  return out;
}

/**
 * Substitutes variables in the instructions the Dockerfile reference lists as expandable (ADD COPY
 * ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR, plus ARG, RUN --mount options and the
 * COPY/ADD flags as buildkit does). RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD
 * are returned unchanged: a shell or the child build expands them.
 */
export function expandInstruction(ins: Instruction, x: WordExpander): Instruction {
  switch (ins.kind) {
    case 'FROM': {
      const out: FromInstruction = { ...ins, image: x.word(ins.image) };
      const platform = expandOptional(ins.platform, x);
      if (platform !== undefined) out.platform = platform;
      return out;
    }
    case 'ARG':
      return {
        ...ins,
        args: ins.args.map((a) => (a.value === undefined ? { name: x.word(a.name) } : { name: x.word(a.name), value: x.word(a.value) })),
      };
    case 'ENV':
    case 'LABEL':
      return { ...ins, pairs: expandPairs(ins.pairs, x) };
    case 'RUN':
      return { ...ins, mounts: ins.mountFlags.map((m) => parseMount(m, (w) => x.word(w))) };
    case 'WORKDIR':
      return { ...ins, path: x.word(ins.path) };
    case 'USER':
      return { ...ins, user: x.word(ins.user) };
    case 'STOPSIGNAL':
      return { ...ins, signal: x.word(ins.signal) };
    case 'EXPOSE':
      return { ...ins, ports: ins.ports.map((p) => x.word(p)) };
    case 'VOLUME':
      return { ...ins, volumes: ins.volumes.map((v) => x.word(v)) };
    case 'COPY': {
      const out = expandCopyLike(ins, x);
      const from = expandOptional(ins.from, x);
      if (from !== undefined) out.from = from;
      return out;
    }
    case 'ADD': {
      const out = expandCopyLike(ins, x);
      const checksum = expandOptional(ins.checksum, x);
      if (checksum !== undefined) out.checksum = checksum;
      return out;
    }
    default:
      return ins;
  }
}

/**
 * The argv a RUN executes given the current SHELL, applying buildkit's heredoc rules: a lone
 * `<<EOF` runs its body as the script (or, with a `#!` line, as a file — reported as `script`),
 * other heredocs are handed to the shell verbatim.
 */
export function runArgv(run: RunInstruction, shell: readonly string[]): { argv: string[]; script?: string } {
  if (run.form === 'exec') return { argv: [...run.command] };
  const text = run.command[0] ?? '';
  const only = run.heredocs.length === 1 ? run.heredocs[0] : undefined;
  if (only && parseHeredocWord(text)) {
    const body = only.chomp ? chompHeredoc(only.content) : only.content;
    if (body.startsWith('#!')) return { argv: [], script: body };
    return { argv: [...shell, body] };
  }
  let full = text;
  for (const heredoc of run.heredocs) full += '\n' + heredoc.content + heredoc.name;
  return { argv: [...shell, full] };
}
