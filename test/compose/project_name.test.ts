import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, rejects } from './helpers';

const yaml = 'name: From_File\nservices:\n  web:\n    image: x\n';
describe('project name', () => {
  test('precedence: -p, COMPOSE_PROJECT_NAME, top-level name, directory', async () => {
    assert.equal((await load({ 'compose.yaml': yaml }, { projectName: 'Flag.Name' })).projectName, 'flagname');
    assert.equal((await load({ 'compose.yaml': yaml }, { environment: { COMPOSE_PROJECT_NAME: 'env_name' } })).projectName, 'env_name');
    assert.equal((await load({ 'compose.yaml': yaml })).projectName, 'from_file');
    assert.equal((await load({ 'compose.yaml': 'services:\n  web:\n    image: x\n' })).projectName, 'proj');
  });
  test('the name appears in the canonical tree and resource names', async () => {
    const lp = await load({ 'compose.yaml': yaml });
    assert.equal(lp.canonical.name, 'from_file');
    assert.equal((lp.canonical.networks as any).default.name, 'from_file_default');
  });
  test('a name that stays invalid is an error', async () => {
    await rejects({ 'compose.yaml': yaml }, [/invalid project name "\.\.\." \(from -p\)/], { projectName: '...' });
  });
});
