import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logSizeLimit } from '../../agent/container/log-config';

test('max-size × max-file bounds the one log file; none means no bound', () => {
  assert.equal(logSizeLimit({}), undefined);
  assert.equal(logSizeLimit({ driver: 'json-file', options: { 'max-size': '10m' } }), 10_000_000);
  assert.equal(logSizeLimit({ driver: 'json-file', options: { 'max-size': '1.5k', 'max-file': '4' } }), 6000);
  assert.equal(logSizeLimit({ driver: 'k8s-file', options: { 'max-size': '100' } }), 100);
  // Docker's local driver: 5 files of 20 MB by default.
  assert.equal(logSizeLimit({ driver: 'local' }), 100_000_000);
  assert.equal(logSizeLimit({ driver: 'local', options: { 'max-file': '2' } }), 40_000_000);
});

test('what Docker refuses, and drivers this engine does not have, are refused', () => {
  assert.throws(() => logSizeLimit({ driver: 'syslog' }), /logging driver "syslog" is not supported/);
  assert.throws(() => logSizeLimit({ options: { compress: 'true' } }), /unknown log opt 'compress' for json-file log driver/);
  assert.throws(() => logSizeLimit({ options: { 'max-size': '-1' } }), /max-size must be a positive size/);
  assert.throws(() => logSizeLimit({ options: { 'max-size': '1m', 'max-file': '0' } }), /max-file cannot be less than 1/);
  assert.throws(() => logSizeLimit({ options: { 'max-file': '3' } }), /max-file cannot be set when max-size is not set/);
});
