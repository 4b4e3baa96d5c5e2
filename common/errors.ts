/**
 * One error taxonomy for the whole system. Every failure that can reach a user is one of these
 * kinds; the kind is mapped to a gRPC status code only at the edge (see `cmd/` and the daemon's
 * server), and back again in the client, so a message keeps its kind across the wire.
 *
 * Messages are prefixed by their room, e.g. `image store: layer sha256:… truncated`, and are one
 * line: they are printed to the user as they are.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'Conflict'
  | 'Unavailable'
  | 'Internal'
  | 'Cancelled';

export class TsError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = kind;
  }
}

export const notFound = (message: string, cause?: unknown): TsError => new TsError('NotFound', message, { cause });
export const alreadyExists = (message: string, cause?: unknown): TsError =>
  new TsError('AlreadyExists', message, { cause });
export const invalidArgument = (message: string, cause?: unknown): TsError =>
  new TsError('InvalidArgument', message, { cause });
export const failedPrecondition = (message: string, cause?: unknown): TsError =>
  new TsError('FailedPrecondition', message, { cause });
export const conflict = (message: string, cause?: unknown): TsError => new TsError('Conflict', message, { cause });
export const unavailable = (message: string, cause?: unknown): TsError =>
  new TsError('Unavailable', message, { cause });
export const internal = (message: string, cause?: unknown): TsError => new TsError('Internal', message, { cause });
export const cancelled = (message: string, cause?: unknown): TsError => new TsError('Cancelled', message, { cause });

export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof TsError && err.kind === kind;
}

/** The kind of any thrown value: our own errors keep theirs, Node's system errors are mapped. */
export function kindOf(err: unknown): ErrorKind {
  if (err instanceof TsError) return err.kind;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'NotFound';
    case 'EEXIST':
      return 'AlreadyExists';
    case 'EINVAL':
      return 'InvalidArgument';
    case 'EBUSY':
      return 'Conflict';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'Unavailable';
    default:
      return 'Internal';
  }
}

/** A one-line message for any thrown value, with a room prefix added when it has none. */
export function messageOf(err: unknown, room?: string): string {
  let msg: string;
  if (err instanceof Error) msg = err.message;
  else msg = String(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC') msg = `no space left on device: ${msg}`;
  msg = msg.split('\n')[0] ?? msg;
  if (room && !(err instanceof TsError)) msg = `${room}: ${msg}`;
  return msg;
}

/** Re-throws any error as a TsError of the mapped kind, with the room prefix. */
export function wrap(err: unknown, room: string): TsError {
  if (err instanceof TsError) return err;
  return new TsError(kindOf(err), messageOf(err, room), { cause: err });
}
