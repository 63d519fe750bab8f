import type { OutboundError } from '../errors';
import { toError } from '../errors';
import { DrainingQueue, unfinishedIn, type DrainingQueueOptions, type IdempotencyLookup } from './draining-queue';
import { ForwardingStore } from './forwarding-store';
import type { EventPage, ReadEventsOptions } from './events';
import type { CommandStore, EnqueueResult, LocalClaimer, StoreEnqueueItem } from './queue';

/**
 * The new store alone while the old one holds nothing, and a DrainingQueue over both from the
 * first check that finds the old store holding a command (queued, scheduled, backing off, parked,
 * in flight or dead) until this process stops. The old store is counted at start (`start()`)
 * and every `checkEveryMs` after: a deployment upgraded without being told still delivers what
 * an earlier release left in the old layout, and what dispatchers not yet rolled keep writing
 * there during a rolling upgrade. Price while the old store is empty: one count of it per
 * interval; nothing on the per-command path.
 *
 * Event cursors: while alone, the new store's cursors are answered as they are (a cursor of a
 * draining dispatcher, `old~new`, continues from its new store's part); once draining, a cursor
 * given out before continues in the new store and in the old store from where its log stood
 * when the drain began.
 */
export class AutoDrainingQueue extends ForwardingStore implements CommandStore {
  private draining: DrainingQueue | null = null;
  private checking: Promise<number> | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly old: CommandStore & IdempotencyLookup,
    readonly next: CommandStore,
    private readonly options: DrainingQueueOptions = {},
  ) {
    super();
    const check = () => void this.oldPending().catch((error: unknown) => this.options.logger?.warn({ err: toError(error) }, 'upgrade check failed'));
    this.timer = setInterval(check, options.checkEveryMs ?? 5_000);
    this.timer.unref();
  }

  /** The first count of the old store, so a dispatcher starting over a layout that holds commands drains it from its first claim. */
  async start(): Promise<void> {
    await this.oldPending().catch((error: unknown) => this.options.logger?.warn({ err: toError(error) }, 'upgrade check failed'));
  }

  /** True from the first check that found the old store holding a command. */
  get upgrading(): boolean {
    return this.draining !== null;
  }

  /** What the old store still holds (the gauge); a count above 0 starts the drain. Concurrent callers share one count. */
  oldPending(): Promise<number> {
    if (this.draining) return this.draining.oldPending();
    this.checking ??= (async () => {
      try {
        const { pending } = await unfinishedIn(this.old);
        if (pending > 0 && !this.draining) {
          const oldEventsFrom = await this.old.eventsHead();
          this.draining ??= new DrainingQueue(this.old, this.next, { ...this.options, oldEventsFrom });
          clearInterval(this.timer);
          // Its first count (begun as it was made) logs the upgrade with what the old store holds.
          await this.draining.oldPending().catch(() => pending);
        }
        return pending;
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }

  private get store(): CommandStore {
    return this.draining ?? this.next;
  }

  protected get target(): CommandStore {
    return this.store;
  }

  newCommandId(phyId: string): string {
    return this.store.newCommandId(phyId);
  }

  enqueueBatch(items: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>> {
    return this.store.enqueueBatch(items);
  }

  async oldestReadyAgeSeconds(): Promise<number | null> {
    return this.store.oldestReadyAgeSeconds ? this.store.oldestReadyAgeSeconds() : null;
  }

  async trimRetained(options?: { quietMs?: number }): Promise<{ retainedBytes: number; trimmed: number } | null> {
    return this.store.trimRetained ? this.store.trimRetained(options) : null;
  }

  /** A claim the new store makes on enqueue is its own (its ack goes to it), draining or not. */
  setLocalClaimer(claimer: LocalClaimer | null): void {
    this.next.setLocalClaimer?.(claimer);
  }

  readEvents(options: ReadEventsOptions): Promise<EventPage> {
    if (this.draining || options.after === null) return this.store.readEvents(options);
    const at = options.after.indexOf('~');
    return this.next.readEvents(at < 0 ? options : { ...options, after: options.after.slice(at + 1) || null });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.checking?.catch(() => undefined);
    await this.store.close();
    if (!this.draining) await this.old.close();
  }
}
