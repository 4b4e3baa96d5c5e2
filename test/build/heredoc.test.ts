import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, planBuild, runArgv, type CopyInstruction, type RunInstruction } from '../../agent/build/index';

const stageOf = (text: string) => parseDockerfile(text).stages[0]!;

test('RUN <<EOF runs the body through the shell', () => {
  const run = stageOf('FROM a\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\nRUN echo after\n').instructions[0] as RunInstruction;
  assert.equal(run.line, 2);
  assert.equal(run.endLine, 5);
  assert.equal(run.heredocs[0]!.content, 'apt-get update\napt-get install -y curl\n');
  assert.deepEqual(runArgv(run, ['/bin/sh', '-c']).argv, ['/bin/sh', '-c', 'apt-get update\napt-get install -y curl\n']);
});

test('a shebang body is a script file', () => {
  const run = stageOf('FROM a\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n').instructions[0] as RunInstruction;
  assert.equal(runArgv(run, ['/bin/sh', '-c']).script, '#!/usr/bin/env python3\nprint(1)\n');
});

test('<<- strips leading tabs, including before the delimiter', () => {
  const copy = stageOf('FROM a\nCOPY <<-EOT /x\n\tone\n\t\ttwo\n\tEOT\n').instructions[0] as CopyInstruction;
  assert.equal(copy.inline[0]!.content, 'one\ntwo\n');
});

test('quoted delimiters disable expansion', () => {
  const df = parseDockerfile('FROM a\nENV x=1\nCOPY <<"EOF" /q\n$x\nEOF\nCOPY <<EOF /u\n$x "$x"\nEOF\n');
  const [, quoted, unquoted] = df.stages[0]!.instructions as CopyInstruction[];
  assert.equal(quoted!.inline[0]!.expand, false);
  assert.equal(unquoted!.inline[0]!.expand, true);
  const plan = planBuild(df);
  assert.equal((plan.stages[0]!.steps[1]!.expanded as CopyInstruction).inline[0]!.content, '$x\n');
  // Quotes in a heredoc body are content, not shell quoting.
  assert.equal((plan.stages[0]!.steps[2]!.expanded as CopyInstruction).inline[0]!.content, '1 "1"\n');
});

test('several heredocs on one line, read in order, with fds', () => {
  const run = stageOf('FROM a\nRUN <<FILE1 cat > file1 && 3<<FILE2 cat > file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2\nRUN next\n')
    .instructions[0] as RunInstruction;
  assert.deepEqual(run.heredocs.map((h) => [h.name, h.content, h.fileDescriptor]), [
    ['FILE1', 'I am\nfirst\n', 0],
    ['FILE2', 'I am\nsecond\n', 3],
  ]);
  const argv = runArgv(run, ['/bin/sh', '-c']).argv;
  assert.equal(argv[2], '<<FILE1 cat > file1 && 3<<FILE2 cat > file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2');
});

test('COPY <<EOF with several files and a destination', () => {
  const copy = stageOf('FROM a\nCOPY <<robots.txt <<humans.txt /usr/share/nginx/html/\n(robots content)\nrobots.txt\n(humans content)\nhumans.txt\n')
    .instructions[0] as CopyInstruction;
  assert.deepEqual(copy.inline.map((f) => [f.name, f.content]), [
    ['robots.txt', '(robots content)\n'],
    ['humans.txt', '(humans content)\n'],
  ]);
  assert.deepEqual(copy.sources, []);
  assert.equal(copy.destination, '/usr/share/nginx/html/');
});

test('heredocs are not recognised in exec form or other instructions', () => {
  const df = parseDockerfile('FROM a\nRUN ["cat", "<<EOF"]\nCMD <<EOF\n');
  assert.equal((df.stages[0]!.instructions[0] as RunInstruction).heredocs.length, 0);
  assert.equal(df.stages[0]!.instructions[1]!.kind, 'CMD');
});

test('unterminated heredoc is an error', () => {
  assert.throws(() => parseDockerfile('FROM a\nRUN <<EOF\necho\n'), /Dockerfile:2: unterminated heredoc EOF/);
  assert.throws(() => parseDockerfile('FROM a\nCOPY /src <<EOF\nx\nEOF\n'), /COPY cannot accept a heredoc as a destination/);
});

test('ONBUILD with a heredoc keeps the body in its expression', () => {
  const onbuild = stageOf('FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n').instructions[0]!;
  assert.equal(onbuild.kind, 'ONBUILD');
  if (onbuild.kind === 'ONBUILD') assert.equal(onbuild.expression, 'RUN <<EOF\necho hi\nEOF');
});
