import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, rejects } from './helpers';

// The spec's illustrative example (15-profiles.md).
const spec = `services:
  foo:
    image: foo
  bar:
    image: bar
    profiles: [test]
  baz:
    image: baz
    depends_on: [bar]
    profiles: [test]
  zot:
    image: zot
    depends_on: [bar]
    profiles: [debug]
`;
const names = async (opts: object): Promise<string[]> => Object.keys((await load({ 'compose.yaml': spec }, opts)).canonical.services as object);

describe('profiles', () => {
  test('no profile: only services without profiles', async () => {
    assert.deepEqual(await names({}), ['foo']);
  });
  test('--profile test and COMPOSE_PROFILES', async () => {
    assert.deepEqual(await names({ profiles: ['test'] }), ['bar', 'baz', 'foo']);
    assert.deepEqual(await names({ environment: { COMPOSE_PROFILES: 'test,debug' } }), ['bar', 'baz', 'foo', 'zot']);
    assert.deepEqual(await names({ profiles: ['*'] }), ['bar', 'baz', 'foo', 'zot']);
  });
  test('debug alone leaves zot depending on a disabled service', async () => {
    await rejects({ 'compose.yaml': spec }, [/service "zot" depends on service "bar", which is disabled by its profiles/], { profiles: ['debug'] });
  });
  test('naming a service enables it and its dependencies', async () => {
    assert.deepEqual(await names({ servicesSelected: ['baz'] }), ['bar', 'baz']);
    assert.deepEqual(await names({ servicesSelected: ['zot'] }), ['bar', 'zot']);
    const lp = await load({ 'compose.yaml': spec }, { servicesSelected: ['bar'] });
    assert.deepEqual(lp.model.profiles, ['test']);
    assert.deepEqual(lp.model.disabled_services.sort(), ['baz', 'foo', 'zot']);
  });
  test('naming an unknown service suggests a near one', async () => {
    await rejects({ 'compose.yaml': spec }, [/no such service: fooo; did you mean "foo"\?/], { servicesSelected: ['fooo'] });
  });
  test('a non-required dependency on a disabled service is dropped', async () => {
    const lp = await load({ 'compose.yaml': 'services:\n  a:\n    image: a\n    depends_on:\n      b:\n        condition: service_started\n        required: false\n  b:\n    image: b\n    profiles: [x]\n' });
    assert.deepEqual((lp.canonical.services as any).a.depends_on, {});
  });
});

describe('services named to a project verb (up, exec, stop…)', () => {
  test('activate their profiles and keep the rest of the project', async () => {
    // `up zot`'s dependency bar is in an inactive profile: Compose's docs show this failing.
    await rejects({ 'compose.yaml': spec }, [/service "zot" depends on service "bar", which is disabled by its profiles/], { servicesEnabled: ['zot'] });
    const lp = await load({ 'compose.yaml': spec }, { servicesEnabled: ['baz'] });
    assert.deepEqual(Object.keys(lp.canonical.services as object).sort(), ['bar', 'baz', 'foo']);
    assert.deepEqual(lp.model.profiles, ['test']);
    assert.deepEqual(lp.model.disabled_services, ['zot']);
  });
  test('an unknown name is left to the verb, which names it', async () => {
    assert.deepEqual(await names({ servicesEnabled: ['nosuch'] }), ['foo']);
  });
});
