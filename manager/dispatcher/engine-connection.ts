/**
 * An AgentConnection over the Engine API (proto/engine.proto): on one host the daemon hands the
 * manager an Engine client on its own socket, so the manager drives the agent exactly as the CLI
 * does and never touches agent internals.
 */
import { failedPrecondition } from '../../common/errors';
import { runToEndExecSpec, type ContainerSpec, type ContainerSummary, type NetworkSummary, type ProcessSpec, type VolumeSummary } from '../../common/rpc/engine-types';
import type { AgentConnection, EngineFilter, NetworkRequest, NodeInfo, PullProgress, VolumeRequest } from './agent-connection';

/** The part of an Engine client this needs (cmd/client.ts's EngineClient has it). */
export interface EngineCaller {
  call<Res = unknown>(method: string, req?: unknown): Promise<Res>;
  stream<Res = unknown>(method: string, req?: unknown, signal?: AbortSignal): AsyncGenerator<Res>;
}

export class EngineAgentConnection implements AgentConnection {
  constructor(private readonly engine: EngineCaller) {}

  async info(): Promise<NodeInfo> {
    const { json } = await this.engine.call<{ json: string }>('Info', {});
    const doc = JSON.parse(json) as { Name?: string; OSType?: string; Architecture?: string; NCPU?: number; MemTotal?: number };
    return {
      hostname: doc.Name ?? '',
      os: doc.OSType ?? 'linux',
      arch: doc.Architecture ?? '',
      nanoCpus: (doc.NCPU ?? 0) * 1e9,
      memoryBytes: doc.MemTotal ?? 0,
    };
  }

  async listContainers(filters: EngineFilter[], all: boolean): Promise<ContainerSummary[]> {
    const r = await this.engine.call<{ containers: ContainerSummary[] }>('ContainerList', { all, filters, limit: 0, size: false });
    return r.containers;
  }

  async createContainer(spec: ContainerSpec, onWarning?: (warning: string) => void): Promise<string> {
    const reply = await this.engine.call<{ id: string; warnings?: string[] }>('ContainerCreate', spec);
    for (const w of reply.warnings ?? []) onWarning?.(w);
    return reply.id;
  }

  async startContainer(id: string): Promise<void> {
    await this.engine.call('ContainerStart', { id });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.engine.call('ContainerStop', { id, timeout_seconds: timeoutSeconds, signal: '' });
  }

  async restartContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.engine.call('ContainerRestart', { id, timeout_seconds: timeoutSeconds, signal: '' });
  }

  async killContainer(id: string, signal: string): Promise<void> {
    await this.engine.call('ContainerKill', { id, signal });
  }

  async pauseContainer(id: string): Promise<void> {
    await this.engine.call('ContainerPause', { id });
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.engine.call('ContainerUnpause', { id });
  }

  async removeContainer(id: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    await this.engine.call('ContainerRemove', { id, force: opts.force, volumes: opts.volumes });
  }

  async containerVolumes(id: string): Promise<Array<{ name: string; destination: string }>> {
    const r = await this.engine.call<{ json: string[] }>('ContainerInspect', { names: [id], ignore_missing: true, size: false });
    const doc = r.json[0] ? (JSON.parse(r.json[0]) as { Mounts?: Array<{ Type: string; Name?: string; Destination: string }> }) : {};
    return (doc.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => ({ name: m.Name!, destination: m.Destination }));
  }

  async waitContainer(id: string): Promise<number> {
    const r = await this.engine.call<{ exit_code: number; error: string }>('ContainerWait', { id, condition: 'not-running' });
    if (r.error) throw failedPrecondition(`container ${id}: ${r.error}`);
    return r.exit_code;
  }

  async runInContainer(id: string, p: ProcessSpec): Promise<{ exitCode: number; output: Buffer }> {
    const r = await this.engine.call<{ exit_code: number; output: Buffer }>('ContainerExecRun', { id, exec: runToEndExecSpec(p) });
    return { exitCode: r.exit_code, output: r.output };
  }

  async imageId(reference: string): Promise<string | undefined> {
    const r = await this.engine.call<{ json: string[] }>('ImageInspect', { names: [reference], ignore_missing: true, size: false });
    const [found] = r.json;
    return found === undefined ? undefined : (JSON.parse(found) as { Id: string }).Id;
  }

  async pullImage(reference: string, platform: string, onProgress: (p: PullProgress) => void): Promise<void> {
    for await (const m of this.engine.stream<{ id: string; status: string }>('ImagePull', { reference, all_tags: false, platform })) {
      onProgress({ id: m.id, status: m.status });
    }
  }

  async removeImage(reference: string): Promise<{ lines: string[]; errors: string[] }> {
    return this.engine.call<{ lines: string[]; errors: string[] }>('ImageRemove', { names: [reference], force: false, no_prune: false });
  }

  async listNetworks(filters: EngineFilter[]): Promise<NetworkSummary[]> {
    return (await this.engine.call<{ networks: NetworkSummary[] }>('NetworkList', { filters })).networks;
  }

  async createNetwork(req: NetworkRequest): Promise<string> {
    return (await this.engine.call<{ id: string }>('NetworkCreate', { ...req, check_duplicate: true })).id;
  }

  async removeNetwork(name: string): Promise<void> {
    const r = await this.engine.call<{ removed: string[]; errors: string[] }>('NetworkRemove', { names: [name], force: false });
    if (r.errors.length > 0) throw failedPrecondition(r.errors[0] as string);
  }

  async listVolumes(filters: EngineFilter[]): Promise<VolumeSummary[]> {
    return (await this.engine.call<{ volumes: VolumeSummary[] }>('VolumeList', { filters })).volumes;
  }

  async createVolume(req: VolumeRequest): Promise<void> {
    await this.engine.call('VolumeCreate', req);
  }

  async removeVolume(name: string): Promise<void> {
    const r = await this.engine.call<{ removed: string[]; errors: string[] }>('VolumeRemove', { names: [name], force: false });
    if (r.errors.length > 0) throw failedPrecondition(r.errors[0] as string);
  }
}
