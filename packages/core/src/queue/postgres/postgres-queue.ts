import type { EventPage, OutboundEvent, ReadEventsOptions } from '../events';
import type { Pool, QueryConfig } from 'pg';
import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import type {
  AckItem, ClaimedCommand, ClaimOptions, CommandStore, DeadSelector, EnqueueResult, ListCommandsOptions, ListDeadOptions, FailItem, QueueOptions, QueueStats, ReleaseItem, StoreEnqueueItem,
  TransitionResult,
} from '../queue';
import { arrivals, departures, MERGE_HEAD, RECOMPUTE_HEAD } from './device-head';
import { enqueueMany } from './enqueue';
import { ATTEMPT_ENDED, logEvents, PostgresEventLog } from './event-log';
import { PgListener } from './pg-listener';
import { commandIdFor, isUuid, named, prepared, queueContext, type QueueContext } from './queue-context';
import { classified } from './classify-error';
import { deadLetters } from './dead-letters';
import { withPgRetry } from './retry';
import { oldestReadyAgeSeconds } from './oldest-ready';
import { COMMAND_COLUMNS, toClaimedCommand, toStoredCommand, type ClaimRow, type CommandRow } from './rows';
import { schemaName } from './schema-name';
import { SerialBatcher } from './serial-batcher';
import { outcomes, type Outcomes } from './transitions';
import { CommitNotifier, WorkSignal } from './work-signal';

/** Commands one history page examines at most (newest first), whatever its filters match. */
const HISTORY_SCAN_BUDGET = 5_000;

/** Most commands one shared enqueue statement carries (calls made meanwhile wait for the next); a larger call goes alone. */
const ENQUEUE_SHARED_MAX = 1_000;

/** How late an events NOTIFY may go (CommitNotifier), so one carries many commits' events. */
const EVENTS_NOTIFY_DELAY_MS = 25;

/**
 * The PostgreSQL store behind the queue layer (ValidatedQueue checks input first): the same guarantees as the Redis backend, one transaction per
 * transition, times on the database clock (now()). The pool is the caller's; close() leaves it
 * open. Run runMigrations() for the schema (QueueOptions.prefix) before use. Every method fails
 * with a coded error: what the driver throws goes through classifyPostgresError.
 */
export class PostgresQueue implements CommandStore {
  private readonly ctx: QueueContext;
  private readonly claimQuery: (values: unknown[]) => QueryConfig;
  private readonly listener: PgListener;
  private readonly signal: WorkSignal;
  private readonly dead: ReturnType<typeof deadLetters>;
  private readonly events: PostgresEventLog;
  private readonly enqueues: SerialBatcher<StoreEnqueueItem, EnqueueResult | OutboundError>;
  private readonly outcomes: Outcomes;

  constructor(pool: Pool, options: QueueOptions = {}) {
    this.ctx = queueContext(pool, schemaName(options.prefix ?? 'outbound'), options);
    this.claimQuery = prepared('claim', `SELECT * FROM ${this.ctx.schema.quoted}.claim_commands($1, $2, $3)`);
    this.listener = new PgListener(pool);
    this.signal = new WorkSignal(this.ctx, this.listener);
    this.events = new PostgresEventLog(this.ctx, this.listener);
    const { workChannel, eventsChannel } = this.ctx.schema;
    const notifier = new CommitNotifier(pool, { [workChannel]: () => this.signal.wake(), [eventsChannel]: () => this.events.logged() });
    this.ctx.workReady = () => notifier.notify(workChannel);
    // Readers in other processes hear of events up to EVENTS_NOTIFY_DELAY_MS late, or with the next work signal.
    this.ctx.eventsLogged = () => notifier.notify(eventsChannel, EVENTS_NOTIFY_DELAY_MS);
    this.dead = deadLetters(this.ctx);
    this.enqueues = new SerialBatcher((items) => classified('enqueue', () => enqueueMany(this.ctx, items)), ENQUEUE_SHARED_MAX);
    // Outcomes the same way, one statement of each kind in flight (transitions.ts, outcomes()).
    this.outcomes = outcomes(this.ctx);
  }

  /** The schema this queue lives in. */
  get schema(): string {
    return this.ctx.schema.name;
  }

  /** Ids name the device's Redis shard too, so a queue migrated to Redis finds them (queue-context.ts). */
  newCommandId(phyId: string): string {
    return commandIdFor(phyId, this.ctx.shards);
  }

  /**
   * One enqueue statement in flight per queue: calls made while one runs go together in the next
   * (SerialBatcher says why and what it measured), each answered with its own commands' results.
   */
  enqueueBatch(inputs: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>> {
    return inputs.length === 0 ? Promise.resolve([]) : this.enqueues.submit(inputs);
  }

  async claim(options: ClaimOptions): Promise<ClaimedCommand[]> {
    if (!Number.isInteger(options.max) || options.max < 1) throw new OutboundError('VALIDATION_FAILED', 'claim: max must be a positive integer');
    if (!Number.isInteger(options.leaseMs) || options.leaseMs < 1) throw new OutboundError('VALIDATION_FAILED', 'claim: leaseMs must be a positive integer');
    await this.signal.arm(); // LISTEN is up before the first empty claim, so no wake-up falls in between
    // claim_commands() (migrations/0013-claim-function.sql, latest in 0018) plans its statement once per
    // connection (a forced generic plan), not on every call, which cost ~1-2 ms a claim, most of
    // a claim at low load. A generic plan is built from the statistics of the moment and replaced
    // when ANALYZE (autovacuum) refreshes them, so its shape must not depend on them: the claim
    // reaches the rows it updates by ctid, never by a join the planner could turn into a scan
    // of every queued command (seen with a plan built on empty tables: ~5 s per claim of 200 at
    // 10,000 queued). Its commit does not wait for the WAL flush unless it expired commands
    // (migrations/0017-claim-async-commit.sql says why nothing is lost).
    const query = this.claimQuery([options.max, options.leaseMs, this.ctx.maxInFlightPerDevice]);
    const { rows } = await classified('claim', () => withPgRetry(() => this.ctx.pool.query<ClaimRow & { expired: number }>(query)));
    if ((rows[0]?.expired ?? 0) > 0) this.ctx.eventsLogged();
    // one row with no command when the claim only expired commands (claim_commands())
    return rows.filter((row) => row.id !== null).map(toClaimedCommand);
  }

  /**
   * ack, fail and release: one statement of each kind in flight per queue; calls made while one
   * runs wait for it and then go together, each answered with its own results (transitions.ts).
   */
  ack(items: AckItem[]): Promise<TransitionResult[]> {
    return this.outcomes.ack(items);
  }

  fail(items: FailItem[]): Promise<TransitionResult[]> {
    return this.outcomes.fail(items);
  }

  release(items: ReleaseItem[]): Promise<TransitionResult[]> {
    return this.outcomes.release(items);
  }

  markDeviceOffline(phyId: string): Promise<void> {
    return classified('markDeviceOffline', async () => {
      await withPgRetry(() =>
        this.ctx.pool.query(
          `INSERT INTO ${this.ctx.devices} (phy_id, offline) VALUES ($1, true)
           ON CONFLICT (phy_id) DO UPDATE SET offline = true, updated_at = now()`,
          [phyId],
        ),
      );
      this.ctx.eventsLogged(); // device.offline when it was not parked (a trigger on devices logs it)
    });
  }

  markDeviceOnline(phyId: string): Promise<void> {
    return classified('markDeviceOnline', async () => {
      const { rows } = await withPgRetry(() =>
        this.ctx.pool.query<{ queued: number }>(
          `INSERT INTO ${this.ctx.devices} (phy_id, offline) VALUES ($1, false)
           ON CONFLICT (phy_id) DO UPDATE SET offline = false, updated_at = now() RETURNING queued`,
          [phyId],
        ),
      );
      if ((rows[0]?.queued ?? 0) > 0) this.ctx.workReady();
      this.ctx.eventsLogged(); // device.online when it was parked (a trigger on devices logs it)
    });
  }

  listParkedDevices(options: { limit?: number; cursor?: string } = {}): Promise<{ phyIds: string[]; nextCursor: string | null }> {
    return classified('listParkedDevices', async () => {
      const limit = options.limit ?? 1_000;
      const { rows } = await this.ctx.pool.query<{ phy_id: string }>(
        `SELECT phy_id FROM ${this.ctx.devices} WHERE offline AND phy_id > $1 ORDER BY phy_id LIMIT $2`,
        [options.cursor ?? '', limit + 1],
      );
      const page = rows.slice(0, limit).map((r) => r.phy_id);
      return { phyIds: page, nextCursor: rows.length > limit ? page[page.length - 1]! : null };
    });
  }

  reclaimExpired(options: { limit?: number } = {}): Promise<number> {
    return classified('reclaimExpired', async () => {
      // The lease is judged on now(), the database clock; the token is cleared so the old
      // holder's late ack or fail is refused (LEASE_LOST) rather than taken as a repeat.
      const { rows } = await withPgRetry(() =>
        this.ctx.pool.query<{ n: number; woke: boolean | null }>(
          `WITH due AS (
             SELECT id FROM ${this.ctx.commands} WHERE status = 'inflight' AND lease_expires_at <= now()
             ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
           ), upd AS (
             UPDATE ${this.ctx.commands} c
             SET status = CASE WHEN c.expires_at <= now() THEN 'expired' WHEN c.attempts >= c.max_attempts THEN 'dead' ELSE 'queued' END,
                 run_at = now(), wait_reason = NULL, lease_token = NULL, lease_expires_at = NULL,
                 last_error = CASE WHEN c.expires_at <= now() THEN 'lease expired after the TTL passed'
                                   WHEN c.attempts >= c.max_attempts THEN 'lease expired without an outcome (last attempt)'
                                   ELSE 'lease expired without an outcome' END,
                 finished_at = CASE WHEN c.expires_at <= now() OR c.attempts >= c.max_attempts THEN now() END, updated_at = now()
             FROM due WHERE c.id = due.id AND c.status = 'inflight'
             RETURNING c.id, c.phy_id, c.status, c.priority, c.seq, c.attempts, c.last_error
           ), bumped AS (
             UPDATE ${this.ctx.devices} d SET queued = d.queued + n.c, ${MERGE_HEAD}, updated_at = now()
             FROM ${arrivals('upd', "status = 'queued'")} n WHERE d.phy_id = n.phy_id
           )
           ${logEvents(this.ctx, [
             {
               from: 'upd',
               type: ATTEMPT_ENDED,
               commandId: 'id',
               phyId: 'phy_id',
               attempt: 'attempts',
               reason: 'last_error',
               retryAt: `CASE WHEN status = 'queued' THEN now() END`,
               order: 'seq',
             },
           ])}
           SELECT count(*)::int AS n, bool_or(status = 'queued') AS woke FROM upd`,
          [options.limit ?? 1_000],
        ),
      );
      if (rows[0]?.woke) this.ctx.workReady();
      if ((rows[0]?.n ?? 0) > 0) this.ctx.eventsLogged();
      return rows[0]?.n ?? 0;
    });
  }

  expireDue(options: { limit?: number } = {}): Promise<number> {
    return classified('expireDue', async () => {
      const { rows } = await withPgRetry(() =>
        this.ctx.pool.query<{ n: number }>(
          `WITH due AS (
             SELECT id FROM ${this.ctx.commands} WHERE status = 'queued' AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
           ), upd AS (
             UPDATE ${this.ctx.commands} c
             SET status = 'expired', last_error = coalesce(c.last_error, 'ttl expired'), finished_at = now(), updated_at = now()
             FROM due WHERE c.id = due.id AND c.status = 'queued'
             RETURNING c.id, c.phy_id, c.seq
           ), bumped AS (
             UPDATE ${this.ctx.devices} d SET queued = d.queued - n.c, ${RECOMPUTE_HEAD}, updated_at = now()
             FROM ${departures('upd', this.ctx.commands)} n WHERE d.phy_id = n.phy_id
           ), removed AS (
             DELETE FROM ${this.ctx.commands} WHERE id IN (
               SELECT id FROM ${this.ctx.commands}
               WHERE status IN ('acked', 'rejected', 'expired', 'cancelled') AND finished_at < now() - make_interval(secs => $2::float8 / 1000.0)
               LIMIT $1 FOR UPDATE SKIP LOCKED)
           ), pruned AS (
             -- events past retention, oldest first: of the log's first $1 rows (an index range
             -- whatever the log's size), those older than retention
             DELETE FROM ${this.ctx.events} WHERE (xid, id) IN (
               SELECT o.xid, o.id FROM (SELECT xid, id, at FROM ${this.ctx.events} ORDER BY xid, id LIMIT $1) o
               WHERE o.at < now() - make_interval(secs => $2::float8 / 1000.0))
           )
           ${logEvents(this.ctx, [{ from: 'upd', type: `'command.expired'`, commandId: 'id', phyId: 'phy_id', reason: `'ttl passed before delivery'`, order: 'seq' }])}
           SELECT count(*)::int AS n FROM upd`,
          [options.limit ?? 1_000, this.ctx.retentionMs],
        ),
      );
      if ((rows[0]?.n ?? 0) > 0) this.ctx.eventsLogged();
      return rows[0]?.n ?? 0;
    });
  }

  cancel(id: string): Promise<StoredCommand> {
    return classified('cancel', async () => {
      if (!isUuid(id)) throw new OutboundError('COMMAND_NOT_FOUND', `no command ${id}`);
      const { rows } = await withPgRetry(() =>
        this.ctx.pool.query<{ n: number }>(
          `WITH upd AS (
             UPDATE ${this.ctx.commands} SET status = 'cancelled', finished_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'queued' RETURNING id, phy_id
           ), bumped AS (
             UPDATE ${this.ctx.devices} d SET queued = d.queued - n.c, ${RECOMPUTE_HEAD}, updated_at = now()
             FROM ${departures('upd', this.ctx.commands)} n WHERE d.phy_id = n.phy_id
           )
           ${logEvents(this.ctx, [{ from: 'upd', type: `'command.cancelled'`, commandId: 'id', phyId: 'phy_id', order: '0' }])}
           SELECT count(*)::int AS n FROM upd`,
          [id],
        ),
      );
      if (rows[0]?.n === 1) this.ctx.eventsLogged();
      const command = await this.get(id);
      if (!command) throw new OutboundError('COMMAND_NOT_FOUND', `no command ${id}`);
      if (rows[0]?.n !== 1) {
        throw new OutboundError('INVALID_STATE', `command ${id} is ${command.status}; only queued commands can be cancelled`, { details: { id, status: command.status } });
      }
      return command;
    }, { ids: [id] });
  }

  get(id: string): Promise<StoredCommand | null> {
    return classified('get', async () => {
      if (!isUuid(id)) return null;
      // named: read for every status request (and by every wait for an outcome), planned once per connection
      const { rows } = await this.ctx.pool.query<CommandRow>(
        named('get', `SELECT ${COMMAND_COLUMNS} FROM ${this.ctx.commands} c LEFT JOIN ${this.ctx.devices} d USING (phy_id) WHERE c.id = $1`, [id]),
      );
      return rows[0] ? toStoredCommand(rows[0]) : null;
    });
  }

  listDevice(phyId: string, options: { limit?: number } = {}): Promise<StoredCommand[]> {
    return classified('listDevice', async () => {
      // Delivery order: what is in flight, then the line (retries at the head, priority, FIFO).
      const { rows } = await this.ctx.pool.query<CommandRow>(
        `SELECT ${COMMAND_COLUMNS} FROM ${this.ctx.commands} c LEFT JOIN ${this.ctx.devices} d USING (phy_id)
         WHERE c.phy_id = $1 AND c.status IN ('queued', 'inflight')
         ORDER BY (c.status = 'inflight') DESC, c.priority DESC, c.seq
         LIMIT $2`,
        [phyId, options.limit ?? 100],
      );
      return rows.map(toStoredCommand);
    });
  }

  countDevice(phyId: string): Promise<number> {
    return classified('countDevice', async () => {
      const { rows } = await this.ctx.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${this.ctx.commands} WHERE phy_id = $1 AND status IN ('queued', 'inflight')`,
        [phyId],
      );
      return rows[0]?.n ?? 0;
    });
  }

  /** One statement: every queued command of the device cancelled, its head hint recomputed, a `command.cancelled` event each. */
  cancelDevice(phyId: string): Promise<number> {
    return classified('cancelDevice', async () => {
      const { rows } = await withPgRetry(() =>
        this.ctx.pool.query<{ n: number }>(
          `WITH upd AS (
             UPDATE ${this.ctx.commands} SET status = 'cancelled', last_error = 'cancelled by the caller', finished_at = now(), updated_at = now()
             WHERE phy_id = $1 AND status = 'queued' RETURNING id, phy_id, seq
           ), bumped AS (
             UPDATE ${this.ctx.devices} d SET queued = d.queued - n.c, ${RECOMPUTE_HEAD}, updated_at = now()
             FROM ${departures('upd', this.ctx.commands)} n WHERE d.phy_id = n.phy_id
           )
           ${logEvents(this.ctx, [{ from: 'upd', type: `'command.cancelled'`, commandId: 'id', phyId: 'phy_id', order: 'seq' }])}
           SELECT count(*)::int AS n FROM upd`,
          [phyId],
        ),
      );
      return rows[0]?.n ?? 0;
    });
  }

  /**
   * Newest enqueue first (seq descending). One page examines at most HISTORY_SCAN_BUDGET
   * commands, newest first, through the seq index or the device's (phy_id, seq) index, and
   * answers those of them that match: a rare status costs short pages, never a long scan.
   * The cursor is the seq below which the next page starts.
   */
  listCommands(options: ListCommandsOptions = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    return classified('listCommands', async () => {
      const limit = options.limit ?? 100;
      if (options.cursor !== undefined && !/^\d+$/.test(options.cursor)) {
        throw new OutboundError('VALIDATION_FAILED', 'cursor must be the nextCursor of an earlier page', { details: [{ path: 'cursor', message: 'unknown cursor' }] });
      }
      const budget = Math.max(HISTORY_SCAN_BUDGET, limit + 1);
      const { rows } = await this.ctx.pool.query<CommandRow & { low: string | null; examined: number }>(
        `WITH scanned AS MATERIALIZED (
           SELECT c.seq, ($3::text IS NULL OR c.status = $3::text)
                    AND ($4::float8 IS NULL OR c.created_at >= to_timestamp($4::float8 / 1000))
                    AND ($5::float8 IS NULL OR c.created_at < to_timestamp($5::float8 / 1000)) AS hit
           FROM ${this.ctx.commands} c
           WHERE ($1::bigint IS NULL OR c.seq < $1::bigint) AND ($2::text IS NULL OR c.phy_id = $2::text)
           ORDER BY c.seq DESC LIMIT $7
         ), summary AS (SELECT min(seq)::text AS low, count(*)::int AS examined FROM scanned),
         picked AS (SELECT seq FROM scanned WHERE hit ORDER BY seq DESC LIMIT $6)
         SELECT s.low, s.examined, x.* FROM summary s LEFT JOIN LATERAL (
           SELECT ${COMMAND_COLUMNS} FROM ${this.ctx.commands} c LEFT JOIN ${this.ctx.devices} d USING (phy_id)
           WHERE c.seq IN (SELECT seq FROM picked)
         ) x ON true
         ORDER BY x.seq DESC`,
        [options.cursor ?? null, options.phyId ?? null, options.status ?? null, options.since ?? null, options.until ?? null, limit + 1, budget],
      );
      const found = rows.filter((row) => row.id !== null);
      const page = found.slice(0, limit);
      const { low, examined } = rows[0] ?? { low: null, examined: 0 };
      const nextCursor = found.length > limit ? page[page.length - 1]!.seq : examined >= budget ? low : null;
      return { items: page.map(toStoredCommand), nextCursor };
    });
  }

  listDead(options: ListDeadOptions = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    return classified('listDead', () => this.dead.list(options));
  }

  replayDead(selector: DeadSelector): Promise<number> {
    return classified('replayDead', () => this.dead.replay(selector));
  }

  purgeDead(selector: DeadSelector): Promise<number> {
    return classified('purgeDead', () => this.dead.purge(selector));
  }

  stats(): Promise<QueueStats> {
    return classified('stats', async () => {
      const { rows } = await this.ctx.pool.query<{ pending: number; inflight: number; delayed: number; waiting: number; dead: number }>(
        `SELECT
           count(*) FILTER (WHERE c.status = 'queued' AND NOT coalesce(d.offline, false) AND c.run_at <= now())::int AS pending,
           count(*) FILTER (WHERE c.status = 'inflight')::int AS inflight,
           count(*) FILTER (WHERE c.status = 'queued' AND NOT coalesce(d.offline, false) AND c.run_at > now())::int AS delayed,
           count(*) FILTER (WHERE c.status = 'queued' AND coalesce(d.offline, false))::int AS waiting,
           count(*) FILTER (WHERE c.status = 'dead')::int AS dead
         FROM ${this.ctx.commands} c LEFT JOIN ${this.ctx.devices} d USING (phy_id)
         WHERE c.status IN ('queued', 'inflight', 'dead')`,
      );
      const r = rows[0]!;
      const total = { pending: r.pending, inflight: r.inflight, delayed: r.delayed, waitingForDevice: r.waiting, dead: r.dead };
      // PostgreSQL has no shards; one entry keeps the shape the Redis backend reports.
      return { total, shards: [{ shard: 0, ...total }] };
    });
  }

  oldestReadyAgeSeconds(): Promise<number> {
    return classified('oldestReadyAgeSeconds', () => oldestReadyAgeSeconds(this.ctx));
  }

  waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.signal.wait(timeoutMs, signal);
  }

  readEvents(options: ReadEventsOptions): Promise<EventPage> {
    return classified('readEvents', () => this.events.read(options));
  }

  eventsHead(): Promise<string> {
    return classified('eventsHead', () => this.events.head());
  }

  commandEvents(id: string): Promise<OutboundEvent[] | null> {
    return classified('commandEvents', () => this.events.commandEvents(id));
  }

  async close(): Promise<void> {
    this.signal.close();
    this.events.close();
    await this.listener.close();
  }
}
