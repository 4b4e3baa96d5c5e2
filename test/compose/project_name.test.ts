import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, rejects } from './helpers';

const yaml = 'name: From_File\nservices:\n  web:\n    image: x\n';
describe('project name', () => {
  test('precedence: -p, COMPOSE_PROJECT_NAME, top-level name, directory', async () => {
    assert.equal((await load({ 'compose.yaml': yaml }, { projectName: 'flag_name-2' })).projectName, 'flag_name-2');
    assert.equal((await load({ 'compose.yaml': yaml }, { environment: { COMPOSE_PROJECT_NAME: 'env_name' } })).projectName, 'env_name');
    assert.equal((await load({ 'compose.yaml': yaml })).projectName, 'from_file');
    assert.equal((await load({ 'compose.yaml': 'services:\n  web:\n    image: x\n' })).projectName, 'proj');
  });
  test('the name appears in the canonical tree and resource names', async () => {
    const lp = await load({ 'compose.yaml': yaml });
    assert.equal(lp.canonical.name, 'from_file');
    assert.equal((lp.canonical.networks as any).default.name, 'from_file_default');
  });
  test('a name the user gives must already be normal; derived ones are normalised', async () => {
    const refusal = (name: string) =>
      new RegExp(`^invalid project name "${name}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number$`);
    await rejects({ 'compose.yaml': yaml }, [refusal('ABC')], { projectName: 'ABC' });
    await rejects({ 'compose.yaml': yaml }, [refusal('\\.\\.\\.')], { projectName: '...' });
    await rejects({ 'compose.yaml': yaml }, [refusal('_x')], { projectName: '_x' });
    await rejects({ 'compose.yaml': yaml }, [refusal('Bad')], { environment: { COMPOSE_PROJECT_NAME: 'Bad' } });
    // The top-level name is the file's, not the user's: compose-go normalises it silently, and
    // one that normalises to nothing leaves the directory's name.
    assert.equal((await load({ 'compose.yaml': 'name: My.App\nservices:\n  web:\n    image: x\n' })).projectName, 'myapp');
    assert.equal((await load({ 'compose.yaml': 'name: "..."\nservices:\n  web:\n    image: x\n' })).projectName, 'proj');
    const lp = await load({ 'compose.yaml': 'services:\n  web:\n    image: x\n' }, { projectName: undefined });
    assert.equal(lp.projectName, 'proj');
  });
});
