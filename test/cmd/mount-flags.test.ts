import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  apiMountOf,
  bindSourceDoesNotExist,
  parseContainerMounts,
  parseMountFlag,
  parseTmpfsFlag,
  parseVolumeFlag,
  type MountRequest,
  volumeFlagBind,
} from '../../cmd/parse/mounts';
import { TsError } from '../../common/errors';

function throwsWith(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TsError, `not a TsError: ${String(err)}`);
    assert.equal(err.kind, 'InvalidArgument');
    assert.equal(err.message, message);
    return true;
  });
}

describe('-v / --volume', () => {
  const cases: [string, MountRequest][] = [
    ['/data', { type: 'volume', target: '/data', readOnly: false }],
    ['cache:/var/cache', { type: 'volume', source: 'cache', target: '/var/cache', readOnly: false }],
    ['cache:/var/cache/:ro,nocopy', { type: 'volume', source: 'cache', target: '/var/cache', readOnly: true, volumeOptions: { noCopy: true } }],
    ['/host/dir:/app', { type: 'bind', source: '/host/dir', target: '/app', readOnly: false, bindOptions: { createHostPath: true } }],
    [
      '/host//dir/:/app:ro,Z,rshared',
      {
        type: 'bind',
        source: '/host/dir',
        target: '/app',
        readOnly: true,
        bindOptions: { createHostPath: true, propagation: 'rshared', selinux: 'Z' },
      },
    ],
    ['/h:/c:rw,z,cached', { type: 'bind', source: '/h', target: '/c', readOnly: false, consistency: 'cached', bindOptions: { createHostPath: true, selinux: 'z' } }],
  ];
  for (const [spec, want] of cases) {
    test(spec, () => assert.deepEqual(parseVolumeFlag(spec), want));
  }

  test('--volume-driver applies to volumes, not binds', () => {
    assert.deepEqual(parseVolumeFlag('v1:/x', { volumeDriver: 'nfs' }).volumeOptions, { driver: 'nfs' });
    assert.equal(parseVolumeFlag('/h:/x', { volumeDriver: 'nfs' }).volumeOptions, undefined);
  });

  test('relative host paths resolve against cwd (Docker 23+) and are refused without one', () => {
    assert.equal(parseVolumeFlag('./conf:/etc/app:ro', { cwd: '/srv/project' }).source, '/srv/project/conf');
    assert.equal(parseVolumeFlag('../up:/x', { cwd: '/srv/project' }).source, '/srv/up');
    assert.equal(parseVolumeFlag('.:/x', { cwd: '/srv/project' }).source, '/srv/project');
    throwsWith(
      () => parseVolumeFlag('./conf:/etc/app'),
      `invalid volume specification: './conf:/etc/app': invalid mount config for type "bind": invalid mount path: './conf' mount path must be absolute`,
    );
  });

  test('errors are Docker\'s', () => {
    throwsWith(() => parseVolumeFlag(''), 'invalid empty volume spec');
    throwsWith(() => parseVolumeFlag('/x:/y:z:q'), 'invalid spec: /x:/y:z:q: too many colons');
    throwsWith(() => parseVolumeFlag('/a:/b:ro:'), 'invalid spec: /a:/b:ro:: too many colons');
    throwsWith(() => parseVolumeFlag('/x::/y'), 'invalid spec: /x::/y: empty section between colons');
    throwsWith(() => parseVolumeFlag('/x:/y:'), 'invalid spec: /x:/y:: empty section between colons');
    throwsWith(
      () => parseVolumeFlag('x:y'),
      `invalid volume specification: 'x:y': invalid mount config for type "volume": invalid mount path: 'y' mount path must be absolute`,
    );
    throwsWith(
      () => parseVolumeFlag('data'),
      `invalid volume specification: 'data': invalid mount config for type "volume": invalid mount path: 'data' mount path must be absolute`,
    );
    throwsWith(() => parseVolumeFlag('/data:ro'), `invalid volume specification: '/data:ro'`);
    throwsWith(() => parseVolumeFlag('/h:/c:rx'), 'invalid mode: rx');
    throwsWith(() => parseVolumeFlag('/h:/c:ro,rw'), 'invalid mode: ro,rw');
    throwsWith(
      () => parseVolumeFlag('/h:/'),
      `invalid volume specification: '/h:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`,
    );
    throwsWith(
      () => parseVolumeFlag('v1:/c:rshared'),
      `invalid volume specification: 'v1:/c:rshared': invalid mount config for type "volume": field BindOptions must not be specified`,
    );
    throwsWith(
      () => parseVolumeFlag('/h:/c:nocopy'),
      `invalid volume specification: '/h:/c:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`,
    );
  });
});

describe('--mount', () => {
  test('bind: the source must exist (createHostPath false) unless bind-create-src', () => {
    assert.deepEqual(parseMountFlag('type=bind,source=/srv/www,target=/usr/share/nginx/html,readonly'), {
      type: 'bind',
      source: '/srv/www',
      target: '/usr/share/nginx/html',
      readOnly: true,
      bindOptions: { createHostPath: false },
    });
    assert.deepEqual(parseMountFlag('type=bind,src=/a,dst=/b,bind-propagation=rslave,bind-create-src,consistency=delegated'), {
      type: 'bind',
      source: '/a',
      target: '/b',
      readOnly: false,
      consistency: 'delegated',
      bindOptions: { createHostPath: true, propagation: 'rslave' },
    });
    assert.deepEqual(parseMountFlag('type=bind,src=/a,dst=/b,ro=true,bind-recursive=readonly,bind-propagation=rprivate').bindOptions, {
      createHostPath: false,
      readOnlyForceRecursive: true,
      propagation: 'rprivate',
    });
    assert.equal(parseMountFlag('type=bind,src=./site,dst=/b', { cwd: '/srv' }).source, '/srv/site');
    assert.equal(
      bindSourceDoesNotExist('/nope').message,
      'invalid mount config for type "bind": bind source path does not exist: /nope',
    );
  });

  test('volume: defaults to volume type, with every volume-* option', () => {
    assert.deepEqual(
      parseMountFlag(
        'source=pgdata,target=/var/lib/postgresql/data,volume-nocopy,volume-label=a=1,volume-label=b,volume-driver=local,' +
          'volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=100m,uid=1000",volume-subpath=sub/dir',
      ),
      {
        type: 'volume',
        source: 'pgdata',
        target: '/var/lib/postgresql/data',
        readOnly: false,
        volumeOptions: {
          noCopy: true,
          labels: { a: '1', b: '' },
          driver: 'local',
          driverOptions: { type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000' },
          subpath: 'sub/dir',
        },
      },
    );
    assert.deepEqual(parseMountFlag('type=volume,target=/anon'), { type: 'volume', target: '/anon', readOnly: false });
    assert.equal(parseMountFlag('TYPE=Volume,dst=/x,volume-nocopy=false').volumeOptions?.noCopy, false);
  });

  test('tmpfs: size with binary units and octal mode', () => {
    assert.deepEqual(parseMountFlag('type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770'), {
      type: 'tmpfs',
      target: '/run',
      readOnly: false,
      tmpfsOptions: { sizeBytes: 64 * 1024 * 1024, mode: 0o1770 },
    });
    assert.equal(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=1g').tmpfsOptions?.sizeBytes, 1 << 30);
    assert.equal(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=100k').tmpfsOptions?.sizeBytes, 100 * 1024);
    assert.equal(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=4096').tmpfsOptions?.sizeBytes, 4096);
  });

  test('errors are Docker\'s', () => {
    throwsWith(() => parseMountFlag('type=bind,x=y,target=/t'), "unexpected key 'x' in 'x=y'");
    throwsWith(() => parseMountFlag('type=bind,source=/a'), 'target is required');
    throwsWith(() => parseMountFlag('type=,target=/a'), 'type is required');
    throwsWith(() => parseMountFlag('type=bind,src=/a,dst=/b,nonsense'), "invalid field 'nonsense' must be a key=value pair");
    throwsWith(() => parseMountFlag('type=bind,src=/a,dst=/b,readonly=maybe'), 'invalid value for readonly: maybe');
    throwsWith(() => parseMountFlag('type=volume,dst=/b,volume-nocopy=2'), 'invalid value for volume-nocopy: 2');
    throwsWith(() => parseMountFlag('type=tmpfs,dst=/b,tmpfs-size=lots'), 'invalid value for tmpfs-size: lots');
    throwsWith(() => parseMountFlag('type=tmpfs,dst=/b,tmpfs-mode=999'), 'invalid value for tmpfs-mode: 999');
    throwsWith(() => parseMountFlag('type=bind,src=/a,dst=/b,volume-nocopy'), "cannot mix 'volume-*' options with mount type 'bind'");
    throwsWith(() => parseMountFlag('type=volume,dst=/b,bind-propagation=shared'), "cannot mix 'bind-*' options with mount type 'volume'");
    throwsWith(() => parseMountFlag('type=bind,src=/a,dst=/b,tmpfs-size=1m'), "cannot mix 'tmpfs-*' options with mount type 'bind'");
    throwsWith(
      () => parseMountFlag('type=bind,src=/a,dst=/b,bind-recursive=writable'),
      "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction",
    );
    throwsWith(
      () => parseMountFlag('type=bind,src=/a,dst=/b,bind-recursive=sometimes'),
      'invalid value for bind-recursive: sometimes (must be "enabled", "disabled", "writable", or "readonly")',
    );
    throwsWith(() => parseMountFlag('type=bind,dst=/b'), 'invalid mount config for type "bind": field Source must not be empty');
    throwsWith(
      () => parseMountFlag('type=bind,src=rel,dst=/b'),
      `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`,
    );
    throwsWith(
      () => parseMountFlag('type=bind,src=/a,dst=b'),
      `invalid mount config for type "bind": invalid mount path: 'b' mount path must be absolute`,
    );
    throwsWith(
      () => parseMountFlag('type=bind,src=/a,dst=/b,bind-propagation=weird'),
      'invalid mount config for type "bind": invalid propagation mode: weird',
    );
    throwsWith(
      () => parseMountFlag('type=volume,dst=/b,readonly'),
      'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes',
    );
    throwsWith(
      () => parseMountFlag('type=volume,dst=/b,volume-subpath=x'),
      'invalid mount config for type "volume": must not set Subpath when using anonymous volumes',
    );
    throwsWith(
      () => parseMountFlag('type=volume,src=v,dst=/b,volume-subpath=../escape'),
      'invalid mount config for type "volume": subpath must be a relative path within the volume',
    );
    throwsWith(() => parseMountFlag('type=tmpfs,src=x,dst=/b'), 'invalid mount config for type "tmpfs": field Source must not be specified');
    throwsWith(() => parseMountFlag('type=image,src=x,dst=/b'), 'invalid mount config for type "image": mount type unknown');
    throwsWith(
      () => parseMountFlag('type=volume,dst=/'),
      `invalid mount config for type "volume": invalid specification: destination can't be '/'`,
    );
    throwsWith(() => parseMountFlag('type=bind,s"rc=/a'), 'parse error on line 1, column 12: bare " in non-quoted-field');
  });
});

describe('--tmpfs', () => {
  test('options: ro/rw to readOnly, size and mode parsed, the rest kept', () => {
    assert.deepEqual(parseTmpfsFlag('/run:rw,noexec,size=64m'), {
      type: 'tmpfs',
      target: '/run',
      readOnly: false,
      tmpfsOptions: { sizeBytes: 64 * 1024 * 1024, options: ['noexec'] },
    });
    assert.deepEqual(parseTmpfsFlag('/cache/:ro,mode=0700,uid=1000,size=50%'), {
      type: 'tmpfs',
      target: '/cache',
      readOnly: true,
      tmpfsOptions: { mode: 0o700, options: ['uid=1000', 'size=50%'] },
    });
    assert.deepEqual(parseTmpfsFlag('/tmp'), { type: 'tmpfs', target: '/tmp', readOnly: false });
  });

  test('errors', () => {
    throwsWith(() => parseTmpfsFlag('run'), "invalid mount path: 'run' mount path must be absolute");
    throwsWith(() => parseTmpfsFlag('/'), "invalid specification: destination can't be '/'");
    throwsWith(() => parseTmpfsFlag('/x:bogus'), 'invalid tmpfs option ["bogus"]');
    throwsWith(() => parseTmpfsFlag('/x:color=red'), 'invalid tmpfs option ["color" "red"]');
    throwsWith(() => parseTmpfsFlag('/x:size=big'), "invalid tmpfs option: invalid size: 'big'");
  });
});

describe('all mount flags of a container', () => {
  test('flag order is kept and a target used twice is refused', () => {
    const mounts = parseContainerMounts({
      volumes: ['data:/data', '/h:/h'],
      mounts: ['type=tmpfs,dst=/scratch'],
      tmpfs: ['/run'],
    });
    assert.deepEqual(mounts.map((m) => `${m.type} ${m.target}`), ['volume /data', 'bind /h', 'tmpfs /scratch', 'tmpfs /run']);
    throwsWith(() => parseContainerMounts({ volumes: ['a1:/data'], mounts: ['type=tmpfs,dst=/data/'] }), 'Duplicate mount point: /data');
  });
});

describe('as Docker’s API carries them', () => {
  // Each expectation is what Docker's CLI sent and dockerd 20.10 shows in HostConfig.Mounts.
  const api = (value: string) => JSON.stringify(apiMountOf(parseMountFlag(value, { cwd: '/srv' })));

  test('--mount: its API Mount, with an options object only for a kind of option given', () => {
    assert.equal(api('type=bind,src=/a,dst=/b,readonly'), '{"Type":"bind","Source":"/a","Target":"/b","ReadOnly":true}');
    assert.equal(
      api('type=bind,src=./site,dst=/b3,bind-propagation=rslave,consistency=cached'),
      '{"Type":"bind","Source":"/srv/site","Target":"/b3","Consistency":"cached","BindOptions":{"Propagation":"rslave"}}',
    );
    assert.equal(api('type=bind,src=/a,dst=/b4,bind-nonrecursive'), '{"Type":"bind","Source":"/a","Target":"/b4","BindOptions":{"NonRecursive":true}}');
    assert.equal(api('type=volume,src=vol1,dst=/v,volume-nocopy'), '{"Type":"volume","Source":"vol1","Target":"/v","VolumeOptions":{"NoCopy":true,"DriverConfig":{}}}');
    assert.equal(
      api('type=volume,src=vol3,dst=/v3,volume-label=z=1,volume-label=a=2,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,ro'),
      '{"Type":"volume","Source":"vol3","Target":"/v3","ReadOnly":true,' +
        '"VolumeOptions":{"Labels":{"a":"2","z":"1"},"DriverConfig":{"Name":"local","Options":{"device":"tmpfs","type":"tmpfs"}}}}',
    );
    assert.equal(api('type=volume,dst=/v5,volume-nocopy=false'), '{"Type":"volume","Target":"/v5","VolumeOptions":{"DriverConfig":{}}}');
    assert.equal(api('type=volume,dst=/anon'), '{"Type":"volume","Target":"/anon"}');
    assert.equal(api('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770'), '{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1016}}');
    assert.equal(api('type=tmpfs,dst=/t2'), '{"Type":"tmpfs","Target":"/t2"}');
  });

  test('-v: as given, a relative host path made absolute', () => {
    assert.equal(volumeFlagBind('vol2:/v2', { cwd: '/srv' }), 'vol2:/v2');
    assert.equal(volumeFlagBind('/h/:/b2:ro,z', { cwd: '/srv' }), '/h/:/b2:ro,z');
    assert.equal(volumeFlagBind('./bsrc/:/b6:z', { cwd: '/srv' }), '/srv/bsrc:/b6:z');
  });
});
