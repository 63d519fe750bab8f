import type { CommandStatus } from '../../command';
import { OutboundError, idempotencyConflict } from '../../errors';
import type { EnqueueResult, StoreEnqueueItem } from '../queue';
import { classifyPostgresError } from './classify-error';
import { writeStatement } from './pool';
import { named, type QueueContext } from './queue-context';
import { withPgRetry } from './retry';

/**
 * The global cap's count (queued + in flight) sums every device row, which costs milliseconds
 * per enqueue (more where dead row versions pile up): it is read at most this often per
 * process, and always when the count is within 10% of the cap.
 */
const PENDING_COUNT_TTL_MS = 1_000;

/** One row of enqueue_commands() (migrations/0006-enqueue-function.sql; latest version with the event log in 0008), in batch order. */
interface Outcome {
  outcome: 'queued' | 'stored' | 'duplicate' | 'conflict' | 'device_full' | 'global_full' | 'lost';
  id: string;
  status: CommandStatus;
  ready: boolean;
  pending: number | null;
}

/**
 * Enqueues a batch in one round trip: enqueue_commands() locks the devices' rows (in phy_id
 * order, so two batches never deadlock), reads counts and existing idempotency keys with a
 * snapshot taken after the locks (so per-device caps are exact), decides each item in batch
 * order, inserts the accepted ones and counts them on their device rows, all in one implicit
 * transaction; claimers are told after it commits (CommitNotifier).
 * Ids come with the items (minted by the queue layer before the first try), so a retry after a
 * lost COMMIT finds its own rows and inserts nothing twice. A repeated idempotency key answers
 * the first command when its fingerprint matches, IDEMPOTENCY_CONFLICT when it does not.
 */
export async function enqueueMany(ctx: QueueContext, inputs: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>> {
  const ids = inputs.map((input) => input.id);
  const all = inputs.map((_, i) => i);
  const known = ctx.pendingCount;
  const exact = known === null || Date.now() - known.at > PENDING_COUNT_TTL_MS || known.value + 2 * all.length >= ctx.globalCap * 0.9;
  const text = `SELECT outcome, id::text AS id, status, ready, pending
           FROM ${ctx.schema.quoted}.enqueue_commands($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`;
  // named: the function keeps its own statements' plans; this keeps the call's
  const query = named('enqueue', text, [
    ids,
    inputs.map((x) => x.phyId),
    inputs.map((x) => x.payload),
    inputs.map((x) => x.priority),
    inputs.map((x) => x.maxAttempts),
    inputs.map((x) => x.ackTimeoutMs),
    inputs.map((x) => x.ttlMs),
    inputs.map((x) => x.idempotencyKey ?? null),
    inputs.map((x) => x.deliverAt ?? null),
    inputs.map((x) => x.fingerprint),
    inputs.map((x) => x.traceContext ?? null),
    ctx.perDeviceCap,
    ctx.globalCap,
    exact ? null : known!.value,
  ]);
  let rows: Outcome[];
  try {
    rows = await withPgRetry(() => writeStatement<Outcome>(ctx.pool, query));
  } catch (error) {
    return outcomeUnknown(error, ids, new Array(inputs.length), all);
  }
  const pending = rows[0]?.pending ?? null;
  if (pending !== null) ctx.pendingCount = { value: pending, at: Date.now() };
  const results = rows.map((row, i) => answer(row, inputs[i]!, ctx));
  const queued = rows.filter((row) => row.outcome === 'queued').length;
  if (ctx.pendingCount && queued > 0) ctx.pendingCount.value += queued;
  if (rows.some((row) => row.ready)) ctx.workReady();
  if (queued > 0) ctx.eventsLogged();
  return results;
}

function answer(row: Outcome, input: StoreEnqueueItem, ctx: QueueContext): EnqueueResult | OutboundError {
  switch (row.outcome) {
    case 'queued':
    case 'stored':
      return { id: row.id, status: row.status, duplicate: false };
    case 'duplicate':
      return { id: row.id, status: row.status, duplicate: true };
    case 'conflict':
      return idempotencyConflict(input.phyId, row.id);
    case 'device_full':
      return full('device', input.phyId, ctx.perDeviceCap);
    case 'global_full':
      return full('global', input.phyId, ctx.globalCap);
    case 'lost':
      // The device row lock serializes enqueues of one device, so an insert that did nothing means
      // a unique conflict we could not foresee: report it rather than claim the command exists.
      // The device counter counts inserted rows only, so it stays exact.
      return new OutboundError('INTERNAL', `command ${row.id} was not stored (conflicting row)`);
  }
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

function full(scope: 'device' | 'global', phyId: string, cap: number): OutboundError {
  const what = scope === 'device' ? `device ${phyId} has ${cap} pending commands (the per-device cap)` : `the queue holds ${cap} pending commands (the global cap)`;
  return new OutboundError('QUEUE_FULL', `${what}; retry later or raise the cap`, { details: { scope, phyId, cap } });
}
