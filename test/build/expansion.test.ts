import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processWord, processWords } from '../../agent/build/index';

const env = { PWD: '/home', SHELL: 'bash', KOREAN: '한국어', EMPTY: '', str: 'foobarbaz', path: '/a/b/c.tar.gz' };
const word = (w: string, e: Record<string, string> = env) => processWord(w, e);

test('plain, braced and quoted references', () => {
  const cases: [string, string][] = [
    ['hello', 'hello'],
    ['he\'\'llo', 'hello'],
    ['"he\\"llo"', 'he"llo'],
    ["'$PWD'", '$PWD'],
    ['"$PWD"', '/home'],
    ['$PWD', '/home'],
    ['${PWD}x', '/homex'],
    ['\\$PWD', '$PWD'],
    ['\\${PWD}', '${PWD}'],
    ['$KOREAN', '한국어'],
    ['$', '$'],
    ['$1x', 'x'],
    ['a\\ b', 'a b'],
    ['"a\\b"', 'a\\b'],
    ['$UNSET', ''],
  ];
  for (const [input, expected] of cases) assert.equal(word(input), expected, input);
});

test('default, alternative and required modifiers', () => {
  const cases: [string, string][] = [
    ['${UNSET:-x}', 'x'],
    ['${EMPTY:-x}', 'x'],
    ['${EMPTY-x}', ''],
    ['${UNSET-x}', 'x'],
    ['${PWD:-x}', '/home'],
    ['${PWD:+x}', 'x'],
    ['${EMPTY:+x}', ''],
    ['${EMPTY+x}', 'x'],
    ['${UNSET+x}', ''],
    ['${UNSET:-$PWD/y}', '/home/y'],
    ['${PWD:?err}', '/home'],
  ];
  for (const [input, expected] of cases) assert.equal(word(input), expected, input);
  assert.throws(() => word('${UNSET:?must be set}'), /UNSET: must be set/);
  assert.throws(() => word('${UNSET?}'), /UNSET: is not allowed to be unset/);
  assert.throws(() => word('${EMPTY:?}'), /EMPTY: is not allowed to be empty/);
});

test('pattern removal and replacement (reference examples)', () => {
  assert.equal(word('${str#f*b}'), 'arbaz');
  assert.equal(word('${str##f*b}'), 'az');
  assert.equal(word('${str%b*}'), 'foobar');
  assert.equal(word('${str%%b*}'), 'foo');
  assert.equal(word('${str/ba/fo}'), 'fooforbaz');
  assert.equal(word('${str//ba/fo}'), 'fooforfoz');
  assert.equal(word('${path##*/}'), 'c.tar.gz');
  assert.equal(word('${path%.*}'), '/a/b/c.tar');
  assert.equal(word('${str#?oo}'), 'barbaz');
  assert.equal(word('${UNSET#x}'), '');
});

test('syntax errors', () => {
  assert.throws(() => word('${PWD'), /missing '}'/);
  assert.throws(() => word('${}'), /bad substitution/);
  assert.throws(() => word('${:x}'), /bad substitution/);
  assert.throws(() => word('${PWD:x}'), /unsupported modifier \(:x\)/);
  assert.throws(() => word('"abc'), /matching double-quote/);
  assert.throws(() => word("'abc"), /matching single-quote/);
});

test('word splitting happens after substitution, quotes keep words together', () => {
  assert.deepEqual(processWords('a "b c" $V', { V: 'd e' }), ['a', 'b c', 'd', 'e']);
  assert.deepEqual(processWords('"$V"', { V: 'd e' }), ['d e']);
});

test('backtick escape token', () => {
  assert.equal(processWord('c:`\\x `$PWD', env, { escapeToken: '`' }), 'c:\\x $PWD');
});

test('unset references can be kept verbatim', () => {
  assert.equal(processWord('$A ${B:-x} ${PWD}', { PWD: '/' }, { skipUnsetEnv: true }), '$A ${B:-x} /');
});
