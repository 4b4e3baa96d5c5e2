/**
 * In-process keyed locks. The daemon is the only writer of its data root (a pid lock enforces
 * that), so serialising operations per object inside the process is what makes two racing CLI
 * commands end with one winner.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Locks several keys at once, always in sorted order so two callers cannot deadlock. */
  async runAll<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const step = async (i: number): Promise<T> => {
      const key = sorted[i];
      if (key === undefined) return fn();
      return this.run(key, () => step(i + 1));
    };
    return step(0);
  }
}
