/** What Compose's integration tests share: a test daemon with busybox imported, project dirs, free ports. */
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { startTestDaemon, type RunResult, type TestDaemon } from './daemon';
import { busyboxRootfsTar } from './images';

/** A test daemon with `busybox:latest` imported (CMD sh), as the Compose tests use it. */
export async function startComposeDaemon(): Promise<TestDaemon> {
  const d = await startTestDaemon();
  try {
    const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
    await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  } catch (err) {
    await d.destroy();
    throw err;
  }
  return d;
}

/** A project directory under the daemon's dir holding `files` (name → content). */
export async function projectDir(d: TestDaemon, name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(d.dir, name);
  await fsp.mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await fsp.writeFile(path.join(dir, file), content);
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** Non-empty output lines. */
export const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** Fails with the command's stderr unless it exited with `code`. */
export function expectCode(r: RunResult, code: number): RunResult {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
