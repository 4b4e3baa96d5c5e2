import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTemplate, executeTemplate, formatGoDuration, GoDuration, GO_STRUCT_TYPE } from '../../cmd/format';
import { TsError } from '../../common/errors';

const container = {
  Id: '4c01db0b339c',
  Name: '/webapp',
  Args: ['-g', 'daemon off;'],
  Image: 'ubuntu:latest',
  LogPath: '/var/lib/tscompose/containers/4c01/4c01-json.log',
  State: { Status: 'running', Running: true, Pid: 4242, ExitCode: 0, Health: null },
  Config: {
    Image: 'nginx',
    Env: ['PATH=/usr/bin', 'A=1'],
    Labels: { 'com.docker.compose.project': 'demo', foo: 'bar' },
  },
  RootFS: { Type: 'layers', Layers: ['sha256:aa', 'sha256:bb'] },
  Mounts: [
    { Source: '/data', Destination: '/var/data' },
    { Source: '/logs', Destination: '/var/log' },
  ],
  NetworkSettings: {
    Networks: { bridge: { IPAddress: '172.17.0.2' } },
    Ports: { '22/tcp': [{ HostIp: '0.0.0.0', HostPort: '8022' }] },
  },
  SizeRw: 12,
  Ratio: 0.25,
};

const run = (source: string, data: unknown = container): string => executeTemplate(source, data);

test('fields, nested fields and map keys', () => {
  assert.equal(run('{{.Id}}'), '4c01db0b339c');
  assert.equal(run('{{.Name}} {{.State.Status}}'), '/webapp running');
  assert.equal(run('{{.Config.Env}}'), '[PATH=/usr/bin A=1]');
  assert.equal(run('{{.Config.Labels.foo}}'), 'bar');
  assert.equal(run('{{index .Config.Labels "com.docker.compose.project"}}'), 'demo');
  assert.equal(run('{{.LogPath}}'), '/var/lib/tscompose/containers/4c01/4c01-json.log');
});

test("Go's value printing", () => {
  assert.equal(run('{{.Config.Labels}}'), 'map[com.docker.compose.project:demo foo:bar]');
  assert.equal(run('{{.State.Running}} {{.State.Pid}} {{.Ratio}}'), 'true 4242 0.25');
  assert.equal(run('{{.Mounts}}'), '[map[Destination:/var/data Source:/data] map[Destination:/var/log Source:/logs]]');
  assert.equal(run('{{.}}', { n: 1e6 }), 'map[n:1000000]');
  assert.equal(run('{{.}}', { n: 1.5e-7, s: [null] }), 'map[n:1.5e-07 s:[<nil>]]');
  assert.equal(run('{{.}}', 'plain'), 'plain');
});

test('missing keys print <no value>, like a Go map', () => {
  assert.equal(run('{{.Missing}}'), '<no value>');
  assert.equal(run('{{.Config.Labels.nope}}'), '<no value>');
  assert.equal(run('{{.Missing.Deeper}}'), '<no value>');
  assert.equal(run('{{.State.Health}}'), '<no value>');
  assert.equal(run('{{index .Config.Labels "nope"}}'), '<no value>');
});

test('json', () => {
  assert.equal(run('{{json .RootFS.Layers}}'), '["sha256:aa","sha256:bb"]');
  assert.equal(run('{{json .Config}}'), '{"Image":"nginx","Env":["PATH=/usr/bin","A=1"],"Labels":{"com.docker.compose.project":"demo","foo":"bar"}}');
  assert.equal(run('{{json .}}', { mail: '<foo@example.com> & co' }), '{"mail":"<foo@example.com> & co"}');
  assert.equal(run('{{json .Missing}}'), 'null');
});

test('a value marked as a Go struct: a missing field is an error naming its type; toJSON output is HTML-escaped as MarshalJSON is', () => {
  class Row {
    readonly [GO_STRUCT_TYPE] = '*formatter.imageContext';
    readonly ID = 'abc';
    get Command(): string {
      return '"a > b && c < d"';
    }
    toJSON() {
      return { Command: this.Command, ID: this.ID };
    }
  }
  const data = { [GO_STRUCT_TYPE]: '*formatter.diskUsageContext', Images: [new Row()] };
  assert.equal(run('{{range .Images}}{{.ID}} {{.Command}}{{end}}', data), 'abc "a > b && c < d"');
  assert.throws(() => run('{{.Type}}', data), /^InvalidArgument: template: :1:2: executing "" at <\.Type>: can't evaluate field Type in type \*formatter\.diskUsageContext$/);
  assert.throws(() => run('{{range .Images}}{{.Foo}}{{end}}', data), /can't evaluate field Foo in type \*formatter\.imageContext$/);
  // A plain object stays a map: a missing key prints <no value>.
  assert.equal(run('{{.Type}}', { Images: [] }), '<no value>');
  assert.equal(run('{{json .}}', data), '{"Images":[{"Command":"\\"a \\u003e b \\u0026\\u0026 c \\u003c d\\"","ID":"abc"}]}');
});

test('range over slices and maps, with variables, else, break and continue', () => {
  assert.equal(run('{{range .Mounts}}{{.Source}} {{end}}'), '/data /logs ');
  assert.equal(run('{{range .Mounts}}{{println .Source}}{{end}}'), '/data\n/logs\n');
  assert.equal(run('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}'), 'com.docker.compose.project=demo;foo=bar;');
  assert.equal(run('{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}'), '0:PATH=/usr/bin 1:A=1 ');
  assert.equal(run('{{range $e := .Args}}<{{$e}}>{{end}}'), '<-g><daemon off;>');
  assert.equal(run('{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'), '172.17.0.2');
  assert.equal(run('{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}'), ' 22/tcp -> 8022 ');
  assert.equal(run('{{range .Nothing}}x{{else}}none{{end}}'), 'none');
  assert.equal(run('{{range .Args}}{{if eq . "-g"}}{{continue}}{{end}}{{.}}{{end}}'), 'daemon off;');
  assert.equal(run('{{range .Config.Env}}{{.}}{{break}}{{end}}'), 'PATH=/usr/bin');
  assert.equal(run('{{range 3}}{{.}}{{end}}'), '012');
  assert.equal(run('{{range .}}{{.}}{{end}}', [1, 2]), '12');
});

test('if / else if / else, with, variables', () => {
  const t = compileTemplate('{{if eq .S "a"}}A{{else if eq .S "b"}}B{{else}}other{{end}}');
  assert.equal(t.execute({ S: 'a' }), 'A');
  assert.equal(t.execute({ S: 'b' }), 'B');
  assert.equal(t.execute({ S: 'c' }), 'other');
  assert.equal(run('{{with .State}}{{.Pid}}{{end}}'), '4242');
  assert.equal(run('{{with .Missing}}x{{else}}y{{end}}'), 'y');
  assert.equal(run('{{$n := .Name}}{{$n}}'), '/webapp');
  assert.equal(run('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}'), '2');
  assert.equal(run('{{with $x := .Id}}{{$x}}{{end}}'), '4c01db0b339c');
  assert.equal(run('{{range .Mounts}}{{$.Id}} {{end}}'), '4c01db0b339c 4c01db0b339c ');
});

test('pipelines and comparison functions', () => {
  assert.equal(run('{{.Name | upper}}'), '/WEBAPP');
  assert.equal(run('{{.Name | printf "%s!"}}'), '/webapp!');
  assert.equal(run('{{eq .State.Pid 4242}} {{ne .Id "x"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}'), 'true true true true true false');
  assert.equal(run('{{eq .Image "a" "ubuntu:latest"}}'), 'true');
  assert.equal(run('{{and 1 0}} {{and 1 "x"}} {{or 0 ""}} {{or 0 "z"}} {{not .State.Running}}'), '0 x  z false');
  assert.equal(run('{{len .Args}} {{len .Config.Labels}} {{len "héllo"}}'), '2 2 6');
  assert.equal(run('{{index .Args 1}} {{index .RootFS.Layers 0}}'), 'daemon off; sha256:aa');
  assert.equal(run('{{printf "%-6s|%5.2f|%03d|%x|%q|%v" "ab" 3.14159 7 255 "q" .Args}}'), 'ab    | 3.14|007|ff|"q"|[-g daemon off;]');
  assert.equal(run('{{print "a" 1 2 "b"}}'), 'a1 2b');
  assert.equal(run('{{println "a" 1}}'), 'a 1\n');
  assert.equal(run('{{printf "%d"}}'), '%!d(MISSING)');
  assert.equal(run('{{slice .Id 0 4}}'), '4c01');
});

test("Docker's functions", () => {
  assert.equal(run('{{join (split . ":") "/"}}', 'text:with:colon'), 'text/with/colon');
  assert.equal(run('{{join .Args " , "}}'), '-g , daemon off;');
  assert.equal(run('{{split .Image ":"}}'), '[ubuntu latest]');
  assert.equal(run('{{title .}}', 'tupleHelloWorld'), 'TupleHelloWorld');
  assert.equal(run('{{title .}}', 'hello wide-world'), 'Hello Wide-World');
  assert.equal(run('{{lower .}} {{upper .}}', 'MiXed'), 'mixed MIXED');
  assert.equal(run('{{pad . 3 3}}', 'tupleHelloWorld'), '   tupleHelloWorld   ');
  assert.equal(run('[{{pad . 1 1}}]', ''), '[]');
  assert.equal(run('{{truncate . 5}}', 'tupleHelloWorld'), 'tuple');
  assert.equal(run('{{truncate . 50}}', 'short'), 'short');
});

test('literals, trim markers and comments', () => {
  assert.equal(run('{{23 -}} < {{- 45}}'), '23<45');
  assert.equal(run('a\n  {{- /* a comment */ -}}  \nb'), 'ab');
  assert.equal(run('{{"quoted\\t"}}|{{`raw\\t`}}|{{\'a\'}}|{{0x1F}}|{{1e3}}|{{-2}}|{{true}}|{{print nil}}'), 'quoted\t|raw\\t|97|31|1000|-2|true|<nil>');
  assert.equal(run('{{/* only a comment */}}'), '');
  assert.equal(run('no actions at all'), 'no actions at all');
});

test('define, template and block', () => {
  assert.equal(run('{{define "m"}}[{{.Source}}]{{end}}{{range .Mounts}}{{template "m" .}}{{end}}'), '[/data][/logs]');
  assert.equal(run('{{block "b" .Id}}<{{.}}>{{end}}'), '<4c01db0b339c>');
});

test('methods and getters on class instances', () => {
  class Row {
    constructor(private readonly labels: Record<string, string>) {}
    get ID(): string {
      return 'abc';
    }
    Label(name: string): string {
      return this.labels[name] ?? '';
    }
  }
  assert.equal(run('{{.ID}} {{.Label "x"}} [{{.Label "y"}}]', new Row({ x: '1' })), 'abc 1 []');
});

test('parse errors mirror Go', () => {
  const parseError = (source: string): string => {
    try {
      compileTemplate(source);
    } catch (err) {
      assert.ok(err instanceof TsError);
      assert.equal(err.kind, 'InvalidArgument');
      return err.message;
    }
    return 'no error';
  };
  assert.equal(parseError('{{.Id'), 'template: :1: unclosed action');
  assert.equal(parseError('{{if .X}}'), 'template: :1: unexpected EOF');
  assert.equal(parseError('{{end}}'), 'template: :1: unexpected {{end}}');
  assert.equal(parseError('{{else}}'), 'template: :1: unexpected {{else}}');
  assert.equal(parseError('{{nope .}}'), 'template: :1: function "nope" not defined');
  assert.equal(parseError('{{$x}}'), 'template: :1: undefined variable "$x"');
  assert.equal(parseError('{{ }}'), 'template: :1: missing value for command');
  assert.equal(parseError('{{"abc}}'), 'template: :1: unterminated quoted string');
  assert.equal(parseError('{{.Labels.com-x}}'), "template: :1: bad character U+002D '-'");
  assert.equal(parseError('{{(.Id}}'), 'template: :1: unclosed left paren');
  assert.equal(parseError('{{.Id)}}'), 'template: :1: unexpected right paren');
  assert.equal(parseError('{{/* x }}'), 'template: :1: unclosed comment');
  assert.equal(parseError('{{break}}'), 'template: :1: {{break}} outside {{range}}');
  assert.equal(parseError('{{1x}}'), 'template: :1: bad number syntax: "1x"');
  assert.equal(parseError('{{.X | 3}}'), 'template: :1: non executable command in pipeline stage 2');
  assert.equal(parseError('{{if}}{{end}}'), 'template: :1: missing value for if');
  assert.equal(parseError('a\nb\n{{.X'), 'template: :3: unclosed action');
});

test('execution errors mirror Go', () => {
  const execError = (source: string): string => {
    try {
      run(source);
    } catch (err) {
      assert.ok(err instanceof TsError);
      return err.message;
    }
    return 'no error';
  };
  assert.equal(execError('{{.Id.Foo}}'), 'template: :1:2: executing "" at <.Id.Foo>: can\'t evaluate field Foo in type string');
  assert.equal(execError('x\n  {{.Name.Foo}}'), 'template: :2:4: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string');
  assert.equal(execError('{{index .Args 5}}'), 'template: :1:2: executing "" at <index>: error calling index: index out of range: 5');
  assert.equal(execError('{{join .Mounts ","}}'), 'template: :1:7: executing "" at <.Mounts>: wrong type for value; expected []string; got []interface {}');
  assert.equal(execError('{{upper .Missing}}'), 'template: :1:8: executing "" at <.Missing>: invalid value; expected string');
  assert.equal(execError('{{.Id 1}}'), 'template: :1:2: executing "" at <.Id>: Id is not a method but has arguments');
  assert.equal(execError('{{eq .Id 1}}'), 'template: :1:2: executing "" at <eq>: error calling eq: incompatible types for comparison');
  assert.equal(execError('{{range .Id}}{{end}}'), 'template: :1:8: executing "" at <.Id>: range can\'t iterate over 4c01db0b339c');
  assert.equal(execError('{{upper}}'), 'template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0');
  assert.equal(execError('{{template "x"}}'), 'template: :1:11: executing "" at <{{template "x"}}>: template "x" not defined');
});

test('a time.Duration prints as Duration.String(), is compared and tested as its nanoseconds, and marshals as them', () => {
  const data = { D: new GoDuration(90e9), Z: new GoDuration(0), Half: new GoDuration(500e6) };
  assert.equal(run('{{.D}} {{.Z}} {{.Half}}', data), '1m30s 0s 500ms');
  assert.equal(run('{{json .D}} {{json .}}', data), '90000000000 {"D":90000000000,"Z":0,"Half":500000000}');
  assert.equal(run('{{printf "%v|%s|%q|%d|%#v|%T" .D .D .D .D .D .D}}', data), '1m30s|1m30s|"1m30s"|90000000000|90000000000|time.Duration');
  assert.equal(run('{{printf "%8v|%-6s|" .Half .Z}}', data), '   500ms|0s    |');
  assert.equal(run('{{eq .D 90000000000}} {{lt .Half .D}} {{if .Z}}set{{else}}zero{{end}} {{if .D}}set{{end}}', data), 'true true zero set');
  assert.equal(run('{{.}}', data), 'map[D:1m30s Half:500ms Z:0s]');
});

test("Go's time.Duration.String() to the nanosecond, both ends of int64 included", () => {
  const cases: Array<[number | bigint, string]> = [
    [0, '0s'],
    [1, '1ns'],
    [1100, '1.1µs'],
    [2_200_000, '2.2ms'],
    [3_300_000_000, '3.3s'],
    [245e9, '4m5s'],
    [245_001_000_000, '4m5.001s'],
    [18_367_001_000_000, '5h6m7.001s'],
    [480_000_000_001, '8m0.000000001s'],
    [3600e9, '1h0m0s'],
    [30e9, '30s'],
    [-1500e6, '-1.5s'],
    [-999, '-999ns'],
    [(1n << 63n) - 1n, '2562047h47m16.854775807s'],
    [-(1n << 63n), '-2562047h47m16.854775808s'],
  ];
  for (const [ns, text] of cases) assert.equal(formatGoDuration(ns), text, String(ns));
});
