import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goMap } from '../../common/gomap';

test("goMap: a map's keys in Go's encoding/json order (bytes, so upper case first); nil stays nil", () => {
  assert.deepEqual(Object.keys(goMap({ zz: 1, aa: 2, Zb: 3, 'a.b': 4, 'é': 5 })), ['Zb', 'a.b', 'aa', 'zz', 'é']);
  assert.deepEqual(goMap({ b: { x: 1 }, a: [] }), { a: [], b: { x: 1 } });
  assert.equal(goMap(null), null);
  assert.equal(goMap(undefined), undefined);
});
