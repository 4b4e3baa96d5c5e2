/**
 * Build progress, buildkit style: every step that touches the filesystem is a numbered vertex
 * (`#5 [build 2/4] RUN make`), followed by its output (`#5 0.412 compiling…`) and how it ended
 * (`#5 CACHED`, `#5 DONE 1.2s`, `#5 ERROR: …`). Events travel to the client structured; both
 * renderings live here so the daemon's log and the CLI agree.
 */

export type ProgressStatus = 'start' | 'log' | 'cached' | 'done' | 'error' | 'warning' | 'info';

export interface ProgressEvent {
  /** The vertex number, 0 for build-wide lines (warnings). */
  vertex: number;
  status: ProgressStatus;
  text: string;
  elapsedMs: number;
  stream?: 'stdout' | 'stderr';
}

export type ProgressSink = (event: ProgressEvent) => void;

/** Hands out vertex numbers and times each vertex, reporting to one sink. */
export class ProgressReporter {
  private next = 1;

  constructor(private readonly sink: ProgressSink) {}

  vertex(title: string): Vertex {
    return new Vertex(this.next++, title, this.sink);
  }

  warning(text: string): void {
    this.sink({ vertex: 0, status: 'warning', text, elapsedMs: 0 });
  }
}

export class Vertex {
  private readonly started = Date.now();

  constructor(
    readonly number: number,
    readonly title: string,
    private readonly sink: ProgressSink,
  ) {
    sink({ vertex: number, status: 'start', text: title, elapsedMs: 0 });
  }

  private get elapsed(): number {
    return Date.now() - this.started;
  }

  log(text: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.sink({ vertex: this.number, status: 'log', text, elapsedMs: this.elapsed, stream });
  }

  info(text: string): void {
    this.sink({ vertex: this.number, status: 'info', text, elapsedMs: this.elapsed });
  }

  cached(): void {
    this.sink({ vertex: this.number, status: 'cached', text: '', elapsedMs: this.elapsed });
  }

  done(): void {
    this.sink({ vertex: this.number, status: 'done', text: '', elapsedMs: this.elapsed });
  }

  error(message: string): void {
    this.sink({ vertex: this.number, status: 'error', text: message, elapsedMs: this.elapsed });
  }
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1) + 's';

/** buildkit's `--progress plain` line for one event. */
export function plainLine(e: Pick<ProgressEvent, 'vertex' | 'status' | 'text' | 'elapsedMs'>): string {
  const id = `#${e.vertex}`;
  switch (e.status) {
    case 'start':
      return `\n${id} ${e.text}`;
    case 'log':
      return `${id} ${(e.elapsedMs / 1000).toFixed(3)} ${e.text}`;
    case 'info':
      return `${id} ${e.text}`;
    case 'cached':
      return `${id} CACHED`;
    case 'done':
      return `${id} DONE ${seconds(e.elapsedMs)}`;
    case 'error':
      return `${id} ERROR: ${e.text}`;
    case 'warning':
      return `WARNING: ${e.text}`;
  }
}

/**
 * buildkit's compact terminal view: one line per vertex once it ends (`=> CACHED [2/4] COPY …`,
 * `=> [3/4] RUN make  1.2s`); the output of a failed step is shown, others' is kept back.
 */
export class CompactRenderer {
  private readonly titles = new Map<number, string>();
  private readonly logs = new Map<number, string[]>();

  constructor(private readonly write: (line: string) => void) {}

  show(e: Pick<ProgressEvent, 'vertex' | 'status' | 'text' | 'elapsedMs'>): void {
    switch (e.status) {
      case 'start':
        this.titles.set(e.vertex, e.text);
        return;
      case 'log':
      case 'info': {
        const kept = this.logs.get(e.vertex) ?? [];
        kept.push(e.text);
        // A failing step's last lines are what explain it.
        if (kept.length > 200) kept.shift();
        this.logs.set(e.vertex, kept);
        return;
      }
      case 'cached':
        this.write(`=> CACHED ${this.titles.get(e.vertex) ?? ''}`);
        this.forget(e.vertex);
        return;
      case 'done':
        this.write(`=> ${this.titles.get(e.vertex) ?? ''}  ${seconds(e.elapsedMs)}`);
        this.forget(e.vertex);
        return;
      case 'error':
        this.write(`=> ERROR ${this.titles.get(e.vertex) ?? ''}  ${seconds(e.elapsedMs)}`);
        for (const line of this.logs.get(e.vertex) ?? []) this.write(`   ${line}`);
        this.forget(e.vertex);
        return;
      case 'warning':
        this.write(`WARNING: ${e.text}`);
        return;
    }
  }

  private forget(vertex: number): void {
    this.titles.delete(vertex);
    this.logs.delete(vertex);
  }
}
