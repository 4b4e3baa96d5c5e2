/** Retries `fn` until it stops throwing (an assertion holds), every 150 ms, for at most `ms`. */
export async function until<T>(fn: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw last;
}
