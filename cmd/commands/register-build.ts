/**
 * Registration of `image build` with Docker's flags. Docker's top-level `build` is Compose's
 * here, so only the management form is registered. The action loads its module when it runs.
 */
import { Option, type Command } from 'commander';
import { collect, lazy } from '../cli';

export function registerBuildCommands(_program: Command, imageCommand: Command): void {
  imageCommand
    .command('build')
    .description('build an image from a Dockerfile')
    .argument('<context>', 'PATH, or - to read a tar context (or a lone Dockerfile) from stdin')
    .option('-t, --tag <name>', 'name and optionally a tag (name:tag); repeatable', collect)
    .option('-f, --file <file>', "name of the Dockerfile (default: 'PATH/Dockerfile'; - for stdin)")
    .option('--build-arg <arg>', 'set build-time variables (KEY=value, or KEY to take it from the environment)', collect)
    .option('--target <stage>', 'set the target build stage to build')
    .option('--no-cache', 'do not use cache when building the image')
    .option('--label <label>', 'set metadata for an image (key=value)', collect)
    .option('-q, --quiet', 'suppress the build output and print the image ID on success')
    .option('--progress <mode>', 'type of progress output: auto, plain, tty, quiet, rawjson', 'auto')
    .option('--pull', 'always attempt to pull all referenced images')
    .option('--platform <platform>', 'set target platform for build (only this host\'s is built)')
    .option('--secret <spec>', 'secret to expose to RUN --mount=type=secret: id=NAME,src=FILE or id=NAME,env=VAR; repeatable', collect)
    .option('--build-context <name=value>', 'additional build context: name=DIR or name=docker-image://REF; repeatable', collect)
    .option('--network <mode>', 'networking mode for the RUN instructions: default, host or none')
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping (host:ip) for the RUN instructions', collect)
    .option('--iidfile <file>', 'write the image ID to the file')
    // Docker's legacy builder's, which buildx keeps as hidden no-ops: build containers never outlive their step here.
    .addOption(new Option('--rm', 'remove intermediate containers after a successful build (always)').hideHelp())
    .addOption(new Option('--force-rm', 'always remove intermediate containers (always)').hideHelp())
    .action(lazy(async () => (await import('./build')).imageBuild));
}
