import type { EventPage, OutboundEvent, ReadEventsOptions } from './events';
import { checkEnqueueInput, enqueueFingerprint, type EnqueueInput, type StoredCommand } from '../command';
import { OutboundError } from '../errors';
import type {
  AckItem, ClaimedCommand, ClaimOptions, CommandQueue, CommandStore, DeadSelector, EnqueueOptions, EnqueueResult, ListCommandsOptions, ListDeadOptions, FailItem, LocalClaimer, QueueStats, ReleaseItem, StoreEnqueueItem,
  TransitionResult,
} from './queue';

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
export class ValidatedQueue<S extends CommandStore = CommandStore> implements CommandQueue {
  constructor(readonly store: S) {}

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

  claim(options: ClaimOptions): Promise<ClaimedCommand[]> {
    return this.store.claim(options);
  }

  ack(items: AckItem[]): Promise<TransitionResult[]> {
    return this.store.ack(items);
  }

  fail(items: FailItem[]): Promise<TransitionResult[]> {
    return this.store.fail(items);
  }

  release(items: ReleaseItem[]): Promise<TransitionResult[]> {
    return this.store.release(items);
  }

  markDeviceOffline(phyId: string): Promise<void> {
    return this.store.markDeviceOffline(phyId);
  }

  markDeviceOnline(phyId: string): Promise<void> {
    return this.store.markDeviceOnline(phyId);
  }

  listParkedDevices(options?: { limit?: number; cursor?: string }): Promise<{ phyIds: string[]; nextCursor: string | null }> {
    return this.store.listParkedDevices(options);
  }

  reclaimExpired(options?: { limit?: number }): Promise<number> {
    return this.store.reclaimExpired(options);
  }

  expireDue(options?: { limit?: number }): Promise<number> {
    return this.store.expireDue(options);
  }

  cancel(id: string): Promise<StoredCommand> {
    return this.store.cancel(id);
  }

  get(id: string): Promise<StoredCommand | null> {
    return this.store.get(id);
  }

  listDevice(phyId: string, options?: { limit?: number }): Promise<StoredCommand[]> {
    return this.store.listDevice(phyId, options);
  }

  countDevice(phyId: string): Promise<number> {
    return this.store.countDevice(phyId);
  }

  cancelDevice(phyId: string): Promise<number> {
    return this.store.cancelDevice(phyId);
  }

  listCommands(options?: ListCommandsOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    return this.store.listCommands(options);
  }

  listDead(options?: ListDeadOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    return this.store.listDead(options);
  }

  replayDead(selector: DeadSelector): Promise<number> {
    return this.store.replayDead(selector);
  }

  purgeDead(selector: DeadSelector): Promise<number> {
    return this.store.purgeDead(selector);
  }

  stats(): Promise<QueueStats> {
    return this.store.stats();
  }

  /** null when the store does not answer it (then no age is exported). */
  oldestReadyAgeSeconds(): Promise<number | null> {
    return this.store.oldestReadyAgeSeconds ? this.store.oldestReadyAgeSeconds() : Promise.resolve(null);
  }

  trimRetained(options?: { quietMs?: number }): Promise<{ retainedBytes: number; trimmed: number } | null> {
    return this.store.trimRetained ? this.store.trimRetained(options) : Promise.resolve(null);
  }

  waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.store.waitForWork(timeoutMs, signal);
  }

  setLocalClaimer(claimer: LocalClaimer | null): void {
    this.store.setLocalClaimer?.(claimer);
  }

  readEvents(options: ReadEventsOptions): Promise<EventPage> {
    return this.store.readEvents(options);
  }

  eventsHead(): Promise<string> {
    return this.store.eventsHead();
  }

  commandEvents(id: string): Promise<OutboundEvent[] | null> {
    return this.store.commandEvents(id);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
