/** Host sides of published ports: a host range takes its first port free on the host and among ours. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { allocatePorts } from '../../agent/network/ports';
import { isKind } from '../../common/errors';

/** Three consecutive free loopback ports (retried: another process may take one meanwhile). */
async function freeRun(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const base = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    if (base + 2 > 65535) continue;
    const probes = await allocatePorts([1, 2].map((i) => ({ containerPort: 80, hostIp: '127.0.0.1', hostPort: base + i })), []).catch(() => undefined);
    if (probes) return base;
  }
  throw new Error('no run of three free ports');
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

test('a host range skips ports held by our containers and by other processes', async () => {
  const base = await freeRun();
  const req = { containerPort: 80, hostIp: '127.0.0.1', hostPort: base, hostPortEnd: base + 2 };
  const [first] = await allocatePorts([req], []);
  assert.equal(first?.hostPort, base);
  const other = await listen(base + 1);
  try {
    const [second] = await allocatePorts([req], [first!]);
    assert.equal(second?.hostPort, base + 2);
    await assert.rejects(allocatePorts([req], [first!, second!]), (err) => {
      assert.ok(isKind(err, 'Conflict'));
      assert.match((err as Error).message, new RegExp(`^network: Bind for 127\\.0\\.0\\.1:${base}-${base + 2} failed: every port of the range is already allocated$`));
      return true;
    });
  } finally {
    await new Promise((r) => other.close(r));
  }
});
