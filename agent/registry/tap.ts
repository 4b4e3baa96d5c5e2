/**
 * A blob's bytes handed to a reader while they download, so that a pull unpacks a layer as it
 * arrives instead of reading it back from the store once it is verified. The store stays the
 * source of truth: the download writes its ingest as always, and what the reader made of the
 * bytes is only kept once the store verified the blob (the reader awaits that before publishing).
 *
 * The tap follows one contiguous run of bytes from offset 0. When it cannot (the ingest resumed
 * bytes an earlier pull wrote, the registry restarted a resumed download from 0, another pull
 * already fetches the blob), it is `abandoned`: the reader gets an error and unpacks from the
 * store after the verification instead. The download waits while the reader is more than
 * `highWaterMark` bytes behind, which keeps a pull's memory bounded whatever the network speed.
 *
 * A reader that is done with a piece may give it back (`recycle`): the next piece is filled into
 * it instead of into a new buffer. A pull moves hundreds of megabytes through here, and every
 * fresh buffer counts as external memory that V8 answers with a full garbage collection every
 * few megabytes; recycled pieces keep that to the network's own buffers.
 */
import { TsError } from '../../common/errors';

/** Recycled pieces kept at most: a reader holds two or three at a time. */
const SPARE_PIECES = 4;

export class BlobTap implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  /** Bytes handed to the tap so far. */
  private seen = 0;
  private state: 'waiting' | 'flowing' | 'ended' | 'failed' | 'closed' = 'waiting';
  private failure: Error | undefined;
  /** True when the reader should fall back to the stored blob (as opposed to a failed pull). */
  abandoned = false;
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;
  /** Full pieces handed to the reader, which it may give back. */
  private readonly lent = new WeakSet<Buffer>();
  private readonly spare: Buffer[] = [];

  /**
   * The reader gets the bytes in pieces of `batch` bytes (the last one shorter), joined from the
   * network's 64 KB reads: each piece costs the reader a trip through the thread pool (inflate,
   * file write), and on a loaded machine every trip is a chance to lose the CPU. `highWaterMark`
   * leaves room for a piece being read while the next one gathers.
   */
  constructor(
    private readonly highWaterMark = 2 << 20,
    private readonly batch = 1 << 20,
  ) {}

  /** A download attempt begins at byte `offset` of the blob. */
  start(offset: number): void {
    if (this.state === 'waiting' || this.state === 'flowing') {
      if (offset === this.seen) this.state = 'flowing';
      else this.abandon(`a download resumed at byte ${offset}, not ${this.seen}`);
    }
  }

  /** The next bytes of the blob; resolves when the reader is close enough behind. */
  write(chunk: Buffer): Promise<void> | undefined {
    if (this.state !== 'flowing') return undefined;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.seen += chunk.length;
    if (this.queued >= this.batch) this.wake('reader');
    if (this.queued < this.highWaterMark) return undefined;
    return new Promise<void>((resolve) => (this.wakeWriter = resolve));
  }

  /** Every byte of the blob was written. */
  end(): void {
    if (this.state !== 'flowing') return;
    this.state = 'ended';
    this.wake('reader');
  }

  /** The reader is told to use the stored blob instead. */
  abandon(reason: string): void {
    if (this.state === 'ended' || this.state === 'failed' || this.state === 'closed') return;
    this.abandoned = true;
    this.fail(new TsError('Unavailable', `registry: blob not streamed: ${reason}`));
  }

  /** The reader gets `err` (the pull failed or was cancelled). */
  fail(err: Error): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.state = 'failed';
    this.failure = err;
    this.drop();
  }

  /** The reader is done with the tap (or never came); writes go to the store alone from now on. */
  close(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'failed') this.state = 'closed';
    this.drop();
  }

  private drop(): void {
    this.queue.length = 0;
    this.spare.length = 0;
    this.queued = 0;
    this.wake('reader');
    this.wake('writer');
  }

  /** A piece the reader no longer needs (nothing refers to its bytes any more); others are ignored. */
  recycle(piece: Buffer): void {
    if (!this.lent.delete(piece)) return;
    if (this.state === 'flowing' && this.spare.length < SPARE_PIECES) this.spare.push(piece);
  }

  /** Exactly `batch` queued bytes, copied into a recycled piece when there is one. */
  private takeFull(): Buffer {
    const piece = this.spare.pop() ?? Buffer.allocUnsafe(this.batch);
    let filled = 0;
    while (filled < this.batch) {
      const chunk = this.queue[0]!;
      const take = Math.min(chunk.length, this.batch - filled);
      chunk.copy(piece, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.queue.shift();
      else this.queue[0] = chunk.subarray(take);
    }
    this.queued -= this.batch;
    this.lent.add(piece);
    this.wake('writer');
    return piece;
  }

  private wake(who: 'reader' | 'writer'): void {
    const wake = who === 'reader' ? this.wakeReader : this.wakeWriter;
    if (who === 'reader') this.wakeReader = undefined;
    else this.wakeWriter = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        if (this.state === 'failed') throw this.failure!;
        const done = this.state === 'ended' || this.state === 'closed';
        if (this.queued >= this.batch) {
          yield this.takeFull();
          continue;
        }
        if (done && this.queued > 0) {
          const chunks = this.queue.splice(0);
          const piece = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.queued);
          this.queued = 0;
          this.wake('writer');
          yield piece;
          continue;
        }
        if (done) return;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      if (this.state !== 'ended' || this.queue.length > 0) this.close();
    }
  }
}
