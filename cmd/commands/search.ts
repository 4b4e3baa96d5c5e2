/** `search`: repositories in a registry, as `docker search` lists them. */
import { engine, ExitError } from '../cli';
import { renderList } from '../format';

interface Entry {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export async function search(term: string, opts: { limit?: string; filter?: string[]; format?: string; trunc?: boolean }): Promise<number> {
  const limit = Number(opts.limit ?? '25');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ExitError(125, `limit ${opts.limit} is outside the range of [1, 100]`);
  let minStars = 0;
  let official: boolean | undefined;
  let automated: boolean | undefined;
  for (const f of opts.filter ?? []) {
    const [k, v = ''] = f.split('=', 2);
    if (k === 'stars' && /^\d+$/.test(v)) minStars = Number(v);
    else if (k === 'is-official' && /^(true|false)$/.test(v)) official = v === 'true';
    else if (k === 'is-automated' && /^(true|false)$/.test(v)) automated = v === 'true';
    else throw new ExitError(125, `invalid filter '${f}'`);
  }
  const client = await engine();
  const reply = await client.call<{ results: Entry[] }>('ImageSearch', { term, limit });
  const rows = reply.results
    .filter((r) => r.star_count >= minStars && (official === undefined || r.is_official === official) && (automated === undefined || r.is_automated === automated))
    .map((r) => ({
      Name: r.name,
      Description: opts.trunc === false || r.description.length <= 45 ? r.description : r.description.slice(0, 44) + '…',
      StarCount: String(r.star_count),
      IsOfficial: r.is_official ? '[OK]' : '',
      IsAutomated: r.is_automated ? '[OK]' : '',
    }));
  const out = renderList(rows, {
    format: opts.format,
    defaultTable: 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}',
    headers: { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED' },
  });
  process.stdout.write(out);
  return 0;
}
