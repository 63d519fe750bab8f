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

  private wake(): void {
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
