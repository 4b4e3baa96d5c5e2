/**
 * The `tscompose` CLI. Compose's verbs act on the project at the top level; the engine is reached
 * through Docker's management commands (`container`, `image`, `network`, `volume`, `system`), and
 * Docker's top-level verbs that Compose doesn't claim work at the top level too.
 *
 * Start-up time matters: every command module is imported lazily, inside its action.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerComposeCommands } from './commands/register-compose';
import { registerRegistryCommands } from './commands/register-registry';
import { registerBuildCommands } from './commands/register-build';
import { registerContainerCommands, registerNetworkCommands, registerVolumeCommands } from './commands/register-engine';
import { acceptGoBoolValues, collect, eprintln, ExitError, setGlobals, closeEngine, lazy, stdoutIsFile, type GlobalFlags } from './cli';
import { FAMILIES, FAMILY_OF, type Family } from './families';

// The daemon's V8 flags are set by bin/tscompose, before this bundle loads.

/**
 * True in dist/engine.cjs, the build of this program without Compose's verbs (and so without
 * YAML, the compose loader and its validator): what the engine's commands load at start-up.
 */
declare const TSCOMPOSE_ENGINE_BUNDLE: boolean;
/** The build defines TSCOMPOSE_ENGINE_BUNDLE (and drops what the engine bundle can't reach); run from source, false. */
function engineBundle(): boolean {
  return typeof TSCOMPOSE_ENGINE_BUNDLE !== 'undefined' && TSCOMPOSE_ENGINE_BUNDLE;
}

/**
 * The program with every command, or (given `only`, the command line's top-level command) with
 * just the family of commands that defines it: building all of commander's commands and options
 * costs a start-up ~20 ms. A family registers exactly what the full program has under that name
 * (commander refuses duplicate names, so no other family can define it); help, version, unknown
 * names and anything not found in the family get the full program — or, in the engine bundle,
 * which has no full program, undefined. A name the family table doesn't list is looked for in
 * the compose family first.
 */
export function buildProgram(only?: string): Command | undefined {
  const program = new Command('tscompose');
  program
    .description('Docker Compose and Swarm mode in one tool, with its own container engine')
    .enablePositionalOptions()
    .option('-D, --debug', 'show stack traces and debug output')
    .option('-H, --host <socket>', 'daemon socket to connect to (unix:///path.sock), or TSCOMPOSE_HOST')
    .option('--data-root <dir>', 'data root of a daemon started on demand, or TSCOMPOSE_DATA_ROOT')
    .option('-f, --file <file>', 'compose configuration file (repeatable, - for stdin)', collect)
    .option('-p, --project-name <name>', 'project name')
    .option('--profile <profile>', 'enable a profile (repeatable)', collect)
    .option('--env-file <file>', 'an alternate environment file (repeatable)', collect)
    .option('--project-directory <dir>', 'the project directory (default: the first compose file’s directory)')
    .addOption(new Option('--ansi <mode>', 'control characters: never|always|auto').default('auto'))
    .addOption(new Option('--progress <mode>', 'progress output: auto|tty|plain|quiet').default('auto'))
    // As `docker -v` ("Docker version 24.0.5, build ced0996").
    .version(`tscompose version ${process.env['TSCOMPOSE_VERSION'] ?? '0.1.0'}`, '-v, --version', 'print version information and quit')
    .showHelpAfterError(false)
    .hook('preAction', (thisCommand) => {
      setGlobals(thisCommand.optsWithGlobals<GlobalFlags>());
    });

  // A name the table doesn't list is Compose's (`up`, `ps`, `down`…) or unknown: the compose
  // family is tried first, which a project verb's start-up would otherwise pay all the others for.
  const family = only === undefined ? undefined : (FAMILY_OF[only] ?? (engineBundle() ? undefined : 'compose'));
  if (family !== undefined) {
    registerFamily(program, family);
    if (program.commands.some((c) => c.name() === only || c.aliases().includes(only!))) return program;
    if (engineBundle()) return undefined;
    // Not where the table says: the full program decides (a fresh one: no half registrations).
    return buildProgram();
  }
  if (engineBundle()) return undefined;
  for (const f of FAMILIES) registerFamily(program, f);
  return program;
}

function registerFamily(program: Command, family: Family): void {
  switch (family) {
    case 'daemon':
      registerDaemonCommand(program);
      return;
    case 'image': {
      // `image`'s subcommands, in the full program's order: its own, then pull/push, then build.
      const image = program.command('image').description('manage images');
      registerImageCommands(image, false);
      registerRegistryCommands(new Command('tscompose'), image);
      registerBuildCommands(program, image);
      return;
    }
    case 'image-top':
      registerImageCommands(program, true);
      return;
    case 'registry':
      // Its top-level commands (login, logout, search); `image pull`/`push` belong to `image`.
      registerRegistryCommands(program, new Command('image'));
      return;
    case 'container':
      registerContainerCommands(program);
      return;
    case 'network':
      registerNetworkCommands(program);
      return;
    case 'volume':
      registerVolumeCommands(program);
      return;
    case 'system':
      registerSystemCommands(program);
      return;
    case 'compose':
      // Spelled out, not engineBundle(): the build folds this test and drops Compose's modules.
      if (!(typeof TSCOMPOSE_ENGINE_BUNDLE !== 'undefined' && TSCOMPOSE_ENGINE_BUNDLE)) registerComposeCommands(program);
      return;
  }
}

/**
 * The top-level command of a command line (`argv` without node and the script), when it can be
 * told without commander: after the program's own options only. Undefined for help, version,
 * `--`, an option the program doesn't know or the `--opt=value`-less short forms it can't see
 * through — which all get the full program.
 */
export function topLevelCommand(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-' || !a.startsWith('-')) return a;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && VALUE_OPTIONS.has(a.slice(0, eq))) continue;
    if (a === '-D' || a === '--debug') continue;
    return undefined;
  }
  return undefined;
}

/** The program's options that take a value (as declared in `buildProgram`). */
const VALUE_OPTIONS = new Set([
  '-H',
  '--host',
  '--data-root',
  '-f',
  '--file',
  '-p',
  '--project-name',
  '--profile',
  '--env-file',
  '--project-directory',
  '--ansi',
  '--progress',
]);

function registerDaemonCommand(program: Command): void {
  program
    .command('daemon')
    .description('run the tscompose daemon in the foreground')
    .option('--data-root <dir>', 'root of persistent state (default /var/lib/tscompose)')
    .option('-H, --host <socket>', 'socket to listen on (default unix:///run/tscompose/tscompose.sock)')
    .option('--config-file <file>', 'daemon configuration file (default <data-root>/daemon.json)')
    .option('-D, --debug', 'debug output')
    .action(
      lazy(async () => {
        const { runDaemon } = await import('./daemon');
        return async (opts: { dataRoot?: string; host?: string; configFile?: string; debug?: boolean }, cmd: Command) => {
          // `tscompose -D daemon` (the program's flag) as well as `tscompose daemon -D`.
          await runDaemon({ ...opts, debug: !!opts.debug || !!cmd.parent?.opts<{ debug?: boolean }>().debug });
          return undefined;
        };
      }),
    );
}

function registerImageCommands(parent: Command, topLevel: boolean): void {
  const load = () => import('./commands/image');
  if (!topLevel) {
    parent
      .command('ls')
      .alias('list')
      .description('list images')
      .argument('[repository]', 'repository[:tag] to list')
      .option('-a, --all', 'show all images (default hides intermediate images)')
      .option('--digests', 'show digests')
      .option('-f, --filter <filter>', 'filter output based on conditions provided', collect)
      .option('--format <format>', 'format output using a custom template: table, table TEMPLATE, json, TEMPLATE')
      .option('--no-trunc', "don't truncate output")
      .option('-q, --quiet', 'only show image IDs')
      .action(lazy(async () => (await load()).imageLs));
    parent
      .command('prune')
      .description('remove unused images')
      .option('-a, --all', 'remove all unused images, not just dangling ones')
      .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', collect)
      .option('-f, --force', 'do not prompt for confirmation')
      .action(lazy(async () => (await load()).imagePrune));
  }
  const name = (n: string) => (topLevel ? n : n);
  parent
    .command(topLevel ? 'tag' : name('tag'))
    .description('create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>')
    .argument('<target>')
    .action(lazy(async () => (await load()).imageTag));
  parent
    .command(topLevel ? 'rmi' : 'rm')
    .aliases(topLevel ? [] : ['remove'])
    .description('remove one or more images')
    .argument('<images...>')
    .option('-f, --force', 'force removal of the image')
    .option('--no-prune', 'do not delete untagged parents')
    .action(lazy(async () => (await load()).imageRm));
  if (!topLevel) {
    parent
      .command('inspect')
      .description('display detailed information on one or more images')
      .argument('<images...>')
      .option('-f, --format <format>', 'format output using a custom template')
      .action(lazy(async () => (await load()).imageInspect));
  }
  parent
    .command('history')
    .description('show the history of an image')
    .argument('<image>')
    .option('-H, --human', 'print sizes and dates in human readable format', true)
    .option('--no-human', 'print raw sizes and dates')
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only show image IDs')
    .option('--format <format>', 'format output using a custom template')
    .action(lazy(async () => (await load()).imageHistory));
  parent
    .command('load')
    .description('load an image from a tar archive or STDIN')
    .option('-i, --input <file>', 'read from tar archive file, instead of STDIN')
    .option('-q, --quiet', 'suppress the progress output (the "Loaded image" lines stay, as in Docker)')
    .action(lazy(async () => (await load()).imageLoad));
  parent
    .command('save')
    .description('save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<images...>')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .action(lazy(async () => (await load()).imageSave));
  parent
    .command('import')
    .description('import the contents from a tarball to create a filesystem image')
    .argument('<file>', 'tarball path, or - for STDIN')
    .argument('[reference]', 'repository[:tag] for the new image')
    .option('-c, --change <instruction>', 'apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <message>', 'set commit message for imported image')
    .option('--platform <platform>', 'set platform if server is multi-platform capable')
    .action(lazy(async () => (await load()).imageImport));
}

function registerSystemCommands(program: Command): void {
  const load = () => import('./commands/system');
  program
    .command('version')
    .description('show the tscompose version information')
    .option('-f, --format <format>', 'format output using a custom template')
    .action(lazy(async () => (await load()).version));
  const system = program.command('system').description('manage tscompose');
  for (const parent of [program, system]) {
    parent
      .command('info')
      .description('display system-wide information')
      .option('-f, --format <format>', 'format output using a custom template')
      .action(lazy(async () => (await load()).info));
  }
  // The top-level `events` is Compose's (the project's containers); the daemon's is `system events`.
  system
    .command('events')
    .description('get real time events from the daemon')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect)
    .option('--format <format>', 'format output using a custom template')
    .option('--since <time>', 'show all events created since timestamp')
    .option('--until <time>', 'stream events until this timestamp')
    .action(lazy(async () => (await load()).events));
  system
    .command('df')
    .description('show tscompose disk usage')
    .option('-v, --verbose', 'show detailed information on space usage')
    .option('--format <format>', 'format output using a custom template')
    .action(lazy(async () => (await load()).df));
  system
    .command('prune')
    .description('remove unused data')
    .option('-a, --all', 'remove all unused images not just dangling ones')
    .option('--volumes', 'prune anonymous volumes')
    .option('--filter <filter>', 'provide filter values (e.g. "label=<key>=<value>")', collect)
    .option('-f, --force', 'do not prompt for confirmation')
    .action(lazy(async () => (await load()).prune));
  program
    .command('builder')
    .description('manage builds')
    .command('prune')
    .description('remove build cache')
    .option('-a, --all', 'remove all unused build cache, not just dangling ones')
    .option('--filter <filter>', 'provide filter values (e.g. "until=24h")', collect)
    .option('-f, --force', 'do not prompt for confirmation')
    .action(lazy(async () => (await load()).builderPrune));
  program
    .command('inspect')
    .description('return low-level information on tscompose objects')
    .argument('<names...>')
    .option('-f, --format <format>', 'format output using a custom template')
    .option('-s, --size', 'display total file sizes if the type is container')
    .option('--type <type>', 'return JSON for specified type')
    .action(lazy(async () => (await load()).inspect));
}

/**
 * Every command, not only the top one (commander copies these settings only to commands added
 * after them): a command line that does not parse throws instead of exiting 1, so that it exits
 * 125 as Docker's do, and an unknown flag is said in Docker's words with the command's help.
 * Every boolean flag also takes a Go-style value (`--rm=false`).
 */
function handleParseErrors(command: Command, path: string[] = []): void {
  command.exitOverride();
  acceptGoBoolValues(command);
  const where = ['tscompose', ...path].join(' ');
  command.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => {
      const unknown = /^error: unknown option '([^']+)'/.exec(s);
      if (unknown) return write(`unknown flag: ${unknown[1]}\nSee '${where} --help'.\n`);
      if (/^error: (missing required argument|too many arguments)/.test(s)) return write(`${arityMessage(command, where)}\nSee '${where} --help'.\n`);
      write(s);
    },
  });
  for (const sub of command.commands) handleParseErrors(sub, [...path, sub.name()]);
}

/** Docker's words for a command given too few or too many operands: `"docker rm" requires at least 1 argument.` */
function arityMessage(command: Command, where: string): string {
  const operands = command.registeredArguments;
  const required = operands.filter((a) => a.required).length;
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  if (operands.some((a) => a.variadic)) return `"${where}" requires at least ${plural(required)}.`;
  if (required === operands.length) return `"${where}" requires exactly ${plural(required)}.`;
  return `"${where}" requires at most ${plural(operands.length)}.`;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram(topLevelCommand(argv.slice(2)));
  if (program === undefined) {
    // The engine bundle, which bin/tscompose chose from the family table: what the family doesn't
    // define (Compose's top-level `events`, say) is the full program's to run.
    await import('./full-program');
    return;
  }
  handleParseErrors(program);
  const debug = argv.includes('--debug') || argv.includes('-D');
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exitCode = 0;
      } else if (err.code === 'commander.missingArgument' || err.code === 'commander.excessArguments') {
        // Docker's CLI exits 1 for a wrong number of operands (125 is for flags).
        process.exitCode = 1;
      } else {
        // Docker's status for a command line it can't parse.
        process.exitCode = 125;
      }
    } else if (err instanceof ExitError) {
      if (err.message) eprintln(err.message);
      process.exitCode = err.status;
    } else {
      const msg = err instanceof Error ? err.message : String(err);
      // Docker Compose exits 15 for an invalid compose file.
      const composeFileError = (err as { composeFileError?: unknown }).composeFileError === true;
      eprintln(debug && err instanceof Error && err.stack ? err.stack : `Error: ${msg}`);
      process.exitCode = composeFileError ? 15 : 1;
    }
  } finally {
    closeEngine();
  }
}

// A closed pipe (`… | head`) ends the command quietly, as it does for Docker. A file has no
// reader to go away, and creating process.stdout there costs a start-up (see stdoutIsFile).
if (!stdoutIsFile()) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// Exits once stdout has drained, so piped output (`save | gzip`) is never cut short.
void main(process.argv);
