import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, planBuild, runEnvironment, type FromInstruction, type WorkdirInstruction } from '../../agent/build/index';

const plan = (text: string, opts: Parameters<typeof planBuild>[1] = {}) => planBuild(parseDockerfile(text), opts);

test('global ARGs are visible in FROM only, unless re-declared', () => {
  const p = plan('ARG VERSION=latest\nFROM busybox:$VERSION\nWORKDIR /a$VERSION\nARG VERSION\nWORKDIR /b$VERSION\n');
  const stage = p.stages[0]!;
  assert.deepEqual(stage.base, { kind: 'image', ref: 'busybox:latest' });
  assert.equal((stage.steps[0]!.expanded as WorkdirInstruction).path, '/a');
  assert.equal((stage.steps[2]!.expanded as WorkdirInstruction).path, '/blatest');
});

test('--build-arg overrides defaults, global and in stage', () => {
  const p = plan('ARG V=1\nFROM img:$V\nARG V\nARG W=default\nRUN echo\n', { buildArgs: { V: '2', W: 'given' } });
  assert.deepEqual(p.stages[0]!.base, { kind: 'image', ref: 'img:2' });
  assert.deepEqual(p.stages[0]!.steps[2]!.args, { V: '2', W: 'given' });
});

test('ENV overrides an ARG of the same name, whatever the order', () => {
  const p = plan('FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=v1.0.0\nWORKDIR /$CONT_IMG_VER\n', { buildArgs: { CONT_IMG_VER: 'v2.0.1' } });
  assert.equal((p.stages[0]!.steps[2]!.expanded as WorkdirInstruction).path, '/v1.0.0');
  const q = plan('FROM ubuntu\nENV X=env\nARG X=arg\nWORKDIR /$X\n');
  assert.equal((q.stages[0]!.steps[2]!.expanded as WorkdirInstruction).path, '/env');
});

test('ENV values in one instruction use the values from before it', () => {
  const p = plan('FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n');
  assert.deepEqual(p.stages[0]!.finalEnv, { abc: 'bye', def: 'hello', ghi: 'bye' });
});

test('ARG defaults may reference earlier ARGs and ENV', () => {
  const p = plan('FROM a\nENV base=/opt\nARG a=x\nARG b=${a}y dir=$base/app\nRUN true\n');
  assert.deepEqual(p.stages[0]!.steps[3]!.args, { a: 'x', b: 'xy', dir: '/opt/app' });
});

test('proxy args need no declaration and stay out of args (history/cache key)', () => {
  const p = plan('FROM a\nRUN curl x\n', { buildArgs: { HTTP_PROXY: 'http://proxy:3128', UNUSED: '1' } });
  const step = p.stages[0]!.steps[0]!;
  assert.deepEqual(step.args, {});
  assert.equal(runEnvironment(step, p).HTTP_PROXY, 'http://proxy:3128');
  assert.match(p.warnings.join('\n'), /build-args \[UNUSED\] were not consumed/);
  const declared = plan('FROM a\nARG HTTP_PROXY\nRUN curl x\n', { buildArgs: { HTTP_PROXY: 'p' } });
  assert.deepEqual(declared.stages[0]!.steps[1]!.args, { HTTP_PROXY: 'p' });
  assert.deepEqual(declared.proxyEnv, {});
});

test('platform args: automatic in global scope, declared in stages', () => {
  const p = plan('FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETOS TARGETARCH\nRUN go build\n', {
    buildPlatform: 'linux/amd64',
    targetPlatform: 'linux/arm64/v8',
  });
  assert.equal(p.stages[0]!.platform, 'linux/amd64');
  assert.deepEqual(p.stages[0]!.steps[1]!.args, { TARGETOS: 'linux', TARGETARCH: 'arm64' });
});

test('a stage built FROM another inherits its ENV but not its ARGs', () => {
  const p = plan('FROM a AS base\nENV X=1\nARG Y=2\nFROM base\nWORKDIR /$X$Y\n');
  const child = p.stages[1]!;
  assert.deepEqual(child.base, { kind: 'stage', index: 0 });
  assert.equal((child.steps[0]!.expanded as WorkdirInstruction).path, '/1');
});

test('base image ENV is used when supplied', () => {
  const p = plan('FROM node:20\nWORKDIR $NODE_HOME\n', { imageEnv: (ref) => (ref === 'node:20' ? ['NODE_HOME=/usr/local', 'PATH=/bin'] : undefined) });
  assert.equal((p.stages[0]!.steps[0]!.expanded as WorkdirInstruction).path, '/usr/local');
});

test('which instructions expand: RUN/CMD do not, COPY/LABEL/EXPOSE/USER do', () => {
  const p = plan('FROM a\nENV D=/dst P=8080 U=app S=USR1\nRUN echo $D\nCMD echo $D\nCOPY --chown=$U src $D/\nLABEL dir=$D\nEXPOSE $P\nUSER $U\nSTOPSIGNAL SIG$S\nVOLUME $D\n');
  const texts = p.stages[0]!.steps.map((s) => s.text);
  assert.deepEqual(texts.slice(1), [
    'RUN echo $D',
    'CMD echo $D',
    'COPY --chown=app src /dst/',
    'LABEL dir=/dst',
    'EXPOSE 8080',
    'USER app',
    'STOPSIGNAL SIGUSR1',
    'VOLUME ["/dst"]',
  ]);
  const from = parseDockerfile('FROM a\n').stages[0]!.from as FromInstruction;
  assert.equal(from.image, 'a');
});

test('substitution errors carry the line', () => {
  assert.throws(() => plan('FROM a\n\nWORKDIR ${NOPE:?is required}\n'), /Dockerfile:3: failed to process "\$\{NOPE:\?is required\}": NOPE: is required/);
});
