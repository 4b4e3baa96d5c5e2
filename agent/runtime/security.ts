/**
 * Docker's `--security-opt` (Compose's `security_opt`) and its seccomp profile format.
 *
 * Vocabulary:
 * - a *Docker profile* is the JSON `docker run --security-opt seccomp=FILE` reads: syscall rules
 *   that may be limited to some capabilities or architectures (`includes`/`excludes`), and an
 *   `archMap` of native architectures to the ones they also run;
 * - an *OCI profile* is what runc takes in `linux.seccomp`: the same rules, already chosen for
 *   one container.
 */
import { invalidArgument } from '../../common/errors';
import type { OciSeccomp, OciSeccompArg, OciSeccompRule } from './oci';

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** A Docker profile's JSON; undefined runs without a filter (as `seccomp=unconfined`). */
  seccompProfile?: string;
  /** `systempaths=unconfined`: /proc and /sys are neither masked nor read-only in parts. */
  unmaskSystemPaths: boolean;
}

/**
 * Parses the options as Docker's daemon does (`=` or the older `:` between key and value).
 * AppArmor and SELinux options are accepted and have no effect: this host kind has neither, and
 * Docker skips them there too.
 */
export function parseSecurityOptions(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, unmaskSystemPaths: false };
  for (const opt of opts) {
    let [key, value] = splitOnce(opt, '=');
    if (value === undefined && key !== 'no-new-privileges') {
      if (!opt.includes(':')) throw invalidArgument(`Invalid --security-opt: ${JSON.stringify(opt)}`);
      [key, value] = splitOnce(opt, ':');
    }
    switch (key) {
      case 'no-new-privileges': {
        if (value === undefined || value === 'true') out.noNewPrivileges = true;
        else if (value === 'false') out.noNewPrivileges = false;
        else throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        break;
      }
      case 'seccomp':
        if (value === 'unconfined' || value === 'builtin' || value === '') out.seccompProfile = undefined;
        else {
          // Checked now, so that create refuses a profile runc would refuse at start.
          dockerSeccompToOci(value ?? '', { capabilities: [], arch: process.arch });
          out.seccompProfile = value;
        }
        break;
      case 'systempaths':
        if (value !== 'unconfined') throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.unmaskSystemPaths = true;
        break;
      case 'apparmor':
      case 'label':
        break;
      default:
        throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + sep.length)];
}

/**
 * Node's `process.arch` values as libseccomp names them (for `archMap`) and as Go does (the
 * `includes.arches`/`excludes.arches` of Docker's profiles compare against runtime.GOARCH).
 */
const ARCH_NAMES: Record<string, { seccomp: string; go: string }> = {
  x64: { seccomp: 'SCMP_ARCH_X86_64', go: 'amd64' },
  arm64: { seccomp: 'SCMP_ARCH_AARCH64', go: 'arm64' },
  arm: { seccomp: 'SCMP_ARCH_ARM', go: 'arm' },
  ia32: { seccomp: 'SCMP_ARCH_X86', go: '386' },
  ppc64: { seccomp: 'SCMP_ARCH_PPC64LE', go: 'ppc64le' },
  s390x: { seccomp: 'SCMP_ARCH_S390X', go: 's390x' },
  riscv64: { seccomp: 'SCMP_ARCH_RISCV64', go: 'riscv64' },
};

interface DockerFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

interface DockerRule {
  name?: string;
  names?: string[];
  action?: string;
  errnoRet?: number;
  args?: OciSeccompArg[] | null;
  includes?: DockerFilter;
  excludes?: DockerFilter;
}

interface DockerProfile {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>;
  flags?: string[];
  syscalls?: DockerRule[];
}

/**
 * The OCI profile of a Docker profile for a container with these capabilities on this
 * architecture, as moby's `setupSeccomp` makes it: rules whose `includes` the container doesn't
 * meet, or whose `excludes` it does, are left out. `minKernel` is not checked (every kernel this
 * runs on is newer than the profiles' conditions).
 */
export function dockerSeccompToOci(json: string, container: { capabilities: readonly string[]; arch: string }): OciSeccomp {
  let profile: DockerProfile;
  try {
    profile = JSON.parse(json) as DockerProfile;
  } catch (err) {
    throw invalidArgument(`seccomp: decoding seccomp profile failed: ${(err as Error).message}`);
  }
  if (typeof profile !== 'object' || profile === null || typeof profile.defaultAction !== 'string') {
    throw invalidArgument('seccomp: decoding seccomp profile failed: defaultAction is required');
  }
  if (profile.architectures && profile.archMap) {
    throw invalidArgument("seccomp: use either 'architectures' or 'archMap'");
  }
  const native = ARCH_NAMES[container.arch]?.seccomp;
  const goArch = ARCH_NAMES[container.arch]?.go ?? container.arch;
  let architectures = profile.architectures;
  if (profile.archMap) {
    architectures = [];
    for (const a of profile.archMap) {
      if (a.architecture === native) architectures.push(a.architecture, ...(a.subArchitectures ?? []));
    }
  }
  const caps = new Set(container.capabilities.map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`)));
  const hasCaps = (wanted: string[] | undefined) => (wanted ?? []).every((c) => caps.has(c.startsWith('CAP_') ? c : `CAP_${c}`));
  const syscalls: OciSeccompRule[] = [];
  for (const rule of profile.syscalls ?? []) {
    const names = rule.names ?? (rule.name ? [rule.name] : []);
    if (rule.name && rule.names) throw invalidArgument("seccomp: use either 'name' or 'names'");
    if (typeof rule.action !== 'string') throw invalidArgument(`seccomp: rule for ${names.join(', ')} has no action`);
    const inc = rule.includes ?? {};
    if (inc.arches?.length && !inc.arches.includes(goArch)) continue;
    if (inc.caps?.length && !hasCaps(inc.caps)) continue;
    const exc = rule.excludes ?? {};
    if (exc.arches?.length && exc.arches.includes(goArch)) continue;
    if (exc.caps?.length && exc.caps.some((c) => caps.has(c.startsWith('CAP_') ? c : `CAP_${c}`))) continue;
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args && rule.args.length > 0 ? { args: rule.args } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    ...(architectures && architectures.length > 0 ? { architectures } : {}),
    ...(profile.flags && profile.flags.length > 0 ? { flags: profile.flags } : {}),
    syscalls,
  };
}
