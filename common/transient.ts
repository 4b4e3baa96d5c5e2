/**
 * Bytes that pass through the daemon as Buffers made for them and dropped soon after (an image
 * streamed in or out, a layer unpacked). V8 frees a dead Buffer's memory only when it collects
 * the small object that owns it, and it schedules collections by what the JS heap does: streaming
 * 100 MB made it let tens of MB of such Buffers pile up first, and malloc keeps what it grew to.
 * The streams count their bytes here; every TRANSIENT_BYTES, the collector the daemon set (a
 * young-generation collection, a fraction of a millisecond) frees the ones already dropped.
 * Without a collector (the CLI, tests) counting is all it does.
 */
const TRANSIENT_BYTES = 4 << 20;

/**
 * The size of the Buffers a stream of bytes is cut into, in the daemon and in the messages sent
 * to it. glibc's malloc serves 128 kB and more with a mmap of its own, and freeing such a block
 * raises that threshold, and the one below which it keeps freed memory rather than return it
 * (twice the first), to the block's size, for the rest of the process's life: 1 MB chunks made
 * the daemon keep 2-10 MB of freed memory at the top of each of its malloc heaps. Chunks under
 * 128 kB stay under the threshold, and two that a stream joins into one raise it to 240 kB at
 * most (node frees a 256 kB block of its own at start when NODE_EXTRA_CA_CERTS is set).
 */
export const STREAM_CHUNK = 120 << 10;

let collect: (() => void) | undefined;
let counted = 0;

export function setTransientCollector(fn: (() => void) | undefined): void {
  collect = fn;
  counted = 0;
}

export function noteTransientBytes(n: number): void {
  counted += n;
  if (counted < TRANSIENT_BYTES || !collect) return;
  counted = 0;
  collect();
}
