import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { substitute } from '../../manager/compose/index';
import { load, rejects, service } from './helpers';

const env: Record<string, string> = { SET: 'value', EMPTY: '' };
const sub = (s: string): string => substitute(s, (k) => env[k]);

describe('interpolation', () => {
  test('every operator, set, empty and unset', () => {
    assert.equal(sub('$SET ${SET}'), 'value value');
    assert.equal(sub('${SET:-d} ${EMPTY:-d} ${UNSET:-d}'), 'value d d');
    assert.equal(sub('${SET-d} ${EMPTY-d} ${UNSET-d}'), 'value  d');
    assert.equal(sub('${SET:+alt} [${EMPTY:+alt}] [${UNSET:+alt}]'), 'alt [] []');
    assert.equal(sub('${SET+alt} [${EMPTY+alt}] [${UNSET+alt}]'), 'alt [alt] []');
    assert.equal(sub('${SET:?boom} ${EMPTY?fine}'), 'value ');
    assert.throws(() => sub('${EMPTY:?must be set}'), /required variable EMPTY is missing a value: must be set/);
    assert.throws(() => sub('${UNSET?}'), /required variable UNSET is missing a value$/);
  });

  test('nested defaults and $$ escapes', () => {
    assert.equal(sub('${UNSET:-${ALSO_UNSET:-c}}'), 'c');
    assert.equal(sub('${UNSET:-${SET}-x}'), 'value-x');
    assert.equal(sub('$$SET costs $$5 ${UNSET:-$$}'), '$SET costs $5 $');
    // An unused word is not evaluated, so its required variable does not fail.
    assert.equal(sub('${SET:-${UNSET:?never}}'), 'value');
  });

  test('malformed templates are errors', () => {
    assert.throws(() => sub('${SET'), /invalid interpolation format/);
    assert.throws(() => sub('${}'), /invalid interpolation format/);
    assert.throws(() => sub('cost: $5'), /invalid interpolation format/);
    assert.throws(() => sub('${SET:=x}'), /invalid interpolation format/);
  });

  test('precedence: shell, then --env-file (later wins), then .env', async () => {
    const lp = await load(
      {
        'compose.yaml': 'services:\n  web:\n    image: "${A}-${B}-${C}-${D}"\n',
        '.env': 'A=dotenv\nB=dotenv\nC=dotenv\nD=dotenv\n',
        'one.env': 'A=one\nB=one\nC=one\n',
        'two.env': 'B=two\n',
      },
      { environment: { A: 'shell' }, envFiles: ['one.env', 'two.env'] },
    );
    // envFiles resolve against the working directory, which load() sets to the project.
    assert.equal((lp.canonical.services as any).web.image, 'shell-two-one-dotenv');
    assert.equal(lp.environment.D, 'dotenv');
  });

  test('unset variables warn once and become empty strings', async () => {
    const lp = await load({ 'compose.yaml': 'services:\n  web:\n    image: "x${NOPE}"\n    hostname: "${NOPE}"\n' });
    assert.equal((lp.canonical.services as any).web.image, 'x');
    assert.deepEqual(lp.warnings.filter((w) => w.includes('NOPE')), ['The "NOPE" variable is not set. Defaulting to a blank string.']);
  });

  test('a missing required variable prints its own message with file, line and path', async () => {
    await rejects({ 'compose.yaml': 'services:\n  web:\n    image: "${IMAGE:?set IMAGE to the image to run}"\n' }, [
      /compose\.yaml:3:5: services\.web\.image: required variable IMAGE is missing a value: set IMAGE to the image to run/,
    ]);
  });

  test('typed values come from strings: ports, booleans, integers', async () => {
    const svc = await service('services:\n  web:\n    image: x\n    ports: ["${P}:80"]\n    read_only: ${RO}\n    scale: ${N}\n', 'web', {
      environment: { P: '8080', RO: 'true', N: '1' },
    });
    assert.equal(svc.read_only, true);
    assert.equal(svc.scale, 1);
    assert.deepEqual(svc.ports, [{ mode: 'ingress', target: 80, published: '8080', protocol: 'tcp' }]);
  });

  test('--no-interpolate keeps templates', async () => {
    const lp = await load({ 'compose.yaml': 'services:\n  web:\n    image: "${IMAGE:-x}"\n' }, { interpolate: false, normalize: false });
    assert.equal((lp.canonical.services as any).web.image, '${IMAGE:-x}');
  });
});
