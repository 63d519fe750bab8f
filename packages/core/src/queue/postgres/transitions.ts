import type { CommandStatus } from '../../command';
import { OutboundError } from '../../errors';
import type { AckItem, FailItem, ReleaseItem, TransitionResult } from '../queue';
import { arrivals, MERGE_HEAD } from './device-head';
import { ATTEMPT_ENDED, delivered, logEvents } from './event-log';
import { isUuid, type QueueContext } from './queue-context';
import { withPgRetry } from './retry';

/**
 * ack / fail / release: one statement per batch (arrays through unnest), one transaction.
 * Each UPDATE matches `status = 'inflight' AND lease_token = <token>` on the newest row
 * version, so a stale holder changes nothing and gets LEASE_LOST. The token stays on the row
 * after the transition, so the same call repeated (a retry after a lost answer) is answered
 * with the state it produced instead of LEASE_LOST; a reclaim clears the token.
 */

interface OutcomeRow {
  id: string;
  wake: boolean;
  new_status: CommandStatus | null;
  old_status: CommandStatus | null;
  same_token: boolean | null;
}

/** Finishes the final SELECT shared by the three transitions: one row per input, in input order. */
const OUTCOME = (ctx: QueueContext): string => `
  SELECT i.id::text AS id, u.status AS new_status, c.status AS old_status, (c.lease_token = i.token) AS same_token, w.wake
  FROM input i LEFT JOIN upd u ON u.id = i.id LEFT JOIN ${ctx.commands} c ON c.id = i.id
  CROSS JOIN woke w
  ORDER BY i.ord`;

/** Whether the transition left a device with claimable work: claimers are told after the COMMIT (CommitNotifier). */
const WAKE = (condition: string): string => `
  , woke AS (SELECT ${condition} AS wake)`;

export async function ackMany(ctx: QueueContext, items: AckItem[]): Promise<TransitionResult[]> {
  return run(ctx, items, (valid) => ({
    sql: `WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bytea[], $5::text[]) WITH ORDINALITY AS t(id, token, outcome, result, replica, ord)
          ), upd AS (
            UPDATE ${ctx.commands} c
            SET status = CASE WHEN i.outcome = 'ok' THEN 'acked' ELSE 'rejected' END,
                result = i.result, lease_expires_at = NULL, finished_at = now(), updated_at = now()
            FROM input i
            WHERE c.id = i.id AND c.status = 'inflight' AND c.lease_token = i.token
            RETURNING c.id, c.phy_id, c.status, c.attempts, i.replica, i.ord
          )${WAKE(`EXISTS (SELECT 1 FROM upd JOIN ${ctx.devices} d USING (phy_id) WHERE d.queued > 0 AND NOT d.offline)`)}
          ${logEvents(ctx, [
            delivered('upd', 'ord'),
            {
              from: 'upd',
              type: `'command.' || status`,
              commandId: 'id',
              phyId: 'phy_id',
              attempt: 'attempts',
              reason: `CASE WHEN status = 'rejected' THEN 'rejected by the device' END`,
              order: 'ord',
            },
          ])}
          ${OUTCOME(ctx)}`,
    params: [
      valid.map((x) => x.id),
      valid.map((x) => x.leaseToken),
      valid.map((x) => x.outcome),
      valid.map((x) => x.result ?? null),
      valid.map((x) => x.replica ?? null),
    ],
  }));
}

export async function failMany(ctx: QueueContext, items: FailItem[]): Promise<TransitionResult[]> {
  const { baseMs, maxMs, jitter } = ctx.backoff;
  return run(ctx, items, (valid) => ({
    // Backoff is backoffDelayMs() in SQL (same formula) so the attempt count read and the
    // delay derived from it come from the same row version, in one round trip.
    sql: `WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bool[], $5::float8[], $9::text[])
              WITH ORDINALITY AS t(id, token, error, retryable, delay_ms, replica, ord)
          ), upd AS (
            UPDATE ${ctx.commands} c
            SET status = CASE WHEN NOT i.retryable THEN 'rejected' WHEN c.expires_at <= now() THEN 'expired'
                              WHEN c.attempts >= c.max_attempts THEN 'dead' ELSE 'queued' END,
                last_error = i.error,
                run_at = now() + make_interval(secs => coalesce(i.delay_ms,
                  round(least($7::float8, $6::float8 * power(2, greatest(0, c.attempts - 1)))
                        * (1 - $8::float8 + $8::float8 * random()))) / 1000.0),
                wait_reason = 'backoff',
                finished_at = CASE WHEN NOT i.retryable OR c.expires_at <= now() OR c.attempts >= c.max_attempts THEN now() END,
                lease_expires_at = NULL, updated_at = now()
            FROM input i
            WHERE c.id = i.id AND c.status = 'inflight' AND c.lease_token = i.token
            RETURNING c.id, c.phy_id, c.status, c.run_at, c.priority, c.seq, c.attempts, i.error, i.replica, i.ord
          ), bumped AS (
            -- The whole device waits for the retry (head-of-line): its later commands stay behind.
            UPDATE ${ctx.devices} d SET queued = d.queued + n.c, retry_at = greatest(d.retry_at, r.retry_at), ${MERGE_HEAD}, updated_at = now()
            FROM ${arrivals('upd', "status = 'queued'")} n
            JOIN (SELECT phy_id, max(run_at) AS retry_at FROM upd WHERE status = 'queued' GROUP BY phy_id) r USING (phy_id)
            WHERE d.phy_id = n.phy_id
          )${WAKE(`EXISTS (SELECT 1 FROM upd WHERE status = 'queued' AND run_at <= now())`)}
          ${logEvents(ctx, [
            delivered('upd', 'ord'),
            {
              from: 'upd',
              type: ATTEMPT_ENDED,
              commandId: 'id',
              phyId: 'phy_id',
              attempt: 'attempts',
              reason: 'error',
              retryAt: `CASE WHEN status = 'queued' THEN run_at END`,
              order: 'ord',
            },
          ])}
          ${OUTCOME(ctx)}`,
    params: [
      valid.map((x) => x.id),
      valid.map((x) => x.leaseToken),
      valid.map((x) => x.error),
      valid.map((x) => x.retryable),
      valid.map((x) => x.retryDelayMs ?? null),
      baseMs,
      maxMs,
      jitter,
      valid.map((x) => x.replica ?? null),
    ],
  }));
}

export async function releaseMany(ctx: QueueContext, items: ReleaseItem[]): Promise<TransitionResult[]> {
  return run(ctx, items, (valid) => ({
    sql: `WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bool[], $4::text[]) WITH ORDINALITY AS t(id, token, offline, reason, ord)
          ), upd AS (
            UPDATE ${ctx.commands} c
            SET status = 'queued', attempts = greatest(0, c.attempts - 1), run_at = now(),
                wait_reason = NULL, last_error = coalesce(i.reason, c.last_error), lease_expires_at = NULL, updated_at = now()
            FROM input i
            WHERE c.id = i.id AND c.status = 'inflight' AND c.lease_token = i.token
            RETURNING c.id, c.phy_id, c.status, c.priority, c.seq, i.offline
          ), bumped AS (
            UPDATE ${ctx.devices} d SET queued = d.queued + n.c, offline = d.offline OR o.offline, ${MERGE_HEAD}, updated_at = now()
            FROM ${arrivals('upd')} n
            JOIN (SELECT phy_id, bool_or(coalesce(offline, false)) AS offline FROM upd GROUP BY phy_id) o USING (phy_id)
            WHERE d.phy_id = n.phy_id
          )${WAKE(`EXISTS (SELECT 1 FROM upd WHERE NOT coalesce(offline, false))`)}
          ${OUTCOME(ctx)}`,
    params: [valid.map((x) => x.id), valid.map((x) => x.leaseToken), valid.map((x) => x.deviceOffline ?? false), valid.map((x) => x.reason ?? null)],
  }));
}

async function run<T extends { id: string; leaseToken: string }>(
  ctx: QueueContext,
  items: T[],
  build: (valid: T[]) => { sql: string; params: unknown[] },
): Promise<TransitionResult[]> {
  // A token that is not a UUID can hold no lease: it goes in as NULL (never matches).
  const valid = items.filter((x) => isUuid(x.id)).map((x) => (isUuid(x.leaseToken) ? x : { ...x, leaseToken: null as unknown as string }));
  const byId = new Map<string, OutcomeRow>();
  if (valid.length > 0) {
    const { sql, params } = build(valid);
    const { rows } = await withPgRetry(() => ctx.pool.query<OutcomeRow>(sql, params));
    for (const row of rows) byId.set(row.id, row);
    if (rows.some((row) => row.wake)) ctx.workReady();
    if (rows.some((row) => row.new_status)) ctx.eventsLogged();
  }
  return items.map((item): TransitionResult => {
    const row = byId.get(item.id.toLowerCase());
    if (row?.new_status) return { id: item.id, ok: true, status: row.new_status };
    if (!row?.old_status) {
      return { id: item.id, ok: false, error: new OutboundError('COMMAND_NOT_FOUND', `no command ${item.id}`) };
    }
    // The same holder repeating its call after the transition (the token stays on the row until
    // the command is claimed again or reclaimed): answer with the state it produced.
    if (row.same_token && row.old_status !== 'inflight') return { id: item.id, ok: true, status: row.old_status };
    return leaseLost(item.id, row.old_status);
  });
}

function leaseLost(id: string, status?: CommandStatus): TransitionResult {
  return {
    id,
    ok: false,
    error: new OutboundError('LEASE_LOST', `the lease on command ${id} expired or was taken by another claimer; its outcome is ignored`, {
      details: { id, ...(status ? { status } : {}) },
    }),
  };
}
