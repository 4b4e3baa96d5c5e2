import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { daemonEnv } from '../../cmd/daemon-env';
import { noteTransientBytes, setTransientCollector, STREAM_CHUNK } from '../../common/transient';

describe('daemon memory settings', () => {
  test('an auto-started daemon gets a fixed mmap threshold, unless the caller chose malloc settings', () => {
    assert.equal(daemonEnv({ PATH: '/bin' })['GLIBC_TUNABLES'], 'glibc.malloc.mmap_threshold=131072');
    assert.equal(daemonEnv({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0' })['GLIBC_TUNABLES'], 'glibc.pthread.rseq=0:glibc.malloc.mmap_threshold=131072');
    const own = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' };
    assert.equal(daemonEnv(own), own);
    const legacy = { MALLOC_ARENA_MAX: '2' };
    assert.equal(daemonEnv(legacy), legacy);
  });

  test('streams call the collector once per 4 MB of transient Buffers, and only when one is set', () => {
    let calls = 0;
    noteTransientBytes(64 << 20);
    setTransientCollector(() => calls++);
    try {
      for (let i = 0; i < 100; i++) noteTransientBytes(STREAM_CHUNK);
      assert.equal(calls, Math.floor((100 * STREAM_CHUNK) / (4 << 20)));
    } finally {
      setTransientCollector(undefined);
    }
  });

  test('stream chunks stay under glibc’s 128 kB mmap threshold', () => {
    assert.ok(STREAM_CHUNK + 64 < 128 << 10);
  });

  test('the quiet-time full collection waits for requests begun and not ended', () => {
    // In a process of its own: the reclaimer needs V8's gc(), which only --expose-gc gives.
    const module = path.resolve('cmd/daemon-memory.ts');
    const script = `
      const { PerformanceObserver, constants } = require('node:perf_hooks');
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      (async () => {
        const { createReclaimer } = await import(${JSON.stringify(module)});
        let majors = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
        }).observe({ entryTypes: ['gc'] });
        const reclaimer = createReclaimer(50);
        const end = reclaimer.begin();
        await sleep(300);
        const during = majors;
        end();
        await sleep(300);
        console.log(JSON.stringify({ during, after: majors }));
      })();`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { during, after } = JSON.parse(r.stdout.trim()) as { during: number; after: number };
    assert.equal(during, 0);
    assert.ok(after >= 1, r.stdout);
  });
});
