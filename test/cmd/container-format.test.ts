import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderList } from '../../cmd/format';
import {
  CONTAINER_HEADERS,
  ContainerRow,
  containerTable,
  displayImage,
  displayNames,
  displayablePorts,
  ellipsis,
  portLines,
  startErrorStatus,
  statsRow,
  STATS_HEADERS,
  STATS_TABLE,
  withDefaultTag,
} from '../../cmd/commands/container-format';
import { logTimestamp, splitCopyArg } from '../../cmd/commands/container-io';
import { DetachKeyScanner } from '../../cmd/terminal';
import type { ContainerSummary, PortView } from '../../common/rpc/engine-types';

const port = (private_port: number, type = 'tcp', ip = '', public_port = 0): PortView => ({ ip, private_port, public_port, type });

test('displayablePorts: mappings, unpublished ports, ranges, IPv6', () => {
  assert.equal(displayablePorts([]), '');
  assert.equal(displayablePorts([port(80, 'tcp', '0.0.0.0', 8080)]), '0.0.0.0:8080->80/tcp');
  assert.equal(
    displayablePorts([port(9000, 'udp', '127.0.0.1', 9000), port(80, 'tcp', '0.0.0.0', 8080)]),
    '127.0.0.1:9000->9000/udp, 0.0.0.0:8080->80/tcp',
  );
  assert.equal(displayablePorts([port(80), port(81), port(82), port(443)]), '80-82/tcp, 443/tcp');
  assert.equal(
    displayablePorts([port(8000, 'tcp', '0.0.0.0', 8000), port(8001, 'tcp', '0.0.0.0', 8001)]),
    '0.0.0.0:8000-8001->8000-8001/tcp',
  );
  assert.equal(displayablePorts([port(80, 'tcp', '::', 8080)]), '[::]:8080->80/tcp');
  assert.equal(displayablePorts([port(53, 'udp'), port(53, 'tcp')]), '53/tcp, 53/udp');
});

test('ellipsis and the quoted command column', () => {
  assert.equal(ellipsis('short', 20), 'short');
  assert.equal(ellipsis('abcdefghijklmnopqrstuvwxyz', 20), 'abcdefghijklmnopqrs…');
  assert.equal([...ellipsis('abcdefghijklmnopqrstuvwxyz', 20)].length, 20);
});

function summary(overrides: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    id: 'a'.repeat(64),
    names: ['/web'],
    image: 'busybox',
    image_id: 'sha256:' + 'b'.repeat(64),
    command: 'sleep 1000',
    created: Date.UTC(2024, 0, 1, 10, 0, 0),
    state: 'running',
    status: 'Up 3 seconds',
    ports: [port(80, 'tcp', '0.0.0.0', 8080)],
    labels: { b: '2', a: '1' },
    size_rw: 0,
    size_root_fs: 4_260_000,
    networks: ['bridge'],
    mounts: [],
    health: '',
    exit_code: 0,
    started_at: 0,
    finished_at: 0,
    ...overrides,
  };
}

test('ContainerRow: Docker’s ps fields', () => {
  const now = Date.UTC(2024, 0, 1, 10, 2, 0);
  const row = new ContainerRow(summary({ command: 'sh -c "while true; do sleep 1; done"' }), true, now);
  assert.equal(row.ID, 'aaaaaaaaaaaa');
  assert.equal(row.Image, 'busybox');
  assert.equal(row.Command, '"sh -c \\"while true; …"');
  assert.equal(row.RunningFor, '2 minutes ago');
  assert.equal(row.CreatedAt, '2024-01-01 10:00:00 +0000 UTC');
  assert.equal(row.Ports, '0.0.0.0:8080->80/tcp');
  assert.equal(row.Names, 'web');
  assert.equal(row.Size, '0B (virtual 4.26MB)');
  assert.equal(row.Labels, 'a=1,b=2');
  assert.equal(row.Label('b'), '2');
  assert.equal(new ContainerRow(summary({ size_root_fs: 0 }), true, now).Size, '0B');
  const full = new ContainerRow(summary({ command: 'sleep 1000' }), false, now);
  assert.equal(full.ID, 'a'.repeat(64));
  assert.equal(full.Command, '"sleep 1000"');
});

test('container ls table and json output', () => {
  const now = Date.UTC(2024, 0, 1, 10, 0, 5);
  const rows = [new ContainerRow(summary(), true, now)];
  const table = renderList(rows, { defaultTable: containerTable(false), headers: CONTAINER_HEADERS });
  const lines = table.split('\n');
  assert.deepEqual(lines, [
    'CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS         PORTS                  NAMES',
    'aaaaaaaaaaaa   busybox   "sleep 1000"   5 seconds ago   Up 3 seconds   0.0.0.0:8080->80/tcp   web',
    '',
  ]);
  const sized = renderList(rows, { defaultTable: containerTable(true), headers: CONTAINER_HEADERS });
  assert.match(sized.split('\n')[0]!, /NAMES {5}SIZE$/);
  assert.match(sized.split('\n')[1]!, /web {7}0B \(virtual 4\.26MB\)$/);
  const json = JSON.parse(renderList(rows, { format: 'json', defaultTable: containerTable(false), headers: CONTAINER_HEADERS }));
  assert.deepEqual(Object.keys(json), [
    'Command',
    'CreatedAt',
    'ID',
    'Image',
    'Labels',
    'LocalVolumes',
    'Mounts',
    'Names',
    'Networks',
    'Ports',
    'RunningFor',
    'Size',
    'State',
    'Status',
  ]);
  assert.equal(json.Names, 'web');
  assert.equal(json.LocalVolumes, '0');
  const mounted = new ContainerRow({ ...summary(), mounts: ['data', '/srv/www', 'cache-1'] }, true, now);
  assert.equal(mounted.LocalVolumes, '2', 'volumes count, a bind mount does not');
  assert.equal(renderList(rows, { format: '{{.Names}} {{.Label "a"}}', defaultTable: '', headers: {} }), 'web 1\n');
  assert.equal(renderList(rows, { quiet: true, defaultTable: containerTable(false), headers: CONTAINER_HEADERS }), 'aaaaaaaaaaaa\n');
});

test('names and images as ps shows them', () => {
  assert.equal(displayNames(['/web', '/other/alias'], true), 'web');
  assert.equal(displayNames(['/web', '/other/alias'], false), 'web,other/alias');
  assert.equal(displayImage('sha256:' + 'c'.repeat(64), '', true), 'cccccccccccc');
  assert.equal(displayImage('busybox@sha256:' + 'c'.repeat(64), '', true), 'busybox');
  assert.equal(displayImage('busybox@sha256:' + 'c'.repeat(64), '', false), 'busybox@sha256:' + 'c'.repeat(64));
});

test('port lines: all bindings sorted naturally, or one port', () => {
  const ports = {
    '80/tcp': [
      { HostIp: '0.0.0.0', HostPort: '8080' },
      { HostIp: '::', HostPort: '8080' },
    ],
    '9000/udp': [{ HostIp: '127.0.0.1', HostPort: '9000' }],
    '10000/tcp': [{ HostIp: '0.0.0.0', HostPort: '10000' }],
    '443/tcp': null,
  };
  assert.deepEqual(portLines(ports, 'web'), [
    '80/tcp -> 0.0.0.0:8080',
    '80/tcp -> [::]:8080',
    '9000/udp -> 127.0.0.1:9000',
    '10000/tcp -> 0.0.0.0:10000',
  ]);
  assert.deepEqual(portLines(ports, 'web', '80'), ['0.0.0.0:8080', '[::]:8080']);
  assert.deepEqual(portLines(ports, 'web', '9000/udp'), ['127.0.0.1:9000']);
  assert.throws(() => portLines(ports, 'web', '443'), /Error: No public port '443\/tcp' published for web/);
  assert.throws(() => portLines(ports, 'web', 'x'), /Error: invalid port \(x\)/);
});

test('stats rows and table', () => {
  const entry = {
    id: 'd'.repeat(64),
    name: '/web',
    cpu_percent: 1.234,
    memory_usage: 1.5 * 1024 * 1024,
    memory_limit: 2 * 1024 * 1024 * 1024,
    memory_percent: 0.0732,
    net_rx: 1296,
    net_tx: 0,
    block_read: 4_100_000,
    block_write: 0,
    pids: 3,
    read_nano: 0,
  };
  const row = statsRow(entry, 'web', true);
  assert.deepEqual(row, {
    Container: 'web',
    ID: 'dddddddddddd',
    Name: 'web',
    CPUPerc: '1.23%',
    MemUsage: '1.5MiB / 2GiB',
    MemPerc: '0.07%',
    NetIO: '1.3kB / 0B',
    BlockIO: '4.1MB / 0B',
    PIDs: '3',
  });
  const header = renderList([row], { defaultTable: STATS_TABLE, headers: STATS_HEADERS }).split('\n')[0]!;
  assert.equal(header, 'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      BLOCK I/O    PIDS');
});

test('exit status of a failed start', () => {
  assert.equal(startErrorStatus('exec: "nope": executable file not found in $PATH'), 127);
  assert.equal(startErrorStatus('exec /app/run: no such file or directory'), 127);
  assert.equal(startErrorStatus('exec /etc/passwd: permission denied'), 126);
  assert.equal(startErrorStatus('cannot start: port is already allocated'), 125);
});

test('image names as the pull message shows them', () => {
  assert.equal(withDefaultTag('busybox'), 'busybox:latest');
  assert.equal(withDefaultTag('busybox:1.36'), 'busybox:1.36');
  assert.equal(withDefaultTag('docker.io/library/alpine'), 'alpine:latest');
  assert.equal(withDefaultTag('localhost:5000/app'), 'localhost:5000/app:latest');
  assert.equal(withDefaultTag('app@sha256:abc'), 'app@sha256:abc');
});

test('log timestamps: RFC 3339 with nine fraction digits', () => {
  assert.equal(logTimestamp(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
  assert.equal(logTimestamp(1_700_000_000_000_000_000n), '2023-11-14T22:13:20.000000000Z');
});

test('cp arguments: container:path or local', () => {
  assert.deepEqual(splitCopyArg('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
  assert.deepEqual(splitCopyArg('web:'), { container: 'web', path: '' });
  assert.deepEqual(splitCopyArg('/tmp/a:b'), { path: '/tmp/a:b' });
  assert.deepEqual(splitCopyArg('./a:b'), { path: './a:b' });
  assert.deepEqual(splitCopyArg('-'), { path: '-' });
  assert.deepEqual(splitCopyArg('file.txt'), { path: 'file.txt' });
});

test('detach keys: the sequence is swallowed, a broken one passed on', () => {
  const scanner = new DetachKeyScanner([16, 17]);
  assert.deepEqual(scanner.feed(Buffer.from('ab')), { forward: Buffer.from('ab'), detached: false });
  // Held back across chunks until it completes…
  assert.deepEqual(scanner.feed(Buffer.from([0x61, 16])), { forward: Buffer.from('a'), detached: false });
  assert.deepEqual(scanner.feed(Buffer.from([17])), { forward: Buffer.alloc(0), detached: true });
  // …or breaks.
  const again = new DetachKeyScanner([16, 17]);
  assert.deepEqual(again.feed(Buffer.from([16, 0x78])), { forward: Buffer.from([16, 0x78]), detached: false });
  assert.deepEqual(again.feed(Buffer.from([16, 16, 17])), { forward: Buffer.from([16]), detached: true });
});
