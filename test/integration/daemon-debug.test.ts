/**
 * `tscompose daemon --debug` logs each request it serves: the method, then its gRPC status and
 * duration, as dockerd's debug log names each API call.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { retry } from '../helpers/http';

let d: TestDaemon;

before(async () => {
  d = await startTestDaemon(['--debug']);
});

after(async () => {
  await d?.destroy();
});

test('--debug logs each request with its status and duration', async () => {
  await d.ok(['container', 'ls']);
  const missing = await d.run(['container', 'inspect', 'nosuch']);
  assert.equal(missing.code, 1);
  await retry(async () => {
    const log = d.log();
    assert.match(log, /debug: calling \/tscompose\.engine\.v1\.Engine\/ContainerList$/m);
    assert.match(log, /debug: \/tscompose\.engine\.v1\.Engine\/ContainerList ended with status 0 after \d+ ms$/m);
    // NOT_FOUND is gRPC status 5.
    assert.match(log, /debug: \/tscompose\.engine\.v1\.Engine\/ContainerInspect ended with status 5 after \d+ ms$/m);
  });
});
