/**
 * Docker's pull/push progress display (its jsonmessage stream). On a terminal each layer has one
 * line, redrawn in place with a bar: `a3ed95caeb02: Downloading [=====>     ]  1.2MB/4.5MB`;
 * any other line is printed below and starts a fresh group of layer lines (as `pull -a` needs).
 * Elsewhere lines are plain text: byte counts are left out (as Docker leaves out bars), and each
 * status of a layer is printed once.
 */
import { humanSize } from './format/units';

export interface ProgressMessage {
  id: string;
  status: string;
  current: number;
  total: number;
}

const ESC = '\x1b[';
const WIDE_TERMINAL = 110;
const FULL_BAR = 50;

export class ProgressDisplay {
  /** Layer ids of the current group, in line order (terminal mode). */
  private lines: string[] = [];
  /** `id\0status` pairs already printed (plain mode). */
  private readonly printed = new Set<string>();

  constructor(
    private readonly out: NodeJS.WritableStream & { columns?: number },
    private readonly terminal: boolean,
  ) {}

  static forStdout(): ProgressDisplay {
    return new ProgressDisplay(process.stdout, process.stdout.isTTY === true);
  }

  show(m: ProgressMessage): void {
    if (!this.terminal) return this.showPlain(m);
    if (!isLayerId(m.id)) {
      this.lines = [];
      this.out.write(plainText(m) + '\n');
      return;
    }
    const line = this.fit(`${m.id}: ${m.status}${progressText(m, this.out.columns ?? 80)}`);
    const index = this.lines.indexOf(m.id);
    if (index === -1) {
      this.lines.push(m.id);
      this.out.write(line + '\n');
      return;
    }
    const up = this.lines.length - index;
    const down = up - 1;
    this.out.write(`${ESC}${up}A\r${ESC}2K${line}\n${down > 0 ? `${ESC}${down}B` : ''}\r`);
  }

  private showPlain(m: ProgressMessage): void {
    if (m.current > 0 || m.total > 0) return;
    if (m.id) {
      const key = `${m.id}\0${m.status}`;
      if (this.printed.has(key)) return;
      this.printed.add(key);
    }
    this.out.write(plainText(m) + '\n');
  }

  /** A wrapped line would throw the in-place redraws off by one. */
  private fit(line: string): string {
    const width = this.out.columns;
    return width && line.length >= width ? line.slice(0, width - 1) : line;
  }
}

function plainText(m: ProgressMessage): string {
  return m.id ? `${m.id}: ${m.status}` : m.status;
}

/** Layer lines carry a short digest; whole-image lines a tag (`latest: Pulling from …`) or nothing. */
function isLayerId(id: string): boolean {
  return /^[a-f0-9]{12}$/.test(id);
}

/** Docker's JSONProgress: ` [====>   ]  1.2MB/4.5MB`, the bar narrowed on a narrow terminal. */
export function progressText(m: Pick<ProgressMessage, 'current' | 'total'>, columns: number): string {
  if (m.current <= 0 && m.total <= 0) return '';
  const current = humanSize(m.current, 4).padStart(8);
  if (m.total <= 0) return ` ${current}`;
  const barWidth = columns > WIDE_TERMINAL ? FULL_BAR : Math.max(10, Math.min(FULL_BAR, columns - 60));
  const filled = Math.min(barWidth, Math.floor((Math.floor((m.current / m.total) * 100) * barWidth) / 100));
  const bar = `[${'='.repeat(filled)}>${' '.repeat(barWidth - filled)}] `;
  return ` ${bar}${current}/${humanSize(m.total, 4)}`;
}
