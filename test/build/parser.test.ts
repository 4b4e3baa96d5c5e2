import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, parseRawDockerfile, type CopyInstruction, type RunInstruction } from '../../agent/build/index';

test('line numbers, continuations and comments inside continuations', () => {
  const df = parseDockerfile('FROM alpine\n\nRUN echo a \\\n  # a comment\n  b\nRUN [ -f x ] && echo y\n');
  const [run1, run2] = df.stages[0]!.instructions as RunInstruction[];
  assert.equal(run1!.line, 3);
  assert.equal(run1!.endLine, 5);
  assert.deepEqual(run1!.command, ['echo a   b']);
  assert.equal(run2!.form, 'shell');
});

test('empty continuation lines warn', () => {
  const raw = parseRawDockerfile('FROM a\nRUN echo \\\n\n  b\n');
  assert.equal(raw.instructions[1]!.original, 'RUN echo   b');
  assert.match(raw.warnings[0]!, /Dockerfile:2: empty continuation line/);
});

test('escape directive switches to backtick; directives end at first other line', () => {
  const df = parseDockerfile('# escape=`\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n');
  assert.equal(df.escapeToken, '`');
  const [copy, run] = df.stages[0]!.instructions;
  assert.equal((copy as CopyInstruction).destination, 'c:\\');
  assert.deepEqual((run as RunInstruction).command, ['dir c:\\']);
  const later = parseRawDockerfile('FROM a\n# escape=`\nRUN x \\\n y\n');
  assert.equal(later.escapeToken, '\\');
});

test('syntax and check directives are recorded, syntax warns', () => {
  const raw = parseRawDockerfile('# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n');
  assert.equal(raw.directives.syntax, 'docker/dockerfile:1');
  assert.equal(raw.directives.check, 'skip=all');
  assert.match(raw.warnings.join('\n'), /syntax directive/);
  assert.throws(() => parseRawDockerfile('# escape=\\\n# escape=`\nFROM a\n'), /Dockerfile:2: only one escape parser directive/);
  assert.throws(() => parseRawDockerfile('# escape=x\nFROM a\n'), /invalid escape token/);
});

test('exec vs shell form, JSON must be strings', () => {
  const df = parseDockerfile('FROM a\nCMD ["echo", "$HOME"]\nENTRYPOINT echo hi\nSHELL ["/bin/bash", "-c"]\n');
  const [cmd, entry, shell] = df.stages[0]!.instructions;
  assert.deepEqual(cmd, { ...cmd, kind: 'CMD', form: 'exec', command: ['echo', '$HOME'] });
  assert.deepEqual(entry, { ...entry, kind: 'ENTRYPOINT', form: 'shell', command: ['echo hi'] });
  assert.deepEqual(shell, { ...shell, kind: 'SHELL', shell: ['/bin/bash', '-c'] });
  assert.throws(() => parseDockerfile('FROM a\nCMD ["a", 1]\n'), /Dockerfile:2: when using JSON array syntax/);
  assert.throws(() => parseDockerfile('FROM a\nSHELL /bin/sh -c\n'), /Dockerfile:2: SHELL requires the arguments to be in JSON form/);
});

test('typed instructions', () => {
  const df = parseDockerfile(
    [
      'ARG a=1 b',
      'FROM --platform=$BUILDPLATFORM golang:1.22 AS Build',
      'ENV k v w',
      'ENV k2="v 2" k3=x',
      'LABEL "com.example"="x y" version=1.0',
      'EXPOSE 80/tcp 53/udp 8000-8010',
      'VOLUME ["/data", "/logs"]',
      'VOLUME /a /b',
      'USER app:app',
      'WORKDIR /src',
      'STOPSIGNAL SIGTERM',
      'MAINTAINER Jane <jane@example.com>',
      'COPY --from=build --chown=1000:1000 --chmod=755 --link --parents --exclude=*.md a b /dst/',
      'ADD --checksum=sha256:abc --keep-git-dir https://example.com/x.tar.gz /x',
      'RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok --network=none make',
      'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://localhost/',
      'ONBUILD RUN echo child',
    ].join('\n'),
  );
  assert.deepEqual(df.metaArgs[0]!.args, [{ name: 'a', value: '1' }, { name: 'b' }]);
  const stage = df.stages[0]!;
  assert.equal(stage.name, 'build');
  assert.equal(stage.from.platform, '$BUILDPLATFORM');
  const byKind = (k: string) => stage.instructions.filter((i) => i.kind === k);
  const [env1, env2] = byKind('ENV') as Extract<(typeof stage.instructions)[number], { kind: 'ENV' }>[];
  assert.deepEqual(env1!.pairs, [{ key: 'k', value: 'v w' }]);
  assert.deepEqual(env2!.pairs, [{ key: 'k2', value: '"v 2"' }, { key: 'k3', value: 'x' }]);
  const copy = byKind('COPY')[0] as CopyInstruction;
  assert.deepEqual(
    [copy.from, copy.chown, copy.chmod, copy.link, copy.parents, copy.excludes, copy.sources, copy.destination],
    ['build', '1000:1000', '755', true, true, ['*.md'], ['a', 'b'], '/dst/'],
  );
  const add = byKind('ADD')[0] as Extract<(typeof stage.instructions)[number], { kind: 'ADD' }>;
  assert.equal(add.checksum, 'sha256:abc');
  assert.equal(add.keepGitDir, true);
  const run = byKind('RUN')[0] as RunInstruction;
  assert.equal(run.network, 'none');
  assert.deepEqual(run.mounts.map((m) => [m.type, m.target, m.id, m.sharing]), [
    ['cache', '/root/.cache', '/root/.cache', 'locked'],
    ['secret', '/run/secrets/tok', 'tok', undefined],
  ]);
  const health = byKind('HEALTHCHECK')[0] as Extract<(typeof stage.instructions)[number], { kind: 'HEALTHCHECK' }>;
  assert.deepEqual(health.test, ['CMD-SHELL', 'curl -f http://localhost/']);
  assert.equal(health.timeoutNs, 90e9);
  assert.equal(health.retries, 3);
  const onbuild = byKind('ONBUILD')[0] as Extract<(typeof stage.instructions)[number], { kind: 'ONBUILD' }>;
  assert.equal(onbuild.expression, 'RUN echo child');
  assert.equal(onbuild.trigger.kind, 'RUN');
  assert.equal((byKind('MAINTAINER')[0] as { maintainer: string }).maintainer, 'Jane <jane@example.com>');
});

test('errors name the file, line and problem', () => {
  const cases: [string, RegExp][] = [
    ['FROM a\nCOPPY a b\n', /^app\.Dockerfile:2: unknown instruction: COPPY \(did you mean COPY\?\)$/],
    ['FROM a\nWORKDIR\n', /app\.Dockerfile:2: WORKDIR requires exactly one argument/],
    ['FROM a\nARG\n', /app\.Dockerfile:2: ARG requires at least one argument/],
    ['FROM a\nCOPY a\n', /app\.Dockerfile:2: COPY requires at least two arguments/],
    ['FROM a\nCOPY --bogus=1 a b\n', /app\.Dockerfile:2: unknown flag: --bogus/],
    ['FROM a\nCOPY --from a b\n', /app\.Dockerfile:2: missing a value on flag: --from/],
    ['FROM a\nONBUILD ONBUILD RUN x\n', /Chaining ONBUILD/],
    ['FROM a\nONBUILD FROM b\n', /FROM isn't allowed as an ONBUILD trigger/],
    ['FROM a\nHEALTHCHECK NONE x\n', /HEALTHCHECK NONE takes no arguments/],
    ['FROM a\nHEALTHCHECK --interval=0s CMD x\n', /Interval "interval" cannot be less than 1ms/],
    ['FROM a\nHEALTHCHECK --retries=0 CMD x\n', /--retries must be at least 1/],
    ['FROM a b\n', /app\.Dockerfile:1: FROM requires either one or three arguments/],
    ['FROM a AS 1x\n', /invalid name for build stage/],
    ['FROM a AS x\nFROM b AS X\n', /app\.Dockerfile:2: duplicate stage name "x"/],
    ['RUN x\n', /app\.Dockerfile:1: RUN before the first FROM/],
    ['ENV k=v\nFROM a\n', /ENV before the first FROM/],
    ['FROM a\nENV k\n', /ENV must have two arguments/],
    ['FROM a\nENV a=b c\n', /can't find = in "c"/],
    ['FROM a\nRUN --mount=type=cache echo\n', /mount type=cache requires a target/],
    ['# just a comment\n', /app\.Dockerfile: file with no instructions/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseDockerfile(text, 'app.Dockerfile'), (err: Error) => {
      assert.match(err.message, expected);
      assert.equal((err as { kind?: string }).kind, 'InvalidArgument');
      return true;
    }, text);
  }
});

test('BOM, CRLF and lower-case keywords', () => {
  const df = parseDockerfile('\uFEFFfrom alpine\r\nrun echo hi\r\n');
  assert.equal(df.stages[0]!.from.image, 'alpine');
  assert.deepEqual((df.stages[0]!.instructions[0] as RunInstruction).command, ['echo hi']);
});
