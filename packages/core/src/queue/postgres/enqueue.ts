import type { PoolClient } from 'pg';
import { PHY_ID_PATTERN, type CommandStatus, type EnqueueInput } from '../../command';
import { OutboundError } from '../../errors';
import type { EnqueueResult } from '../queue';
import { classifyPostgresError } from './classify-error';
import { inTransaction } from './pool';
import { arrivals, MERGE_HEAD } from './device-head';
import { commandIdFor, type QueueContext } from './queue-context';
import { withPgRetry } from './retry';

/**
 * The global cap's count (queued + in flight) sums every device row, which costs milliseconds
 * per enqueue (more where dead row versions pile up): it is read at most this often per
 * process, and always when the count is within 10% of the cap.
 */
const PENDING_COUNT_TTL_MS = 1_000;

interface Existing {
  id: string;
  key: string | null;
  phy_id: string;
  status: CommandStatus;
}

/**
 * Enqueues a batch in one transaction: lock the devices' rows in phy_id order (so two
 * batches never deadlock), read counts and existing idempotency keys with a fresh snapshot
 * taken after the locks (so per-device caps are exact), decide each item in JS, then insert
 * the accepted ones and bump the device counters in one statement; claimers are told after the
 * COMMIT (WorkNotifier).
 * Ids are chosen before the first try, so a retry after a lost COMMIT finds its own rows
 * and inserts nothing twice.
 */
export async function enqueueMany(ctx: QueueContext, inputs: EnqueueInput[]): Promise<Array<EnqueueResult | OutboundError>> {
  const ids = inputs.map((input) => commandIdFor(String(input.phyId), ctx.shards));
  const results: Array<EnqueueResult | OutboundError | undefined> = inputs.map((input) => invalid(input));
  const valid = inputs.map((_, i) => i).filter((i) => results[i] === undefined);
  if (valid.length === 0) return results as Array<EnqueueResult | OutboundError>;
  const phyIds = [...new Set(valid.map((i) => inputs[i]!.phyId))].sort();
  const keyed = valid.filter((i) => inputs[i]!.idempotencyKey !== undefined);
  const idemOf = (phyId: string, key: string): string => `${phyId}\u0000${key}`;

  return withPgRetry(() =>
    inTransaction(ctx.pool, async (client) => {
      const locked = await client.query<{ phy_id: string; queued: number }>(
        `INSERT INTO ${ctx.devices} (phy_id) SELECT p FROM unnest($1::text[]) AS p ORDER BY p
         ON CONFLICT (phy_id) DO UPDATE SET updated_at = now() RETURNING phy_id, queued`,
        [phyIds],
      );
      const known = ctx.pendingCount;
      const exact = known === null || Date.now() - known.at > PENDING_COUNT_TTL_MS || known.value + 2 * valid.length >= ctx.globalCap * 0.9;
      const counts = await client.query<{ inflight: Record<string, number> | null; global: number | null; existing: Existing[] | null }>(
        `SELECT
           (SELECT json_object_agg(phy_id, n) FROM (SELECT phy_id, count(*)::int AS n FROM ${ctx.commands}
              WHERE status = 'inflight' AND phy_id = ANY($1::text[]) GROUP BY phy_id) x) AS inflight,
           CASE WHEN $5::bool THEN ((SELECT coalesce(sum(queued), 0) FROM ${ctx.devices})
             + (SELECT count(*) FROM ${ctx.commands} WHERE status = 'inflight'))::float8 END AS global,
           -- Two index probes (primary key; commands_idempotency), not one WHERE ... OR ...: the OR
           -- made a sequential scan of every command, retained ones included (3 ms at 20,000 rows).
           (SELECT json_agg(json_build_object('id', id, 'key', idempotency_key, 'phy_id', phy_id, 'status', status))
              FROM (SELECT c.id, c.idempotency_key, c.phy_id, c.status FROM ${ctx.commands} c WHERE c.id = ANY($4::uuid[])
                    UNION
                    SELECT c.id, c.idempotency_key, c.phy_id, c.status FROM ${ctx.commands} c
                    JOIN unnest($2::text[], $3::text[]) AS k(phy_id, idempotency_key)
                      ON c.phy_id = k.phy_id AND c.idempotency_key = k.idempotency_key) e) AS existing`,
        [phyIds, keyed.map((i) => inputs[i]!.phyId), keyed.map((i) => inputs[i]!.idempotencyKey), valid.map((i) => ids[i]), exact],
      );
      const row = counts.rows[0]!;
      if (row.global !== null) ctx.pendingCount = { value: row.global, at: Date.now() };
      const perDevice = new Map(locked.rows.map((r) => [r.phy_id, r.queued + (row.inflight?.[r.phy_id] ?? 0)]));
      const byId = new Map((row.existing ?? []).map((e) => [e.id, e]));
      const byKey = new Map((row.existing ?? []).filter((e) => e.key !== null).map((e) => [idemOf(e.phy_id, e.key!), e]));
      let global = row.global ?? known!.value;
      const accepted: number[] = [];
      for (const i of valid) {
        const input = inputs[i]!;
        const mine = byId.get(ids[i]!);
        if (mine) {
          results[i] = { id: mine.id, status: mine.status, duplicate: false };
          continue;
        }
        const earlier = input.idempotencyKey === undefined ? undefined : byKey.get(idemOf(input.phyId, input.idempotencyKey));
        if (earlier) {
          results[i] = { id: earlier.id, status: earlier.status, duplicate: true };
          continue;
        }
        const deviceCount = perDevice.get(input.phyId) ?? 0;
        if (deviceCount >= ctx.perDeviceCap) {
          results[i] = full('device', input.phyId, ctx.perDeviceCap);
          continue;
        }
        if (global >= ctx.globalCap) {
          results[i] = full('global', input.phyId, ctx.globalCap);
          continue;
        }
        perDevice.set(input.phyId, deviceCount + 1);
        global++;
        accepted.push(i);
        results[i] = { id: ids[i]!, status: 'queued', duplicate: false };
        if (input.idempotencyKey !== undefined) {
          byKey.set(idemOf(input.phyId, input.idempotencyKey), { id: ids[i]!, key: input.idempotencyKey, phy_id: input.phyId, status: 'queued' });
        }
      }
      if (ctx.pendingCount && accepted.length > 0) ctx.pendingCount.value += accepted.length;
      const ready = accepted.length > 0 && (await insertAccepted(ctx, client, accepted.map((i) => ({ id: ids[i]!, input: inputs[i]! })), results, accepted));
      return { results: results as Array<EnqueueResult | OutboundError>, ready };
    }),
  ).then(
    ({ results: answered, ready }) => {
      if (ready) ctx.workReady();
      return answered;
    },
    (error: unknown) => outcomeUnknown(error, ids, results, valid),
  );
}

/**
 * A failed enqueue, classified: when it may have committed (COMMIT lost, or a timeout), each
 * command gets its own OUTCOME_UNKNOWN naming its id, so every caller of a shared batch can
 * look up its own command; otherwise nothing was stored and the call fails as a whole.
 */
function outcomeUnknown(
  error: unknown,
  ids: string[],
  results: Array<EnqueueResult | OutboundError | undefined>,
  valid: number[],
): Array<EnqueueResult | OutboundError> {
  if (classifyPostgresError(error, 'enqueue', { ids }).code !== 'OUTCOME_UNKNOWN') throw classifyPostgresError(error, 'enqueue');
  for (const i of valid) results[i] = classifyPostgresError(error, 'enqueue', { ids: [ids[i]!] });
  return results as Array<EnqueueResult | OutboundError>;
}

async function insertAccepted(
  ctx: QueueContext,
  client: PoolClient,
  items: Array<{ id: string; input: EnqueueInput }>,
  results: Array<EnqueueResult | OutboundError | undefined>,
  positions: number[],
): Promise<boolean> {
  const inserted = await client.query<{ id: string; ready: boolean }>(
    `WITH ins AS (
       INSERT INTO ${ctx.commands} (id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idempotency_key,
                                    status, run_at, wait_reason, expires_at, deliver_at)
       SELECT t.id, t.phy_id, t.payload, t.priority, t.max_attempts, t.ack_timeout_ms, t.ttl_ms, t.idem,
              'queued', greatest(now(), coalesce(to_timestamp(t.deliver_ms / 1000.0), now())),
              CASE WHEN to_timestamp(t.deliver_ms / 1000.0) > now() THEN 'schedule' END,
              now() + make_interval(secs => t.ttl_ms / 1000.0), to_timestamp(t.deliver_ms / 1000.0)
       FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::int[], $5::int[], $6::int[], $7::bigint[], $8::text[], $9::float8[])
            WITH ORDINALITY AS t(id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idem, deliver_ms, ord)
       ORDER BY t.ord
       ON CONFLICT DO NOTHING
       RETURNING id, phy_id, priority, seq, run_at <= now() AS ready
     ), bumped AS (
       UPDATE ${ctx.devices} d SET queued = d.queued + n.c, ${MERGE_HEAD}
       FROM ${arrivals('ins')} n WHERE d.phy_id = n.phy_id
     )
     SELECT id::text, ready FROM ins`,
    [
      items.map((x) => x.id),
      items.map((x) => x.input.phyId),
      items.map((x) => x.input.payload),
      items.map((x) => x.input.priority),
      items.map((x) => x.input.maxAttempts),
      items.map((x) => x.input.ackTimeoutMs),
      items.map((x) => x.input.ttlMs),
      items.map((x) => x.input.idempotencyKey ?? null),
      items.map((x) => x.input.deliverAt ?? null),
    ],
  );
  const done = new Set(inserted.rows.map((r) => r.id));
  const ready = inserted.rows.some((r) => r.ready);
  const lost = items.map((x, k) => ({ ...x, position: positions[k]! })).filter((x) => !done.has(x.id));
  if (lost.length === 0) return ready;
  // The device row lock serializes enqueues of one device, so an insert that did nothing means
  // a unique conflict we could not foresee: report it rather than claim the command exists.
  for (const x of lost) results[x.position] = new OutboundError('INTERNAL', `command ${x.id} was not stored (conflicting row)`);
  // The device counter was bumped only for inserted rows (RETURNING), so it stays exact.
  return ready;
}

function full(scope: 'device' | 'global', phyId: string, cap: number): OutboundError {
  const what = scope === 'device' ? `device ${phyId} has ${cap} pending commands (the per-device cap)` : `the queue holds ${cap} pending commands (the global cap)`;
  return new OutboundError('QUEUE_FULL', `${what}; retry later or raise the cap`, { details: { scope, phyId, cap } });
}

function invalid(input: EnqueueInput): OutboundError | undefined {
  const problems: Array<{ path: string; message: string }> = [];
  if (typeof input.phyId !== 'string' || !PHY_ID_PATTERN.test(input.phyId)) problems.push({ path: 'phyId', message: 'must be 1-64 characters of A-Z a-z 0-9 . _ : -' });
  if (!Number.isInteger(input.priority) || input.priority < 0 || input.priority > 9) problems.push({ path: 'priority', message: 'must be an integer 0-9' });
  if (!Buffer.isBuffer(input.payload)) problems.push({ path: 'payload', message: 'must be bytes' });
  if (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1) problems.push({ path: 'maxAttempts', message: 'must be a positive integer' });
  if (!Number.isFinite(input.ttlMs) || input.ttlMs <= 0) problems.push({ path: 'ttlMs', message: 'must be positive' });
  if (problems.length === 0) return undefined;
  return new OutboundError('VALIDATION_FAILED', `invalid command: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { details: problems });
}
