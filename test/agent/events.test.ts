import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fsp, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventLog } from '../../agent/events';

test('events of one millisecond get distinct, increasing times that survive a restart', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'events-'));
  try {
    const file = path.join(dir, 'events.jsonl');
    const log = new EventLog(file);
    await log.load();
    for (let i = 0; i < 50; i++) log.emit('container', 'create', `c${i}`);
    await log.settle();
    const times = log.history(0, Number.MAX_SAFE_INTEGER * 1e6, []).map((e) => e.timeNano);
    assert.equal(times.length, 50);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! > times[i - 1]!, `event ${i} is later than event ${i - 1}`);
    // Whole microseconds, so that a client can print them without a double's rounding noise.
    for (const t of times) assert.equal(Math.round(t / 1000) * 1000, t);

    const again = new EventLog(file);
    await again.load();
    again.emit('container', 'start', 'c0');
    const last = again.history(0, Number.MAX_SAFE_INTEGER * 1e6, []).at(-1)!;
    assert.ok(last.timeNano > times.at(-1)!, 'a restarted log goes on after the journal');
    await again.settle();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events emitted together reach the journal in one write', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'events-'));
  const original = fsp.appendFile;
  let writes = 0;
  try {
    const file = path.join(dir, 'events.jsonl');
    const log = new EventLog(file);
    await log.load();
    fsp.appendFile = ((...args: Parameters<typeof original>) => {
      writes++;
      return original(...args);
    }) as typeof original;
    // A container's start with the networks it joined: one append, as for the start alone.
    log.emit('network', 'connect', 'n1', { container: 'c', name: 'one', type: 'bridge' });
    log.emit('network', 'connect', 'n2', { container: 'c', name: 'two', type: 'bridge' });
    log.emit('container', 'start', 'c');
    await log.settle();
    assert.equal(writes, 1);
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 3);
  } finally {
    fsp.appendFile = original;
    rmSync(dir, { recursive: true, force: true });
  }
});
