import type { CommandStatus } from '../../command';
import { OutboundError } from '../../errors';
import type { AckItem, FailItem, ReleaseItem, TransitionResult } from '../queue';
import { classified } from './classify-error';
import { arrivals, MERGE_HEAD } from './device-head';
import { ATTEMPT_ENDED, delivered, logEvents } from './event-log';
import { isUuid, named, type QueueContext } from './queue-context';
import { withPgRetry } from './retry';
import { SerialBatcher } from './serial-batcher';

/**
 * ack / fail / release: one statement per batch (arrays through unnest), one transaction.
 * Each UPDATE matches `status = 'inflight' AND lease_token = <token>` on the newest row
 * version, so a stale holder changes nothing and gets LEASE_LOST. The token stays on the row
 * after the transition, so the same call repeated (a retry after a lost answer) is answered
 * with the state it produced instead of LEASE_LOST; a reclaim clears the token.
 *
 * Each statement is a named (prepared) one: parsed and planned once per connection, where
 * planning it on every call cost more than running a batch of 64. Its
 * generic plan must not depend on the statistics it was built with, so every command is found
 * by one primary-key probe (LATERAL ... LIMIT 1) and updated by its ctid (a TID scan), and
 * device rows are reached through their key: planned per call with a join on id, an ack of 64
 * hash-joined the whole `commands` table (a sequential scan per call). A ctid read in the
 * statement's snapshot that no longer names the row's newest version (changed since by
 * another transaction: a reclaim, a concurrent repeat) matches nothing, and the caller gets
 * LEASE_LOST, as the recheck of status and token would answer.
 */

/** Most outcomes one shared ack, fail or release statement carries; a larger call goes alone. */
const SHARED_MAX = 1_000;

/** The queue's ack, fail and release (PostgresQueue's methods). */
export interface Outcomes {
  ack(items: AckItem[]): Promise<TransitionResult[]>;
  fail(items: FailItem[]): Promise<TransitionResult[]>;
  release(items: ReleaseItem[]): Promise<TransitionResult[]>;
}

/**
 * ack, fail and release as enqueues go: one statement of each kind in flight per queue, calls
 * made while one runs wait for it and then go together in the next (SerialBatcher), each answered
 * with its own results. Each statement pays a transaction, a WAL flush and its fixed cost (~1.2 ms
 * of server CPU for an ack, against ~75 µs per command), so fewer, fuller statements cost less per
 * command (docs/postgres.md, "What a command costs"). What a shared statement throws is
 * classified per call, with the call's own ids.
 */
export function outcomes(ctx: QueueContext): Outcomes {
  return { ack: shared('ack', ctx, ackMany), fail: shared('fail', ctx, failMany), release: shared('release', ctx, releaseMany) };
}

function shared<T extends { id: string }>(
  kind: 'ack' | 'fail' | 'release',
  ctx: QueueContext,
  transition: (ctx: QueueContext, items: T[]) => Promise<TransitionResult[]>,
): (items: T[]) => Promise<TransitionResult[]> {
  const statements = new SerialBatcher((items: T[]) => transition(ctx, items), SHARED_MAX);
  return (items) => (items.length === 0 ? Promise.resolve([]) : classified(kind, () => statements.submit(items), { ids: items.map((i) => i.id) }));
}

interface OutcomeRow {
  id: string;
  wake: boolean;
  new_status: CommandStatus | null;
  old_status: CommandStatus | null;
  same_token: boolean | null;
}

/**
 * The arrays, each read through a scalar subquery: the planner then sizes the input the same
 * whatever the call's batch, so PostgreSQL keeps the generic plan after five calls. Given the
 * arrays directly, a batch of one looked cheaper planned for itself and every call was planned
 * anew (~0.8 ms of server CPU per ack).
 */
const args = (...params: string[]): string => params.map((p) => `(SELECT ${p})`).join(', ');

/**
 * Each input with its command as the statement's snapshot has it: one primary-key probe per input.
 * In device order: the UPDATE below takes them in this order, and a command leaving flight
 * frees its device row in the same order (a row trigger, migrations/0016-busy-devices.sql), the
 * order enqueue_commands() locks device rows in, so the two never wait on each other in a cycle.
 */
const FOUND = (ctx: QueueContext): string => `
  , found AS (
    SELECT i.*, f.tid, f.status AS old_status, f.lease_token AS old_token
    FROM input i LEFT JOIN LATERAL (SELECT c.ctid AS tid, c.status, c.lease_token, c.phy_id FROM ${ctx.commands} c WHERE c.id = i.id LIMIT 1) f ON true
    ORDER BY f.phy_id
  )`;

/**
 * The UPDATE's FROM and WHERE: the row found, in flight under the caller's lease. Status is
 * judged on the version found (the ctid names it; a newer version has another ctid and matches
 * nothing), not on `c.status`: that condition let a plan built on empty tables scan the partial
 * index of every in-flight command for each row instead of taking the TID scan.
 */
const HELD = `FROM found i WHERE c.ctid = i.tid AND i.old_status = 'inflight' AND c.lease_token = i.token`;

/**
 * Finishes the final SELECT shared by the three transitions: one row per input, in input order.
 * An input gets the new status only when its own token made the change: the same command named
 * twice in one batch (its holder's outcome and a late one of an earlier holder, or two callers'
 * outcomes sharing the statement) answers the earlier holder LEASE_LOST, as alone.
 */
const OUTCOME = `
  SELECT i.id::text AS id, u.status AS new_status, i.old_status, (i.old_token = i.token) AS same_token, w.wake
  FROM found i LEFT JOIN upd u ON u.id = i.id AND u.lease_token = i.token
  CROSS JOIN woke w
  ORDER BY i.ord`;

/** Restricts an `UPDATE devices d` to the devices of `source` through the primary key (not a scan of every device). */
const DEVICES_OF = (source: string): string => `d.phy_id = ANY (ARRAY(SELECT phy_id FROM ${source}))`;

/** Whether the transition left a device with claimable work: claimers are told after the COMMIT (CommitNotifier). */
const WAKE = (condition: string): string => `
  , woke AS (SELECT ${condition} AS wake)`;

async function ackMany(ctx: QueueContext, items: AckItem[]): Promise<TransitionResult[]> {
  return run(ctx, 'ack', items, (valid) => ({
    sql: `WITH input AS (
            SELECT * FROM unnest(${args('$1::uuid[]', '$2::uuid[]', '$3::text[]', '$4::bytea[]', '$5::text[]')}) WITH ORDINALITY AS t(id, token, outcome, result, replica, ord)
          )${FOUND(ctx)}, upd AS (
            UPDATE ${ctx.commands} c
            SET status = CASE WHEN i.outcome = 'ok' THEN 'acked' ELSE 'rejected' END,
                result = i.result, lease_expires_at = NULL, finished_at = now(), updated_at = now()
            ${HELD}
            RETURNING c.id, c.phy_id, c.status, c.attempts, c.lease_token, i.replica, i.ord
          )${WAKE(`EXISTS (SELECT 1 FROM upd u CROSS JOIN LATERAL (
                     SELECT 1 FROM ${ctx.devices} d WHERE d.phy_id = u.phy_id AND d.queued > 0 AND NOT d.offline LIMIT 1) x)`)}
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
          ${OUTCOME}`,
    params: [
      valid.map((x) => x.id),
      valid.map((x) => x.leaseToken),
      valid.map((x) => x.outcome),
      valid.map((x) => x.result ?? null),
      valid.map((x) => x.replica ?? null),
    ],
  }));
}

async function failMany(ctx: QueueContext, items: FailItem[]): Promise<TransitionResult[]> {
  const { baseMs, maxMs, jitter } = ctx.backoff;
  return run(ctx, 'fail', items, (valid) => ({
    // Backoff is backoffDelayMs() in SQL (same formula) so the attempt count read and the
    // delay derived from it come from the same row version, in one round trip.
    sql: `WITH input AS (
            SELECT * FROM unnest(${args('$1::uuid[]', '$2::uuid[]', '$3::text[]', '$4::bool[]', '$5::float8[]', '$9::text[]')})
              WITH ORDINALITY AS t(id, token, error, retryable, delay_ms, replica, ord)
          )${FOUND(ctx)}, upd AS (
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
            ${HELD}
            RETURNING c.id, c.phy_id, c.status, c.run_at, c.priority, c.seq, c.attempts, c.lease_token, i.error, i.replica, i.ord
          ), bumped AS (
            -- The whole device waits for the retry (head-of-line): its later commands stay behind.
            UPDATE ${ctx.devices} d SET queued = d.queued + n.c, retry_at = greatest(d.retry_at, r.retry_at), ${MERGE_HEAD}, updated_at = now()
            FROM ${arrivals('upd', "status = 'queued'")} n
            JOIN (SELECT phy_id, max(run_at) AS retry_at FROM upd WHERE status = 'queued' GROUP BY phy_id) r USING (phy_id)
            WHERE d.phy_id = n.phy_id AND ${DEVICES_OF('upd')}
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
          ${OUTCOME}`,
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

async function releaseMany(ctx: QueueContext, items: ReleaseItem[]): Promise<TransitionResult[]> {
  return run(ctx, 'release', items, (valid) => ({
    sql: `WITH input AS (
            SELECT * FROM unnest(${args('$1::uuid[]', '$2::uuid[]', '$3::bool[]', '$4::text[]')}) WITH ORDINALITY AS t(id, token, offline, reason, ord)
          )${FOUND(ctx)}, upd AS (
            UPDATE ${ctx.commands} c
            SET status = 'queued', attempts = greatest(0, c.attempts - 1), run_at = now(),
                wait_reason = NULL, last_error = coalesce(i.reason, c.last_error), lease_expires_at = NULL, updated_at = now()
            ${HELD}
            RETURNING c.id, c.phy_id, c.status, c.priority, c.seq, c.lease_token, i.offline
          ), bumped AS (
            UPDATE ${ctx.devices} d SET queued = d.queued + n.c, offline = d.offline OR o.offline, ${MERGE_HEAD}, updated_at = now()
            FROM ${arrivals('upd')} n
            JOIN (SELECT phy_id, bool_or(coalesce(offline, false)) AS offline FROM upd GROUP BY phy_id) o USING (phy_id)
            WHERE d.phy_id = n.phy_id AND ${DEVICES_OF('upd')}
          )${WAKE(`EXISTS (SELECT 1 FROM upd WHERE NOT coalesce(offline, false))`)}
          ${OUTCOME}`,
    params: [valid.map((x) => x.id), valid.map((x) => x.leaseToken), valid.map((x) => x.deviceOffline ?? false), valid.map((x) => x.reason ?? null)],
  }));
}

async function run<T extends { id: string; leaseToken: string }>(
  ctx: QueueContext,
  kind: 'ack' | 'fail' | 'release',
  items: T[],
  build: (valid: T[]) => { sql: string; params: unknown[] },
): Promise<TransitionResult[]> {
  // A token that is not a UUID can hold no lease: it goes in as NULL (never matches).
  const valid: T[] = [];
  const positions: Array<number | undefined> = items.map((x) => {
    if (!isUuid(x.id)) return undefined;
    valid.push(isUuid(x.leaseToken) ? x : { ...x, leaseToken: null as unknown as string });
    return valid.length - 1;
  });
  // One row per valid input, in input order (OUTCOME): matched by position, not by id, so two
  // inputs naming one command (different holders) each get their own answer.
  let rows: OutcomeRow[] = [];
  if (valid.length > 0) {
    const { sql, params } = build(valid);
    ({ rows } = await withPgRetry(() => ctx.pool.query<OutcomeRow>(named(kind, sql, params))));
    if (rows.some((row) => row.wake)) ctx.workReady();
    if (rows.some((row) => row.new_status)) ctx.eventsLogged();
  }
  return items.map((item, k): TransitionResult => {
    const at = positions[k];
    const row = at === undefined ? undefined : rows[at];
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
