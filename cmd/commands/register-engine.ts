/**
 * Registration of the engine's `container`, `network` and `volume` commands, with Docker's
 * flags, and of Docker's top-level short forms that Compose's verbs leave free (`attach`,
 * `commit`, `diff`, `export`, `stats`, `rename`, `update`). Kept free of the implementations' imports: each
 * action loads its module when it runs.
 */
import { Option, type Command } from 'commander';
import { collect, lazy } from '../cli';

const containerModule = () => import('./container');
const runModule = () => import('./container-run');
const ioModule = () => import('./container-io');

/** The flags `run` and `create` share, as Docker's container options. */
function addContainerFlags(cmd: Command): Command {
  return cmd
    .helpOption('--help', 'display help for command')
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--rm', 'automatically remove the container and its anonymous volumes when it exits')
    .option('--name <name>', 'assign a name to the container')
    .option('-e, --env <var>', 'set environment variables (VAR=value, or VAR to pass it from here)', collect)
    .option('--env-file <file>', 'read in a file of environment variables', collect)
    .option('--entrypoint <command>', 'overwrite the default ENTRYPOINT of the image ("" clears it)')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('-h, --hostname <name>', 'container host name')
    .option('--domainname <name>', 'container NIS domain name')
    .option('-l, --label <label>', 'set meta data on a container', collect)
    .option('--label-file <file>', 'read in a line delimited file of labels', collect)
    .option('--annotation <annotation>', 'add an annotation to the container (passed through to the OCI runtime)', collect)
    .option('-p, --publish <port>', "publish a container's port(s) to the host", collect)
    .option('-P, --publish-all', 'publish all exposed ports to random ports')
    .option('--expose <port>', 'expose a port or a range of ports', collect)
    .option('--network <network>', 'connect a container to a network', collect)
    .addOption(new Option('--net <network>', 'connect a container to a network').argParser(collect).hideHelp())
    .option('--network-alias <alias>', 'add network-scoped alias for the container', collect)
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('-v, --volume <volume>', 'bind mount a volume', collect)
    .option('--mount <mount>', 'attach a filesystem mount to the container', collect)
    .option('--tmpfs <tmpfs>', 'mount a tmpfs directory', collect)
    .option('--read-only', "mount the container's root filesystem as read only")
    .option('--restart <policy>', 'restart policy to apply when a container exits (no, always, on-failure[:N], unless-stopped)')
    .option('--log-driver <driver>', 'logging driver for the container (json-file, local, k8s-file, none)')
    .option('--log-opt <opt>', 'log driver options (max-size=10m, max-file=3)', collect)
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--memory-swappiness <int>', 'tune container memory swappiness (0 to 100)')
    .option('--blkio-weight <weight>', 'block IO (relative weight), between 10 and 1000')
    .option('--blkio-weight-device <device:weight>', 'block IO weight (relative device weight)', collect)
    .option('--device-read-bps <device:rate>', 'limit read rate (bytes per second) from a device', collect)
    .option('--device-write-bps <device:rate>', 'limit write rate (bytes per second) to a device', collect)
    .option('--device-read-iops <device:rate>', 'limit read rate (IO per second) from a device', collect)
    .option('--device-write-iops <device:rate>', 'limit write rate (IO per second) to a device', collect)
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <number>', 'number of CPUs')
    .option('-c, --cpu-shares <shares>', 'CPU shares (relative weight)')
    .option('--cpu-quota <quota>', 'limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpu-period <period>', 'limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpuset-cpus <cpus>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <mems>', 'memory nodes (MEMs) in which to allow execution (0-3, 0,1)')
    .option('--runtime <runtime>', 'runtime to use for this container (runc only)')
    .option('--userns <mode>', 'user namespace to use (host only: no remapping)')
    .option('--volume-driver <driver>', 'optional volume driver for the container')
    .option('--gpus <gpu-request>', 'GPU devices to add to the container (refused: no GPU driver)')
    .option('--pids-limit <limit>', 'tune container pids limit (set -1 for unlimited)')
    .option('--shm-size <bytes>', 'size of /dev/shm')
    .option('--oom-kill-disable', 'disable OOM Killer')
    .option('--oom-score-adj <adj>', "tune host's OOM preferences (-1000 to 1000)")
    .option('--init', 'run an init inside the container that forwards signals and reaps processes')
    .option('--cap-add <capability>', 'add Linux capabilities', collect)
    .option('--cap-drop <capability>', 'drop Linux capabilities', collect)
    .option('--privileged', 'give extended privileges to this container')
    .option('--stop-signal <signal>', 'signal to stop the container')
    .option('--stop-timeout <seconds>', 'timeout (in seconds) to stop a container')
    .option('--health-cmd <command>', 'command to run to check health')
    .option('--health-interval <duration>', 'time between running the check (ms|s|m|h)')
    .option('--health-timeout <duration>', 'maximum time to allow one check to run (ms|s|m|h)')
    .option('--health-retries <n>', 'consecutive failures needed to report unhealthy')
    .option('--health-start-period <duration>', 'start period for the container to initialize before starting health-retries countdown (ms|s|m|h)')
    .option('--health-start-interval <duration>', 'time between running the check during the start period (ms|s|m|h)')
    .option('--no-healthcheck', 'disable any container-specified HEALTHCHECK')
    .option('--dns <ip>', 'set custom DNS servers', collect)
    .option('--dns-search <domain>', 'set custom DNS search domains', collect)
    .option('--dns-option <option>', 'set DNS options', collect)
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping (host:ip)', collect)
    .option('--sysctl <sysctl>', 'sysctl options', collect)
    .option('--ulimit <ulimit>', 'ulimit options', collect)
    .option('--volumes-from <container>', 'mount volumes from the specified container(s)', collect)
    .option('--link <container[:alias]>', 'add a link to another container (a hosts entry under the alias)', collect)
    .option('--platform <platform>', 'set platform if server is multi-platform capable')
    .option('--ipc <mode>', 'IPC mode to use')
    .option('--pid <mode>', 'PID namespace to use')
    .option('--group-add <group>', 'add additional groups to join', collect)
    .option('--security-opt <option>', 'security options', collect)
    .option('--mac-address <address>', 'container MAC address (e.g., 92:d0:c6:0a:29:33)')
    .option('--device <device>', 'add a host device to the container', collect)
    .option('--device-cgroup-rule <rule>', 'add a rule to the cgroup allowed devices list', collect)
    .option('--cgroup-parent <path>', 'optional parent cgroup for the container')
    .option('--cgroupns <mode>', "cgroup namespace to use (host|private): 'host' the host's, 'private' its own")
    .option('--uts <mode>', 'UTS namespace to use (host)')
    .option('--pull <policy>', 'pull image before running: always, missing, never (default missing)')
    .option('-q, --quiet', 'suppress the pull output')
    .option('--cidfile <file>', 'write the container ID to the file')
    .passThroughOptions()
    .argument('<image>')
    .argument('[command...]', 'the command and its arguments');
}

export function registerContainerCommands(program: Command): void {
  const container = program.command('container').description('manage containers').enablePositionalOptions();

  addContainerFlags(container.command('run').description('create and run a new container from an image'))
    .option('-d, --detach', 'run container in background and print container ID')
    .option('-a, --attach <stream>', 'attach to STDIN, STDOUT or STDERR', collect)
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container')
    .option('--sig-proxy <bool>', 'proxy received signals to the process (default true)')
    .action(lazy(async () => (await runModule()).containerRun));

  addContainerFlags(container.command('create').description('create a new container'))
    .action(lazy(async () => (await runModule()).containerCreate));

  container
    .command('start')
    .description('start one or more stopped containers')
    .argument('<containers...>')
    .option('-a, --attach', 'attach STDOUT/STDERR and forward signals')
    .option('-i, --interactive', "attach container's STDIN")
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container')
    .option('--sig-proxy <bool>', 'proxy received signals to the process (default true)')
    .action(lazy(async () => (await runModule()).containerStart));

  for (const [name, description] of [
    ['stop', 'stop one or more running containers'],
    ['restart', 'restart one or more containers'],
  ] as const) {
    container
      .command(name)
      .description(description)
      .argument('<containers...>')
      .option('-t, --time <seconds>', 'seconds to wait before killing the container')
      .addOption(new Option('--timeout <seconds>', 'seconds to wait before killing the container').hideHelp())
      .option('-s, --signal <signal>', 'signal to send to the container')
      .action(lazy(async () => (await containerModule())[name === 'stop' ? 'containerStop' : 'containerRestart']));
  }

  container
    .command('kill')
    .description('kill one or more running containers')
    .argument('<containers...>')
    .option('-s, --signal <signal>', 'signal to send to the container')
    .action(lazy(async () => (await containerModule()).containerKill));

  container
    .command('rm')
    .alias('remove')
    .description('remove one or more containers')
    .argument('<containers...>')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .action(lazy(async () => (await containerModule()).containerRm));

  container
    .command('pause')
    .description('pause all processes within one or more containers')
    .argument('<containers...>')
    .action(lazy(async () => (await containerModule()).containerPause));
  container
    .command('unpause')
    .description('unpause all processes within one or more containers')
    .argument('<containers...>')
    .action(lazy(async () => (await containerModule()).containerUnpause));

  container
    .command('ls')
    .aliases(['ps', 'list'])
    .description('list containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('-n, --last <n>', 'show n last created containers (includes all states)')
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('-s, --size', 'display total file sizes')
    .option('--no-trunc', "don't truncate output")
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect)
    .option('--format <format>', 'format output using a custom template: table, table TEMPLATE, json, TEMPLATE')
    .action(lazy(async () => (await containerModule()).containerLs));

  container
    .command('logs')
    .description('fetch the logs of a container')
    .argument('<container>')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)')
    .option('--until <time>', 'show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)')
    .option('--details', 'show extra details provided to logs')
    .action(lazy(async () => (await ioModule()).containerLogs));

  container
    .command('exec')
    .description('execute a command in a running container')
    .option('-d, --detach', 'detached mode: run command in the background')
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-e, --env <var>', 'set environment variables', collect)
    .option('--env-file <file>', 'read in a file of environment variables', collect)
    .option('-u, --user <user>', 'username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--privileged', 'give extended privileges to the command')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container')
    .passThroughOptions()
    .argument('<container>')
    .argument('<command...>')
    .action(lazy(async () => (await runModule()).containerExec));

  container
    .command('inspect')
    .description('display detailed information on one or more containers')
    .argument('<containers...>')
    .option('-f, --format <format>', 'format output using a custom template')
    .option('-s, --size', 'display total file sizes')
    .action(lazy(async () => (await containerModule()).containerInspect));

  container
    .command('top')
    .description('display the running processes of a container')
    .passThroughOptions()
    .argument('<container>')
    .argument('[ps_options...]')
    .action(lazy(async () => (await containerModule()).containerTop));

  container
    .command('wait')
    .description('block until one or more containers stop, then print their exit codes')
    .argument('<containers...>')
    .action(lazy(async () => (await containerModule()).containerWait));

  container
    .command('port')
    .description('list port mappings or a specific mapping for the container')
    .argument('<container>')
    .argument('[private_port]', 'PRIVATE_PORT[/PROTO]')
    .action(lazy(async () => (await containerModule()).containerPort));

  container
    .command('cp')
    .description('copy files/folders between a container and the local filesystem')
    .argument('<source>', 'CONTAINER:SRC_PATH, or a local path (- for a tar on stdin)')
    .argument('<destination>', 'CONTAINER:DEST_PATH, or a local path (- for a tar on stdout)')
    .option('-a, --archive', 'archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'suppress progress output during copy')
    .action(lazy(async () => (await ioModule()).containerCp));

  for (const parent of [container, program]) {
    registerTopLevelForms(parent);
  }

  container
    .command('prune')
    .description('remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', collect)
    .action(lazy(async () => (await containerModule()).containerPrune));
}

/** Commands Docker has both under `container` and at the top level. */
function registerTopLevelForms(parent: Command): void {
  parent
    .command('attach')
    .description("attach local standard input, output, and error streams to a running container")
    .argument('<container>')
    .option('--no-stdin', 'do not attach STDIN')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container')
    .option('--sig-proxy <bool>', 'proxy all received signals to the process (default true)')
    .action(lazy(async () => (await runModule()).containerAttach));

  parent
    .command('commit')
    .description("create a new image from a container's changes")
    .argument('<container>')
    .argument('[repository]', 'REPOSITORY[:TAG]')
    .option('-a, --author <author>', 'author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <instruction>', 'apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <message>', 'commit message')
    .option('-p, --pause', 'pause container during commit (default true)')
    .option('--no-pause', 'do not pause the container during commit')
    .action(lazy(async () => (await containerModule()).containerCommit));

  parent
    .command('diff')
    .description("inspect changes to files or directories on a container's filesystem")
    .argument('<container>')
    .action(lazy(async () => (await containerModule()).containerDiff));

  parent
    .command('export')
    .description("export a container's filesystem as a tar archive")
    .argument('<container>')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .action(lazy(async () => (await ioModule()).containerExport));

  parent
    .command('stats')
    .description('display a live stream of container(s) resource usage statistics')
    .argument('[containers...]')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', 'format output using a custom template: table, table TEMPLATE, json, TEMPLATE')
    .action(lazy(async () => (await ioModule()).containerStats));

  parent
    .command('update')
    .description('update configuration of one or more containers')
    .argument('<containers...>')
    .option('--restart <policy>', 'restart policy to apply when a container exits (no, always, on-failure[:N], unless-stopped)')
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <number>', 'number of CPUs')
    .option('-c, --cpu-shares <shares>', 'CPU shares (relative weight)')
    .option('--cpu-period <period>', 'limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <quota>', 'limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpuset-cpus <cpus>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <mems>', 'memory nodes (MEMs) in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <limit>', 'tune container pids limit (set -1 for unlimited)')
    .option('--blkio-weight <weight>', 'block IO (relative weight), between 10 and 1000')
    .option('--cpu-rt-period <us>', 'limit the CPU real-time period in microseconds (refused: no real-time CPU budget)')
    .option('--cpu-rt-runtime <us>', 'limit the CPU real-time runtime in microseconds (refused: no real-time CPU budget)')
    .addOption(new Option('--kernel-memory <bytes>', 'kernel memory limit (deprecated; refused: runc no longer sets it)').hideHelp())
    .action(lazy(async () => (await containerModule()).containerUpdate));

  parent
    .command('rename')
    .description('rename a container')
    .argument('<container>')
    .argument('<new_name>')
    .action(lazy(async () => (await containerModule()).containerRename));
}

export function registerNetworkCommands(program: Command): void {
  const load = () => import('./network');
  const network = program.command('network').description('manage networks');
  network
    .command('create')
    .description('create a network')
    .argument('<name>')
    .option('-d, --driver <driver>', 'driver to manage the network', 'bridge')
    .option('--subnet <subnet>', 'subnet in CIDR format that represents a network segment')
    .option('--gateway <gateway>', 'IPv4 gateway for the master subnet')
    .option('--ip-range <range>', 'allocate container IPs from a sub-range')
    .option('--internal', 'restrict external access to the network')
    .option('--attachable', 'enable manual container attachment')
    .option('--label <label>', 'set metadata on a network', collect)
    .option('-o, --opt <option>', 'set driver specific options', collect)
    .action(lazy(async () => (await load()).networkCreate));
  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('-f, --filter <filter>', 'provide filter values (e.g. "driver=bridge")', collect)
    .option('--format <format>', 'format output using a custom template: table, table TEMPLATE, json, TEMPLATE')
    .option('--no-trunc', 'do not truncate the output')
    .action(lazy(async () => (await load()).networkLs));
  network
    .command('inspect')
    .description('display detailed information on one or more networks')
    .argument('<networks...>')
    .option('-f, --format <format>', 'format output using a custom template')
    .action(lazy(async () => (await load()).networkInspect));
  network
    .command('rm')
    .alias('remove')
    .description('remove one or more networks')
    .argument('<networks...>')
    .option('-f, --force', 'do not error if the network does not exist')
    .action(lazy(async () => (await load()).networkRm));
  network
    .command('connect')
    .description('connect a container to a network')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <alias>', 'add network-scoped alias for the container', collect)
    .option('--ip <address>', 'IPv4 address (e.g., "172.30.100.104")')
    .action(lazy(async () => (await load()).networkConnect));
  network
    .command('disconnect')
    .description('disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'force the container to disconnect from a network')
    .action(lazy(async () => (await load()).networkDisconnect));
  network
    .command('prune')
    .description('remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', collect)
    .action(lazy(async () => (await load()).networkPrune));
}

export function registerVolumeCommands(program: Command): void {
  const load = () => import('./volume');
  const volume = program.command('volume').description('manage volumes');
  volume
    .command('create')
    .description('create a volume')
    .argument('[name]')
    .option('-d, --driver <driver>', 'specify volume driver name', 'local')
    .option('--label <label>', 'set metadata for a volume', collect)
    .option('-o, --opt <option>', 'set driver specific options', collect)
    .addOption(new Option('--name <name>', 'specify volume name').hideHelp())
    .action(lazy(async () => (await load()).volumeCreate));
  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only display volume names')
    .option('-f, --filter <filter>', 'provide filter values (e.g. "dangling=true")', collect)
    .option('--format <format>', 'format output using a custom template: table, table TEMPLATE, json, TEMPLATE')
    .action(lazy(async () => (await load()).volumeLs));
  volume
    .command('inspect')
    .description('display detailed information on one or more volumes')
    .argument('<volumes...>')
    .option('-f, --format <format>', 'format output using a custom template')
    .action(lazy(async () => (await load()).volumeInspect));
  volume
    .command('rm')
    .alias('remove')
    .description('remove one or more volumes')
    .argument('<volumes...>')
    .option('-f, --force', 'force the removal of one or more volumes')
    .action(lazy(async () => (await load()).volumeRm));
  volume
    .command('prune')
    .description('remove unused local volumes')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "label=<label>")', collect)
    .action(lazy(async () => (await load()).volumePrune));
}
