/**
 * Registration of Compose's project verbs. Kept free of the loader's imports: each action loads
 * its implementation when it runs.
 */
import type { Command } from 'commander';
import { getGlobals, lazy } from '../cli';

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
}
