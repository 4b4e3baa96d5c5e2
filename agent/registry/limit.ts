/** A counting semaphore: at most `n` tasks run at once, the others wait in arrival order. */
export interface Limiter {
  /** Runs `task` when a slot is free; `onQueued` is called when it has to wait for one. */
  run<T>(task: () => Promise<T>, onQueued?: () => void): Promise<T>;
}

export function createLimiter(n: number): Limiter {
  const max = Math.max(1, Math.floor(n));
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    active--;
    const next = waiting.shift();
    if (next) {
      active++;
      next();
    }
  };
  return {
    async run<T>(task: () => Promise<T>, onQueued?: () => void): Promise<T> {
      if (active < max) active++;
      else {
        onQueued?.();
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
