import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, planBuild } from '../../agent/build/index';

const DOCKERFILE = [
  'FROM golang:1.22 AS build',
  'RUN go build -o /app',
  'FROM alpine AS assets',
  'RUN fetch-assets',
  'FROM alpine AS unused',
  'RUN slow-thing',
  'FROM scratch AS final',
  'COPY --from=build /app /app',
  'COPY --from=assets /assets /assets',
  'COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf',
  'RUN --mount=type=bind,from=build,source=/app,target=/x true',
].join('\n');

test('only stages the target needs are planned, independent ones share a wave', () => {
  const plan = planBuild(parseDockerfile(DOCKERFILE));
  assert.equal(plan.target, 3);
  assert.deepEqual(plan.stages.map((s) => s.index), [0, 1, 3]);
  assert.deepEqual(plan.levels, [[0, 1], [3]]);
  assert.deepEqual(plan.order, [0, 1, 3]);
  const final = plan.stages[2]!;
  assert.deepEqual(final.base, { kind: 'scratch' });
  assert.deepEqual(final.dependsOn, [0, 1]);
  assert.deepEqual(final.images, ['nginx:latest']);
  assert.deepEqual(final.steps[0]!.copyFrom, { kind: 'stage', index: 0 });
  assert.deepEqual(final.steps[2]!.copyFrom, { kind: 'image', ref: 'nginx:latest' });
  assert.deepEqual(final.steps[3]!.mountFrom, [{ kind: 'stage', index: 0 }]);
});

test('--target selects a stage by name, case-insensitively', () => {
  const plan = planBuild(parseDockerfile(DOCKERFILE), { target: 'Assets' });
  assert.deepEqual(plan.order, [1]);
  assert.throws(() => planBuild(parseDockerfile(DOCKERFILE), { target: 'nope' }), /target stage "nope" could not be found/);
});

test('FROM an earlier stage chains stages', () => {
  const plan = planBuild(parseDockerfile('FROM ubuntu AS base\nRUN a\nFROM base AS dev\nRUN b\nFROM base AS prod\nRUN c\n'), { target: 'prod' });
  assert.deepEqual(plan.levels, [[0], [2]]);
  assert.deepEqual(plan.stages[1]!.base, { kind: 'stage', index: 0 });
});

test('COPY --from by index and by variable', () => {
  const plan = planBuild(parseDockerfile('FROM a\nRUN x\nFROM b\nARG SRC=0\nCOPY --from=$SRC /x /y\n'));
  assert.deepEqual(plan.stages[1]!.steps[1]!.copyFrom, { kind: 'stage', index: 0 });
  assert.throws(() => planBuild(parseDockerfile('FROM a\nCOPY --from=5 /x /y\n')), /Dockerfile:2: invalid stage index 5/);
});

test('forward references are allowed for COPY --from but cycles are rejected', () => {
  const forward = planBuild(parseDockerfile('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nRUN y\nFROM c\nCOPY --from=one /x /x\n'));
  assert.deepEqual(forward.levels, [[1], [0], [2]]);
  assert.throws(
    () => planBuild(parseDockerfile('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n')),
    /circular dependency detected on stage: (one|two)/,
  );
  assert.throws(() => planBuild(parseDockerfile('FROM a AS self\nCOPY --from=self /x /y\n')), /circular dependency detected on stage: self/);
});

test('FROM naming a later stage is an image reference, with a warning', () => {
  const plan = planBuild(parseDockerfile('FROM later AS first\nFROM alpine AS later\nCOPY --from=first /a /a\n'));
  assert.deepEqual(plan.stages[0]!.base, { kind: 'image', ref: 'later' });
  assert.match(plan.warnings.join('\n'), /Dockerfile:1: FROM later names a later stage/);
});

test('errors in stages the target skips do not fail the build', () => {
  const plan = planBuild(parseDockerfile('FROM a AS broken\nWORKDIR ${X:?unset}\nFROM b AS ok\nRUN true\n'), { target: 'ok' });
  assert.deepEqual(plan.order, [1]);
});

test('named contexts: FROM, COPY --from and mount from= see them ahead of stages and images', () => {
  const plan = planBuild(parseDockerfile(DOCKERFILE), {
    namedContexts: { 'nginx:latest': { kind: 'local' }, assets: { kind: 'image', ref: 'registry.local/assets:2' }, alpine: { kind: 'local' } },
  });
  const final = plan.stages.find((s) => s.index === 3)!;
  // The `assets` stage is replaced by the image, so it is no longer needed.
  assert.deepEqual(plan.stages.map((s) => s.index), [0, 3]);
  assert.deepEqual(final.steps[1]!.copyFrom, { kind: 'image', ref: 'registry.local/assets:2' });
  assert.deepEqual(final.steps[2]!.copyFrom, { kind: 'context', name: 'nginx:latest' });
  assert.deepEqual(final.images, ['registry.local/assets:2']);
  const fromContext = planBuild(parseDockerfile('FROM alpine\nRUN true\n'), { namedContexts: { alpine: { kind: 'local' } } });
  assert.deepEqual(fromContext.stages[0]!.base, { kind: 'context', name: 'alpine' });
});
