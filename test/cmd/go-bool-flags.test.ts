import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { acceptGoBoolValues } from '../../cmd/cli';

/** A `run` like the engine's (operands end its options) and an `ls` like ps (they don't). */
function program(): { root: Command; seen: { run?: [Record<string, unknown>, string[]]; ls?: Record<string, unknown> } } {
  const seen: { run?: [Record<string, unknown>, string[]]; ls?: Record<string, unknown> } = {};
  const root = new Command('tscompose').enablePositionalOptions().option('-D, --debug').option('-H, --host <host>');
  root
    .command('run')
    .passThroughOptions()
    .argument('<image>')
    .argument('[command...]')
    .option('--rm')
    .option('-d, --detach')
    .option('-e, --env <value>')
    .action((image: string, command: string[], opts: Record<string, unknown>) => {
      seen.run = [opts, [image, ...command]];
    });
  root
    .command('ls')
    .argument('[names...]')
    .option('--no-trunc')
    .option('--orphans')
    .option('--no-orphans')
    .action((_names: string[], opts: Record<string, unknown>) => {
      seen.ls = opts;
    });
  const each = (c: Command): void => {
    c.exitOverride().configureOutput({ writeErr: () => undefined });
    acceptGoBoolValues(c);
    c.commands.forEach(each);
  };
  each(root);
  return { root, seen };
}

const parse = (...args: string[]) => {
  const p = program();
  p.root.parse(args, { from: 'user' });
  return p.seen;
};

test('--x=<bool> on a flag that is off by default: true sets it, false leaves it out', () => {
  assert.deepEqual(parse('run', '--rm=true', '-d=false', 'img').run, [{ rm: true }, ['img']]);
  assert.deepEqual(parse('run', '--rm=0', '--detach=T', 'img').run, [{ detach: true }, ['img']]);
});

test('--x=false becomes --no-x where the command has it, and --no-x=false says x', () => {
  assert.deepEqual(parse('ls', '--orphans=false').ls, { trunc: true, orphans: false });
  assert.deepEqual(parse('ls', '--no-trunc=true', 'a').ls, { trunc: false });
  assert.deepEqual(parse('ls', 'a', '--no-trunc=false').ls, { trunc: true });
});

test("a container's command line and an option's value are never rewritten", () => {
  const [opts, operands] = parse('-H', '--debug=false', 'run', '-e', '--rm=false', 'img', 'echo', '--rm=false', '-d=false').run!;
  assert.deepEqual(opts, { env: '--rm=false' });
  assert.deepEqual(operands, ['img', 'echo', '--rm=false', '-d=false']);
  assert.deepEqual(parse('ls', '--', '--no-trunc=false').ls, { trunc: true });
});

test('a value Go cannot parse as a bool is refused in its words', () => {
  assert.throws(() => parse('run', '--rm=maybe', 'img'), {
    message: 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
  });
});
