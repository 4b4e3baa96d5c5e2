import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesSize,
  containerStatus,
  goTime,
  rfc3339,
  humanDuration,
  humanSize,
  parseBytes,
  parseDuration,
  parseDurationNanos,
  parseTimestamp,
  timeAgo,
} from '../../cmd/format';
import { TsError } from '../../common/errors';

const KB = 1000;
const MB = 1000 * KB;
const GB = 1000 * MB;
const TB = 1000 * GB;
const PB = 1000 * TB;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const PiB = 1024 * TiB;

test('humanSize: decimal units, 3 significant digits by default (Docker list commands)', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(100), '100B');
  assert.equal(humanSize(5400), '5.4kB');
  assert.equal(humanSize(4_857_000), '4.86MB');
  assert.equal(humanSize(1.2 * GB), '1.2GB');
  assert.equal(humanSize(72_800_000), '72.8MB');
  assert.equal(humanSize(1125), '1.12kB'); // halves round to even, as Go does
  assert.equal(humanSize(999_900), '1e+03kB'); // go-units' own quirk, kept
});

test('humanSize with precision 4 is go-units HumanSize', () => {
  assert.equal(humanSize(1000, 4), '1kB');
  assert.equal(humanSize(1024, 4), '1.024kB');
  assert.equal(humanSize(1_000_000, 4), '1MB');
  assert.equal(humanSize(1_048_576, 4), '1.049MB');
  assert.equal(humanSize(3.42 * GB, 4), '3.42GB');
  assert.equal(humanSize(5.372 * TB, 4), '5.372TB');
  assert.equal(humanSize(2.22 * PB, 4), '2.22PB');
  assert.equal(humanSize(10_000_000_000_000 * PB, 4), '1e+04YB');
});

test('bytesSize: binary units', () => {
  assert.equal(bytesSize(1024), '1KiB');
  assert.equal(bytesSize(1024 * 1024), '1MiB');
  assert.equal(bytesSize(1.5 * MiB), '1.5MiB');
  assert.equal(bytesSize(3.42 * GiB), '3.42GiB');
  assert.equal(bytesSize(5.372 * TiB), '5.372TiB');
  assert.equal(bytesSize(2.22 * PiB), '2.22PiB');
  assert.equal(bytesSize(KiB * KiB * KiB * KiB * KiB * PiB), '1.049e+06YiB');
});

test('humanDuration: go-units test table', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const day = 24 * h;
  const week = 7 * day;
  const month = 30 * day;
  const year = 365 * day;
  const cases: Array<[number, string]> = [
    [450, 'Less than a second'],
    [-5 * s, 'Less than a second'],
    [1 * s, '1 second'],
    [45 * s, '45 seconds'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [3 * m, '3 minutes'],
    [35 * m + 40 * s, '35 minutes'],
    [59 * m, '59 minutes'],
    [1 * h, 'About an hour'],
    [1 * h + 29 * m, 'About an hour'],
    [1 * h + 31 * m, '2 hours'],
    [3 * h + 29 * m, '3 hours'],
    [3 * h + 31 * m, '4 hours'],
    [24 * h, '24 hours'],
    [1 * day + 12 * h, '36 hours'],
    [2 * day, '2 days'],
    [7 * day, '7 days'],
    [13 * day + 5 * h, '13 days'],
    [2 * week, '2 weeks'],
    [2 * week + 4 * day, '2 weeks'],
    [4 * week + 3 * day, '4 weeks'],
    [1 * month, '4 weeks'],
    [2 * month, '2 months'],
    [3 * month + 1 * week, '3 months'],
    [13 * month, '13 months'],
    [24 * month, '24 months'],
    [24 * month + 2 * week, '2 years'],
    [3 * year + 2 * month, '3 years'],
  ];
  for (const [ms, expected] of cases) assert.equal(humanDuration(ms), expected, `${ms}ms`);
});

test('timeAgo', () => {
  const now = new Date('2024-05-01T12:00:00Z');
  assert.equal(timeAgo(new Date('2024-05-01T11:58:00Z'), now), '2 minutes ago');
  assert.equal(timeAgo('2024-04-28T12:00:00Z', now), '3 days ago');
});

test('containerStatus: the daemon status line', () => {
  const now = new Date('2024-05-01T12:00:00Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);
  assert.equal(containerStatus({ state: 'running', startedAt: ago(3_000) }, now), 'Up 3 seconds');
  assert.equal(containerStatus({ state: 'running', startedAt: ago(200) }, now), 'Up Less than a second');
  assert.equal(containerStatus({ state: 'running', startedAt: ago(3_000), health: 'healthy' }, now), 'Up 3 seconds (healthy)');
  assert.equal(containerStatus({ state: 'running', startedAt: ago(3_000), health: 'starting' }, now), 'Up 3 seconds (health: starting)');
  assert.equal(containerStatus({ state: 'running', startedAt: ago(3_000), health: 'unhealthy' }, now), 'Up 3 seconds (unhealthy)');
  assert.equal(containerStatus({ state: 'paused', startedAt: ago(120_000), health: 'healthy' }, now), 'Up 2 minutes (Paused)');
  assert.equal(containerStatus({ state: 'running', paused: true, startedAt: ago(120_000) }, now), 'Up 2 minutes (Paused)');
  assert.equal(containerStatus({ state: 'restarting', exitCode: 1, startedAt: ago(60_000), finishedAt: ago(5_000) }, now), 'Restarting (1) 5 seconds ago');
  assert.equal(containerStatus({ state: 'exited', exitCode: 3, startedAt: ago(600_000), finishedAt: ago(120_000) }, now), 'Exited (3) 2 minutes ago');
  assert.equal(containerStatus({ state: 'exited', startedAt: ago(600_000), finishedAt: ago(120_000) }, now), 'Exited (0) 2 minutes ago');
  assert.equal(containerStatus({ state: 'created' }, now), 'Created');
  assert.equal(containerStatus({ state: 'exited', startedAt: '0001-01-01T00:00:00Z' }, now), 'Created');
  assert.equal(containerStatus({ state: 'dead', startedAt: ago(1) }, now), 'Dead');
  assert.equal(containerStatus({ state: 'removing', startedAt: ago(1) }, now), 'Removal In Progress');
});

test('parseBytes: go-units RAMInBytes', () => {
  const cases: Array<[string, number]> = [
    ['32', 32],
    ['32b', 32],
    ['32B', 32],
    ['32k', 32 * KiB],
    ['32K', 32 * KiB],
    ['32kb', 32 * KiB],
    ['32Kb', 32 * KiB],
    ['32Kib', 32 * KiB],
    ['32KIB', 32 * KiB],
    ['32Mb', 32 * MiB],
    ['32Gb', 32 * GiB],
    ['32Tb', 32 * TiB],
    ['32Pb', 32 * PiB],
    ['32PB', 32 * PiB],
    ['32P', 32 * PiB],
    ['32.3', 32],
    ['32.3 mb', Math.trunc(32.3 * MiB)],
    ['0.3MB', Math.trunc(0.3 * MiB)],
    ['512m', 512 * MiB],
    ['1g', GiB],
    ['100k', 100 * KiB],
    ['1024', 1024],
  ];
  for (const [text, expected] of cases) assert.equal(parseBytes(text), expected, text);
  assert.throws(() => parseBytes(''), { message: "invalid size: ''" });
  assert.throws(() => parseBytes('hello'), { message: "invalid size: 'hello'" });
  assert.throws(() => parseBytes('-32'), { message: "invalid size: '-32'" });
  assert.throws(() => parseBytes(' 32 '), { message: 'strconv.ParseFloat: parsing " 32": invalid syntax' });
  assert.throws(() => parseBytes('32m b'), /invalid syntax/);
  assert.throws(() => parseBytes('32bm'), { message: "invalid suffix: 'bm'" });
  assert.throws(() => parseBytes('32x'), (err: unknown) => err instanceof TsError && err.kind === 'InvalidArgument');
});

test('parseDuration: Go time.ParseDuration', () => {
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('48h'), 48 * 3_600_000);
  assert.equal(parseDuration('10ms'), 10);
  assert.equal(parseDuration('-1.5h'), -5_400_000);
  assert.equal(parseDuration('.5s'), 500);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('+0'), 0);
  assert.equal(parseDurationNanos('1h15m30.918273645s'), 4_530_918_273_645n);
  assert.equal(parseDurationNanos('100ns'), 100n);
  assert.equal(parseDurationNanos('1µs'), 1000n);
  assert.equal(parseDurationNanos('1μs'), 1000n);
  assert.equal(parseDurationNanos('1.004s'), 1_004_000_000n);
  assert.equal(parseDurationNanos('9223372036854775807ns'), 9_223_372_036_854_775_807n);
  assert.throws(() => parseDuration(''), { message: 'time: invalid duration ""' });
  assert.throws(() => parseDuration('3'), { message: 'time: missing unit in duration "3"' });
  assert.throws(() => parseDuration('1d'), { message: 'time: unknown unit "d" in duration "1d"' });
  assert.throws(() => parseDuration('.s'), { message: 'time: invalid duration ".s"' });
  assert.throws(() => parseDuration('-'), { message: 'time: invalid duration "-"' });
  assert.throws(() => parseDuration('9223372036854775808ns'), { message: 'time: invalid duration "9223372036854775808ns"' });
});

test("parseTimestamp: Docker's GetTimestamp table", () => {
  const now = new Date('2024-05-01T12:00:00.250Z');
  const localOffsetSeconds = -now.getTimezoneOffset() * 60;
  const cases: Array<[string, number, number]> = [
    ['2006-01-02T15:04:05.999999999+07:00', 1136189045, 999999999],
    ['2006-01-02T15:04:05.999999999Z', 1136214245, 999999999],
    ['2006-01-02T15:04:05Z', 1136214245, 0],
    ['2006-01-02T15:04Z', 1136214240, 0],
    ['2006-01-02T15:04+00:00', 1136214240, 0],
    ['2006-01-02T15:04-00:00', 1136214240, 0],
    ['2006-01-02T15Z', 1136214000, 0],
    ['2006-01-02T15+00:00', 1136214000, 0],
    ['2006-01-02T1Z', 1136163600, 0],
    ['2006-01-02+00:00', 1136160000, 0],
    ['2006-01-02-00:01', 1136160060, 0],
    ['2006-01-02Z', 1136160000, 0],
    ['2015-05-13T20:39:09Z', 1431549549, 0],
    ['1136073600', 1136073600, 0],
    ['1136073600.000000001', 1136073600, 1],
    ['1136073600.5', 1136073600, 500000000],
  ];
  for (const [value, seconds, nanos] of cases) assert.deepEqual(parseTimestamp(value, now), { seconds, nanos }, value);
  const localCases: Array<[string, number, number]> = [
    ['2006-01-02T15:04:05.999999999', 1136214245, 999999999],
    ['2006-01-02T15:04:05', 1136214245, 0],
    ['2006-01-02T15:04', 1136214240, 0],
    ['2006-01-02T15', 1136214000, 0],
    ['2006-01-02T1', 1136163600, 0],
    ['2006-01-02', 1136160000, 0],
  ];
  for (const [value, seconds, nanos] of localCases) {
    assert.deepEqual(parseTimestamp(value, now), { seconds: seconds - localOffsetSeconds, nanos }, value);
  }
  const nowSeconds = Math.floor(now.getTime() / 1000);
  assert.deepEqual(parseTimestamp('1m', now), { seconds: nowSeconds - 60, nanos: 0 });
  assert.deepEqual(parseTimestamp('1.5h', now), { seconds: nowSeconds - 5400, nanos: 0 });
  assert.deepEqual(parseTimestamp('1h30m', now), { seconds: nowSeconds - 5400, nanos: 0 });
  assert.deepEqual(parseTimestamp('0', now), { seconds: 0, nanos: 0 });
  for (const bad of ['2006-01-02T15:04:0Z', '2006-01-02T15:04:0', '2006-01-02T15:0Z', '2006-01-02T', 'invalid', '']) {
    assert.throws(() => parseTimestamp(bad, now), (err: unknown) => err instanceof TsError && err.kind === 'InvalidArgument', bad);
  }
  assert.throws(() => parseTimestamp('invalid', now), { message: 'failed to parse value as time or duration: "invalid"' });
  assert.throws(() => parseTimestamp('2006-13-02', now), { message: 'parsing time "2006-13-02": month out of range' });
});

test('humanSize rounds exact halves to even, as Go strconv does', () => {
  // 1125 B = 1.125 kB exactly: Go prints 1.12kB (half to even), not 1.13kB.
  assert.equal(humanSize(1125), '1.12kB');
  assert.equal(humanSize(1135), '1.14kB');
  assert.equal(humanSize(2_500_000, 1), '2MB');
  assert.equal(humanSize(3_500_000, 1), '4MB');
  // 1.0005 is 1.000499… in binary: nearest rounding gives 1.000, printed as Go's %g does.
  assert.equal(humanSize(1_000_500, 4), '1MB');
  assert.equal(humanSize(1_000_600, 4), '1.001MB');
  assert.equal(humanSize(999_999), '1e+03kB');
  assert.equal(humanSize(4_512_345), '4.51MB');
  assert.equal(bytesSize(1536), '1.5KiB');
});

test('goTime and rfc3339 print Go time.Time.String() and time.RFC3339 in UTC', () => {
  const ms = Date.UTC(2024, 4, 1, 10, 0, 7, 450);
  assert.equal(goTime(ms), '2024-05-01 10:00:07 +0000 UTC');
  assert.equal(rfc3339(ms), '2024-05-01T10:00:07Z');
});

test("%g's fast path agrees with the exact expansion on random values and precisions", async () => {
  const { formatFloat, formatFloatExactly } = await import('../../cmd/format/gofmt');
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const samples: number[] = [1.5, 2, 100, 999.5, 999.4, 0.0001, 0.00009999, 2.125, 1e21, 123456, 0.5, 9.995, 1 / 3];
  for (let i = 0; i < 20_000; i++) samples.push((random() - 0.2) * 10 ** Math.floor(random() * 14 - 6));
  for (const x of samples) {
    for (const precision of [1, 2, 3, 4, 6]) {
      assert.equal(formatFloat(x, 'g', precision), formatFloatExactly(x, 'g', precision), `%.${precision}g of ${x}`);
    }
  }
});
