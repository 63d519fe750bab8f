import type { ErrorCode } from '../../errors';
import { OutboundError, toError } from '../../errors';
import { StoreError, type StoreErrorKind } from '../store-errors';

/**
 * SQLSTATEs by what they say about the server (PostgreSQL manual, appendix A). Class 08 is
 * "connection exception" as a whole; the rest are listed one by one.
 */
export const FAILOVER_SQLSTATES: Readonly<Record<string, string>> = {
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '25006': 'read_only_sql_transaction', // a standby after a failover, before the client moved on
};
const TIMEOUT_SQLSTATES: Readonly<Record<string, string>> = {
  '57014': 'query_canceled', // statement_timeout
  '55P03': 'lock_not_available', // lock_timeout
  '25P03': 'idle_in_transaction_session_timeout',
};
/** Class 53 is "insufficient resources"; too_many_connections means no connection, not a full store. */
const TOO_MANY_CONNECTIONS = '53300';

/** Socket errors: the connection is gone or never came. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres and pg-pool report a lost or unobtainable connection without a code. */
const CONNECTION_MESSAGE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|not queryable/i;
const TIMEOUT_MESSAGE = /Query read timeout|statement timeout|canceling statement due to/i;

const COMMIT_UNKNOWN = Symbol('outbound.pgCommitUnknown');

/** Marks an error thrown while COMMIT was on the wire: the transaction may have committed. */
export function markCommitUnknown(error: unknown): unknown {
  if (error && typeof error === 'object') (error as Record<symbol, boolean>)[COMMIT_UNKNOWN] = true;
  return error;
}

/** True for an error markCommitUnknown marked. */
export function isCommitUnknown(error: unknown): boolean {
  return Boolean(error && typeof error === 'object' && (error as Record<symbol, boolean>)[COMMIT_UNKNOWN]);
}

/** What a pg error says about the server, or null when it says nothing about it (a bug, a constraint). */
export function pgErrorKind(error: unknown): Exclude<StoreErrorKind, 'internal'> | null {
  const err = error as { code?: unknown; message?: unknown } | null;
  if (!err || typeof err !== 'object') return null;
  const code = typeof err.code === 'string' ? err.code : '';
  const message = typeof err.message === 'string' ? err.message : '';
  if (code in FAILOVER_SQLSTATES) return 'failover';
  if (code in TIMEOUT_SQLSTATES || TIMEOUT_MESSAGE.test(message)) return 'timeout';
  if (code === TOO_MANY_CONNECTIONS || code.startsWith('08') || CONNECTION_ERRNOS.has(code) || CONNECTION_MESSAGE.test(message)) return 'unreachable';
  if (code.startsWith('53')) return 'full';
  return null;
}

/** A write whose answer can name what it wrote: the ids were chosen before it was sent. */
export interface PgWrite {
  ids: readonly string[];
}

/**
 * The one place PostgreSQL errors become StoreErrors (queue and route registry). Coded errors
 * pass unchanged. A connection that was refused, dropped or shut down answers STORE_UNAVAILABLE
 * (nothing stored: an open transaction rolls back when its connection goes) unless COMMIT itself
 * was on the wire (markCommitUnknown), and a timeout may have let the write through: a write
 * that names its ids then answers OUTCOME_UNKNOWN with them, a read STORE_UNAVAILABLE. Class 53
 * (disk full, out of memory) answers STORE_FULL; anything else INTERNAL.
 */
export function classifyPostgresError(error: unknown, operation: string, write?: PgWrite): OutboundError {
  if (error instanceof OutboundError) return error;
  const cause = toError(error);
  const kind = pgErrorKind(error) ?? 'internal';
  const unknown = write !== undefined && write.ids.length > 0 && (kind === 'timeout' || (kind !== 'full' && kind !== 'internal' && isCommitUnknown(error)));
  let code: ErrorCode;
  if (unknown) code = 'OUTCOME_UNKNOWN';
  else if (kind === 'full') code = 'STORE_FULL';
  else if (kind === 'internal') code = 'INTERNAL';
  else code = 'STORE_UNAVAILABLE';
  const details = unknown ? (write!.ids.length === 1 ? { id: write!.ids[0] } : { ids: [...write!.ids] }) : undefined;
  const outcome = unknown ? '; it may or may not have taken effect' : '';
  return new StoreError('postgres', kind, code, `PostgreSQL ${operation} failed (${kind}${outcome}): ${cause.message}`, { cause: error, details });
}

/** Runs one store call and classifies what it throws. */
export async function classified<T>(operation: string, fn: () => Promise<T>, write?: PgWrite): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw classifyPostgresError(error, operation, write);
  }
}
