import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
});
