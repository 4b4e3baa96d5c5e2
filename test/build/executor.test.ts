/** The executor's pure parts: config updates per instruction, history entries, cache keys, progress lines. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, planBuild, type Instruction } from '../../agent/build';
import { cacheKey } from '../../agent/build/executor/cache';
import { applyToConfig, createdBy, goDuration, historyEntry, nextWorkdir, setEnv, type StageFlags } from '../../agent/build/executor/config';
import { CompactRenderer, plainLine } from '../../agent/build/executor/progress';
import type { ContainerConfig } from '../../agent/image/oci';

/** The stage's instructions after substitution, as the executor applies them. */
function instructions(body: string): Instruction[] {
  return planBuild(parseDockerfile(`FROM scratch\n${body}`)).stages[0]?.steps.map((s) => s.expanded) ?? [];
}

function configAfter(body: string, start: ContainerConfig = {}): ContainerConfig {
  const config = structuredClone(start);
  const flags: StageFlags = { cmdSet: false };
  for (const ins of instructions(body)) applyToConfig(config, ins, flags);
  return config;
}

describe('applyToConfig', () => {
  test('metadata instructions as Docker records them', () => {
    const config = configAfter(
      [
        'ENV A=1 B="two words"',
        'ENV A=3',
        'LABEL x=y',
        'EXPOSE 80 53/udp 8000-8001',
        'VOLUME ["/data", "/logs"]',
        'WORKDIR /srv',
        'WORKDIR app',
        'USER app:staff',
        'STOPSIGNAL SIGINT',
        'SHELL ["/bin/bash", "-c"]',
        'CMD echo hi',
        'HEALTHCHECK --interval=5s --retries=3 CMD ["curl", "-f", "localhost"]',
        'ONBUILD RUN echo child',
      ].join('\n'),
    );
    assert.deepEqual(config.Env, ['A=3', 'B=two words']);
    assert.deepEqual(config.Labels, { x: 'y' });
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
    assert.deepEqual(config.Volumes, { '/data': {}, '/logs': {} });
    assert.equal(config.WorkingDir, '/srv/app');
    assert.equal(config.User, 'app:staff');
    assert.equal(config.StopSignal, 'SIGINT');
    assert.deepEqual(config.Cmd, ['/bin/bash', '-c', 'echo hi']);
    assert.deepEqual(config.Healthcheck, { Test: ['CMD', 'curl', '-f', 'localhost'], Interval: 5e9, Retries: 3 });
    assert.deepEqual(config.OnBuild, ['RUN echo child']);
  });

  test('ENTRYPOINT clears an inherited CMD, but not one set in the same stage', () => {
    const inherited: ContainerConfig = { Cmd: ['sh'] };
    assert.equal(configAfter('ENTRYPOINT ["/entry"]', inherited).Cmd, null);
    assert.deepEqual(configAfter('CMD ["x"]\nENTRYPOINT ["/entry"]', inherited).Cmd, ['x']);
  });

  test('HEALTHCHECK NONE disables an inherited check', () => {
    assert.deepEqual(configAfter('HEALTHCHECK NONE', { Healthcheck: { Test: ['CMD', 'true'] } }).Healthcheck, { Test: ['NONE'] });
  });

  test('RUN, COPY and ARG leave the config alone', () => {
    const config: ContainerConfig = {};
    for (const ins of instructions('ARG X=1\nRUN true\nCOPY a /b')) assert.equal(applyToConfig(config, ins, { cmdSet: false }), false);
    assert.deepEqual(config, {});
  });
});

test('setEnv replaces in place and appends new names', () => {
  assert.deepEqual(setEnv(['PATH=/bin', 'A=1', 'B=2'], 'A', 'x'), ['PATH=/bin', 'A=x', 'B=2']);
  assert.deepEqual(setEnv(undefined, 'A', '1'), ['A=1']);
});

test('nextWorkdir resolves relative paths against the current directory', () => {
  assert.equal(nextWorkdir(undefined, 'a'), '/a');
  assert.equal(nextWorkdir('/a', '../b/./c'), '/b/c');
  assert.equal(nextWorkdir('/a', '/abs'), '/abs');
});

test('history entries mark steps without a layer', () => {
  assert.deepEqual(historyEntry('/bin/sh -c #(nop)  ENV A=1', 't', false), { created: 't', created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true });
  assert.deepEqual(historyEntry('/bin/sh -c make', 't', true, 'Jane'), { created: 't', created_by: '/bin/sh -c make', author: 'Jane' });
});

test('created_by as docker build (classic builder) writes it', () => {
  const plan = planBuild(parseDockerfile('FROM busybox\nARG V=1\nRUN make\nHEALTHCHECK --interval=90s --retries=3 CMD true\nEXPOSE 80 53/udp\nVOLUME /a /b\n'));
  const [arg, run, health, expose, volume] = plan.stages[0]!.steps;
  const config = { Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 90e9, Retries: 3 } };
  assert.equal(createdBy(arg!.expanded, { config: {} }), '/bin/sh -c #(nop)  ARG V=1');
  assert.equal(createdBy(run!.expanded, { config: {}, args: run!.args, env: { V: 'env wins' } }), '/bin/sh -c make');
  assert.equal(createdBy(run!.expanded, { config: { Shell: ['/bin/bash', '-c'] }, args: run!.args, env: {} }), '|1 V=1 /bin/bash -c make');
  assert.equal(createdBy(health!.expanded, { config }), `/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "1m30s" "0s" "0s" '\\x03'}`);
  assert.equal(createdBy(expose!.expanded, { config: {} }), '/bin/sh -c #(nop)  EXPOSE 53/udp 80');
  assert.equal(createdBy(volume!.expanded, { config: {} }), '/bin/sh -c #(nop)  VOLUME [/a /b]');
  assert.deepEqual([0, 5e8, 2e9, 61e9, 3.6e12].map(goDuration), ['0s', '500ms', '2s', '1m1s', '1h0m0s']);
});

test('cache keys depend on every part and on where parts split', () => {
  assert.equal(cacheKey('a', 'b'), cacheKey('a', 'b'));
  assert.notEqual(cacheKey('a', 'b'), cacheKey('a', 'c'));
  assert.notEqual(cacheKey('ab', 'c'), cacheKey('a', 'bc'));
  assert.match(cacheKey('x'), /^sha256:[a-f0-9]{64}$/);
});

describe('progress', () => {
  test('plain lines as buildkit prints them', () => {
    assert.equal(plainLine({ vertex: 3, status: 'start', text: '[build 2/4] RUN make', elapsedMs: 0 }), '\n#3 [build 2/4] RUN make');
    assert.equal(plainLine({ vertex: 3, status: 'log', text: 'cc -o x', elapsedMs: 1234 }), '#3 1.234 cc -o x');
    assert.equal(plainLine({ vertex: 3, status: 'cached', text: '', elapsedMs: 0 }), '#3 CACHED');
    assert.equal(plainLine({ vertex: 3, status: 'done', text: '', elapsedMs: 1500 }), '#3 DONE 1.5s');
    assert.equal(plainLine({ vertex: 3, status: 'error', text: 'boom', elapsedMs: 0 }), '#3 ERROR: boom');
  });

  test('the compact view shows one line per step and the output of a failed one', () => {
    const lines: string[] = [];
    const view = new CompactRenderer((l) => lines.push(l));
    view.show({ vertex: 1, status: 'start', text: '[1/3] COPY a /a', elapsedMs: 0 });
    view.show({ vertex: 1, status: 'cached', text: '', elapsedMs: 0 });
    view.show({ vertex: 2, status: 'start', text: '[2/3] RUN ok', elapsedMs: 0 });
    view.show({ vertex: 2, status: 'log', text: 'hidden', elapsedMs: 10 });
    view.show({ vertex: 2, status: 'done', text: '', elapsedMs: 200 });
    view.show({ vertex: 3, status: 'start', text: '[3/3] RUN fail', elapsedMs: 0 });
    view.show({ vertex: 3, status: 'log', text: 'why it failed', elapsedMs: 10 });
    view.show({ vertex: 3, status: 'error', text: 'exit code: 1', elapsedMs: 300 });
    assert.deepEqual(lines, ['=> CACHED [1/3] COPY a /a', '=> [2/3] RUN ok  0.2s', '=> ERROR [3/3] RUN fail  0.3s', '   why it failed']);
  });
});
