import {
  OutboundError, toError,
  type AckItem, type CommandQueue, type FailItem, type Logger, type ReleaseItem, type TransitionResult,
} from '@outbound/core';

type Kind = 'ack' | 'fail' | 'release';
type ItemOf<K extends Kind> = K extends 'ack' ? AckItem : K extends 'fail' ? FailItem : ReleaseItem;
interface Pending<K extends Kind> {
  item: ItemOf<K>;
  resolve: (result: TransitionResult) => void;
}

/** Attempts to record a batch of outcomes before giving up (the lease then expires and the reaper returns the commands). */
const MAX_TRIES = 5;

/**
 * Gathers outcomes for `flushMs` (or until `maxBatch`) and records each kind with one queue
 * call: one ack call for 100 answers costs one Redis round trip instead of 100. Every
 * `record` resolves with that command's transition result (never rejects).
 */
export class OutcomeRecorder {
  private readonly pending: { ack: Pending<'ack'>[]; fail: Pending<'fail'>[]; release: Pending<'release'>[] } = { ack: [], fail: [], release: [] };
  private timer: NodeJS.Timeout | null = null;
  private readonly flushing = new Set<Promise<void>>();

  constructor(
    private readonly queue: CommandQueue,
    private readonly logger: Logger,
    private readonly options: { flushMs: number; maxBatch?: number; onStoreError?: (operation: string) => void },
  ) {}

  record<K extends Kind>(kind: K, item: ItemOf<K>): Promise<TransitionResult> {
    return new Promise((resolve) => {
      (this.pending[kind] as Pending<K>[]).push({ item, resolve });
      const size = this.pending.ack.length + this.pending.fail.length + this.pending.release.length;
      if (size >= (this.options.maxBatch ?? 200)) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.options.flushMs);
    });
  }

  /** Sends everything gathered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const kind of ['ack', 'fail', 'release'] as const) {
      const batch = this.pending[kind];
      if (batch.length === 0) continue;
      this.pending[kind] = [];
      const done = this.send(kind, batch as Pending<Kind>[]);
      this.flushing.add(done);
      void done.finally(() => this.flushing.delete(done));
    }
  }

  /** Flushes and waits until every recorded outcome has been answered. */
  async drain(): Promise<void> {
    this.flush();
    while (this.flushing.size > 0) await Promise.all([...this.flushing]);
  }

  private async send(kind: Kind, batch: Pending<Kind>[]): Promise<void> {
    const items = batch.map((p) => p.item);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const results =
          kind === 'ack' ? await this.queue.ack(items as AckItem[])
          : kind === 'fail' ? await this.queue.fail(items as FailItem[])
          : await this.queue.release(items as ReleaseItem[]);
        batch.forEach((p, i) => p.resolve(results[i]!));
        return;
      } catch (error) {
        this.options.onStoreError?.(kind);
        if (attempt >= MAX_TRIES) {
          this.logger.error({ err: toError(error), kind, ids: items.map((i) => i.id) }, 'could not record outcomes; their leases will expire and be reclaimed');
          const failure = new OutboundError('STORE_UNAVAILABLE', `recording ${kind} failed: ${toError(error).message}`, { cause: error });
          batch.forEach((p) => p.resolve({ id: p.item.id, ok: false, error: failure }));
          return;
        }
        this.logger.warn({ err: toError(error), kind, attempt }, 'recording outcomes failed; retrying');
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }
}
