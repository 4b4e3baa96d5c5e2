/**
 * Registration of the registry commands: `image pull` and `image push` (the top-level `pull` and
 * `push` are Compose's), and Docker's top-level `login` and `logout`. Each action loads its
 * implementation when it runs.
 */
import { Option, type Command } from 'commander';
import { lazy } from '../cli';

export function registerRegistryCommands(program: Command, imageCommand: Command): void {
  const load = () => import('./registry');
  const pull = imageCommand
    .command('pull')
    .description('download an image from a registry')
    .argument('<name>', 'NAME[:TAG|@DIGEST]')
    .option('-a, --all-tags', 'download all tagged images in the repository')
    .option('-q, --quiet', 'suppress verbose output')
    .addOption(new Option('--platform <platform>', 'set platform if server is multi-platform capable').env('DOCKER_DEFAULT_PLATFORM'))
    .option('--disable-content-trust', 'skip image verification (default true: signatures are never verified)')
    .option('--no-disable-content-trust', 'verify image signatures: not supported (also --disable-content-trust=false)')
    .action(lazy(async () => (await load()).imagePull));
  const push = imageCommand
    .command('push')
    .description('upload an image to a registry')
    .argument('<name>', 'NAME[:TAG]')
    .option('-a, --all-tags', 'push all tags of an image to the repository')
    .option('-q, --quiet', 'suppress verbose output')
    .option('--disable-content-trust', 'skip image signing (default true: images are never signed)')
    .option('--no-disable-content-trust', 'sign the image: not supported (also --disable-content-trust=false)')
    .action(lazy(async () => (await load()).imagePush));
  program
    .command('login')
    .description('log in to a registry (Docker Hub when no server is given)')
    .argument('[server]')
    .option('-u, --username <username>', 'username')
    .option('-p, --password <password>', 'password')
    .option('--password-stdin', 'take the password from stdin')
    .action(lazy(async () => (await load()).login));
  program
    .command('logout')
    .description('log out from a registry (Docker Hub when no server is given)')
    .argument('[server]')
    .action(lazy(async () => (await load()).logout));
  program
    .command('search')
    .description('search a registry for images (Docker Hub, or host:port/term for another registry)')
    .argument('<term>')
    .option('--limit <n>', 'max number of search results', '25')
    .option('-f, --filter <filter>', 'filter output: stars=N, is-official=true|false, is-automated=true|false', (v: string, p: string[] = []) => [...p, v])
    .option('--format <format>', 'pretty-print search using a Go template')
    .option('--no-trunc', "don't truncate output")
    .action(lazy(async () => (await import('./search')).search));
}
