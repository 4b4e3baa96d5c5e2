import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFull } from '../../manager/compose/phases/01-parse-full';
import { locateSimpleYaml, readSimpleYaml } from '../../manager/compose/yaml-fast';
import type { Tree } from '../../manager/compose/tree';

/** The full parser's tree, or 'error'. */
function full(text: string): Tree | 'error' {
  try {
    const warnings: string[] = [];
    const tree = parseFull('t.yaml', text, warnings).tree;
    return warnings.length > 0 ? 'error' : tree;
  } catch {
    return 'error';
  }
}

/** Every path in a tree, and a few that are not there. */
function paths(v: Tree, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) {
    v.forEach((x, i) => paths(x, [...at, i], out));
    out.push([...at, v.length]);
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) paths(x as Tree, [...at, k], out);
    out.push([...at, 'missing']);
  }
  return out;
}

/** Whatever the fast reader accepts, it reads and locates as the full parser does. */
function agree(text: string): boolean {
  const fast = readSimpleYaml(text);
  if (fast === undefined || fast === null || typeof fast !== 'object' || Array.isArray(fast)) return false;
  const slow = full(text);
  assert.notEqual(slow, 'error', `fast reader accepted what the full parser rejects:\n${text}`);
  assert.deepEqual(fast, slow, text);
  const parsed = parseFull('t.yaml', text);
  for (const path of paths(fast)) {
    const want = parsed.locate(path);
    const got = locateSimpleYaml(text, path);
    assert.deepEqual({ line: got.line, col: got.col, depth: got.depth }, { line: want.pos.line, col: want.pos.col, depth: want.depth }, `${JSON.stringify(path)} in\n${text}`);
  }
  return true;
}

const ACCEPTED = [
  'a: 1\n',
  '---\na: 1\n',
  '# c\n---   # c\na: 1\n',
  'a:\n  b: c\n  d:\n  - 1\n  - 2\n  e: [x, "y", \'z\']\n',
  'a:\n- b: 1\n  c: 2\n- - x\n  - y\n-\n  d: 3\n-\n- ~\n',
  'a:   value with  spaces   # comment\nb: "q # not comment" # c\n',
  "a: 'it''s'\nb: \"esc \\\"q\\\" \\\\ \\n \\u00e9\"\n",
  'n: [0, 07, -012, 0o17, 0x1F, 1.5, 1e3, .5, -.inf, .NaN, +3, 1_000, 1., 0.0]\n',
  'b: [true, True, TRUE, false, no, yes, on, null, Null, ~, NULL, nul]\n',
  '1: one\n0440: octal-ish key\n1.50: float key\ntrue: bool key\nnull: null key\n"quoted key": 2\n\'s\': 3\n',
  'url: http://example.com:8080/x#frag\nk:v: not a key\nhash: a#b\n',
  'e: {}\nf: []\ng: {a: 1, "b": [1, {c: d}], c: }\nh: [a, b,]\n',
  'a:\n\n   # indented comment\n\n  b: 1\n',
  '  a: 1\n  b: 2\n',
  'environment:\n  - A=1\n  - B=x y\n  - "C=${X:-1}"\n',
  'a: -1\nb: -x\nc: ?x\nd: :x\ne: x:y\n',
  'x-a: b\nservices:\n  web:\n    image: nginx:1.25   \n',
  'a: é ünïcode ✓\n',
];

const REJECTED = [
  'a: &x 1\nb: *x\n',
  'a: !reset []\n',
  'a: |\n  text\n',
  'a: >-\n  text\n',
  'a: multi\n  line\n',
  'a: "multi\n  line"\n',
  'a: [1,\n  2]\n',
  'a: 1\na: 2\n',
  'a:\n\tb: 1\n',
  'a: 1\r\nb: 2\r\n',
  'a: 1\n---\nb: 2\n',
  '%YAML 1.2\n---\na: 1\n',
  '? a\n: b\n',
  '<<: {a: 1}\n',
  'a: b: c\n',
  'a: 1\n  b: 2\n',
  'a:\n  - 1\n   - 2\n',
  '- a\nb: c\n',
  'a: "\\x41"\n',
  'a: [a: 1]\n',
  'a: "x": 1\n',
];

test('the fast YAML reader reads what it accepts exactly as the full parser does', () => {
  for (const text of ACCEPTED) assert.ok(agree(text), `not accepted:\n${text}`);
  for (const text of REJECTED) {
    const fast = readSimpleYaml(text);
    assert.equal(fast, undefined, `accepted:\n${text}`);
  }
});

test('random block YAML: fast and full readers agree', () => {
  let a = 12345;
  const rnd = (n: number): number => {
    a = (a * 1103515245 + 12345) & 0x7fffffff;
    return a % n;
  };
  const scalars = ['x', '1', '01', '-1', '1.5', 'true', 'null', '~', '"q"', "'s'", 'a b', 'a#b', 'a #c', '[1, b]', '{k: v}', '[]', '{}', '"a\\"b"', 'http://h:1', "'a''b'", ':x', '-x', ': x', 'a: b', '&a x', '*a', '!t x', '"', "'", '[a', '0x1f', '0o7', '.inf', '1e5', ''];
  const keys = ['a', 'b', 'key', '"q k"', '1', 'x-y', 'a.b', "'s'", 'null'];
  let accepted = 0;
  for (let round = 0; round < 3000; round++) {
    const lines: string[] = [];
    const count = 1 + rnd(8);
    for (let i = 0; i < count; i++) {
      const ind = ' '.repeat(rnd(3) * 2);
      const kind = rnd(5);
      const s = scalars[rnd(scalars.length)] as string;
      const k = keys[rnd(keys.length)] as string;
      if (kind === 0) lines.push(`${ind}${k}: ${s}`);
      else if (kind === 1) lines.push(`${ind}${k}:`);
      else if (kind === 2) lines.push(`${ind}- ${s}`);
      else if (kind === 3) lines.push(`${ind}- ${k}: ${s}`);
      else lines.push(rnd(2) ? `${ind}# comment` : `${ind}-`);
    }
    const text = `${lines.join('\n')}\n`;
    if (agree(text)) accepted++;
  }
  assert.ok(accepted > 100, `only ${accepted} random documents were read by the fast reader`);
});
