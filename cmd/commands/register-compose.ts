/**
 * Registration of Compose's project verbs. Kept free of the loader's imports: each action loads
 * its implementation when it runs.
 */
import { Option, type Command } from 'commander';
import { collect, getGlobals, lazy } from '../cli';

export function registerComposeCommands(program: Command): void {
  program
    .command('config')
    .alias('convert')
    .description('parse, resolve and render the compose file in canonical format')
    .argument('[services...]', 'only these services (and their dependencies)')
    .option('--format <format>', 'output format: yaml or json', 'yaml')
    .option('--services', 'print the service names, one per line')
    .option('--volumes', 'print the volume names, one per line')
    .option('--networks', 'print the network names, one per line')
    .option('--profiles', 'print the profile names, one per line')
    .option('--images', 'print the image names, one per line')
    .option('--hash <services>', 'print "service hash" lines for these services ("*" for all)')
    .option('-q, --quiet', 'only validate the configuration, print nothing')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--no-interpolate', 'do not interpolate environment variables')
    .option('--no-normalize', 'do not normalise the model to canonical syntax')
    .option('--no-path-resolution', 'do not resolve file paths')
    .option('--environment', 'print the environment used for interpolation')
    .option('--variables', 'print the variables the model uses, with their defaults')
    .action(
      lazy(async () => {
        const { runConfig } = await import('./config');
        return (services: string[], flags: Parameters<typeof runConfig>[1]) =>
          runConfig(getGlobals(), flags, services, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
      }),
    );

  registerProjectCommands(program);
}

/** Compose's verbs that act on a running project: `up`, `down`, `ps`, `logs`, `exec`… */
function registerProjectCommands(program: Command): void {
  const up = () => import('./compose-up');
  const ps = () => import('./compose-ps');
  const logs = () => import('./compose-logs');
  const exec = () => import('./compose-exec');
  const life = () => import('./compose-lifecycle');
  const build = () => import('./compose-build');
  const pull = () => import('./compose-pull');

  program
    .command('build')
    .description('build or rebuild services')
    .argument('[services...]')
    .option('--no-cache', 'do not use cache when building the image')
    .option('--pull', 'always attempt to pull a newer version of the image')
    .option('-q, --quiet', "don't print anything to stdout")
    .option('--build-arg <key=value>', 'set build-time variables for services', collect)
    .option('--with-dependencies', 'also build dependencies (transitively)')
    .action(lazy(async () => (await build()).composeBuild));

  program
    .command('pull')
    .description('pull service images')
    .argument('[services...]')
    .option('-q, --quiet', 'pull without printing progress information')
    .option('--ignore-pull-failures', 'pull what it can and ignores images with pull failures')
    .option('--include-deps', 'also pull services declared as dependencies')
    .option('--ignore-buildable', 'ignore images that can be built')
    .option('--policy <policy>', 'apply pull policy ("missing"|"always")')
    .action(lazy(async () => (await pull()).composePull));

  program
    .command('push')
    .description('push service images')
    .argument('[services...]')
    .option('--ignore-push-failures', 'push what it can and ignores images with push failures')
    .option('-q, --quiet', 'push without printing progress information')
    .action(lazy(async () => (await pull()).composePush));

  program
    .command('up')
    .description('create and start containers')
    .argument('[services...]')
    .option('-d, --detach', 'detached mode: run containers in the background')
    .option('--wait', 'wait for services to be running|healthy; implies detached mode')
    .option('--wait-timeout <seconds>', 'maximum duration in seconds to wait for the project to be running|healthy')
    .option('--scale <service=num>', 'scale SERVICE to NUM instances; overrides the `scale` setting in the compose file', collect)
    .option('--no-deps', "don't start linked services")
    .option('--force-recreate', "recreate containers even if their configuration and image haven't changed")
    .option('--no-recreate', "if containers already exist, don't recreate them")
    .option('-V, --renew-anon-volumes', 'recreate anonymous volumes instead of retrieving data from the previous containers')
    .option('--always-recreate-deps', 'recreate dependent containers; incompatible with --no-recreate')
    .option('--remove-orphans', 'remove containers for services not defined in the compose file')
    .option('--no-start', "don't start the services after creating them")
    .option('--abort-on-container-exit', 'stop all containers if any container was stopped')
    .option('--exit-code-from <service>', 'return the exit code of the selected service container; implies --abort-on-container-exit')
    .option('-t, --timeout <seconds>', 'use this timeout in seconds for container shutdown')
    .option('--pull <policy>', 'pull image before running ("always"|"missing"|"never")')
    .option('--build', 'build images before starting containers')
    .option('--no-build', "don't build an image, even if it's policy")
    .option('--no-color', 'produce monochrome output')
    .option('--no-log-prefix', "don't print prefix in logs")
    .option('--timestamps', 'show timestamps')
    .option('--attach-dependencies', 'automatically attach to log output of dependent services')
    .option('--attach <service>', 'restrict attaching to the specified services', collect)
    .addOption(valuedNoOption('--no-attach <service>', 'do not attach (stream logs) to the specified services'))
    .option('--quiet-pull', 'pull without printing progress information')
    .action(lazy(async () => (await up()).composeUp));

  program
    .command('create')
    .description('creates containers for a service')
    .argument('[services...]')
    .option('--scale <service=num>', 'scale SERVICE to NUM instances; overrides the `scale` setting in the compose file', collect)
    .option('--force-recreate', "recreate containers even if their configuration and image haven't changed")
    .option('--no-recreate', "if containers already exist, don't recreate them")
    .option('-V, --renew-anon-volumes', 'recreate anonymous volumes instead of retrieving data from the previous containers')
    .option('--always-recreate-deps', 'recreate dependent containers; incompatible with --no-recreate')
    .option('--remove-orphans', 'remove containers for services not defined in the compose file')
    .option('--pull <policy>', 'pull image before running ("always"|"missing"|"never")')
    .option('--build', 'build images before starting containers')
    .option('--no-build', "don't build an image, even if it's policy")
    .option('--quiet-pull', 'pull without printing progress information')
    .action(lazy(async () => (await up()).composeCreate));

  program
    .command('down')
    .description('stop and remove containers, networks')
    .option('-v, --volumes', 'remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers')
    .option('--rmi <type>', 'remove images used by services: "local" removes only images that don\'t have a custom tag, "all" every image')
    .option('--remove-orphans', 'remove containers for services not defined in the Compose file')
    .option('-t, --timeout <seconds>', 'specify a shutdown timeout in seconds')
    .action(lazy(async () => (await life()).composeDown));

  const psCommand = program
    .command('ps')
    .description('list containers')
    .argument('[services...]')
    .option('-a, --all', 'show all stopped containers (including those created by the run command)')
    .option('-q, --quiet', 'only display IDs')
    .option('--services', 'display services')
    .option('--status <status>', 'filter services by status: paused|restarting|removing|running|dead|created|exited', collect)
    .option('--filter <filter>', 'filter services by a property (status=…)', collect)
    .option('--format <format>', 'format the output: table or json', 'table')
    .option('--no-trunc', "don't truncate output")
    .option('--orphans', 'include orphaned services (not declared by project) (default true)')
    .option('--no-orphans', 'leave out orphaned services (also --orphans=false)')
    .action(lazy(async () => (await ps()).composePs));

  program
    .command('logs')
    .description('view output from containers')
    .argument('[services...]')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <lines>', 'number of lines to show from the end of the logs for each container', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--no-color', 'produce monochrome output')
    .option('--no-log-prefix', "don't print prefix in logs")
    .option('--since <time>', 'show logs since timestamp or relative time')
    .option('--until <time>', 'show logs before a timestamp or relative time')
    .option('--index <index>', 'index of the container if service has multiple replicas')
    .action(lazy(async () => (await logs()).composeLogs));

  program
    .command('exec')
    .description('execute a command in a running container')
    .argument('<service>')
    .argument('[command...]')
    .passThroughOptions()
    .option('-d, --detach', 'detached mode: run command in the background')
    .option('-T, --no-tty', 'disable pseudo-TTY allocation (default: auto-detected)')
    .option('-e, --env <KEY=VAL>', 'set environment variables', collect)
    .option('-u, --user <user>', 'run the command as this user')
    .option('-w, --workdir <dir>', 'path to workdir directory for this command')
    .option('--index <index>', 'index of the container if service has multiple replicas', '1')
    .option('--privileged', 'give extended privileges to the process')
    .action(lazy(async () => (await exec()).composeExec));

  program
    .command('run')
    .description('run a one-off command on a service')
    .argument('<service>')
    .argument('[command...]')
    .passThroughOptions()
    .option('--rm', 'automatically remove the container when it exits')
    .option('-e, --env <KEY=VAL>', 'set environment variables', collect)
    .option('--entrypoint <cmd>', 'override the entrypoint of the image')
    .option('--no-deps', "don't start linked services")
    .option('-p, --publish <port>', "publish a container's port(s) to the host", collect)
    .option('-P, --service-ports', "run command with all service's ports enabled and mapped to the host")
    .option('-v, --volume <volume>', 'bind mount a volume', collect)
    .option('-d, --detach', 'run container in background and print container ID')
    .option('--name <name>', 'assign a name to the container')
    .option('-T, --no-tty', 'disable pseudo-TTY allocation (default: auto-detected)')
    .option('-u, --user <user>', 'run as specified username or uid')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-l, --label <label>', 'add or override a label', collect)
    .option('--cap-add <capability>', 'add Linux capabilities', collect)
    .option('--cap-drop <capability>', 'drop Linux capabilities', collect)
    .option('-i, --interactive', 'keep STDIN open even if not attached (the default)')
    .option('--use-aliases', "use the service's network aliases in the network(s) the container connects to")
    .option('--remove-orphans', 'remove containers for services not defined in the Compose file')
    .option('-q, --quiet', "don't print Compose's progress (pulls, builds, created networks…)")
    .option('--quiet-pull', 'pull without printing progress information')
    .option('--build', 'build the image before starting the container')
    .option('--pull <policy>', 'pull image before running ("always"|"missing"|"never")')
    .action(lazy(async () => (await exec()).composeRun));

  const lifecycle = (name: string, description: string, pick: (m: Awaited<ReturnType<typeof life>>) => (...a: any[]) => Promise<number>) =>
    program
      .command(name)
      .description(description)
      .argument('[services...]')
      .action(lazy(async () => pick(await life())));
  lifecycle('start', 'start services', (m) => m.composeStart);
  lifecycle('stop', 'stop services', (m) => m.composeStop).option('-t, --timeout <seconds>', 'specify a shutdown timeout in seconds');
  lifecycle('restart', 'restart service containers', (m) => m.composeRestart)
    .option('-t, --timeout <seconds>', 'specify a shutdown timeout in seconds')
    .option('--no-deps', "don't restart dependent services");
  lifecycle('kill', 'force stop service containers', (m) => m.composeKill)
    .option('-s, --signal <signal>', 'SIGNAL to send to the container', 'SIGKILL')
    .option('--remove-orphans', 'remove containers for services not defined in the Compose file');
  lifecycle('pause', 'pause services', (m) => m.composePause);
  lifecycle('unpause', 'unpause services', (m) => m.composeUnpause);
  lifecycle('rm', 'removes stopped service containers', (m) => m.composeRm)
    .option('-f, --force', "don't ask to confirm removal")
    .option('-s, --stop', 'stop the containers, if required, before removing')
    .option('-v, --volumes', 'remove any anonymous volumes attached to containers');
  lifecycle('wait', 'block until containers of all (or specified) services stop', (m) => m.composeWait).option(
    '--down-project',
    'drops project when the first container stops',
  );

  program
    .command('scale')
    .description('scale services')
    .argument('<service=replicas...>')
    .option('--no-deps', "don't start linked services")
    .action(lazy(async () => (await life()).composeScale));

  program
    .command('watch')
    .description("watch the build context of services and rebuild, sync or restart them when files change (develop.watch)")
    .argument('[services...]')
    .option('--no-up', 'do not build and start the services before watching')
    .option('--quiet', 'hide build output')
    .action(lazy(async () => (await import('./compose-watch')).composeWatch));

  program
    .command('events')
    .description('receive real time events from containers')
    .argument('[services...]')
    .option('--json', 'output events as a stream of json objects')
    .option('--since <time>', 'show all events created since timestamp')
    .option('--until <time>', 'stream events until this timestamp')
    .action(lazy(async () => (await import('./compose-events')).composeEvents));

  program
    .command('cp')
    .description('copy files/folders between a service container and the local filesystem')
    .argument('<source>', 'SERVICE:SRC_PATH, or a local path (- for a tar on stdin)')
    .argument('<destination>', 'SERVICE:DEST_PATH, or a local path (- for a tar on stdout)')
    .option('--index <index>', 'index of the container if service has multiple replicas')
    .option('--all', 'include containers created by the run command')
    .option('-a, --archive', 'archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'always follow symbol link in SRC_PATH')
    .action(lazy(async () => (await exec()).composeCp));

  program
    .command('top')
    .description('display the running processes')
    .argument('[services...]')
    .action(lazy(async () => (await ps()).composeTop));

  program
    .command('port')
    .description('print the public port for a port binding')
    .argument('<service>')
    .argument('<private_port>')
    .option('--protocol <proto>', 'tcp or udp', 'tcp')
    .option('--index <index>', 'index of the container if service has multiple replicas', '1')
    .action(lazy(async () => (await ps()).composePort));

  program
    .command('images')
    .description('list images used by the created containers')
    .argument('[services...]')
    .option('-q, --quiet', 'only display IDs')
    .option('--format <format>', 'format the output: table or json', 'table')
    .action(lazy(async () => (await ps()).composeImages));

  program
    .command('ls')
    .description('list running compose projects')
    .option('-a, --all', 'show all stopped Compose projects')
    .option('-q, --quiet', 'only display project names')
    .option('--format <format>', 'format the output: table or json', 'table')
    .option('--filter <filter>', 'filter output based on conditions provided', collect)
    .action(lazy(async () => (await ps()).composeLs));
}

/**
 * A repeatable `--no-x <value>` flag (Compose's `up --no-attach svc`): commander would take it for
 * the negation of `--x`; this one keeps its own values, under `noX`.
 */
function valuedNoOption(flags: string, description: string): Option {
  const option = new Option(flags, description).argParser(collect);
  option.negate = false;
  return option;
}
