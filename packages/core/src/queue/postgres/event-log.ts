import type { EventDetails, EventPage, EventType, LoggedEvent, OutboundEvent, ReadEventsOptions } from '../events';
import { OutboundError } from '../../errors';
import type { PgListener } from './pg-listener';
import { isUuid, type QueueContext } from './queue-context';
import { ms } from './rows';

/**
 * The event log on PostgreSQL (table `events`, migrations/0008-event-log.sql). Writers log
 * events in the statement that makes the transition (logEvents below; enqueue_commands() and
 * claim_commands() (migrations/0018-idle-claims-and-waits.sql, its latest version) hold their own copies in plain SQL; a trigger on `devices` logs parking).
 *
 * Reading: log order is (xid, id), the writing transaction's id, then the row's. A reader takes
 * only rows of transactions below the horizon: the oldest transaction of this database still
 * running (HORIZON_SQL). Every transaction below it has ended, so no row can later appear behind
 * a position already handed out: a bigserial alone cannot promise that (a lower id may commit
 * after a higher one was read). A cursor is `<xid>-<id>`: the position right after that event.
 */

/** Page size when the caller names none, and the most one page holds. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1_000;
/**
 * How long a read (and eventsHead) waits for transactions still running that began before
 * events already committed: their end lets those events be read. Such transactions usually
 * last milliseconds; a longer one (anywhere in the cluster: transaction ids are cluster-wide)
 * only delays events, the next read gets them.
 */
const HOLD_MAX_MS = 2_000;
const HOLD_POLL_MAX_MS = 50;

/**
 * The horizon, and the snapshot's xmax. pg_snapshot_xmin would do, but it counts the running
 * transactions of every database of the cluster (transaction ids are cluster-wide), so a long
 * one elsewhere would hold this log back; only sessions of this database can write its events.
 * pg_stat_activity shows each session's top-level xid (to every role) as a 32-bit xid: age()
 * turns it into a distance from the next xid, read after the snapshot, so xmax minus it is at or
 * below the session's full xid (the safe side). The snapshot is the statement's, taken before
 * pg_stat_activity is read: a transaction running at it is either still listed, or has ended
 * before the read, so the page query (a later snapshot) sees its rows. Prepared transactions
 * (two-phase commit) are not listed; the queue never writes events in one.
 */
const HORIZON_SQL = `SELECT x.xmax::text AS xmax,
    (x.xmax::text::bigint - coalesce((SELECT max(age(a.backend_xid)) FROM pg_stat_activity a
                                      WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL), 0))::text AS horizon
  FROM (SELECT pg_snapshot_xmax(pg_current_snapshot()) AS xmax) x`;

/** One event a statement logs: SQL expressions over the rows of `from`. */
export interface EventSource {
  /** Rows to log from, e.g. a data-modifying CTE's name. */
  from: string;
  where?: string;
  /** Evaluates to the event type's text, e.g. `'command.acked'`. */
  type: string;
  commandId?: string;
  phyId: string;
  attempt?: string;
  priority?: string;
  retryAt?: string;
  reason?: string;
  replica?: string;
  /** Orders the statement's events (a bigint: input position or seq); sources tie-break in list order. */
  order: string;
}

/**
 * A data-modifying CTE (`, logged AS (...)`) that logs the events of `sources` in the statement
 * that makes the transitions, in order of `order`, then of the sources' list position (delivered
 * before the outcome it led to). Ids follow that order (nextval runs over the sorted rows).
 */
export function logEvents(ctx: QueueContext, sources: EventSource[]): string {
  const rows = sources.map(
    (s, k) => `SELECT (${s.type})::text AS type, (${s.commandId ?? 'NULL'})::uuid AS command_id, (${s.phyId})::text AS phy_id,
                      (${s.attempt ?? 'NULL'})::int AS attempt, (${s.priority ?? 'NULL'})::smallint AS priority,
                      (${s.retryAt ?? 'NULL'})::timestamptz AS retry_at, (${s.reason ?? 'NULL'})::text AS reason,
                      (${s.replica ?? 'NULL'})::text AS replica, (${s.order})::bigint AS o1, ${k} AS o2
               FROM ${s.from} WHERE ${s.where ?? 'true'}`,
  );
  return `
  , logged AS (
    INSERT INTO ${ctx.events} (type, command_id, phy_id, attempt, priority, retry_at, reason, replica)
    SELECT e.type::${ctx.eventType}, e.command_id, e.phy_id, e.attempt, e.priority, e.retry_at, e.reason, e.replica
    FROM (${rows.join('\n    UNION ALL ')}) e ORDER BY e.o1, e.o2
  )`;
}

/** `command.delivered` for each row of `from` that names the replica (columns id, phy_id, attempts, replica). */
export const delivered = (from: string, order: string): EventSource => ({
  from,
  where: 'replica IS NOT NULL',
  type: `'command.delivered'`,
  commandId: 'id',
  phyId: 'phy_id',
  attempt: 'attempts',
  replica: 'replica',
  order,
});

/** The event type of an attempt's end, from the command's new status (queued again: a retry). */
export const ATTEMPT_ENDED = `CASE WHEN status = 'queued' THEN 'command.retrying' ELSE 'command.' || status END`;

interface EventRow {
  xid: string;
  id: string;
  type: EventType;
  time: number;
  command_id: string | null;
  phy_id: string;
  attempt: number | null;
  priority: number | null;
  retry_at: number | null;
  reason: string | null;
  replica: string | null;
}

const EVENT_COLUMNS = `e.xid::text AS xid, e.id::text AS id, e.type::text AS type, ${ms('e.at')} AS time, e.command_id::text AS command_id,
  e.phy_id, e.attempt, e.priority, ${ms('e.retry_at')} AS retry_at, e.reason, e.replica`;

function toEvent(row: EventRow): OutboundEvent {
  const details: EventDetails = {};
  if (row.replica !== null) details.replica = row.replica;
  if (row.reason !== null) details.reason = row.reason;
  if (row.retry_at !== null) details.retryAt = row.retry_at;
  if (row.priority !== null) details.priority = row.priority;
  return {
    id: row.id,
    type: row.type,
    time: row.time,
    ...(row.command_id !== null ? { commandId: row.command_id } : {}),
    phyId: row.phy_id,
    ...(row.attempt !== null ? { attempt: row.attempt } : {}),
    details,
  };
}

const CURSOR = /^(\d{1,20})-(\d{1,19})$/;

function parseCursor(after: string | null): [string, string] {
  if (after === null) return ['0', '0'];
  const m = CURSOR.exec(after);
  if (!m) {
    throw new OutboundError('VALIDATION_FAILED', 'after must be a cursor this event log handed out', {
      details: [{ path: 'after', message: 'not a cursor of this store (expected <xid>-<id>)' }],
    });
  }
  return [m[1]!, m[2]!];
}

const delay = (msToWait: number, abort?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, msToWait);
    abort?.addEventListener('abort', done, { once: true });
  });

/**
 * "Events were logged" as every reader of this process hears it: the schema's events channel
 * (CommitNotifier sends it after each commit that logged events, from any process) and this
 * process's own writes directly. A generation counter instead of a flag: every waiting reader
 * wakes, and a signal that lands between a reader's query and its wait is not lost.
 */
class EventSignal {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private listening: Promise<void> | null = null;

  constructor(
    private readonly listener: PgListener,
    private readonly channel: string,
  ) {
    listener.onReconnect(() => this.bump()); // NOTIFYs sent while the connection was down are lost
  }

  /** Starts listening (once); resolves when LISTEN is up, or failed (retried on the next arm). */
  arm(): Promise<void> {
    this.listening ??= this.listener.subscribe(this.channel, () => this.bump()).then(
      () => undefined,
      () => {
        this.listening = null;
      },
    );
    return this.listening;
  }

  get current(): number {
    return this.generation;
  }

  bump(): void {
    this.generation += 1;
    for (const done of [...this.waiters]) done();
  }

  /** Until a signal after generation `since`, the timeout or the abort. */
  wait(since: number, timeoutMs: number, abort?: AbortSignal): Promise<void> {
    if (this.generation !== since || abort?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        abort?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      abort?.addEventListener('abort', done, { once: true });
    });
  }
}

/** readEvents, eventsHead and commandEvents of the PostgreSQL store. */
export class PostgresEventLog {
  private readonly signal: EventSignal;
  private closed = false;

  constructor(
    private readonly ctx: QueueContext,
    listener: PgListener,
  ) {
    this.signal = new EventSignal(listener, ctx.schema.eventsChannel);
  }

  /** This process logged events (wakes its readers without the NOTIFY round trip). */
  logged(): void {
    this.signal.bump();
  }

  /** Ends every wait: the readers answer what they have. */
  close(): void {
    this.closed = true;
    this.signal.bump();
  }

  async read(options: ReadEventsOptions): Promise<EventPage> {
    const [xid, id] = parseCursor(options.after);
    const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(options.limit ?? DEFAULT_LIMIT)));
    const waitMs = Math.max(0, options.waitMs ?? 0);
    const cursor = options.after ?? '0-0';
    const started = Date.now();
    if (waitMs > 0) await this.signal.arm(); // LISTEN is up before the first read, so no signal falls in between
    let holdPoll = 2;
    for (;;) {
      const since = this.signal.current;
      const { horizon } = await this.horizon();
      const { events, held } = await this.page(xid, id, limit, horizon);
      const elapsed = Date.now() - started;
      // Events committed before this read but behind a transaction still running: wait for it
      // (briefly) so a read right after a write sees the write.
      if (held && events.length < limit && elapsed < Math.max(waitMs, HOLD_MAX_MS) && !options.signal?.aborted && !this.closed) {
        await delay(holdPoll, options.signal);
        holdPoll = Math.min(HOLD_POLL_MAX_MS, holdPoll * 2);
        continue;
      }
      if (events.length > 0 || elapsed >= waitMs || options.signal?.aborted || this.closed) {
        return { events, cursor: events.length > 0 ? events[events.length - 1]!.cursor : cursor };
      }
      await this.signal.wait(since, waitMs - elapsed, options.signal);
    }
  }

  private async horizon(): Promise<{ horizon: string; xmax: string }> {
    const { rows } = await this.ctx.pool.query<{ horizon: string; xmax: string }>(HORIZON_SQL);
    return rows[0]!;
  }

  /** Events after (xid, id) of transactions below the horizon; held: committed ones at or above it wait. */
  private async page(xid: string, id: string, limit: number, horizon: string): Promise<{ events: LoggedEvent[]; held: boolean }> {
    const { rows } = await this.ctx.pool.query<EventRow & { held: boolean }>(
      `WITH s AS (
         SELECT EXISTS (SELECT 1 FROM ${this.ctx.events} h WHERE (h.xid, h.id) > ($1::xid8, $2::bigint) AND h.xid >= $4::xid8) AS held
       )
       SELECT s.held, e.* FROM s LEFT JOIN LATERAL (
         SELECT ${EVENT_COLUMNS} FROM ${this.ctx.events} e
         WHERE (e.xid, e.id) > ($1::xid8, $2::bigint) AND e.xid < $4::xid8
         ORDER BY e.xid, e.id LIMIT $3
       ) e ON true`,
      [xid, id, limit, horizon],
    );
    const events = rows.filter((r) => r.id !== null).map((r): LoggedEvent => ({ ...toEvent(r), cursor: `${r.xid}-${r.id}` }));
    return { events, held: rows[0]?.held ?? false };
  }

  /**
   * `<xmax>-0` of a snapshot once the horizon has passed it (every transaction of this database
   * running at it has ended): all events of transactions below xmax are then before the head,
   * and every later one after it. If one is still running after HOLD_MAX_MS, `<horizon>-0` of
   * the first look: reading from there may repeat a few events logged just before the call,
   * never miss one.
   */
  async head(): Promise<string> {
    const first = await this.horizon();
    const started = Date.now();
    let poll = 2;
    for (let ended = first.horizon === first.xmax; !ended; ) {
      if (Date.now() - started >= HOLD_MAX_MS) return `${first.horizon}-0`;
      await delay(poll);
      poll = Math.min(HOLD_POLL_MAX_MS, poll * 2);
      ended = BigInt((await this.horizon()).horizon) >= BigInt(first.xmax);
    }
    return `${first.xmax}-0`;
  }

  async commandEvents(id: string): Promise<OutboundEvent[] | null> {
    if (!isUuid(id)) return null;
    const { rows } = await this.ctx.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.ctx.events} e WHERE e.command_id = $1 ORDER BY e.xid, e.id`,
      [id],
    );
    if (rows.length > 0) return rows.map(toEvent);
    // No events: a command stored without them (moved in by migrate-queue) has an empty timeline.
    const known = await this.ctx.pool.query(`SELECT 1 FROM ${this.ctx.commands} WHERE id = $1`, [id]);
    return known.rowCount ? [] : null;
  }
}
