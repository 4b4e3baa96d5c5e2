/** `events`: the project's container events, as Compose prints them (plain lines or `--json`). */
import { engine, println } from '../cli';
import { parseTimestamp, timestampToDate } from '../format';
import { resolveProjectRef } from './compose-common';

interface EventMessage {
  type: string;
  action: string;
  actor_id: string;
  attributes: Record<string, string>;
  time_nano: number;
}

export async function composeEvents(services: string[], flags: { json?: boolean; since?: string; until?: string }): Promise<number> {
  const ref = await resolveProjectRef(services);
  const now = Date.now();
  const since = flags.since ? timestampToDate(parseTimestamp(flags.since, now)).getTime() : 0;
  const until = flags.until ? timestampToDate(parseTimestamp(flags.until, now)).getTime() : 0;
  const client = await engine();
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once('SIGINT', onInterrupt);
  const filters = [
    { key: 'type', values: ['container'] },
    { key: 'label', values: [`com.docker.compose.project=${ref.name}`] },
  ];
  try {
    for await (const e of client.stream<EventMessage>('Events', { since, until, filters }, abort.signal)) {
      // As Compose: one-off (`run`) containers are left out, and so are Compose's own labels.
      if (e.attributes['com.docker.compose.oneoff'] === 'True') continue;
      const service = e.attributes['com.docker.compose.service'] ?? '';
      if (services.length > 0 && !services.includes(service)) continue;
      const attributes = Object.fromEntries(Object.entries(e.attributes).filter(([k]) => !k.startsWith('com.docker.compose.')));
      if (flags.json) {
        println(JSON.stringify({ action: e.action, attributes, id: e.actor_id, service, time: rfc3339Nano(e.time_nano), type: 'container' }));
      } else {
        const attrs = Object.entries(attributes)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
        println(`${eventTime(e.time_nano)} container ${e.action} ${e.actor_id} (${attrs})`);
      }
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return 0;
}

/** Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped. */
function rfc3339Nano(nano: number): string {
  // The nanoseconds arrive as a float: milliseconds are what survives exactly.
  const ms = Math.floor(nano / 1e6);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = String((ms % 1000) * 1e6).padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** Compose's plain event time: `2006-01-02 15:04:05.000000`, in UTC. */
function eventTime(nano: number): string {
  const ms = Math.floor(nano / 1e6);
  const base = new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  return `${base}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
}
