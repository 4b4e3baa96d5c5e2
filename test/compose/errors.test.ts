import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ComposeError } from '../../manager/compose/index';
import { rejects } from './helpers';

describe('bad input', () => {
  test('an unknown key names file, line, column, path and the nearest valid key', async () => {
    const err = await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    portz:\n      - "80:80"\n' }, [
      /compose\.yaml:4:5: services\.web\.portz: unknown key; did you mean "ports"\?/,
    ]);
    assert.ok(err instanceof ComposeError);
    assert.equal(err.kind, 'InvalidArgument');
    assert.equal(err.line, 4);
    assert.equal(err.col, 5);
    assert.equal(err.yamlPath, 'services.web.portz');
  });
  test('unknown keys in nested long syntax and at the top level', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    build:\n      contxt: .\n' }, [/services\.web\.build\.contxt: unknown key; did you mean "context"\?/]);
    await rejects({ 'compose.yaml': 'service:\n  web:\n    image: x\n' }, [/compose\.yaml:1:1: service: unknown key; did you mean "services"\?/]);
  });
  test('wrong types say what was expected', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    ports: 80\n' }, [/services\.web\.ports: expected a list; got 80/]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: [x]\n' }, [/services\.web\.image: expected a string; got a list/]);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    environment: 3\n' }, [/services\.web\.environment: expected a mapping or a list; got 3/]);
  });
  test('an invalid service name', async () => {
    await rejects({ 'compose.yaml': 'services:\n  "my web":\n    image: x\n' }, [/services\["my web"\]: invalid name "my web"/]);
  });
  test('malformed YAML points at the offending character', async () => {
    const err = await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    ports: [80\n  db: }\n' }, [/compose\.yaml:\d+:\d+: yaml: /]);
    assert.ok(err instanceof ComposeError && err.line !== undefined && err.line >= 4);
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    image: y\n' }, [/compose\.yaml:4:5: yaml: Map keys must be unique/]);
    await rejects({ 'compose.yaml': 'services:\n\tweb: {}\n' }, [/compose\.yaml:2:1: yaml: .*\(at "\\t"\)/]);
  });
  test('empty files, non-mapping documents, missing files', async () => {
    await rejects({ 'compose.yaml': '' }, [/empty compose file/]);
    await rejects({ 'compose.yaml': '- a\n- b\n' }, [/top-level object must be a mapping/]);
    await rejects({ 'compose.yaml': 'services: {}\n' }, [/compose file .*nope\.yaml not found/], { files: ['nope.yaml'] });
    await rejects({ 'other.yaml': 'services: {}\n' }, [/no configuration file provided/]);
  });
  test('version is accepted with a warning; x- extensions allowed; anchors and merge keys', async () => {
    const { load } = await import('./helpers');
    const lp = await load({
      'compose.yaml': 'version: "3.8"\nx-base: &base\n  image: shared\n  labels: {a: "1"}\nservices:\n  web:\n    <<: *base\n    x-note: hello\n    labels: {b: "2"}\n',
    });
    assert.ok(lp.warnings.some((w) => /`version` is obsolete/.test(w)));
    assert.deepEqual((lp.canonical.services as any).web, { image: 'shared', labels: { b: '2' }, networks: { default: null }, 'x-note': 'hello' });
    assert.deepEqual(lp.model.services.web?.extensions, { 'x-note': 'hello' });
  });
});

test('duplicate list entries are refused as Compose refuses them', async () => {
  const { loadProject } = await import('../../manager/compose/index');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'compose-dup-'));
  writeFileSync(join(dir, 'compose.yaml'), 'services:\n  a:\n    image: x\n    ports: ["80", "80"]\n');
  await assert.rejects(loadProject({ workingDir: dir, environment: {} }), /services\.a\.ports: contains non-unique items \(entries 1 and 2 are the same\)/);
  writeFileSync(join(dir, 'compose.yaml'), 'services:\n  a:\n    image: x\n    depends_on: [b, b]\n  b:\n    image: y\n');
  await assert.rejects(loadProject({ workingDir: dir, environment: {} }), /services\.a\.depends_on: contains non-unique items/);
});
