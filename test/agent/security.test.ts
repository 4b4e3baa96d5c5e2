import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dockerSeccompToOci, parseSecurityOptions } from '../../agent/runtime/security';

const profile = JSON.stringify({
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
    { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
    { names: ['sync_file_range2'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['ppc64le'] } },
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, excludes: { caps: ['CAP_NET_ADMIN'] } },
  ],
});

test('a Docker profile becomes the OCI profile of one container: its arch and its capabilities', () => {
  const plain = dockerSeccompToOci(profile, { capabilities: ['CAP_CHOWN'], arch: 'x64' });
  assert.equal(plain.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(plain.defaultErrnoRet, 1);
  assert.deepEqual(plain.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(plain.syscalls?.map((r) => r.names.join(',')), ['read,write', 'personality', 'arch_prctl', 'socket']);
  assert.deepEqual(plain.syscalls?.[1]?.args, [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }]);
  assert.equal(plain.syscalls?.[3]?.errnoRet, 22);

  const admin = dockerSeccompToOci(profile, { capabilities: ['SYS_ADMIN', 'NET_ADMIN'], arch: 'arm64' });
  assert.deepEqual(admin.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.deepEqual(admin.syscalls?.map((r) => r.names[0]), ['read', 'personality', 'mount']);
});

test('a profile runc could not take is refused with the reason', () => {
  assert.throws(() => dockerSeccompToOci('{', { capabilities: [], arch: 'x64' }), /seccomp: decoding seccomp profile failed/);
  assert.throws(() => dockerSeccompToOci('{}', { capabilities: [], arch: 'x64' }), /defaultAction is required/);
  assert.throws(() => dockerSeccompToOci('{"defaultAction":"SCMP_ACT_ALLOW","architectures":["x"],"archMap":[]}', { capabilities: [], arch: 'x64' }), /either 'architectures' or 'archMap'/);
  assert.throws(() => dockerSeccompToOci('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"]}]}', { capabilities: [], arch: 'x64' }), /has no action/);
});

test('security options as Docker parses them', () => {
  assert.deepEqual(parseSecurityOptions([]), { noNewPrivileges: false, unmaskSystemPaths: false });
  assert.equal(parseSecurityOptions(['no-new-privileges']).noNewPrivileges, true);
  assert.equal(parseSecurityOptions(['no-new-privileges:true']).noNewPrivileges, true);
  assert.equal(parseSecurityOptions(['no-new-privileges=false']).noNewPrivileges, false);
  assert.equal(parseSecurityOptions(['seccomp=unconfined']).seccompProfile, undefined);
  assert.equal(parseSecurityOptions(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']).seccompProfile, '{"defaultAction":"SCMP_ACT_ALLOW"}');
  assert.equal(parseSecurityOptions(['systempaths=unconfined']).unmaskSystemPaths, true);
  // Neither AppArmor nor SELinux runs here; Docker skips their options on such a host.
  assert.deepEqual(parseSecurityOptions(['apparmor=unconfined', 'label=disable', 'label:type:svirt_t']), { noNewPrivileges: false, unmaskSystemPaths: false });
  assert.throws(() => parseSecurityOptions(['foo=bar']), /invalid --security-opt 2: "foo=bar"/);
  assert.throws(() => parseSecurityOptions(['nocolon']), /Invalid --security-opt: "nocolon"/);
  assert.throws(() => parseSecurityOptions(['no-new-privileges=maybe']), /invalid --security-opt 2/);
  assert.throws(() => parseSecurityOptions(['systempaths=confined']), /invalid --security-opt 2/);
  assert.throws(() => parseSecurityOptions(['seccomp={']), /decoding seccomp profile failed/);
});
