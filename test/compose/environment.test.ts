import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDotenv } from '../../manager/compose/index';
import { load, rejects, service } from './helpers';

describe('environment and env_file', () => {
  test('list and map forms become a map; bare names resolve from the environment', async () => {
    const a = await service('services:\n  web:\n    image: x\n    environment:\n      - RACK_ENV=development\n      - SHOW=true\n      - USER_INPUT\n      - UNSET\n', 'web', {
      environment: { USER_INPUT: 'hello' },
    });
    assert.deepEqual(a.environment, { RACK_ENV: 'development', SHOW: 'true', USER_INPUT: 'hello', UNSET: null });
    const b = await service('services:\n  web:\n    image: x\n    environment:\n      RACK_ENV: development\n      SHOW: true\n      N: 1.5\n      EMPTY: ""\n');
    assert.deepEqual(b.environment, { EMPTY: '', N: '1.5', RACK_ENV: 'development', SHOW: 'true' });
  });

  test('integers too long for a number keep every digit (chat and snowflake ids)', async () => {
    const plain = `services:
  bot:
    image: x
    environment:
      CHAT_ID: -1001234567890123456
      GUILD_ID: 123456789012345678
      PORT: 8080
      MAX_SAFE: 9007199254740991
    labels:
      owner.id: 98765432109876543210
`;
    const expected = { CHAT_ID: '-1001234567890123456', GUILD_ID: '123456789012345678', MAX_SAFE: '9007199254740991', PORT: '8080' };
    const a = await service(plain, 'bot');
    assert.deepEqual(a.environment, expected);
    assert.deepEqual(a.labels, { 'owner.id': '98765432109876543210' });
    // The same through the full YAML parser (anchors and aliases take that path).
    const b = await service(`x-ids: &ids
  CHAT_ID: -1001234567890123456
  GUILD_ID: 123456789012345678
  PORT: 8080
  MAX_SAFE: 9007199254740991
${plain.split('\n').slice(0, 3).join('\n')}
    environment: *ids
`, 'bot');
    assert.deepEqual(b.environment, expected);
  });

  test('env_file merges under environment, with required and format', async () => {
    const lp = await load({
      'compose.yaml': `services:
  web:
    image: x
    env_file:
      - ./a.env
      - path: ./b.env
        required: true
      - path: ./missing.env
        required: false
      - path: ./raw.env
        format: raw
    environment:
      OVERRIDE: from-compose
`,
      'a.env': 'A=1\nOVERRIDE=from-file\nexport B="two words"\n',
      'b.env': "C='${A} literal'\nD=${A}-x # comment\n",
      'raw.env': 'R="quoted $NOT"\n',
    });
    assert.deepEqual((lp.canonical.services as any).web.environment, {
      A: '1',
      B: 'two words',
      C: '${A} literal',
      D: '1-x',
      OVERRIDE: 'from-compose',
      R: '"quoted $NOT"',
    });
    assert.equal((lp.canonical.services as any).web.env_file, undefined);
  });

  test('a required env_file that is missing is an error', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: x\n    env_file: nope.env\n' }, [/env file .*nope\.env not found/, /services\.web\.env_file\[0\]/]);
  });

  test('dotenv rules: quotes, export, comments, multi-line, escapes, interpolation', () => {
    const vars = parseDotenv(
      [
        '# comment',
        'export A=plain value  # trailing',
        "B='single ${A}'",
        'C="double ${A}\\nnext"',
        'D="multi',
        'line"',
        'E=${UNDEFINED:-fallback}',
        'F=url#nocomment',
        'G=',
        'H="escaped \\$A"',
        'OUTER',
      ].join('\n'),
      (k) => (k === 'OUTER' ? 'from-shell' : undefined),
    );
    assert.deepEqual(vars, {
      A: 'plain value',
      B: 'single ${A}',
      C: 'double plain value\nnext',
      D: 'multi\nline',
      E: 'fallback',
      F: 'url#nocomment',
      G: '',
      H: 'escaped $A',
      OUTER: 'from-shell',
    });
  });

  test('dotenv errors name the line', () => {
    assert.throws(() => parseDotenv('A=1\nB="open\n'), /line 2: unterminated/);
    assert.throws(() => parseDotenv('A B=1\n'), /line 1: unexpected character " "/);
  });
});
