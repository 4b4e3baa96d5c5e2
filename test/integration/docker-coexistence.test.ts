/**
 * Docker's engine, when it runs beside us, sets the FORWARD policy to DROP and turns on
 * br_netfilter's bridge-nf-call-iptables. Our containers must keep working then: published
 * ports from the host, and container-to-container traffic on a user network by name. The test
 * puts the host in that state itself (as dockerd would) and restores it afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';
import { get, retry } from '../helpers/http';

const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';
let d: TestDaemon;
let previousPolicy = 'ACCEPT';
let previousBridgeNf: string | undefined;

function forwardPolicy(): string {
  const line = execFileSync('iptables', ['-S', 'FORWARD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n')[0] ?? '';
  return /^-P FORWARD (\w+)/.exec(line)?.[1] ?? 'ACCEPT';
}

before(async () => {
  previousPolicy = forwardPolicy();
  try {
    execFileSync('modprobe', ['br_netfilter'], { stdio: 'ignore' });
  } catch {
    // built in, or not available: the sysctl below tells
  }
  if (existsSync(BRIDGE_NF)) {
    previousBridgeNf = (await fsp.readFile(BRIDGE_NF, 'utf8')).trim();
    await fsp.writeFile(BRIDGE_NF, '1');
  }
  execFileSync('iptables', ['-P', 'FORWARD', 'DROP']);
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
});

after(async () => {
  try {
    await d?.destroy();
  } finally {
    execFileSync('iptables', ['-P', 'FORWARD', previousPolicy]);
    if (previousBridgeNf !== undefined) await fsp.writeFile(BRIDGE_NF, previousBridgeNf);
  }
});

test('with FORWARD DROP and bridge-nf-call-iptables, ports and container-to-container traffic work', async (t) => {
  if (previousBridgeNf === undefined) t.diagnostic('br_netfilter is not available on this kernel: only the FORWARD DROP policy is exercised');
  assert.equal(forwardPolicy(), 'DROP');
  await d.ok(['network', 'create', 'coexist']);
  await d.ok(['container', 'run', '-d', '--name', 'srv', '--network', 'coexist', '-p', '127.0.0.1:18181:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  const body = await retry(() => get('http://127.0.0.1:18181/hostname'));
  assert.match(body, /^[a-f0-9]{12}$/m);
  const out = await retry(() => d.ok(['container', 'run', '--rm', '--network', 'coexist', 'busybox', 'sh', '-c', 'printf "GET /hostname HTTP/1.0\\r\\n\\r\\n" | nc srv 80 | tail -n 1']));
  assert.equal(out.trim(), body.trim());
  await d.ok(['container', 'rm', '-f', 'srv']);
  await d.ok(['network', 'rm', 'coexist']);
});
