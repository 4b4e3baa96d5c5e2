/**
 * The event log: what happened to images, containers, networks and volumes, as `docker events`
 * shows it. The last `capacity` events are kept in memory and in a journal file, so history
 * queries (`--since`) survive a daemon restart.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';

/** Bytes read or written at a time by `load`. */
const PIECE = 60 << 10;

export interface EngineEvent {
  type: 'image' | 'container' | 'network' | 'volume' | 'daemon' | 'plugin' | 'builder';
  action: string;
  actorId: string;
  attributes: Record<string, string>;
  scope: 'local' | 'swarm';
  /** nanoseconds since the epoch */
  timeNano: number;
}

export interface EventFilter {
  key: string;
  values: string[];
}

export class EventLog {
  private readonly events: EngineEvent[] = [];
  private readonly emitter = new EventEmitter();
  private pending: string[] = [];
  private flushing: Promise<void> | undefined;
  private lastNano = 0;

  constructor(
    private readonly file: string,
    private readonly capacity = 2000,
  ) {
    this.emitter.setMaxListeners(0);
  }

  async load(): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true });
    // Read and written back in pieces of at most PIECE bytes: a Buffer of 128 kB or more, once
    // freed, makes malloc keep more of what the daemon frees from then on (see bin/tscompose).
    try {
      let rest = '';
      for await (const chunk of createReadStream(this.file, { encoding: 'utf8', highWaterMark: PIECE })) {
        const lines = (rest + (chunk as string)).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) this.restore(line);
      }
      this.restore(rest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.events.splice(0, Math.max(0, this.events.length - this.capacity));
    this.lastNano = this.events.at(-1)?.timeNano ?? 0;
    // Compact at start so the file never grows without bound.
    const fh = await fsp.open(this.file, 'w');
    try {
      let piece = '';
      for (const e of this.events) {
        piece += JSON.stringify(e) + '\n';
        if (piece.length < PIECE) continue;
        await fh.write(piece);
        piece = '';
      }
      if (piece) await fh.write(piece);
    } finally {
      await fh.close();
    }
  }

  private restore(line: string): void {
    if (!line) return;
    try {
      this.events.push(JSON.parse(line) as EngineEvent);
    } catch {
      // a line torn by a crash mid-append: skip it
    }
    if (this.events.length > 2 * this.capacity) this.events.splice(0, this.events.length - this.capacity);
  }

  emit(type: EngineEvent['type'], action: string, actorId: string, attributes: Record<string, string> = {}): void {
    // Strictly increasing times keep `--since`/`--until` boundaries exact. Nanoseconds since 1970
    // exceed a double's 53 bits (adjacent values are 256 ns apart, so `+ 1` changed nothing):
    // the count is kept in whole microseconds, exact in a double, and stays distinct when scaled.
    const nowMicros = Math.max(Date.now() * 1000, Math.round(this.lastNano / 1000) + 1);
    const nowNano = nowMicros * 1000;
    this.lastNano = nowNano;
    const ev: EngineEvent = { type, action, actorId, attributes, scope: 'local', timeNano: nowNano };
    this.events.push(ev);
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
    this.pending.push(JSON.stringify(ev) + '\n');
    this.flush();
    this.emitter.emit('event', ev);
  }

  private flush(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      // Events emitted together (a container's start and its networks' connects) share a write.
      await Promise.resolve();
      while (this.pending.length > 0) {
        const batch = this.pending.join('');
        this.pending = [];
        await fsp.appendFile(this.file, batch).catch(() => undefined);
      }
      this.flushing = undefined;
    })();
  }

  async settle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Events between `sinceNano` and `untilNano` (inclusive) that match every filter key. */
  history(sinceNano: number, untilNano: number, filters: EventFilter[]): EngineEvent[] {
    return this.events.filter((e) => e.timeNano >= sinceNano && e.timeNano <= untilNano && matches(e, filters));
  }

  /** How many are following the events now (`info`'s NEventsListener). */
  listenerCount(): number {
    return this.emitter.listenerCount('event');
  }

  subscribe(filters: EventFilter[], listener: (e: EngineEvent) => void): () => void {
    const fn = (e: EngineEvent) => {
      if (matches(e, filters)) listener(e);
    };
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
}

/** Docker's event filters: values of one key are ORed, keys are ANDed. */
export function matches(e: EngineEvent, filters: EventFilter[]): boolean {
  return filters.every((f) => f.values.some((v) => matchesOne(e, f.key, v)));
}

function matchesOne(e: EngineEvent, key: string, value: string): boolean {
  const name = e.attributes['name'];
  switch (key) {
    case 'type':
      return e.type === value;
    case 'event':
      return e.action === value || e.action.split(':')[0] === value;
    case 'scope':
      return e.scope === value;
    case 'image':
      if (e.type === 'image') return e.actorId === value || name === value || e.actorId.startsWith(`sha256:${value}`);
      return e.attributes['image'] === value;
    case 'container':
      return e.type === 'container' && (e.actorId === value || e.actorId.startsWith(value) || name === value);
    case 'network':
    case 'volume':
      return e.type === key && (e.actorId === value || e.actorId.startsWith(value) || name === value);
    case 'label': {
      const [k, v] = splitOnce(value, '=');
      return v === undefined ? k in e.attributes : e.attributes[k] === v;
    }
    default:
      return false;
  }
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}
