import {
  ackThenClaim, OutboundError, toError,
  type AckItem, type ClaimedCommand, type CommandQueue, type FailItem, type Logger, type ReleaseItem, type TransitionResult,
} from '@outbound/core';

/**
 * The dispatch loop, when an ack call may claim its next commands (the dispatcher's own loop,
 * on a store that claims in its ack script: Redis v3). Asked before each ack call goes out.
 */
export interface AckClaimer {
  /** null, or the room the loop holds for the claim until `settle` (acked: the ids of `items` it holds). */
  offerWithAck(items: readonly AckItem[]): AckClaim | null;
}

export interface AckClaim {
  readonly max: number;
  readonly leaseMs: number;
  /**
   * Called once per offer: with what the call claimed (best first) and true when the store
   * answered the acks, or with none and false when the call failed (the acks are retried).
   * Runs before the acks' `record` promises resolve.
   */
  settle(claimed: ClaimedCommand[], answered: boolean): void;
}

type Kind = 'ack' | 'fail' | 'release';
type ItemOf<K extends Kind> = K extends 'ack' ? AckItem : K extends 'fail' ? FailItem : ReleaseItem;
interface Pending<K extends Kind> {
  item: ItemOf<K>;
  /** Called once with the item's result; a throw is logged and does not touch the other items of its call. */
  resolve: (result: TransitionResult) => void;
}

/** Attempts to record a batch of outcomes before giving up (the lease then expires and the reaper returns the commands). */
const MAX_TRIES = 5;

/**
 * Records outcomes in batches without waiting to fill them (group commit): an outcome goes out
 * with the others answered in the same event-loop turn (a microtask: every answer line of one
 * chunk from the ingress is handed over synchronously, so they still share the call, and the
 * call leaves on this turn instead of after the poll phase's other I/O), one queue call per kind,
 * while fewer than `maxSending` calls are in flight; otherwise it waits for one to finish and
 * goes with everything gathered meanwhile. At low load an ACK is recorded at once; under load
 * one ack call carries hundreds of outcomes (one Redis script per shard instead of hundreds).
 * `flushMs` > 0 waits that long before each flush instead (more batching, more latency).
 * Every `record` resolves with that command's transition result (never rejects).
 */
export class OutcomeRecorder {
  private readonly pending: { ack: Pending<'ack'>[]; fail: Pending<'fail'>[]; release: Pending<'release'>[] } = { ack: [], fail: [], release: [] };
  /** A flushMs timer, 'turn' for a microtask flush (cancelled by setting this back to null), or none. */
  private scheduled: NodeJS.Timeout | 'turn' | null = null;
  private readonly flushing = new Set<Promise<void>>();
  private claimer: AckClaimer | null = null;

  constructor(
    private readonly queue: CommandQueue,
    private readonly logger: Logger,
    private readonly options: { flushMs?: number; maxBatch?: number; maxSending?: number },
  ) {}

  /**
   * Names the loop whose claims may ride on ack calls (null: none). Only for a store whose
   * `ackAndClaim` is one step: elsewhere `ackThenClaim` is an ack and a claim call, no saving.
   */
  setClaimer(claimer: AckClaimer | null): void {
    this.claimer = claimer;
  }

  record<K extends Kind>(kind: K, item: ItemOf<K>): Promise<TransitionResult> {
    return new Promise((resolve) => this.recordThen(kind, item, resolve));
  }

  /**
   * `record` without a promise: `done` is called with the item's result, right after the
   * store answered (and after an ack claim's `settle`), in the order the items were recorded.
   * The dispatch loop records every delivered command this way: a promise and an async frame
   * per command were most of what its outcome bookkeeping allocated.
   */
  recordThen<K extends Kind>(kind: K, item: ItemOf<K>, done: (result: TransitionResult) => void): void {
    (this.pending[kind] as Pending<K>[]).push({ item, resolve: done });
    this.schedule();
  }

  /** Sends everything gathered now, whatever is in flight. */
  flush(): void {
    this.cancelScheduled();
    for (const kind of ['ack', 'fail', 'release'] as const) {
      const all = this.pending[kind];
      this.pending[kind] = [];
      const max = this.options.maxBatch ?? 500;
      for (let i = 0; i < all.length; i += max) this.send(kind, all.slice(i, i + max) as Pending<Kind>[]);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing.size >= (this.options.maxSending ?? 2)) return; // a finishing send reschedules
    const flushMs = this.options.flushMs ?? 0;
    if (flushMs > 0) {
      this.scheduled = setTimeout(() => this.flushScheduled(), flushMs);
      return;
    }
    // setImmediate here waited for the rest of the turn's I/O callbacks and cost 0.3-1 ms per
    // idle outcome (the `record` hop); a microtask still runs after everything this turn's
    // synchronous code recorded.
    this.scheduled = 'turn';
    queueMicrotask(() => {
      if (this.scheduled === 'turn') this.flushScheduled();
    });
  }

  private flushScheduled(): void {
    this.scheduled = null;
    this.flush();
  }

  private cancelScheduled(): void {
    if (!this.scheduled) return;
    if (this.scheduled !== 'turn') clearTimeout(this.scheduled);
    this.scheduled = null;
  }

  private send(kind: Kind, batch: Pending<Kind>[]): void {
    const done = this.sendWithRetries(kind, batch);
    this.flushing.add(done);
    void done.finally(() => {
      this.flushing.delete(done);
      if (this.pending.ack.length + this.pending.fail.length + this.pending.release.length > 0) this.schedule();
    });
  }

  /** Flushes and waits until every recorded outcome has been answered. */
  async drain(): Promise<void> {
    this.flush();
    while (this.flushing.size > 0) await Promise.all([...this.flushing]);
  }

  private async sendWithRetries(kind: Kind, batch: Pending<Kind>[]): Promise<void> {
    const items = batch.map((p) => p.item);
    for (let attempt = 1; ; attempt += 1) {
      // Asked per attempt: a retry claims under a lease that starts with it.
      const claim = kind === 'ack' ? this.claimer?.offerWithAck(items as AckItem[]) ?? null : null;
      try {
        if (claim) {
          let answer;
          try {
            answer = await ackThenClaim(this.queue, items as AckItem[], { max: claim.max, leaseMs: claim.leaseMs });
          } catch (error) {
            claim.settle([], false);
            throw error;
          }
          // The claimed commands reach the loop before the acks' callers run (no gap in which
          // the loop sees the freed room without them and claims it again).
          claim.settle(answer.claimed, true);
          this.answer(batch, answer.results);
          return;
        }
        const results =
          kind === 'ack' ? await this.queue.ack(items as AckItem[])
          : kind === 'fail' ? await this.queue.fail(items as FailItem[])
          : await this.queue.release(items as ReleaseItem[]);
        this.answer(batch, results);
        return;
      } catch (error) {
        if (attempt >= MAX_TRIES) {
          this.logger.error({ err: toError(error), kind, ids: items.map((i) => i.id) }, 'could not record outcomes; their leases will expire and be reclaimed');
          const failure = new OutboundError('STORE_UNAVAILABLE', `recording ${kind} failed: ${toError(error).message}`, { cause: error });
          this.answer(batch, batch.map((p) => ({ id: p.item.id, ok: false, error: failure })));
          return;
        }
        this.logger.warn({ err: toError(error), kind, attempt }, 'recording outcomes failed; retrying');
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  /**
   * Hands each item its result. A callback that throws is logged: the store has taken the
   * call, so the other items still get theirs and nothing is sent again.
   */
  private answer(batch: Pending<Kind>[], results: readonly TransitionResult[]): void {
    for (let i = 0; i < batch.length; i++) {
      try {
        batch[i]!.resolve(results[i]!);
      } catch (error) {
        this.logger.error({ err: toError(error), id: batch[i]!.item.id }, 'handling a recorded outcome failed');
      }
    }
  }
}
