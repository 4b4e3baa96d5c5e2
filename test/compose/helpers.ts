import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { loadProject } from '../../manager/compose/index';
import type { LoadedProject, ProjectOptions } from '../../manager/compose/index';

/** A fresh project directory holding `files` (relative path → content). */
export function project(files: Record<string, string>, name = 'proj'): string {
  const root = mkdtempSync(join(tmpdir(), 'tsc-compose-'));
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return dir;
}

/** Loads a project from `files` with a controlled environment. */
export async function load(files: Record<string, string>, opts: Partial<ProjectOptions> = {}): Promise<LoadedProject & { dir: string }> {
  const dir = project(files);
  const lp = await loadProject({ workingDir: dir, environment: { HOME: '/home/user' }, ...opts });
  return Object.assign(lp, { dir });
}

/** The canonical tree of one service. */
export async function service(yaml: string, name = 'web', opts: Partial<ProjectOptions> = {}): Promise<Record<string, unknown>> {
  const lp = await load({ 'compose.yaml': yaml }, opts);
  const svc = (lp.canonical.services as Record<string, Record<string, unknown>>)[name];
  assert.ok(svc, `service ${name} missing`);
  return svc;
}

/** Asserts that loading rejects with a message matching every pattern. */
export async function rejects(files: Record<string, string>, patterns: RegExp[], opts: Partial<ProjectOptions> = {}): Promise<Error> {
  let caught: unknown;
  try {
    await load(files, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, 'expected the load to fail');
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}
