import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logAttributes, logSizeLimit } from '../../agent/container/log-config';

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
  assert.throws(() => logSizeLimit({ options: { colour: 'red' } }), /unknown log opt 'colour' for json-file log driver/);
  assert.throws(() => logSizeLimit({ driver: 'local', options: { labels: 'a' } }), /unknown log opt 'labels' for local log driver/);
  assert.throws(() => logSizeLimit({ options: { 'labels-regex': '(' } }), /failed to initialize logging driver: labels-regex "\(":/);
  assert.throws(() => logSizeLimit({ options: { 'max-size': '-1' } }), /max-size must be a positive size/);
  assert.throws(() => logSizeLimit({ options: { 'max-size': '1m', 'max-file': '0' } }), /max-file cannot be less than 1/);
  assert.throws(() => logSizeLimit({ options: { 'max-file': '3' } }), /max-file cannot be set when max-size is not set/);
});

test('compress is checked as Docker checks it: a Go bool, and only with max-size and two files or more', () => {
  assert.equal(logSizeLimit({ options: { 'max-size': '1m', 'max-file': '2', compress: 'true' } }), 2_000_000);
  assert.equal(logSizeLimit({ options: { compress: 'false' } }), undefined);
  assert.equal(logSizeLimit({ driver: 'local', options: { compress: 'T' } }), 100_000_000);
  assert.throws(
    () => logSizeLimit({ options: { compress: 'true' } }),
    /^.*failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set$/,
  );
  assert.throws(() => logSizeLimit({ options: { 'max-size': '1m', 'max-file': '3', compress: 'yes' } }), /strconv.ParseBool: parsing "yes": invalid syntax/);
});

test('log attributes: the labels and variables named or matched, query-escaped, sorted, comma-joined', () => {
  const labels = { foo: 'bar', zed: 'q', other: 'x' };
  const env = ['A=1', 'B=x y', 'AB=2&3', 'EMPTY=', 'PATH=/bin'];
  assert.equal(logAttributes({ options: { labels: 'foo,zed', env: 'A,B' } }, labels, env), 'A=1,B=x+y,foo=bar,zed=q');
  assert.equal(logAttributes({ options: { 'labels-regex': '^f', 'env-regex': '^A' } }, labels, env), 'A=1,AB=2%263,foo=bar');
  // Names that are not set are left out; a variable set to nothing is kept.
  assert.equal(logAttributes({ options: { labels: 'missing', env: 'NOPE,EMPTY' } }, labels, env), 'EMPTY=');
  assert.equal(logAttributes({}, labels, env), '');
  assert.equal(logAttributes({ options: { labels: 'k' } }, { k: "a~b!c'(d)*" }, []), "k=a~b%21c%27%28d%29%2A");
});
