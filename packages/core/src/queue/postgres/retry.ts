import { toError } from '../../errors';

/**
 * The only errors worth running a whole transaction again for. Everything else (a
 * constraint, a syntax error, a statement timeout) fails the same way the second time.
 */
export const RETRYABLE_SQLSTATES: Readonly<Record<string, string>> = {
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '08000': 'connection_exception',
  '08003': 'connection_does_not_exist',
  '08006': 'connection_failure',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
};

/** Node-level socket errors that mean the connection went away before an answer. */
const CONNECTION_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN']);

/** True for a serialization failure, a deadlock or a lost connection. */
export function isRetryablePgError(error: unknown): boolean {
  const err = error as { code?: unknown; message?: unknown } | null;
  if (!err || typeof err !== 'object') return false;
  if (typeof err.code === 'string' && (err.code in RETRYABLE_SQLSTATES || CONNECTION_ERRNOS.has(err.code))) return true;
  // node-postgres reports a socket closed mid-query without a code.
  return typeof err.message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(err.message);
}

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  attempts?: number;
  /** First delay; doubles each time, with full jitter. Default 20 ms. */
  baseMs?: number;
  maxMs?: number;
}

/**
 * Runs `fn` (one whole transaction) again after a retryable error, with jittered exponential
 * backoff so colliding transactions do not collide again in lockstep. Callers make `fn` safe
 * to repeat (ids chosen before the first try, transitions checked against the current state),
 * because after a lost connection the first try may have committed.
 */
export async function withPgRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const baseMs = options.baseMs ?? 20;
  const maxMs = options.maxMs ?? 1_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !isRetryablePgError(error)) throw toError(error);
      const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)));
    }
  }
}
