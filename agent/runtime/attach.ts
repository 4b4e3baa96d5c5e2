import { PassThrough, Writable } from 'node:stream';
import { unavailable } from '../../common/errors';
import type { AttachStreams } from './runtime';

/** conmon's stream ids, the first byte of each packet it sends on the attach socket. */
const STREAM_STDOUT = 2;
const STREAM_STDERR = 3;
/** conmon reads at most this much per packet from an attach client. */
const MAX_STDIN_PACKET = 8192;

/**
 * Connects to conmon's attach socket, a SOCK_SEQPACKET unix socket (hence the addon: Node's
 * `net` only speaks SOCK_STREAM). Output arrives as packets `<stream id><bytes>`; stdin is sent
 * as raw packets, and a half-close closes the process's stdin when conmon runs with `--stdin`.
 */
export async function connectAttach(socketPath: string, withStdin: boolean): Promise<AttachStreams> {
  // Loaded on first use: only attach needs the native addon, not every command of the CLI.
  const { SeqpacketSocket } = await import('node-unix-socket');
  return new Promise((resolve, reject) => {
    const sock = new SeqpacketSocket();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let settled = false;
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const finish = () => {
      stdout.end();
      stderr.end();
      resolveClosed();
    };
    sock.on('data', (buf: Buffer) => {
      const payload = buf.subarray(1);
      if (buf[0] === STREAM_STDOUT) stdout.write(payload);
      else if (buf[0] === STREAM_STDERR) stderr.write(payload);
    });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', (err: Error) => {
      if (!settled) {
        settled = true;
        reject(unavailable(`runtime: attach ${socketPath}: ${err.message}`, err));
      }
      finish();
    });
    const stdin = withStdin
      ? new Writable({
          write(chunk: Buffer, _enc, cb) {
            let off = 0;
            const sendNext = (): void => {
              if (off >= chunk.length) return cb();
              const len = Math.min(MAX_STDIN_PACKET, chunk.length - off);
              const start = off;
              off += len;
              try {
                sock.write(chunk, start, len, sendNext);
              } catch (err) {
                cb(err as Error);
              }
            };
            sendNext();
          },
          final(cb) {
            try {
              sock.end(() => cb());
            } catch (err) {
              cb(err as Error);
            }
          },
        })
      : null;
    try {
      sock.connect(socketPath, () => {
        settled = true;
        resolve({
          stdin,
          stdout,
          stderr,
          closed,
          close: () => {
            sock.destroy();
            finish();
          },
        });
      });
    } catch (err) {
      settled = true;
      reject(unavailable(`runtime: attach ${socketPath}: ${(err as Error).message}`, err));
    }
  });
}
