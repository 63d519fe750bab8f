import type { Pool, QueryConfig } from 'pg';
import type { PgListener } from './pg-listener';
import { prepared, type QueueContext } from './queue-context';

/** Named: sent after most commits, so parsed and planned once per connection. */
const NOTIFY_CHANNELS = prepared('notify', "SELECT pg_notify(c, '') FROM unnest($1::text[]) AS c");

/**
 * waitForWork on PostgreSQL: LISTEN on the schema's work channel (enqueue, device online,
 * release, reclaim, ack that unblocks a device), plus a timer for the next retry or schedule
 * coming due (read from the database), plus the caller's fallback timeout for lost signals.
 * A NOTIFY that arrives while nobody waits is remembered, so the gap between an empty claim
 * and the next wait cannot swallow it.
 */
export class WorkSignal {
  private readonly waiters = new Set<() => void>();
  private missed = false;
  private listening: Promise<void> | null = null;
  private closed = false;
  private readonly nextDueQuery: () => QueryConfig;

  constructor(
    private readonly ctx: QueueContext,
    private readonly listener: PgListener,
  ) {
    this.nextDueQuery = prepared('next_due', `SELECT ${ctx.schema.quoted}.next_due_ms() AS ms`);
    listener.onReconnect(() => this.wake());
  }

  /** Starts listening (once); called by claim() so signals are caught from the first empty claim on. */
  arm(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.listening ??= this.listener.subscribe(this.ctx.schema.workChannel, () => this.wake()).then(
      () => undefined,
      () => {
        this.listening = null; // retried on the next arm(); the fallback timer covers meanwhile
      },
    );
    return this.listening;
  }

  async wait(timeoutMs: number, abort?: AbortSignal): Promise<void> {
    if (this.closed || abort?.aborted) return;
    if (this.missed) {
      this.missed = false;
      return;
    }
    // The waiter is registered before anything is awaited, so a NOTIFY that lands while the
    // next-due query runs still ends this wait.
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const ended = new Promise<void>((resolve) => {
      const done = (): void => {
        finished = true;
        clearTimeout(timer);
        this.waiters.delete(done);
        abort?.removeEventListener('abort', done);
        resolve();
      };
      timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      abort?.addEventListener('abort', done, { once: true });
    });
    const started = Date.now();
    void this.arm()
      .then(() => this.nextDueInMs())
      .then((dueInMs) => {
        if (finished || dueInMs === null) return;
        const remaining = timeoutMs - (Date.now() - started);
        if (dueInMs >= remaining) return;
        clearTimeout(timer);
        timer = setTimeout(() => this.wake(), Math.max(0, dueInMs));
      })
      .catch(() => undefined);
    await ended;
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Ends the current wait, or makes the next one return at once (also this process's own writes). */
  wake(): void {
    if (this.waiters.size === 0) {
      this.missed = true;
      return;
    }
    for (const done of [...this.waiters]) done();
  }

  /**
   * Milliseconds until the earliest retry or scheduled command is due (database clock), or null.
   * Only a waiting command (wait_reason set) has a run_at ahead; the index commands_waiting holds
   * just those. Read on every wait: next_due_ms() (migrations/0018-idle-claims-and-waits.sql) keeps
   * its plan per connection, where a plain statement was planned on each call (~6× its server CPU).
   */
  private async nextDueInMs(): Promise<number | null> {
    const { rows } = await this.ctx.pool.query<{ ms: number | null }>(this.nextDueQuery());
    return rows[0]?.ms ?? null;
  }
}

/**
 * Tells other processes what a commit did (work may be ready; events were logged), after the
 * commit. A NOTIFY inside the writing transaction makes PostgreSQL hold one database-wide lock
 * from the NOTIFY through the COMMIT's WAL flush, so every enqueue and ack commit queued behind
 * the one before (enqueue answers took 1.4 s at 500 commands/s). Instead the statements answer
 * what they did, and this sends `pg_notify` outside any transaction: at most one statement in
 * flight, carrying every channel signalled since the last one (a NOTIFY commits like a write, so
 * the work and the events signal of one commit share it), and one more after it when signals
 * arrived meanwhile, so every commit is followed by a NOTIFY that started after it. A channel
 * may also be sent up to `delayMs` late, riding along with the next signal that cannot wait
 * (measured: an events NOTIFY after every ack batch cost ~4 ms of claim p50 in WAL flushes).
 * This process's own listeners are told at once, without the round trip. A process that dies
 * between its COMMIT and the NOTIFY leaves the others to their idle timeout.
 */
export class CommitNotifier {
  private sending = false;
  private timer: NodeJS.Timeout | null = null;
  /** Channels to send, each with how late it may go. */
  private readonly pending = new Map<string, number>();

  /** `local`: per channel, this process's own listeners. */
  constructor(
    private readonly pool: Pool,
    private readonly local: Record<string, () => void>,
  ) {}

  notify(channel: string, delayMs = 0): void {
    this.local[channel]?.();
    this.pending.set(channel, Math.min(delayMs, this.pending.get(channel) ?? delayMs));
    if (!this.sending) this.schedule();
  }

  private schedule(): void {
    if (this.pending.size === 0) return;
    const delayMs = Math.min(...this.pending.values());
    if (delayMs === 0) this.send();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.send(), delayMs);
      this.timer.unref();
    }
  }

  private send(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.sending = true;
    const channels = [...this.pending.keys()];
    this.pending.clear();
    this.pool
      .query(NOTIFY_CHANNELS([channels]))
      .catch(() => undefined) // the waiters' idle timeout covers a lost signal
      .finally(() => {
        this.sending = false;
        this.schedule();
      });
  }
}
