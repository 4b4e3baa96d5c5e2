import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultHeader, displayWidth, quietFormatWarning, renderList, tabwrite } from '../../cmd/format';
import { ExitError } from '../../cmd/cli';

const PS_TABLE = 'table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}';
const PS_HEADERS = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  Ports: 'PORTS',
  Names: 'NAMES',
};
const rows = [
  { ID: '4c01db0b339c', Image: 'ubuntu:12.04', Command: '"bash"', RunningFor: '17 seconds ago', Status: 'Up 16 seconds', Ports: '3300-3310/tcp', Names: 'webapp' },
  { ID: 'd7886598dbe2', Image: 'crosbymichael/redis:latest', Command: '"/redis-server --dir"', RunningFor: '33 minutes ago', Status: 'Up 33 minutes', Ports: '6379/tcp', Names: 'redis,webapp/db' },
];
const ps = (options: { format?: string; quiet?: boolean }) => renderList(rows, { defaultTable: PS_TABLE, headers: PS_HEADERS, ...options });

test('default table: Docker header names, columns padded by 3, at least 10 wide', () => {
  // Each column is its widest cell plus 3 ("crosbymichael/redis:latest" is 26 wide → 29).
  const line = (...cells: string[]) =>
    [cells[0]!.padEnd(15), cells[1]!.padEnd(29), cells[2]!.padEnd(24), cells[3]!.padEnd(17), cells[4]!.padEnd(16), cells[5]!.padEnd(16), cells[6]].join('');
  const expected = [
    line('CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'),
    line('4c01db0b339c', 'ubuntu:12.04', '"bash"', '17 seconds ago', 'Up 16 seconds', '3300-3310/tcp', 'webapp'),
    line('d7886598dbe2', 'crosbymichael/redis:latest', '"/redis-server --dir"', '33 minutes ago', 'Up 33 minutes', '6379/tcp', 'redis,webapp/db'),
    '',
  ].join('\n');
  assert.ok(expected.startsWith('CONTAINER ID   IMAGE                        COMMAND                 CREATED'));
  assert.equal(ps({}), expected);
  assert.equal(ps({ format: 'table' }), expected);
  assert.equal(ps({ format: '' }), expected);
});

test('custom table: header from the template, minimum width 10', () => {
  assert.equal(ps({ format: 'table {{.ID}}\\t{{.Names}}' }), 'CONTAINER ID   NAMES\n4c01db0b339c   webapp\nd7886598dbe2   redis,webapp/db\n');
  assert.equal(ps({ format: 'table {{.Names}}\t{{.ID}}' }), 'NAMES             CONTAINER ID\nwebapp            4c01db0b339c\nredis,webapp/db   d7886598dbe2\n');
  // Short cells still take the minimum width of 10.
  assert.equal(
    renderList([{ A: 'x', B: 'y' }], { format: 'table {{.A}}\\t{{.B}}', defaultTable: '', headers: {} }),
    'A         B\nx         y\n',
  );
  // Functions in a header print the plain header name.
  assert.equal(ps({ format: 'table {{upper .Names}}\\t{{json .ID}}' }), 'NAMES             CONTAINER ID\nWEBAPP            "4c01db0b339c"\nREDIS,WEBAPP/DB   "d7886598dbe2"\n');
});

test('fields without a header name get an upper-cased one', () => {
  assert.equal(defaultHeader('CreatedAt'), 'CREATED AT');
  assert.equal(defaultHeader('ID'), 'ID');
  assert.equal(defaultHeader('NetworkID'), 'NETWORK ID');
  assert.equal(defaultHeader('IPAddresses'), 'IP ADDRESSES');
  assert.equal(
    renderList([{ CreatedAt: 'now', Name: 'n' }], { format: 'table {{.CreatedAt}}\\t{{.Name}}', defaultTable: '', headers: { Name: 'NAME' } }),
    'CREATED AT   NAME\nnow          n\n',
  );
});

test('a {{.Label "key"}} column is titled as Docker does: the last dotted part, - and _ as spaces', () => {
  class Row {
    constructor(
      readonly Name: string,
      private readonly labels: Record<string, string>,
    ) {}
    Label(name: string): string {
      return this.labels[name] ?? '';
    }
  }
  const out = renderList([new Row('web', { a: '1', 'com.example.some_key-x': 'v' })], {
    format: 'table {{.Name}}\\t{{.Label "a"}}\\t{{.Label "com.example.some_key-x"}}\\t{{.Name}}',
    defaultTable: '',
    headers: { Name: 'NAME' },
  });
  // The columns after it are titled too (the header used to stop at the first Label).
  assert.equal(out, 'NAME      a         some key x   NAME\nweb       1         v            web\n');
});

test('a table with no rows still prints its header', () => {
  assert.equal(renderList([], { defaultTable: PS_TABLE, headers: PS_HEADERS }), 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
});

test('raw template: one line per row, no header, \\t and \\n understood', () => {
  assert.equal(ps({ format: '{{.ID}}' }), '4c01db0b339c\nd7886598dbe2\n');
  assert.equal(ps({ format: '{{.ID}}: {{.Names}}' }), '4c01db0b339c: webapp\nd7886598dbe2: redis,webapp/db\n');
  assert.equal(ps({ format: '{{.ID}}\\t{{.Image}}' }), '4c01db0b339c\tubuntu:12.04\nd7886598dbe2\tcrosbymichael/redis:latest\n');
  assert.equal(ps({ format: '{{.ID}}\\n' }), '4c01db0b339c\n\nd7886598dbe2\n\n');
});

test('json: one object per line, keys sorted as Docker marshals its row map', () => {
  const out = renderList([{ Name: 'web', ID: 'abc', Size: '0B' }], { format: 'json', defaultTable: PS_TABLE, headers: PS_HEADERS });
  assert.equal(out, '{"ID":"abc","Name":"web","Size":"0B"}\n');
  assert.equal(ps({ format: 'json' }).split('\n').length, 3);
});

test('quiet prints IDs whatever the format, and warns about a custom one', () => {
  assert.equal(ps({ quiet: true }), '4c01db0b339c\nd7886598dbe2\n');
  assert.equal(ps({ quiet: true, format: '{{.Names}}' }), '4c01db0b339c\nd7886598dbe2\n');
  assert.equal(
    renderList([{ Name: 'vol1' }], { quiet: true, quietField: 'Name', defaultTable: 'table {{.Name}}', headers: {} }),
    'vol1\n',
  );
  assert.equal(quietFormatWarning({ quiet: true, format: '{{.Names}}' }), 'WARNING: Ignoring custom format, because both --format and --quiet are set.');
  assert.equal(quietFormatWarning({ quiet: true }), undefined);
  assert.equal(quietFormatWarning({ format: '{{.Names}}' }), undefined);
});

test('template errors are wrapped like Docker, printed bare with status 1', () => {
  assert.throws(() => ps({ format: '{{.ID' }), (err: unknown) => err instanceof ExitError && err.status === 1 && err.message === 'template parsing error: template: :1: unclosed action');
  assert.throws(
    () => ps({ format: '{{.ID.X}}' }),
    (err: unknown) => err instanceof ExitError && err.message === 'template parsing error: template: :1:2: executing "" at <.ID.X>: can\'t evaluate field X in type string',
  );
  // Docker's ps words them its own way.
  const prefixes = { parse: 'failed to parse template: ', execute: 'failed to execute template: ' };
  assert.throws(
    () => renderList([{ ID: 'x' }], { format: '{{.ID.X}}', defaultTable: '', headers: {}, errorPrefixes: prefixes }),
    (err: unknown) => err instanceof ExitError && err.message.startsWith('failed to execute template: template: :1:2: '),
  );
});

test("tabwriter follows Go's elastic tabstops", () => {
  const options = { minWidth: 0, padding: 1, padChar: '.' };
  // The b's and the d's belong to different columns: the column is broken by the "aaa" line.
  assert.equal(tabwrite('a\tb\tc\naa\tbb\tcc\naaa\t\naaaa\tdddd\teeee\n', options), 'a....b..c\naa...bb.cc\naaa..\naaaa.dddd.eeee\n');
  // Text after the last tab is not a column; a line without tabs ends every column.
  assert.equal(tabwrite('x\ty\nlonger line\nab\tc\n'), `${'x'.padEnd(10)}y\nlonger line\n${'ab'.padEnd(10)}c\n`);
  // Wide characters take two columns.
  assert.equal(displayWidth('日本'), 4);
  assert.equal(tabwrite('日本\tx\nab\ty\n'), `日本${' '.repeat(6)}x\n${'ab'.padEnd(10)}y\n`);
  // A form feed ends all columns too.
  assert.equal(tabwrite('a\tb\fabcdefghijkl\tc\n'), `${'a'.padEnd(10)}b\nabcdefghijkl   c\n`);
});

test('field-only templates print the same as the general walk', () => {
  const rows = [
    { Name: 'a', Size: '1kB', Extra: 'x' },
    { Size: '2kB', Name: 'b', Extra: 'y' },
  ];
  const options = { defaultTable: 'table {{.Name}}\\t{{.Size}}', headers: {} };
  assert.equal(renderList(rows, options), 'NAME      SIZE\na         1kB\nb         2kB\n');
  // Non-string fields and missing fields go through the general walk.
  assert.equal(renderList([{ N: 3 }], { format: '{{.N}}-{{.Missing}}', defaultTable: '', headers: {} }), '3-<no value>\n');
  // A whole-row template still sees keys sorted, as Docker's Go maps are.
  assert.equal(renderList([{ b: '1', a: '2' }], { format: '{{json .}}', defaultTable: '', headers: {} }), '{"a":"2","b":"1"}\n');
});

test('field-only templates keep literal braces and fall back to the parser for other values', () => {
  const rows = [{ X: 'v', N: 7 }];
  assert.equal(renderList(rows, { format: 'a{b}c {{.X}}}', defaultTable: '', headers: {} }), 'a{b}c v}\n');
  assert.equal(renderList(rows, { format: '{{.N}}', defaultTable: '', headers: {} }), '7\n');
  assert.throws(() => renderList(rows, { format: '{{.X', defaultTable: '', headers: {} }), /template parsing error/);
});

test("field-only templates read a class row's getters as the general walk does", () => {
  class Row {
    constructor(readonly Name: string) {}
    get Size(): string {
      return `${this.Name.length}B`;
    }
    get Count(): number {
      return 2;
    }
  }
  const options = { defaultTable: 'table {{.Name}}\\t{{.Size}}', headers: {} };
  assert.equal(renderList([new Row('ab')], options), 'NAME      SIZE\nab        2B\n');
  // A non-string getter, and Object.prototype's members, are the general walk's to decide.
  assert.equal(renderList([new Row('ab')], { format: '{{.Count}}', defaultTable: '', headers: {} }), '2\n');
  assert.equal(renderList([new Row('ab')], { format: '{{.toString}}', defaultTable: '', headers: {} }), '<no value>\n');
});
