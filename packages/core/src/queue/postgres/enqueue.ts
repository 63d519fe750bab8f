import type { PoolClient } from 'pg';
import type { CommandStatus } from '../../command';
import { OutboundError, idempotencyConflict } from '../../errors';
import type { EnqueueResult, StoreEnqueueItem } from '../queue';
import { classifyPostgresError } from './classify-error';
import { inTransaction } from './pool';
import { arrivals, MERGE_HEAD } from './device-head';
import type { QueueContext } from './queue-context';
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
  /** null on rows stored before fingerprints were kept: they answer as duplicates. */
  fingerprint: string | null;
}

/**
 * Enqueues a batch in one transaction: lock the devices' rows in phy_id order (so two
 * batches never deadlock), read counts and existing idempotency keys with a fresh snapshot
 * taken after the locks (so per-device caps are exact), decide each item in JS, then insert
 * the accepted ones and bump the device counters in one statement; claimers are told after the
 * COMMIT (WorkNotifier).
 * Ids come with the items (minted by the queue layer before the first try), so a retry after a
 * lost COMMIT finds its own rows and inserts nothing twice. A repeated idempotency key answers
 * the first command when its fingerprint matches, IDEMPOTENCY_CONFLICT when it does not.
 */
export async function enqueueMany(ctx: QueueContext, inputs: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>> {
  const ids = inputs.map((input) => input.id);
  const results: Array<EnqueueResult | OutboundError | undefined> = new Array(inputs.length);
  const all = inputs.map((_, i) => i);
  const phyIds = [...new Set(all.map((i) => inputs[i]!.phyId))].sort();
  const keyed = all.filter((i) => inputs[i]!.idempotencyKey !== undefined);
  const idemOf = (phyId: string, key: string): string => `${phyId}\u0000${key}`;

  return withPgRetry(() =>
    inTransaction(ctx.pool, async (client) => {
      const locked = await client.query<{ phy_id: string; queued: number }>(
        `INSERT INTO ${ctx.devices} (phy_id) SELECT p FROM unnest($1::text[]) AS p ORDER BY p
         ON CONFLICT (phy_id) DO UPDATE SET updated_at = now() RETURNING phy_id, queued`,
        [phyIds],
      );
      const known = ctx.pendingCount;
      const exact = known === null || Date.now() - known.at > PENDING_COUNT_TTL_MS || known.value + 2 * all.length >= ctx.globalCap * 0.9;
      const counts = await client.query<{ inflight: Record<string, number> | null; global: number | null; existing: Existing[] | null }>(
        `SELECT
           (SELECT json_object_agg(phy_id, n) FROM (SELECT phy_id, count(*)::int AS n FROM ${ctx.commands}
              WHERE status = 'inflight' AND phy_id = ANY($1::text[]) GROUP BY phy_id) x) AS inflight,
           CASE WHEN $5::bool THEN ((SELECT coalesce(sum(queued), 0) FROM ${ctx.devices})
             + (SELECT count(*) FROM ${ctx.commands} WHERE status = 'inflight'))::float8 END AS global,
           -- Two index probes (primary key; commands_idempotency), not one WHERE ... OR ...: the OR
           -- made a sequential scan of every command, retained ones included (3 ms at 20,000 rows).
           (SELECT json_agg(json_build_object('id', id, 'key', idempotency_key, 'phy_id', phy_id, 'status', status,
                                     'fingerprint', idempotency_fingerprint))
              FROM (SELECT c.id, c.idempotency_key, c.phy_id, c.status, c.idempotency_fingerprint FROM ${ctx.commands} c WHERE c.id = ANY($4::uuid[])
                    UNION
                    SELECT c.id, c.idempotency_key, c.phy_id, c.status, c.idempotency_fingerprint FROM ${ctx.commands} c
                    JOIN unnest($2::text[], $3::text[]) AS k(phy_id, idempotency_key)
                      ON c.phy_id = k.phy_id AND c.idempotency_key = k.idempotency_key) e) AS existing`,
        [phyIds, keyed.map((i) => inputs[i]!.phyId), keyed.map((i) => inputs[i]!.idempotencyKey), all.map((i) => ids[i]), exact],
      );
      const row = counts.rows[0]!;
      if (row.global !== null) ctx.pendingCount = { value: row.global, at: Date.now() };
      const perDevice = new Map(locked.rows.map((r) => [r.phy_id, r.queued + (row.inflight?.[r.phy_id] ?? 0)]));
      const byId = new Map((row.existing ?? []).map((e) => [e.id, e]));
      const byKey = new Map((row.existing ?? []).filter((e) => e.key !== null).map((e) => [idemOf(e.phy_id, e.key!), e]));
      let global = row.global ?? known!.value;
      const accepted: number[] = [];
      for (const i of all) {
        const input = inputs[i]!;
        const mine = byId.get(ids[i]!);
        if (mine) {
          results[i] = { id: mine.id, status: mine.status, duplicate: false };
          continue;
        }
        const earlier = input.idempotencyKey === undefined ? undefined : byKey.get(idemOf(input.phyId, input.idempotencyKey));
        if (earlier) {
          results[i] =
            earlier.fingerprint === null || earlier.fingerprint === input.fingerprint
              ? { id: earlier.id, status: earlier.status, duplicate: true }
              : idempotencyConflict(input.phyId, earlier.id);
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
          const keyed = { id: ids[i]!, key: input.idempotencyKey, phy_id: input.phyId, status: 'queued' as const, fingerprint: input.fingerprint };
          byKey.set(idemOf(input.phyId, input.idempotencyKey), keyed);
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
    (error: unknown) => outcomeUnknown(error, ids, results, all),
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
  positions: number[],
): Array<EnqueueResult | OutboundError> {
  if (classifyPostgresError(error, 'enqueue', { ids }).code !== 'OUTCOME_UNKNOWN') throw classifyPostgresError(error, 'enqueue');
  for (const i of positions) results[i] = classifyPostgresError(error, 'enqueue', { ids: [ids[i]!] });
  return results as Array<EnqueueResult | OutboundError>;
}

async function insertAccepted(
  ctx: QueueContext,
  client: PoolClient,
  items: Array<{ id: string; input: StoreEnqueueItem }>,
  results: Array<EnqueueResult | OutboundError | undefined>,
  positions: number[],
): Promise<boolean> {
  const inserted = await client.query<{ id: string; ready: boolean }>(
    `WITH ins AS (
       INSERT INTO ${ctx.commands} (id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idempotency_key,
                                    idempotency_fingerprint, status, run_at, wait_reason, expires_at, deliver_at, trace_context)
       SELECT t.id, t.phy_id, t.payload, t.priority, t.max_attempts, t.ack_timeout_ms, t.ttl_ms, t.idem,
              CASE WHEN t.idem IS NOT NULL THEN t.fingerprint END,
              'queued', greatest(now(), coalesce(to_timestamp(t.deliver_ms / 1000.0), now())),
              CASE WHEN to_timestamp(t.deliver_ms / 1000.0) > now() THEN 'schedule' END,
              now() + make_interval(secs => t.ttl_ms / 1000.0), to_timestamp(t.deliver_ms / 1000.0), t.trace
       FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::int[], $5::int[], $6::int[], $7::bigint[], $8::text[], $9::float8[], $10::text[], $11::text[])
            WITH ORDINALITY AS t(id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idem, deliver_ms, fingerprint, trace, ord)
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
      items.map((x) => x.input.fingerprint),
      items.map((x) => x.input.traceContext ?? null),
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
