/**
 * Build planning: which stages the target needs, in what order they can run (and which can run in
 * parallel), and for every step the instruction after variable substitution with the ARG/ENV
 * scope buildkit would give it. Pure: base-image environments are supplied by the caller.
 */
import { invalidArgument } from '../../../common/errors';
import { dockerfileError } from './errors';
import { parseSignal } from '../../../common/signals';
import {
  expandInstruction,
  formatInstruction,
  parseExposedPorts,
  type Dockerfile,
  type Instruction,
  type Stage,
  type WordExpander,
} from './instructions';
import { LexError, processWord } from './lex';

/** Build args Docker accepts without an ARG, passed to RUN only and kept out of history and cache keys. */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];

/** Set automatically in the global scope; a stage sees them only after `ARG NAME`. */
export const PLATFORM_ARGS: readonly string[] = [
  'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT',
  'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT',
];

export type Env = Record<string, string>;

/**
 * A named build context (`--build-context name=…`, Compose's `additional_contexts`): a directory
 * the client uploaded, or an image. `FROM name`, `COPY --from=name` and `RUN --mount=from=name`
 * see it, ahead of a stage of the same name (as buildkit: the context overrides the stage).
 */
export type NamedContext = { kind: 'local' } | { kind: 'image'; ref: string };

/** Where COPY --from or a RUN mount's `from=` points. */
export type SourceRef = { kind: 'stage'; index: number } | { kind: 'image'; ref: string } | { kind: 'context'; name: string };

export type StageBase = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string } | { kind: 'context'; name: string };

export interface PlannedStep {
  /** As written in the Dockerfile. */
  instruction: Instruction;
  /** After substitution (identical for RUN/CMD/ENTRYPOINT/... which the builder does not expand). */
  expanded: Instruction;
  /** `formatInstruction(expanded)`: the instruction text of the cache key and history. */
  text: string;
  /** The image environment (base image ENV + ENV so far) before this step. */
  env: Env;
  /** ARGs in scope with a value before this step; RUN sees them as environment variables. */
  args: Env;
  /** COPY --from target. */
  copyFrom?: SourceRef;
  /** RUN: one entry per mount, the resolved `from=` when it names a stage or an image. */
  mountFrom?: (SourceRef | undefined)[];
}

export interface PlannedStage {
  index: number;
  name?: string;
  line: number;
  base: StageBase;
  /** `FROM --platform=` after substitution. */
  platform?: string;
  /** Stages that must be built first: the base stage, COPY --from and mount sources. */
  dependsOn: number[];
  /** External images referenced by COPY --from / mounts (not the base), to pull. */
  images: string[];
  steps: PlannedStep[];
  /** The image environment after the last step; a stage built FROM this one starts with it. */
  finalEnv: Env;
}

export interface BuildPlan {
  file: string;
  /** Index of the target stage. */
  target: number;
  /** Only the stages the target needs, in Dockerfile order. */
  stages: PlannedStage[];
  /** Needed stage indices grouped in waves: every stage's dependencies are in earlier waves. */
  levels: number[][];
  /** The same, flattened: a valid sequential build order. */
  order: number[];
  /** Global ARG values (FROM lines' scope). */
  metaArgs: Env;
  /** Undeclared proxy build args, for RUN environments only. */
  proxyEnv: Env;
  warnings: string[];
}

export interface PlanOptions {
  /** `--target`: a stage name; the last stage when absent. */
  target?: string;
  /** `--build-arg` values. */
  buildArgs?: Readonly<Env>;
  /** `os/arch[/variant]` of the machine running the build and of the image built. */
  buildPlatform?: string;
  targetPlatform?: string;
  /**
   * The ENV of an external base image (its config `Env`), when known. Plan once without it to
   * learn the base images, resolve them, then plan again with it for exact substitution.
   */
  imageEnv?: (ref: string, platform: string | undefined) => Env | readonly string[] | undefined;
  /** Named contexts by name. */
  namedContexts?: Readonly<Record<string, NamedContext>>;
}

function nodePlatform(): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[
    process.arch
  ];
  return `linux/${arch ?? process.arch}`;
}

function platformArgs(prefix: 'BUILD' | 'TARGET', platform: string): Env {
  const [os = '', arch = '', variant = ''] = platform.split('/');
  return { [`${prefix}PLATFORM`]: platform, [`${prefix}OS`]: os, [`${prefix}ARCH`]: arch, [`${prefix}VARIANT`]: variant };
}

function envFromList(list: Env | readonly string[] | undefined): Env {
  if (list === undefined) return {};
  if (!Array.isArray(list)) return { ...(list as Env) };
  const env: Env = {};
  for (const entry of list as readonly string[]) {
    const eq = entry.indexOf('=');
    if (eq < 0) env[entry] = '';
    else env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** The environment RUN executes with: proxies, then ARGs, then ENV (ENV wins over an ARG of the same name). */
export function runEnvironment(step: PlannedStep, plan: Pick<BuildPlan, 'proxyEnv'>): Env {
  return { ...plan.proxyEnv, ...step.args, ...step.env };
}

const stageLabel = (stage: Stage): string => stage.name ?? String(stage.index);

export function planBuild(dockerfile: Dockerfile, options: PlanOptions = {}): BuildPlan {
  const file = dockerfile.file;
  const buildArgs = options.buildArgs ?? {};
  const warnings: string[] = [];
  const escapeToken = dockerfile.escapeToken;

  const makeExpander = (line: number, scope: Env): WordExpander => {
    const run = (text: string, skipProcessQuotes: boolean): string => {
      try {
        return processWord(text, scope, { escapeToken, skipProcessQuotes });
      } catch (err) {
        if (err instanceof LexError) throw dockerfileError(file, line, `failed to process "${text}": ${err.message}`);
        throw err;
      }
    };
    return { word: (t) => run(t, false), heredoc: (t) => run(t, true) };
  };

  // Global scope: automatic platform args, then ARGs before the first FROM.
  const metaArgs: Env = {
    ...platformArgs('BUILD', options.buildPlatform ?? nodePlatform()),
    ...platformArgs('TARGET', options.targetPlatform ?? options.buildPlatform ?? nodePlatform()),
  };
  const consumed = new Set<string>();
  for (const arg of dockerfile.metaArgs) {
    const expanded = expandInstruction(arg, makeExpander(arg.line, metaArgs));
    if (expanded.kind !== 'ARG') continue;
    for (const { name, value } of expanded.args) {
      consumed.add(name);
      const resolved = buildArgs[name] ?? value;
      if (resolved !== undefined) metaArgs[name] = resolved;
    }
  }

  const stageByName = new Map<string, Stage>();
  for (const stage of dockerfile.stages) if (stage.name !== undefined) stageByName.set(stage.name, stage);

  const namedContext = (reference: string): SourceRef | undefined => {
    const named = Object.hasOwn(options.namedContexts ?? {}, reference) ? options.namedContexts?.[reference] : undefined;
    if (!named) return undefined;
    return named.kind === 'image' ? { kind: 'image', ref: named.ref } : { kind: 'context', name: reference };
  };

  const resolveSource = (reference: string, line: number, from: Stage): SourceRef => {
    const context = namedContext(reference);
    if (context) return context;
    if (/^\d+$/.test(reference)) {
      const index = Number(reference);
      if (index >= dockerfile.stages.length) throw dockerfileError(file, line, `invalid stage index ${index}`);
      return { kind: 'stage', index };
    }
    const named = stageByName.get(reference.toLowerCase());
    if (named) return { kind: 'stage', index: named.index };
    if (reference === '') throw dockerfileError(file, line, `empty source stage in stage ${stageLabel(from)}`);
    return { kind: 'image', ref: reference };
  };

  const planned = new Map<number, PlannedStage>();
  const planStage = (stage: Stage): PlannedStage => {
    const done = planned.get(stage.index);
    if (done) return done;

    const fromExpander = makeExpander(stage.from.line, metaArgs);
    const baseName = fromExpander.word(stage.from.image);
    const platform = stage.from.platform === undefined ? undefined : fromExpander.word(stage.from.platform);
    if (baseName === '') throw dockerfileError(file, stage.from.line, `base name (${stage.from.image}) should not be blank`);

    let base: StageBase;
    let env: Env;
    const baseStage = stageByName.get(baseName.toLowerCase());
    const baseContext = namedContext(baseName);
    if (baseContext?.kind === 'context') {
      base = baseContext;
      env = {};
    } else if (baseContext?.kind === 'image') {
      base = baseContext;
      env = envFromList(options.imageEnv?.(baseContext.ref, platform));
    } else if (baseStage && baseStage.index < stage.index) {
      base = { kind: 'stage', index: baseStage.index };
      env = { ...planStage(baseStage).finalEnv };
    } else if (baseName.toLowerCase() === 'scratch') {
      base = { kind: 'scratch' };
      env = {};
    } else {
      if (baseStage) {
        warnings.push(`${file}:${stage.from.line}: FROM ${baseName} names a later stage; it is used as an image reference`);
      }
      base = { kind: 'image', ref: baseName };
      env = envFromList(options.imageEnv?.(baseName, platform));
    }

    const result: PlannedStage = { index: stage.index, line: stage.from.line, base, dependsOn: [], images: [], steps: [], finalEnv: env };
    if (stage.name !== undefined) result.name = stage.name;
    if (platform !== undefined) result.platform = platform;
    const dependsOn = new Set<number>(base.kind === 'stage' ? [base.index] : []);
    const images = new Set<string>();
    const note = (ref: SourceRef): void => {
      if (ref.kind === 'stage') dependsOn.add(ref.index);
      else if (ref.kind === 'image') images.add(ref.ref);
    };

    const args: Env = {};
    for (const instruction of stage.instructions) {
      // ENV wins over an ARG of the same name, whatever their order.
      const scope: Env = { ...args, ...env };
      const expanded = expandInstruction(instruction, makeExpander(instruction.line, scope));
      const step: PlannedStep = { instruction, expanded, text: formatInstruction(expanded), env: { ...env }, args: { ...args } };

      switch (expanded.kind) {
        case 'ARG':
          for (const { name, value } of expanded.args) {
            consumed.add(name);
            const resolved = buildArgs[name] ?? value ?? metaArgs[name];
            if (resolved !== undefined) args[name] = resolved;
          }
          break;
        case 'ENV':
          for (const { key, value } of expanded.pairs) env[key] = value;
          break;
        case 'COPY':
          if (expanded.from !== undefined) {
            step.copyFrom = resolveSource(expanded.from, instruction.line, stage);
            note(step.copyFrom);
          }
          for (const source of expanded.sources) {
            if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
              throw dockerfileError(file, instruction.line, `COPY does not accept URLs as sources (${source}): use ADD`);
            }
          }
          break;
        case 'ADD':
          if (expanded.checksum !== undefined && expanded.sources.some((s) => classifyAddSource(s) === 'context')) {
            throw dockerfileError(file, instruction.line, 'ADD --checksum can only be used with HTTP(S) or Git sources');
          }
          break;
        case 'RUN':
          step.mountFrom = expanded.mounts.map((mount) => {
            if (mount.from === undefined) return undefined;
            const ref = resolveSource(mount.from, instruction.line, stage);
            note(ref);
            return ref;
          });
          break;
        case 'STOPSIGNAL':
          // Refused here, as Docker's builder refuses it, rather than by every run of the image.
          if (parseSignal(expanded.signal) === undefined) throw dockerfileError(file, instruction.line, `Invalid signal: ${expanded.signal}`);
          break;
        case 'EXPOSE':
          try {
            parseExposedPorts(expanded.ports);
          } catch (err) {
            throw dockerfileError(file, instruction.line, err instanceof Error ? err.message : String(err));
          }
          break;
        default:
          break;
      }
      result.steps.push(step);
    }
    result.finalEnv = env;
    result.dependsOn = [...dependsOn].sort((a, b) => a - b);
    result.images = [...images];
    planned.set(stage.index, result);
    return result;
  };

  const lastStage = dockerfile.stages[dockerfile.stages.length - 1] as Stage;
  let targetStage = lastStage;
  if (options.target !== undefined && options.target !== '') {
    const named = stageByName.get(options.target.toLowerCase());
    if (!named) throw invalidArgument(`target stage "${options.target}" could not be found`);
    targetStage = named;
  }

  // Depth-first from the target: plans only what is needed and rejects dependency cycles.
  const level = new Map<number, number>();
  const visiting: number[] = [];
  const visit = (stage: Stage): number => {
    const known = level.get(stage.index);
    if (known !== undefined) return known;
    if (visiting.includes(stage.index)) {
      throw dockerfileError(file, stage.from.line, `circular dependency detected on stage: ${stageLabel(stage)}`);
    }
    visiting.push(stage.index);
    const plannedStage = planStage(stage);
    let depth = 0;
    for (const dependency of plannedStage.dependsOn) {
      depth = Math.max(depth, visit(dockerfile.stages[dependency] as Stage) + 1);
    }
    visiting.pop();
    level.set(stage.index, depth);
    return depth;
  };
  visit(targetStage);

  const levels: number[][] = [];
  for (const [index, depth] of [...level].sort((a, b) => a[0] - b[0])) {
    (levels[depth] ??= []).push(index);
  }

  const proxyEnv: Env = {};
  for (const name of PROXY_ARGS) {
    const value = buildArgs[name];
    if (value !== undefined && !consumed.has(name)) proxyEnv[name] = value;
  }
  const unused = Object.keys(buildArgs).filter((name) => !consumed.has(name) && !PROXY_ARGS.includes(name) && !PLATFORM_ARGS.includes(name));
  if (unused.length > 0) warnings.push(`one or more build-args [${unused.sort().join(' ')}] were not consumed`);

  return {
    file,
    target: targetStage.index,
    stages: [...planned.values()].filter((s) => level.has(s.index)).sort((a, b) => a.index - b.index),
    levels,
    order: levels.flat(),
    metaArgs,
    proxyEnv,
    warnings: [...dockerfile.warnings, ...warnings],
  };
}

/** ADD sources: a URL, a Git repository, or a path in the build context (or --from). */
export function classifyAddSource(source: string): 'url' | 'git' | 'context' {
  if (/^git@[^:]+:/.test(source) || /^git:\/\//.test(source)) return 'git';
  if (/^https?:\/\//i.test(source)) {
    const withoutFragment = source.split('#')[0] ?? source;
    if (withoutFragment.endsWith('.git') || /^https?:\/\/(github\.com|gitlab\.com|bitbucket\.org)\/[^/]+\/[^/]+\/?$/i.test(withoutFragment)) {
      return 'git';
    }
    return 'url';
  }
  return 'context';
}
