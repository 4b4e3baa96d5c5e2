/**
 * The edge between our error taxonomy and gRPC status codes. Nothing else in the code base
 * knows about gRPC codes: servers wrap their handlers with `toServiceError`, clients turn what
 * they receive back into a TsError with `fromServiceError`.
 */
import { TsError, kindOf, messageOf, type ErrorKind } from '../errors';

// Numeric values of grpc.status, kept here so this module doesn't load grpc-js.
const CODE_OF_KIND: Record<ErrorKind, number> = {
  Cancelled: 1,
  InvalidArgument: 3,
  NotFound: 5,
  AlreadyExists: 6,
  FailedPrecondition: 9,
  Conflict: 10, // ABORTED
  Internal: 13,
  Unavailable: 14,
};

const KIND_OF_CODE = new Map<number, ErrorKind>(
  Object.entries(CODE_OF_KIND).map(([kind, code]) => [code, kind as ErrorKind]),
);

export interface StatusLike {
  code: number;
  details: string;
  message?: string;
}

export function toServiceError(err: unknown): StatusLike & Error {
  const kind = kindOf(err);
  const details = messageOf(err);
  const e = new Error(details) as Error & StatusLike;
  e.code = CODE_OF_KIND[kind];
  e.details = details;
  return e;
}

export function fromServiceError(err: unknown): TsError {
  if (err instanceof TsError) return err;
  const s = err as Partial<StatusLike> | undefined;
  if (s && typeof s.code === 'number') {
    const kind = KIND_OF_CODE.get(s.code) ?? (s.code === 4 ? 'Unavailable' : 'Internal');
    const details = s.details || s.message || 'unknown error';
    return new TsError(kind, details, { cause: err });
  }
  return new TsError(kindOf(err), messageOf(err), { cause: err });
}
