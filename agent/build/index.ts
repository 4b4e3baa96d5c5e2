/**
 * The image builder's front half: everything decided before a step runs. Parse a Dockerfile,
 * plan the stages a target needs with each step's substituted text and ARG/ENV scope, read
 * `.dockerignore`, walk the build context and checksum COPY sources. The executor that runs the
 * steps lives beside this and consumes these types.
 */
export {
  parseDockerfile,
  parseTriggers,
  parseExposedPorts,
  parseGoDuration,
  formatInstruction,
  expandInstruction,
  runArgv,
  INSTRUCTION_NAMES,
} from './dockerfile/instructions';
export type {
  Dockerfile,
  Stage,
  Instruction,
  InstructionKind,
  FromInstruction,
  ArgInstruction,
  EnvInstruction,
  LabelInstruction,
  RunInstruction,
  CmdInstruction,
  EntrypointInstruction,
  ShellInstruction,
  WorkdirInstruction,
  UserInstruction,
  ExposeInstruction,
  VolumeInstruction,
  CopyInstruction,
  AddInstruction,
  HealthcheckInstruction,
  StopsignalInstruction,
  OnbuildInstruction,
  MaintainerInstruction,
  InlineFile,
  KeyValue,
  CommandForm,
  ExposedPort,
  WordExpander,
} from './dockerfile/instructions';
export { parseRawDockerfile, chompHeredoc } from './dockerfile/parser';
export type { RawDockerfile, RawInstruction, Heredoc, ParserDirectives } from './dockerfile/parser';
export { processWord, processWords, processWordDetailed, LexError } from './dockerfile/lex';
export type { LexOptions, ProcessResult, Environment } from './dockerfile/lex';
export { parseMount } from './dockerfile/mounts';
export type { MountSpec, MountType, CacheSharing } from './dockerfile/mounts';
export { planBuild, runEnvironment, classifyAddSource, PROXY_ARGS, PLATFORM_ARGS } from './dockerfile/plan';
export type { BuildPlan, NamedContext, PlannedStage, PlannedStep, PlanOptions, SourceRef, StageBase, Env } from './dockerfile/plan';
export { PatternMatcher, parseDockerignore, readDockerignore, cleanPath } from './context/ignore';
export type { IgnoreFile, ParentMatches } from './context/ignore';
export { walkContext, contextSizeWarning, detectStdinContext, CONTEXT_SIZE_WARNING_BYTES } from './context/walk';
export type { ContextEntry, EntryType } from './context/walk';
export { ContextIndex, checksumPaths, hardlinkSources, selectSources, sourceTrees, containsWildcards } from './context/sources';
export type { ChecksumOptions, ChecksumResult, SelectedEntry } from './context/sources';
