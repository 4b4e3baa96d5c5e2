/**
 * Giving memory back. The daemon moves data as Buffers, whose memory is outside the JS heap and
 * freed only when V8 collects the small objects that own them; V8 schedules its collections by
 * what the JS heap does, not by that memory. Left to itself it let tens of MB of dead Buffers
 * (the chunks of an image being loaded) pile up before a collection, and after a burst of
 * requests it kept its old generation's garbage, 30-50 MB after 200 containers, for as long as
 * the daemon stayed idle, which for a daemon is most of the time. And what malloc got back it
 * keeps (glibc returns only the top of its heaps), so the daemon's size after a burst is set by
 * its peak during it. Hence:
 *
 * - the streams count the bytes of the Buffers they pass on (common/transient), and every few MB
 *   a young-generation collection (a scavenge: a fraction of a millisecond with the daemon's
 *   small new space) frees those already dropped;
 * - the same whenever V8's external memory (Buffers made anywhere else: a pull's downloads, a
 *   push's compression) grew by YOUNG_GARBAGE since its low point, looked at every CHECK_MS from
 *   a request's start or end until it has stayed still for QUIET_MS;
 * - while Buffers stream through (the watch above finds YOUNG_GARBAGE of them), V8's heap growing
 *   factor is raised (STREAMING_GROWTH_PERCENT). V8 counts the Buffer memory allocated since its
 *   last full collection against the old generation's limit, which with the daemon's ~9 MB heap
 *   is ~9 MB away: a 210 MB pull, whose in-flight Buffers swing by more than that, went through
 *   ~35 full collections, each marking the whole heap on the two cores the pull needed (a third
 *   of its CPU time). With the factor raised it takes far fewer, for some more peak RSS (the
 *   Buffers that were promoted before they died wait longer for their collection; figures at
 *   STREAMING_GROWTH_PERCENT);
 * - QUIET_MS after the last request began or ended, the factor back to V8's own, then one full,
 *   compacting collection, which gives the old generation's emptied pages back. A request that
 *   stays open (`events`, `logs -f`) does not hold it off, and nothing runs while the daemon has
 *   nothing to do. The agent's calls from the manager (in process: `up` makes hundreds, begun at
 *   once and answered over seconds) hold it off until they are answered: memory given back
 *   mid-`up` would be taken again a page fault at a time, on cores `up` keeps busy.
 *
 * The collections are V8's `gc()`, which bin/tscompose exposes for the daemon (`--expose-gc`, set
 * before this bundle loads): V8 then installs it in contexts created afterwards, so it is taken
 * from a new context. `gc(true)` is the young-generation collection.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTransientCollector } from '../common/transient';

/** Quiet time after the last request began or ended: longer than the gap between the commands of a script. */
const QUIET_MS = 1000;
const CHECK_MS = 10;
const YOUNG_GARBAGE = 4 << 20;
/**
 * V8's old-generation growing factor while Buffers stream through, in percent above 1 (V8's own
 * is ~1.1-2 for a heap this small): 200 lets the limit reach 3× the old generation. The bench's
 * pull after a push: 400 took 1607 ms at a 167 MB peak RSS (over the 150 MB bound), 200 took
 * 1526 ms at 131 MB; V8's own took 1729 ms.
 */
const STREAMING_GROWTH_PERCENT = 200;

type Gc = (minor?: boolean) => void;

export interface Reclaimer {
  /** A request began or ended: the full collection follows once QUIET_MS passed without another. */
  activity(): void;
  /**
   * A request began that counts as work until its `end` is called: no full collection runs
   * meanwhile. For calls that answer when their work is done, not for those that wait on events.
   */
  begin(): () => void;
  /** The full collection, now. */
  now(): void;
}

/** The daemon's reclaimer; one that does nothing when `gc()` is not exposed (the daemon run some other way than by bin/tscompose). */
export function createReclaimer(quietMs = QUIET_MS): Reclaimer {
  const gc = exposedGc();
  if (!gc) return { activity: () => undefined, begin: () => () => undefined, now: () => undefined };
  setTransientCollector(() => gc(true));
  let quiet: NodeJS.Timeout | undefined;
  let streaming = false;
  /** Requests begun and not ended: their end is activity, which sets the timer again. */
  let working = 0;
  const endStreaming = () => {
    if (!streaming) return;
    streaming = false;
    setFlagsFromString('--heap-growing-percent=0');
  };
  const fullAfter = (delayMs: number) => {
    clearTimeout(quiet);
    quiet = setTimeout(() => {
      if (working > 0) return;
      // The limits V8 sets at this collection are its usual ones again.
      endStreaming();
      compactingGc(gc);
    }, delayMs);
    quiet.unref();
  };
  let poll: NodeJS.Timeout | undefined;
  let low = 0;
  let last = 0;
  let stillSince = 0;
  const watchExternal = () => {
    if (poll) return;
    low = last = getHeapStatistics().external_memory;
    stillSince = Date.now();
    poll = setInterval(() => {
      const now = getHeapStatistics().external_memory;
      if (now !== last) {
        last = now;
        stillSince = Date.now();
      } else if (Date.now() - stillSince > quietMs) {
        clearInterval(poll);
        poll = undefined;
        endStreaming();
        return;
      }
      // What a collection frees is subtracted later, as V8 sweeps: the low point is the base.
      if (now < low) low = now;
      if (now - low < YOUNG_GARBAGE) return;
      if (!streaming) {
        streaming = true;
        setFlagsFromString(`--heap-growing-percent=${STREAMING_GROWTH_PERCENT}`);
      }
      gc(true);
      low = getHeapStatistics().external_memory;
    }, CHECK_MS);
    poll.unref();
  };
  const activity = () => {
    fullAfter(quietMs);
    watchExternal();
  };
  return {
    activity,
    begin: () => {
      working++;
      activity();
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        working--;
        activity();
      };
    },
    now: () => fullAfter(0),
  };
}

/**
 * A full collection that also compacts: V8's own full collections evacuate only its most
 * fragmented pages, and after a burst the old generation keeps tens of MB of pages holding a few
 * live objects each (12 MB live in 40 MB committed after 200 containers went).
 */
function compactingGc(gc: Gc): void {
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/** V8's gc() when the daemon was started with `--expose-gc`, else undefined. */
function exposedGc(): Gc | undefined {
  const fn: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  return typeof fn === 'function' ? (fn as Gc) : undefined;
}
