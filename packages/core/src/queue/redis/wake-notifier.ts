import type { RedisClient } from '../../redis/connection';

/**
 * Wakes claimers waiting for work: scripts PUBLISH on the wake channel when work becomes
 * ready (enqueue, ack that frees a device, device online, release, reclaim, replay), with the
 * shard's key prefix as the message, and one subscriber connection per queue resolves every
 * waiter at once and tells the queue which shard changed (`onShard`). A message that arrives
 * while nobody waits is remembered, so the next wait returns at once: a claimer may look for
 * work, find less than it asked for, and only then wait, without losing what was published
 * meanwhile. Retry and schedule due times are not published (nothing runs at that instant):
 * RedisQueue.waitForWork caps the wait at the next due time instead. The caller's timeout
 * covers a lost message.
 */
export class WakeNotifier {
  private subscriber: RedisClient | null = null;
  private starting: Promise<void> | null = null;
  private readonly waiters = new Set<() => void>();
  private missed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
    /** Called per message with the shard prefix it names (or another text from an older script). */
    private readonly onShard: (message: string) => void = () => undefined,
  ) {}

  /** Subscribes once (lazily, on the first wait). */
  start(): Promise<void> {
    this.starting ??= (async () => {
      const subscriber = this.client.duplicate();
      subscriber.on('error', () => undefined); // reconnects on its own; waiters fall back to their timeout
      subscriber.on('message', (channel: string, message: string) => {
        if (channel !== this.channel) return;
        this.onShard(message);
        this.wakeAll();
      });
      this.subscriber = subscriber;
      // The subscriber is ours, the client is the caller's: when the caller closes its client
      // without closing the queue, the subscriber goes too instead of keeping the process alive.
      this.client.once('end', this.onClientEnd);
      await subscriber.subscribe(this.channel);
    })();
    return this.starting;
  }

  /**
   * Registers a waiter now (so a message that arrives while the caller still checks for work
   * is not lost) and answers `wait(ms)`, which resolves on a message, the timeout or abort.
   */
  register(signal?: AbortSignal): { wait(timeoutMs: number): Promise<void>; cancel(): void; woken: boolean } {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const already = this.missed;
    if (already) {
      this.missed = false;
      wake();
    } else {
      this.waiters.add(wake);
    }
    const cancel = (): void => {
      this.waiters.delete(wake);
      wake();
    };
    return {
      cancel,
      /** True when a message arrived since the last wait: nothing to wait for. */
      woken: already,
      wait: async (timeoutMs: number) => {
        if (signal?.aborted) return cancel();
        // Ends when the clock reaches the mark, not before: a Node timer counts from the event
        // loop's cached time, which lags the clock on a busy process, so it can fire early by
        // Date.now() - and a wait capped at a due time would end before that time has come.
        const deadline = Date.now() + Math.max(0, timeoutMs);
        const expire = (): void => {
          const left = deadline - Date.now();
          if (left > 0) timer = setTimeout(expire, left);
          else cancel();
        };
        let timer = setTimeout(expire, Math.max(0, timeoutMs));
        const onAbort = (): void => cancel();
        signal?.addEventListener('abort', onAbort, { once: true });
        try {
          await woken;
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        }
      },
    };
  }

  /** Resolves every current waiter (also used by this process's own enqueues). */
  wakeAll(): void {
    if (this.waiters.size === 0) {
      this.missed = true;
      return;
    }
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  private readonly onClientEnd = (): void => {
    void this.stop();
  };

  async stop(): Promise<void> {
    this.client.off('end', this.onClientEnd);
    this.wakeAll();
    this.missed = false;
    // A start still subscribing would leave its connection open behind us: let it finish first.
    const starting = this.starting;
    this.starting = null;
    if (starting) await starting.catch(() => undefined);
    const subscriber = this.subscriber;
    this.subscriber = null;
    if (subscriber) {
      try {
        await subscriber.quit();
      } catch {
        subscriber.disconnect();
      }
    }
  }
}
