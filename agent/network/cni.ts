import { access, constants } from 'node:fs/promises';
import * as path from 'node:path';
import { TsError, conflict, internal, invalidArgument, notFound, unavailable } from '../../common/errors';
import { execCapture } from './exec';

/**
 * A minimal CNI runtime (spec 1.0.0): runs plugin executables with `CNI_*` variables and the
 * network configuration on stdin, chaining a plugin list the way libcni does.
 */
export const CNI_VERSION = '1.0.0';

export interface CniPluginConfig {
  type: string;
  /** Runtime-provided values the plugin accepts under `runtimeConfig`, e.g. portMappings, ips. */
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniNetworkList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConfig[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

/** Who the plugins act for: one interface of one container in one network namespace. */
export interface CniAttachment {
  containerId: string;
  netnsPath: string;
  ifName: string;
  /** Values offered to plugins that declare the matching capability. */
  capabilityArgs?: Record<string, unknown>;
}

type CniCommand = 'ADD' | 'DEL' | 'CHECK';

interface CniErrorBody {
  code?: number;
  msg?: string;
  details?: string;
}

export class CniRuntime {
  constructor(private readonly pluginDirs: readonly string[]) {}

  private async findPlugin(type: string): Promise<string> {
    if (!/^[A-Za-z0-9_.-]+$/.test(type)) throw invalidArgument(`network: invalid CNI plugin type ${JSON.stringify(type)}`);
    for (const dir of this.pluginDirs) {
      const candidate = path.join(dir, type);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not in this directory: try the next one, as CNI_PATH lookup does.
      }
    }
    throw notFound(`network: CNI plugin ${type} not found in ${this.pluginDirs.join(':')}`);
  }

  /** Runs one plugin once. Returns its parsed stdout (a result for ADD, nothing for DEL/CHECK). */
  async invoke(command: CniCommand, config: Record<string, unknown> & { type: string }, who: CniAttachment): Promise<CniResult | undefined> {
    const plugin = await this.findPlugin(config.type);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: who.containerId,
      CNI_NETNS: who.netnsPath,
      CNI_IFNAME: who.ifName,
      CNI_PATH: this.pluginDirs.join(':'),
      // Plugins are Go programs that live a few milliseconds, many at once while containers
      // start side by side: a second scheduler thread of theirs only spins (~6% less CPU).
      GOMAXPROCS: '1',
    };
    const r = await execCapture(plugin, [], { input: JSON.stringify(config), env, timeoutMs: 60_000 });
    if (r.code !== 0) throw pluginError(config.type, command, r.stdout, r.stderr);
    if (command !== 'ADD') return undefined;
    try {
      return JSON.parse(r.stdout) as CniResult;
    } catch (err) {
      throw internal(`network: CNI plugin ${config.type} returned an unreadable result`, err);
    }
  }

  /** Brings up `lo` in a sandbox (idempotent). Never DEL'ed: it goes with the namespace. */
  async loopbackUp(containerId: string, netnsPath: string): Promise<void> {
    await this.invoke('ADD', { cniVersion: CNI_VERSION, name: 'loopback', type: 'loopback' }, { containerId, netnsPath, ifName: 'lo' });
  }

  /** The stdin a plugin of a list receives: its own config plus name, version, runtimeConfig, prevResult. */
  private pluginConfig(list: CniNetworkList, plugin: CniPluginConfig, who: CniAttachment, prevResult?: CniResult) {
    const runtimeConfig: Record<string, unknown> = {};
    for (const [capability, enabled] of Object.entries(plugin.capabilities ?? {})) {
      const value = who.capabilityArgs?.[capability];
      if (enabled && value !== undefined) runtimeConfig[capability] = value;
    }
    const config: Record<string, unknown> & { type: string } = { ...plugin, cniVersion: list.cniVersion, name: list.name };
    if (Object.keys(runtimeConfig).length > 0) config.runtimeConfig = runtimeConfig;
    if (prevResult) config.prevResult = prevResult;
    return config;
  }

  /** ADD through the list in order, each plugin seeing the previous one's result. */
  async addList(list: CniNetworkList, who: CniAttachment): Promise<CniResult> {
    let result: CniResult | undefined;
    for (const plugin of list.plugins) {
      result = (await this.invoke('ADD', this.pluginConfig(list, plugin, who, result), who)) ?? result;
    }
    if (!result) throw internal(`network: CNI network ${list.name} produced no result`);
    return result;
  }

  /**
   * DEL through the list in reverse, each plugin given the cached ADD result. Every plugin is
   * tried even when one fails, so one broken step does not leak the others' state; the first
   * failure is rethrown at the end.
   */
  async delList(list: CniNetworkList, who: CniAttachment, addResult?: CniResult): Promise<void> {
    let first: unknown;
    for (const plugin of [...list.plugins].reverse()) {
      try {
        await this.invoke('DEL', this.pluginConfig(list, plugin, who, addResult), who);
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  }

  async checkList(list: CniNetworkList, who: CniAttachment, addResult: CniResult): Promise<void> {
    for (const plugin of list.plugins) {
      await this.invoke('CHECK', this.pluginConfig(list, plugin, who, addResult), who);
    }
  }
}

function pluginError(type: string, command: CniCommand, stdout: string, stderr: string): TsError {
  let body: CniErrorBody = {};
  try {
    body = JSON.parse(stdout) as CniErrorBody;
  } catch {
    body = { msg: stderr.trim() || stdout.trim() };
  }
  const text = [body.msg, body.details].filter(Boolean).join(': ').split('\n')[0] || 'failed';
  const message = `network: CNI plugin ${type} ${command}: ${text}`;
  // host-local says this when a requested static address is already leased.
  if (/is not available in range set|already reserved|already allocated/.test(text)) return conflict(message);
  // Spec error codes 4 and 7: the configuration itself is wrong.
  if (body.code === 4 || body.code === 7) return invalidArgument(message);
  return unavailable(message);
}
