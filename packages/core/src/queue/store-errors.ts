import { OutboundError, type ErrorCode } from '../errors';

/** Which store a failed call went to. */
export type StoreBackend = 'redis' | 'postgres';

/**
 * What went wrong with a store call. Each backend turns what its driver threw into one of
 * these in exactly one function; the layer above counts them once
 * (`outbound_dispatcher_store_errors_total{backend,kind}`) and the API answers from the code.
 *
 * - `unreachable`: no connection; the request never reached the store (STORE_UNAVAILABLE: not stored).
 * - `timeout`: the request may have reached the store and may still run (OUTCOME_UNKNOWN for a
 *   write that names its id; STORE_UNAVAILABLE for a read).
 * - `failover`: the store refused the request as a whole because it is loading, read-only,
 *   failing over or shutting down (STORE_UNAVAILABLE: not stored).
 * - `full`: the store is out of memory or enqueue admission stopped at the high-water mark
 *   (STORE_FULL: not stored).
 * - `internal`: anything else, a bug (INTERNAL).
 */
export type StoreErrorKind = 'unreachable' | 'timeout' | 'failover' | 'full' | 'internal';

/** A store call that failed, classified. Its `code` says what the caller may conclude. */
export class StoreError extends OutboundError {
  readonly backend: StoreBackend;
  readonly kind: StoreErrorKind;

  constructor(backend: StoreBackend, kind: StoreErrorKind, code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(code, message, options);
    this.name = 'StoreError';
    this.backend = backend;
    this.kind = kind;
  }
}

export function isStoreError(value: unknown): value is StoreError {
  return value instanceof StoreError;
}
