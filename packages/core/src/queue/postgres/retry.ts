import { FAILOVER_SQLSTATES, isCommitUnknown, markCommitUnknown, pgErrorKind } from './classify-error';

/**
 * The only errors worth running a whole transaction again for: a transaction conflict, and
 * what classifyPostgresError calls `unreachable` or `failover` (class 08, these shutdown codes,
 * a refused or dropped socket), where the next connection may well work. Everything else (a
 * constraint, a syntax error, a statement timeout, a full disk) fails the same way the second time.
 */
export const RETRYABLE_SQLSTATES: Readonly<Record<string, string>> = {
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '08000': 'connection_exception',
  '08001': 'sqlclient_unable_to_establish_sqlconnection',
  '08003': 'connection_does_not_exist',
  '08004': 'sqlserver_rejected_establishment_of_sqlconnection',
  '08006': 'connection_failure',
  ...FAILOVER_SQLSTATES,
};

/** True for a serialization failure, a deadlock or a lost connection. */
export function isRetryablePgError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in RETRYABLE_SQLSTATES) return true;
  const kind = pgErrorKind(error);
  return kind === 'unreachable' || kind === 'failover';
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
 * because after a lost connection the first try may have committed. When every try fails and
 * one of them lost its connection during COMMIT, the error thrown says so (isCommitUnknown),
 * whatever the last try failed with.
 */
export async function withPgRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const baseMs = options.baseMs ?? 20;
  const maxMs = options.maxMs ?? 1_000;
  let commitUnknown = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      commitUnknown ||= isCommitUnknown(error);
      if (attempt >= attempts || !isRetryablePgError(error)) {
        // Rethrown as thrown, code and all: classifyPostgresError reads it.
        if (commitUnknown) markCommitUnknown(error);
        throw error;
      }
      const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)));
    }
  }
}
