import { test } from 'node:test';
import assert from 'node:assert/strict';
import { murmur3x128 } from '../../manager/compose/phases/06-validate';

// Expected values computed with the reference C implementation (MurmurHash3_x86_128, seed 0),
// printed as its four 32-bit words in order.
test('murmur3x128 matches the reference MurmurHash3_x86_128 on block and tail lengths', () => {
  const cases: Array<[string, string]> = [
    ['', '00000000000000000000000000000000'],
    ['hello', '2b2444a0db91def79adb31b69adb31b6'],
    ['The quick brown fox jumps over the lazy dog', '2f1583c3ecee2c675d7bf66ce5e91d2c'],
    ['abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK', '18b6574bf9d9e6b4ba98dc66e037c3db'],
    ['é€x', '10143bcf25a594192279057922790579'],
  ];
  for (const [s, want] of cases) assert.equal(murmur3x128(Buffer.from(s, 'utf8')), want, JSON.stringify(s));
});
