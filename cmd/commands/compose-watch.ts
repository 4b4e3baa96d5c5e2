/**
 * `watch`: Compose's develop mode. The services with `develop.watch` rules are brought up, then
 * each rule's path is watched; a batch of changes (quiet for WATCH_QUIET_MS) is applied by the
 * rule's action:
 * - `sync`: changed files are copied into each of the service's running containers at
 *   `target` (a tar through ContainerCopyTo), removed ones removed there;
 * - `restart`: the service's containers are restarted; `sync+restart` syncs first;
 * - `sync+exec`: syncs, then runs the rule's `exec` command in each container;
 * - `rebuild`: the service's image is built again and the service recreated (`up --build`).
 * `ignore` (and, for rebuild, the build context's .dockerignore) holds patterns in .dockerignore
 * syntax relative to the rule's path; `.git` and editors' temporary files are always ignored.
 * With `include`, only files its patterns match count. `initial_sync` syncs the whole path once
 * when watching begins.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PatternMatcher, readDockerignoreSync } from '../../agent/build/context/ignore';
import type { LoadedProject } from '../../manager/compose/index';
import type { DevelopConfig } from '../../manager/compose/model';
import { processOf } from '../../manager/project/hooks';
import { runToEndExecSpec } from '../../common/rpc/engine-types';
import { engine, eprintln, ExitError } from '../cli';
import type { EngineClient } from '../client';
import { loadComposeProject, projectContainers } from './compose-common';

/** How long a rule's changes must be quiet before they are applied as one batch. */
export const WATCH_QUIET_MS = 300;

type WatchRule = NonNullable<DevelopConfig['watch']>[number];

/** `.git`, and the files editors write beside the ones they save (Compose ignores the same). */
const ALWAYS_IGNORED = ['.git', '**/*~', '**/.*.swp', '**/.*.swx', '**/4913', '**/___jb_*___'];

export interface WatchFlags {
  up?: boolean; // --no-up → false
  quiet?: boolean;
}

export async function composeWatch(services: string[], flags: WatchFlags): Promise<number> {
  const loaded = await loadComposeProject({ servicesEnabled: services });
  const model = loaded.model;
  for (const s of services) if (!model.services[s]) throw new ExitError(1, `no such service: ${s}`);
  const names = (services.length > 0 ? services : Object.keys(model.services)).filter((s) => (model.services[s]?.develop?.watch?.length ?? 0) > 0);
  if (names.length === 0) {
    throw new ExitError(1, "none of the selected services is configured for watch, consider setting a 'develop' section");
  }
  if (flags.up !== false) {
    const { composeUp } = await import('./compose-up');
    const code = await composeUp(services, { detach: true, quietBuild: !!flags.quiet });
    if (code !== 0) return code;
  }
  const { watch } = await import('chokidar');
  const client = await engine();
  const watchers: Array<{ close(): Promise<void> }> = [];
  for (const service of names) {
    for (const rule of model.services[service]!.develop!.watch!) {
      const ignored = ignoreMatcher(loaded, service, rule);
      const included = rule.include?.length ? new PatternMatcher(rule.include) : undefined;
      const counts = (rel: string) => rel === '' || (!ignored.matches(rel) && (included === undefined || included.matches(rel)));
      const batch = new Map<string, 'changed' | 'removed'>();
      let timer: NodeJS.Timeout | undefined;
      let applying = Promise.resolve();
      const flush = () => {
        const changes = new Map(batch);
        batch.clear();
        applying = applying
          .then(() => applyRule(client, loaded, service, rule, changes, !!flags.quiet))
          .catch((err: unknown) => eprintln(`watch: service "${service}": ${err instanceof Error ? err.message : String(err)}`));
      };
      const note = (kind: 'changed' | 'removed', directory = false) => (file: string) => {
        // A directory of its own never counts under include patterns: the files in it do.
        if (!counts(relativeTo(rule.path, file)) || (kind === 'changed' && directory && included !== undefined)) return;
        batch.set(file, kind);
        clearTimeout(timer);
        timer = setTimeout(flush, WATCH_QUIET_MS);
      };
      const w = watch(rule.path, {
        ignoreInitial: true,
        ignored: (file: string) => {
          const rel = relativeTo(rule.path, file);
          return rel !== '' && !rel.startsWith('..') && ignored.matches(rel);
        },
      });
      w.on('add', note('changed')).on('change', note('changed')).on('addDir', note('changed', true));
      w.on('unlink', note('removed')).on('unlinkDir', note('removed'));
      w.on('error', (err: unknown) => eprintln(`watch: ${rule.path}: ${err instanceof Error ? err.message : String(err)}`));
      await new Promise<void>((resolve) => w.once('ready', () => resolve()));
      watchers.push(w);
      if (rule.initial_sync && rule.action.startsWith('sync')) {
        const all = new Map<string, 'changed'>();
        for (const rel of await filesUnder(rule.path)) if (counts(rel)) all.set(path.join(rule.path, rel), 'changed');
        await applyRule(client, loaded, service, { ...rule, action: 'sync' }, all, !!flags.quiet);
      }
    }
  }
  eprintln('Watch enabled');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await Promise.all(watchers.map((w) => w.close()));
  return 0;
}

/** `file` relative to `root`, slash-separated, as the patterns are written. */
function relativeTo(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

/** Every file and directory below `dir`, as slash-separated relative paths; a file gives itself. */
async function filesUnder(dir: string): Promise<string[]> {
  const st = await fsp.stat(dir).catch(() => undefined);
  if (!st) return [];
  if (!st.isDirectory()) return [''];
  return (await fsp.readdir(dir, { recursive: true })).map((rel) => rel.toString().split(path.sep).join('/'));
}

function ignoreMatcher(loaded: LoadedProject, service: string, rule: WatchRule): PatternMatcher {
  const patterns = [...ALWAYS_IGNORED, ...(rule.ignore ?? [])];
  const build = loaded.model.services[service]?.build;
  if (rule.action === 'rebuild' && build?.context && path.resolve(build.context) === path.resolve(rule.path)) {
    patterns.push(...readDockerignoreSync(build.context, build.dockerfile ? path.resolve(build.context, build.dockerfile) : undefined).patterns);
  }
  return new PatternMatcher(patterns);
}

async function applyRule(client: EngineClient, loaded: LoadedProject, service: string, rule: WatchRule, changes: Map<string, 'changed' | 'removed'>, quiet: boolean): Promise<void> {
  if (changes.size === 0) return;
  const say = (line: string) => {
    if (!quiet) eprintln(line);
  };
  if (rule.action === 'rebuild') {
    say(`Rebuilding service(s) ["${service}"] after changes were detected...`);
    const { composeUp } = await import('./compose-up');
    await composeUp([service], { detach: true, build: true, deps: false, quietBuild: quiet });
    say(`service(s) ["${service}"] successfully built`);
    return;
  }
  const containers = (await projectContainers(loaded.projectName, { services: [service] })).filter((c) => c.state === 'running');
  if (rule.action.startsWith('sync')) {
    if (!rule.target) throw new Error(`a ${rule.action} rule needs a target`);
    say(`Syncing service "${service}" after ${changes.size} changes were detected`);
    for (const c of containers) await syncInto(client, c.id, rule, changes);
  }
  if (rule.action === 'restart' || rule.action === 'sync+restart') {
    say(`Restarting service "${service}" after changes were detected`);
    for (const c of containers) await client.call('ContainerRestart', { id: c.id, timeout_seconds: -1, signal: '' });
  }
  if (rule.action === 'sync+exec' && rule.exec?.command) {
    const exec = runToEndExecSpec(processOf(rule.exec));
    for (const c of containers) {
      const r = await client.call<{ exit_code: number }>('ContainerExecRun', { id: c.id, exec });
      if (r.exit_code !== 0) throw new Error(`exec of the sync+exec rule exited with status ${r.exit_code}`);
    }
  }
}

/** Copies the changed files of a batch into a container at the rule's target; removes the removed. */
async function syncInto(client: EngineClient, id: string, rule: WatchRule, changes: Map<string, 'changed' | 'removed'>): Promise<void> {
  const target = rule.target!;
  const inContainer = (file: string) => path.posix.join(target, relativeTo(rule.path, file));
  const removed = [...changes].filter(([, kind]) => kind === 'removed').map(([file]) => inContainer(file));
  if (removed.length > 0) {
    const exec = runToEndExecSpec({ cmd: ['rm', '-rf', '--', ...removed], env: [], user: '', workingDir: '', privileged: false });
    await client.call('ContainerExecRun', { id, exec });
  }
  const changed: Array<{ file: string; name: string; dir: boolean; mode: number; mtime: Date; size: number }> = [];
  for (const [file, kind] of changes) {
    if (kind !== 'changed') continue;
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st || (!st.isFile() && !st.isDirectory())) continue;
    changed.push({ file, name: inContainer(file).replace(/^\/+/, ''), dir: st.isDirectory(), mode: st.mode & 0o7777, mtime: st.mtime, size: st.size });
  }
  if (changed.length === 0) return;
  const tar = (await import('tar-stream')).default;
  const pack = tar.pack();
  const feeding = (async () => {
    // Parents first, so that a new directory exists before what goes in it.
    for (const c of changed.sort((a, b) => a.name.localeCompare(b.name))) {
      if (c.dir) pack.entry({ name: `${c.name}/`, type: 'directory', mode: c.mode, mtime: c.mtime });
      else {
        const data = await fsp.readFile(c.file);
        await new Promise<void>((resolve, reject) => pack.entry({ name: c.name, mode: c.mode, mtime: c.mtime, size: data.length }, data, (err) => (err ? reject(err) : resolve())));
      }
    }
    pack.finalize();
  })();
  await client.clientStream('ContainerCopyTo', async (write) => {
    await write({ header: { id, path: '/', copy_uid_gid: false } });
    for await (const chunk of pack) await write({ data: chunk as Buffer });
  });
  await feeding;
}
