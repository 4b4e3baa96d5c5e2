/**
 * What the daemon holds and how it is reclaimed, through the CLI: `system df` (with -v) and
 * `info` counting containers, volumes and build cache; `system prune` removing stopped
 * containers, unused networks, dangling images and dangling build cache (anonymous volumes with
 * --volumes); `builder prune` forgetting dangling records, or all of them with -a; the space
 * image and system prune report.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { busyboxRootfsTar } from '../helpers/images';

let d: TestDaemon;
let ctx: string;

before(async () => {
  d = await startTestDaemon();
  const tar = await busyboxRootfsTar(path.join(d.dir, 'busybox.tar'));
  await d.ok(['image', 'import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  ctx = path.join(d.dir, 'ctx');
  await fsp.mkdir(ctx, { recursive: true });
  await fsp.writeFile(path.join(ctx, 'keep.Dockerfile'), 'FROM busybox\nRUN head -c 20000 /dev/zero > /kept\n');
  await fsp.writeFile(path.join(ctx, 'gone.Dockerfile'), 'FROM busybox\nRUN head -c 30000 /dev/zero > /gone\n');
});
after(async () => {
  await d?.destroy();
});

/** Builds, and returns the plain progress log. */
async function build(file: string, tag: string): Promise<string> {
  const r = await d.run(['image', 'build', '--progress', 'plain', '-f', path.join(ctx, file), '-t', tag, ctx]);
  assert.equal(r.code, 0, r.stderr);
  return r.stderr;
}

interface DfRow {
  Type: string;
  TotalCount: string;
  Active: string;
  Size: string;
  Reclaimable: string;
}

async function dfRows(): Promise<Map<string, DfRow>> {
  const out = await d.ok(['system', 'df', '--format', '{{json .}}']);
  return new Map(out.trim().split('\n').map((l) => JSON.parse(l) as DfRow).map((r) => [r.Type, r]));
}

describe('system df, info, system prune, builder prune', () => {
  test('df and info count containers, volumes and build cache', async () => {
    await build('keep.Dockerfile', 'keep:1');
    await build('gone.Dockerfile', 'gone:1');
    await d.ok(['container', 'run', '-d', '--name', 'running', '-v', 'named:/data', 'busybox', 'sh', '-c', 'echo data > /data/f; exec sleep 600']);
    await d.ok(['container', 'run', '--name', 'stopped', '-v', '/anon', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /written; echo x > /anon/f']);
    await d.ok(['network', 'create', 'unused']);

    const rows = await dfRows();
    assert.deepEqual([rows.get('Containers')?.TotalCount, rows.get('Containers')?.Active], ['2', '1']);
    assert.match(rows.get('Containers')?.Reclaimable ?? '', /^5(\.\d+)?kB \(100%\)$/, 'the stopped container’s writes');
    // As Docker: a stopped container's volume is in use too.
    assert.deepEqual([rows.get('Local Volumes')?.TotalCount, rows.get('Local Volumes')?.Active], ['2', '2']);
    assert.notEqual(rows.get('Build Cache')?.TotalCount, '0');
    // Every cache record's layer is an image's too: none takes space of its own yet.
    assert.equal(rows.get('Build Cache')?.Size, '0B');

    const verbose = await d.ok(['system', 'df', '-v']);
    assert.match(verbose, /^[0-9a-f]{12}\s+busybox\s+"sh -c 'head -c 5000…"\s+1\s+5(\.\d+)?kB\s+.*Exited \(0\).*\sstopped$/m);
    assert.match(verbose, /^named\s+1\s+5B$/m);
    assert.match(verbose, /^CACHE ID\s+CACHE TYPE\s+SIZE\s+CREATED\s+LAST USED\s+USAGE\s+SHARED$/m);

    const info = JSON.parse(await d.ok(['info', '--format', '{{json .}}'])) as Record<string, number>;
    assert.deepEqual([info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped], [2, 1, 0, 1]);
  });

  test('df -v with a format runs it once over the four lists, untruncated, as Docker’s CLI does', async () => {
    await d.ok(['image', 'tag', 'keep:1', 'keep:2']);
    const keepId = (await d.ok(['image', 'inspect', '--format', '{{.Id}}', 'keep:1'])).trim();

    const raw = await d.run(['system', 'df', '-v', '--format', 'json']);
    assert.equal(raw.code, 0, raw.stderr);
    assert.ok(raw.stdout.endsWith(']}'), 'no newline after the template');
    const doc = JSON.parse(raw.stdout) as Record<string, Array<Record<string, unknown>>>;
    assert.deepEqual(Object.keys(doc), ['Images', 'Containers', 'Volumes', 'BuildCache']);
    const keep = doc.Images?.filter((i) => i.ID === keepId) ?? [];
    assert.equal(keep.length, 1, 'one entry per image, named by its first tag');
    assert.deepEqual(Object.keys(keep[0] ?? {}), ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
    assert.deepEqual([keep[0]?.Repository, keep[0]?.Tag, keep[0]?.Digest], ['keep', '1', '']);
    const stopped = doc.Containers?.find((c) => c.Names === 'stopped');
    assert.deepEqual(Object.keys(stopped ?? {}), ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Platform', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
    assert.equal(stopped?.Command, `"sh -c 'head -c 5000 /dev/zero > /written; echo x > /anon/f'"`);
    assert.match(String(stopped?.ID), /^[0-9a-f]{64}$/);
    // Docker's contexts marshal with json.Marshal, which escapes > as \u003e.
    assert.match(raw.stdout, /head -c 5000 \/dev\/zero \\u003e \/written/);
    assert.deepEqual(Object.keys(doc.Volumes?.find((v) => v.Name === 'named') ?? {}), ['Availability', 'Driver', 'Group', 'Labels', 'Links', 'Mountpoint', 'Name', 'Scope', 'Size', 'Status']);
    assert.ok((doc.BuildCache ?? []).length > 0);
    assert.match(String(doc.BuildCache?.[0]?.ID), /^[0-9a-z]{25}$/);
    assert.deepEqual(Object.keys(doc.BuildCache?.[0] ?? {}), ['CacheType', 'CreatedAt', 'CreatedSince', 'Description', 'ID', 'InUse', 'LastUsedAt', 'LastUsedSince', 'Parent', 'Shared', 'Size', 'UsageCount']);
    const template = JSON.parse(await d.ok(['system', 'df', '-v', '--format', '{{json .}}'])) as typeof doc;
    assert.deepEqual(template.Images?.map((i) => i.ID), doc.Images?.map((i) => i.ID));

    // A table template is run the same way, with IDs cut.
    const tableIds = JSON.parse(await d.ok(['system', 'df', '-v', '--format', 'table {{json .Images}}'])) as Array<{ ID: string }>;
    assert.ok(tableIds.some((i) => i.ID === keepId.slice(7, 19)));
    const links = (await d.ok(['system', 'df', '-v', '--format', '{{range .Volumes}}{{.Name}}:{{.Links}} {{end}}'])).trim().split(' ').sort();
    const volumes = (await d.ok(['volume', 'ls', '-q'])).trim().split('\n').sort();
    assert.deepEqual(links, volumes.map((v) => `${v}:1`), 'both volumes are in use');

    // The summary's fields are not the verbose data's: Docker fails, after what came before.
    const wrong = await d.run(['system', 'df', '-v', '--format', '{{len .Containers}} {{.Type}}']);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, '2 ');
    assert.equal(wrong.stderr, 'template: :1:22: executing "" at <.Type>: can\'t evaluate field Type in type *formatter.diskUsageContext\n');
    const inner = await d.run(['system', 'df', '-v', '--format', '{{range .Images}}{{.Type}}{{end}}']);
    assert.equal(inner.stderr, 'template: :1:19: executing "" at <.Type>: can\'t evaluate field Type in type *formatter.imageContext\n');
    const summary = await d.run(['system', 'df', '--format', '{{.Images}}']);
    assert.equal(summary.code, 1);
    assert.equal(summary.stderr, 'template parsing error: template: :1:2: executing "" at <.Images>: can\'t evaluate field Images in type *formatter.diskUsageImagesContext\n');
    const unclosed = await d.run(['system', 'df', '-v', '--format', '{{.Images']);
    assert.equal(unclosed.stderr, 'template parsing error: template: :1: unclosed action\n');

    // The tables: an image once, by its first tag; four-digit shared and unique sizes; 12-character cache IDs under a header.
    const tables = await d.ok(['system', 'df', '-v']);
    assert.match(tables, /^keep\s+1\s+/m);
    assert.doesNotMatch(tables, /^keep\s+2\s+/m);
    assert.match(tables, /\nBuild cache usage: [^\n]+\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n[0-9a-z]{12} +regular /);
    const summaryJson = await d.ok(['system', 'df', '--format', 'json']);
    assert.match(summaryJson, /^\{"Active":"\d+","Reclaimable":"[^"]+","Size":"[^"]+","TotalCount":"\d+","Type":"Images"\}$/m);
    await d.ok(['image', 'rm', 'keep:2']);
  });

  test('system prune removes what nothing uses, anonymous volumes only with --volumes', async () => {
    await d.ok(['image', 'rm', 'gone:1']); // its build cache record is now dangling
    assert.notEqual((await dfRows()).get('Build Cache')?.Size, '0B');

    // Filters: nothing here is older than a day; an unknown key is refused before anything goes.
    assert.equal(await d.ok(['container', 'prune', '-f', '--filter', 'until=24h']), 'Total reclaimed space: 0B\n');
    const unknown = await d.run(['system', 'prune', '-f', '--filter', 'colour=red']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /invalid filter 'colour'/);
    assert.match(await d.ok(['container', 'ls', '-a', '--format', '{{.Names}}']), /stopped/);
    // A label filter applies to every kind: nothing here carries the label, so nothing goes.
    const labelled = await d.ok(['system', 'prune', '-f', '--filter', 'label=nobody=here']);
    assert.equal(labelled, 'Total reclaimed space: 0B\n');
    // Without -f the question is asked whatever stdin is: no answer, or n, deletes nothing.
    for (const [args, input] of [[['system', 'prune'], ''], [['container', 'prune'], 'n\n'], [['image', 'prune', '-a'], 'no\n']] as const) {
      const asked = await d.run([...args], { input });
      assert.equal(asked.code, 0, asked.stderr);
      assert.match(asked.stdout, /^WARNING! This will remove[\s\S]*Are you sure you want to continue\? \[y\/N\] $/);
      assert.match(await d.ok(['container', 'ls', '-a', '--format', '{{.Names}}']), /stopped/);
    }
    const out = await d.ok(['system', 'prune'], { input: 'y\n' });
    assert.match(out, /Deleted Containers:\n[0-9a-f]{64}\n\nDeleted Networks:\nunused\n\nDeleted build cache objects:\n([0-9a-z]{25}\n)+\nTotal reclaimed space: \d/m);
    assert.equal((await d.ok(['container', 'ls', '-a', '--format', '{{.Names}}'])).trim(), 'running');
    assert.doesNotMatch(await d.ok(['network', 'ls']), /unused/);
    assert.equal((await d.ok(['volume', 'ls', '-q'])).trim().split('\n').length, 2, 'volumes stay without --volumes');
    assert.equal((await dfRows()).get('Build Cache')?.Size, '0B');

    const withVolumes = await d.ok(['system', 'prune', '-f', '--volumes']);
    assert.match(withVolumes, /^Deleted Volumes:\n[0-9a-f]{64}\n/m);
    assert.equal((await d.ok(['volume', 'ls', '-q'])).trim(), 'named', 'a named volume is kept');
    await d.ok(['container', 'rm', '-f', 'running']);
    await d.ok(['volume', 'rm', 'named']);
  });

  test('builder prune forgets dangling records; -a forgets every one, and the next build runs again', async () => {
    const kept = await build('keep.Dockerfile', 'keep:1');
    assert.match(kept, /RUN head -c 20000[^\n]*\n#\d+ CACHED/, 'shared records survive system prune');
    const dangling = await d.ok(['builder', 'prune', '-f']);
    assert.match(dangling, /^Total reclaimed space: 0B$/m);
    assert.match(await build('keep.Dockerfile', 'keep:1'), /#\d+ CACHED/);

    const all = await d.ok(['builder', 'prune', '-a', '-f']);
    assert.match(all, /^Deleted build cache objects:\n/);
    assert.equal((await dfRows()).get('Build Cache')?.TotalCount, '0');
    assert.doesNotMatch(await build('keep.Dockerfile', 'keep:1'), /CACHED/);

    const bad = await d.run(['builder', 'prune', '-f', '--filter', 'colour=red']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'colour'/);
  });

  test('image and system prune reclaim what Docker counts: the removed layers’ files, each hard link once, no blobs', async () => {
    // 123000 + 4321 (also under a second name) + the 5 bytes of a symlink's target; directories
    // and the whiteout count nothing. Docker 20.10 reports 127326 bytes for this layer.
    await fsp.writeFile(
      path.join(ctx, 'prune.Dockerfile'),
      'FROM busybox\nLABEL prune.test=1\nRUN head -c 123000 /dev/zero > /blob && head -c 4321 /dev/zero > /b2 && ln /b2 /b3 && ln -s /blob /lnk && mkdir -p /d/e && rm /bin/zcat\n',
    );
    await build('prune.Dockerfile', 'prune:1');
    const saved = path.join(d.dir, 'prune.tar');
    await d.ok(['image', 'save', '-o', saved, 'prune:1']);
    // The build cache holds the layer too: without its records, the image alone does.
    await d.ok(['builder', 'prune', '-a', '-f']);
    const pruned = await d.ok(['image', 'prune', '-a', '-f', '--filter', 'label=prune.test=1']);
    assert.match(pruned, /^untagged: prune:1$/m);
    assert.match(pruned, /\nTotal reclaimed space: 127\.3kB\n$/);
    assert.equal((await d.run(['image', 'inspect', 'prune:1'])).code, 1);

    await d.ok(['image', 'load', '-i', saved]);
    const system = await d.ok(['system', 'prune', '-a', '-f', '--filter', 'label=prune.test=1']);
    assert.match(system, /\nTotal reclaimed space: 127\.3kB\n$/);
    // Nothing left to free: the busybox layer below is still busybox's.
    assert.equal(await d.ok(['image', 'prune', '-a', '-f', '--filter', 'label=prune.test=1']), 'Total reclaimed space: 0B\n');
  });
});
