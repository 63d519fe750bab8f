import { ReplyError } from 'ioredis';
import { toError } from '../../errors';
import { StoreError } from '../store-errors';

/**
 * Replies with which Redis refuses a command as a whole, before running it: the server is
 * loading its data, is a replica, the cluster is failing over or resharding, or a script is
 * busy, or a script is not loaded (NOSCRIPT). Nothing ran, so the caller may retry after a delay.
 */
const REFUSED_AS_A_WHOLE = /^(LOADING|READONLY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS|BUSY|NOSCRIPT)\b/;
/** Out of memory: with `#!lua` scripts (scripts.ts) Redis refuses a writing script before it runs. */
const OUT_OF_MEMORY = /^OOM\b/;
/**
 * ioredis' own rejections of a command it never wrote: the client refused it up front (offline
 * queue disabled, or this process' liveness probe says the server is not answering).
 * Not MaxRetriesPerRequestError: when the connection drops, ioredis keeps the commands it had
 * written and not yet seen answered to re-send them, and the same flush that gives up on the
 * offline queue rejects those too. Such a command may have run before the server died (a
 * kill -9 after the write reached the AOF), so that error is "may have run" below.
 */
const NOT_SENT_NAMES = new Set(['ClusterAllFailedError']);
const NOT_SENT_MESSAGE = /Stream isn't writeable|enableOfflineQueue options is false|Failed to refresh slots cache|None of startup nodes is available/;
/**
 * The command may have been written and may still run: it timed out (a command in ioredis'
 * offline queue that timed out is still sent after a reconnect), the connection closed with it
 * outstanding (ioredis re-sends unanswered commands after a reconnect), or ioredis gave up
 * reconnecting with it outstanding (MaxRetriesPerRequestError, see NOT_SENT_NAMES).
 */
const MAYBE_SENT_NAMES = new Set(['MaxRetriesPerRequestError']);
const MAYBE_SENT_MESSAGE = /Command timed out|Connection is closed/;

/**
 * The one place that turns what ioredis threw into a StoreError (backend `redis`), for the
 * queue and the route registry alike. A StoreError passes unchanged; callers let their own coded
 * errors (OutboundError) through before asking.
 *
 * - refused as a whole (LOADING, READONLY, CLUSTERDOWN, TRYAGAIN, MASTERDOWN, BUSY): `failover`, STORE_UNAVAILABLE
 * - never sent (client refused up front: no connection, or the liveness probe): `unreachable`, STORE_UNAVAILABLE
 * - OOM: `full`, STORE_FULL
 * - may have run (timed out, connection closed or retries given up while outstanding): `timeout`, STORE_UNAVAILABLE
 *   here; a write that knows its ids answers OUTCOME_UNKNOWN with them (see `outcomeUnknown`)
 * - anything else (a script error, a bug): `internal`, INTERNAL
 */
export function classifyRedisError(error: unknown, operation: string): StoreError {
  if (error instanceof StoreError) return error;
  const err = toError(error);
  const what = `redis ${operation}: ${err.message}`;
  if (err instanceof ReplyError || err.name === 'ReplyError') {
    if (OUT_OF_MEMORY.test(err.message)) return new StoreError('redis', 'full', 'STORE_FULL', `redis is out of memory; nothing was stored (${what})`, { cause: err });
    if (REFUSED_AS_A_WHOLE.test(err.message)) return new StoreError('redis', 'failover', 'STORE_UNAVAILABLE', `redis refused the request as a whole (${what})`, { cause: err });
    return new StoreError('redis', 'internal', 'INTERNAL', `redis refused a queue operation (${what})`, { cause: err });
  }
  if (NOT_SENT_NAMES.has(err.name) || NOT_SENT_MESSAGE.test(err.message)) {
    return new StoreError('redis', 'unreachable', 'STORE_UNAVAILABLE', `redis is unreachable; the request was not sent (${what})`, { cause: err });
  }
  if (MAYBE_SENT_NAMES.has(err.name) || MAYBE_SENT_MESSAGE.test(err.message)) {
    return new StoreError('redis', 'timeout', 'STORE_UNAVAILABLE', `redis did not answer in time (${what})`, { cause: err });
  }
  return new StoreError('redis', 'internal', 'INTERNAL', `unexpected error from redis (${what})`, { cause: err });
}

/**
 * The answer for one command of a write whose outcome is unknown (`timeout`): OUTCOME_UNKNOWN
 * naming the command's id, so the caller can look it up instead of sending it again. It keeps
 * `cause` (the one StoreError of the store call), which is what the store guard counts.
 */
export function outcomeUnknown(cause: StoreError, id: string): StoreError {
  return new StoreError(
    cause.backend,
    cause.kind,
    'OUTCOME_UNKNOWN',
    `the store did not answer in time; command ${id} may or may not be stored: read GET /v1/commands/${id} before sending it again`,
    { cause, details: { id } },
  );
}
