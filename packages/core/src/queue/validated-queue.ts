import type { EventPage, ReadEventsOptions } from './events';
import { checkEnqueueInput, enqueueFingerprint, type EnqueueInput } from '../command';
import { OutboundError } from '../errors';
import { ForwardingStore } from './forwarding-store';
import type { CommandQueue, CommandStore, EnqueueOptions, EnqueueResult, LocalClaimer, StoreEnqueueItem } from './queue';

/** Every key of StoreEnqueueItem, each required: an item literal typed with it fails to compile when the item type gains a field it does not set. */
type EveryItemField = { [K in keyof Required<StoreEnqueueItem>]: StoreEnqueueItem[K] };

/**
 * The store's item, field by field: every item has the same keys in the same order (absent
 * optional fields are undefined, which every store reads as absent), so the stores' reads of
 * them see one object shape. Spreading the input instead copied its keys by enumeration, into
 * as many shapes as inputs had optional fields; per command in a 500-item batch, measured interleaved with a store that answers at once: 4.2 → 0.16 µs (medians of three).
 */
function storeItem(input: EnqueueInput, id: string): StoreEnqueueItem {
  return {
    phyId: input.phyId,
    payload: input.payload,
    priority: input.priority,
    ttlMs: input.ttlMs,
    ackTimeoutMs: input.ackTimeoutMs,
    maxAttempts: input.maxAttempts,
    idempotencyKey: input.idempotencyKey,
    deliverAt: input.deliverAt,
    traceContext: input.traceContext,
    id,
    // Only a repeated key compares fingerprints: a command without one needs none.
    fingerprint: input.idempotencyKey === undefined ? '' : enqueueFingerprint(input),
  } satisfies EveryItemField;
}

/**
 * The queue every caller uses, in front of a store backend: it checks each command against the
 * one schema (command/schema.ts), mints its id through the store (Redis ids carry their shard)
 * and, for a command with an idempotency key, its fingerprint, then hands the store only what
 * may be stored. A bad item answers VALIDATION_FAILED in its own slot and never reaches the
 * store. Inputs the API has just parsed (`{ checked: true }`) are not checked twice. Every
 * other operation is the store's own. Cost: ~5 us for the check and ~2-3.5 us for the
 * fingerprint per command (100,000 commands of 64 bytes, one core).
 */
export class ValidatedQueue<S extends CommandStore = CommandStore> extends ForwardingStore implements CommandQueue {
  constructor(readonly store: S) {
    super();
  }

  protected get target(): CommandStore {
    return this.store;
  }

  async enqueue(input: EnqueueInput, options?: EnqueueOptions): Promise<EnqueueResult> {
    const [result] = await this.enqueueBatch([input], options);
    if (result instanceof OutboundError) throw result;
    return result!;
  }

  async enqueueBatch(inputs: EnqueueInput[], options?: EnqueueOptions): Promise<Array<EnqueueResult | OutboundError>> {
    const results: Array<EnqueueResult | OutboundError> = new Array(inputs.length);
    const items: StoreEnqueueItem[] = [];
    const positions: number[] = [];
    const checked = options?.checked === true;
    for (let index = 0; index < inputs.length; index++) {
      const input = inputs[index]!;
      const invalid = checked ? null : checkEnqueueInput(input);
      if (invalid) {
        results[index] = invalid;
        continue;
      }
      items.push(storeItem(input, this.store.newCommandId(input.phyId)));
      positions.push(index);
    }
    if (items.length > 0) {
      const stored = await this.store.enqueueBatch(items);
      for (let k = 0; k < stored.length; k++) results[positions[k]!] = stored[k]!;
    }
    return results;
  }

  /** null when the store does not answer it (then no age is exported). */
  oldestReadyAgeSeconds(): Promise<number | null> {
    return this.store.oldestReadyAgeSeconds ? this.store.oldestReadyAgeSeconds() : Promise.resolve(null);
  }

  trimRetained(options?: { quietMs?: number }): Promise<{ retainedBytes: number; trimmed: number } | null> {
    return this.store.trimRetained ? this.store.trimRetained(options) : Promise.resolve(null);
  }

  setLocalClaimer(claimer: LocalClaimer | null): void {
    this.store.setLocalClaimer?.(claimer);
  }

  readEvents(options: ReadEventsOptions): Promise<EventPage> {
    return this.store.readEvents(options);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
