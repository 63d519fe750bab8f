import type { Pool } from 'pg';
import type { PgListener } from './pg-listener';
import type { QueueContext } from './queue-context';

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

  constructor(
    private readonly ctx: QueueContext,
    private readonly listener: PgListener,
  ) {
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

  /** Milliseconds until the earliest retry or scheduled command is due (database clock), or null. */
  private async nextDueInMs(): Promise<number | null> {
    const { rows } = await this.ctx.pool.query<{ ms: number | null }>(
      `SELECT ceil(extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS ms
       FROM ${this.ctx.commands} WHERE status = 'queued' AND run_at > now()`,
    );
    return rows[0]?.ms ?? null;
  }
}

/**
 * Tells claimers that work may be ready, after the commit that made it so. A NOTIFY inside
 * the writing transaction makes PostgreSQL hold one database-wide lock from the NOTIFY through
 * the COMMIT's WAL flush, so every enqueue and ack commit queued behind the one before
 * (enqueue answers took 1.4 s at 500 commands/s). Instead the statements answer whether they
 * made work ready, and this sends one `pg_notify` outside any transaction: at most one in flight,
 * and one more after it when signals arrived meanwhile, so every commit is followed by a NOTIFY
 * that started after it. This process's own claimers are woken at once, without the round trip.
 * A process that dies between its COMMIT and the NOTIFY leaves the others to their idle timeout.
 */
export class WorkNotifier {
  private sending = false;
  private again = false;

  constructor(
    private readonly pool: Pool,
    private readonly channel: string,
    private readonly local: () => void,
  ) {}

  notify(): void {
    this.local();
    if (this.sending) {
      this.again = true;
      return;
    }
    this.send();
  }

  private send(): void {
    this.sending = true;
    this.again = false;
    this.pool
      .query('SELECT pg_notify($1, $2)', [this.channel, 'work'])
      .catch(() => undefined) // the claimers' idle timeout covers a lost signal
      .finally(() => {
        this.sending = false;
        if (this.again) this.send();
      });
  }
}
