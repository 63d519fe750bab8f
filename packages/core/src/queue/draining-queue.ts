import { badEventCursor, eventPageLimit, type EventPage, type LoggedEvent, type OutboundEvent, type ReadEventsOptions } from './events';
import type { CommandStatus, StoredCommand } from '../command';
import { idempotencyConflict, OutboundError, toError } from '../errors';
import type { Logger } from '../service/logger';
import type {
  AckItem, ClaimedCommand, ClaimOptions, CommandStore, DeadSelector, ListCommandsOptions, ListDeadOptions, EnqueueResult, FailItem, QueueCounts, QueueStats, ReleaseItem, StoreEnqueueItem,
  TransitionResult,
} from './queue';
import { pageUnion, type Page, type PageRequest } from './paged-union';

/** The first command an idempotency key named, while the store keeps that command. */
export interface IdempotencyRecord {
  id: string;
  status: CommandStatus;
  /** enqueueFingerprint of the first request; null for a record written before fingerprints were kept. */
  fingerprint: string | null;
}

/** A store that can answer which command an idempotency key named (the old store of a draining upgrade). */
export interface IdempotencyLookup {
  findIdempotent(phyId: string, key: string): Promise<IdempotencyRecord | null>;
}

export interface DrainingQueueOptions {
  /** How often the old store is counted for the drain check (and the gauge between scrapes). Default 5,000 ms. */
  checkEveryMs?: number;
  /** Says when the old store is drained (and if it fills again). */
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Names the stores in the log lines, e.g. `{ old: 'v2', next: 'v3' }`. */
  names?: { old: string; next: string };
  /**
   * Where in the old store's log an event cursor of the new store alone (no `~`: given out before
   * the drain began) continues; without it such a cursor is refused.
   */
  oldEventsFrom?: string;
}

/** Cursors of listings across both stores: `old:<old store's cursor>`, then `new:<new store's>`. */
const CURSOR_NAMES = { first: 'old', second: 'new' };
/** The history is newest first: the new store's commands, then the old store's. */
const HISTORY_CURSOR_NAMES = { first: 'new', second: 'old' };
const COUNT_KEYS: Array<keyof QueueCounts> = ['pending', 'inflight', 'delayed', 'waitingForDevice', 'dead'];

/** What a store holds that is not finished (queued, scheduled, backing off, parked, in flight, dead), in all and by kind. */
export async function unfinishedIn(store: CommandStore): Promise<{ pending: number; total: QueueCounts }> {
  const { total } = await store.stats();
  return { pending: COUNT_KEYS.reduce((sum, key) => sum + total[key], 0), total };
}

/**
 * One store in front of two while a deployment moves from one store layout to another with no
 * downtime: everything the old store holds is delivered from where it is, and new commands go to
 * the new store, except where that would break a promise:
 * - a device that still has commands queued or in flight in the old store gets its new commands
 *   there too, until its old line is empty once: its order and its in-flight limit hold (both are
 *   kept by one store). Price: one read per distinct device per enqueue call until the old store
 *   is drained, and a device that never runs dry keeps using the old store.
 * - a keyed enqueue first asks the old store whether the key named a command there: a retry of a
 *   request made before the switch answers that command (or IDEMPOTENCY_CONFLICT), for as long
 *   as the old store keeps the command (its retention). Price: one or two reads per keyed command.
 * Claims alternate which store is asked first, so neither starves the other; ack, fail and release
 * go to the store that answered the claim (a store that does not know the id passes it to the
 * other); reads, dead letters, parked devices, reclaim and expiry cover both.
 * Drained: the old store holds nothing queued, in flight, parked or dead (`oldPending()` is 0);
 * then claims and the per-device read skip it, and only id and idempotency look-ups still reach
 * it (finished commands stay readable until their retention passes). Every piece of state lives
 * in the stores, so a process that dies mid-drain loses nothing: its leases expire in their store.
 */
export class DrainingQueue implements CommandStore {
  private readonly heldByOld = new Set<string>();
  private turn = 0;
  private pending: number | null = null;
  private checking: Promise<number> | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly old: CommandStore & IdempotencyLookup,
    readonly next: CommandStore,
    private readonly options: DrainingQueueOptions = {},
  ) {
    const check = () => void this.oldPending().catch((error: unknown) => this.options.logger?.warn({ err: toError(error) }, 'upgrade drain check failed'));
    this.timer = setInterval(check, options.checkEveryMs ?? 5_000);
    this.timer.unref();
    check();
  }

  /** True once a check found the old store empty (and no later check found it holding work again). */
  get drained(): boolean {
    return this.pending === 0;
  }

  /**
   * Counts what the old store still holds (queued, scheduled, backing off, parked, in flight,
   * dead) and logs when that reaches 0 or rises again. Concurrent callers share one count.
   */
  oldPending(): Promise<number> {
    this.checking ??= (async () => {
      try {
        const { pending, total } = await unfinishedIn(this.old);
        const names = this.options.names ?? { old: 'old', next: 'new' };
        if (pending === 0 && this.pending !== 0) {
          this.options.logger?.info({ upgradeFrom: names.old, layout: names.next }, `upgrade drained: the ${names.old} layout holds no queued, in-flight, parked or dead command; its setting may be removed`);
        } else if (pending > 0 && this.pending === null) {
          this.options.logger?.info({ upgradeFrom: names.old, layout: names.next, pending, counts: total }, `upgrade: delivering what the ${names.old} layout holds while new commands go to ${names.next}`);
        } else if (pending > 0 && this.pending === 0) {
          this.options.logger?.warn({ upgradeFrom: names.old, pending, counts: total }, `upgrade: the ${names.old} layout holds commands again (a process still writing it?); keep the upgrade setting`);
        }
        this.pending = pending;
        return pending;
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }

  newCommandId(phyId: string): string {
    return this.next.newCommandId(phyId);
  }

  async enqueueBatch(items: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>> {
    const results: Array<EnqueueResult | OutboundError> = new Array(items.length);
    const toOld: number[] = [];
    const toNext: number[] = [];
    try {
      const busyInOld = await this.devicesInOld(items);
      const keyed = items.map((item, index) => index).filter((index) => !busyInOld.has(items[index]!.phyId) && items[index]!.idempotencyKey);
      const records = await Promise.all(keyed.map((index) => this.old.findIdempotent(items[index]!.phyId, items[index]!.idempotencyKey!)));
      keyed.forEach((index, k) => {
        const record = records[k];
        if (!record) return;
        const item = items[index]!;
        results[index] =
          record.fingerprint && record.fingerprint !== item.fingerprint ? idempotencyConflict(item.phyId, record.id) : { id: record.id, status: record.status, duplicate: true };
      });
      items.forEach((item, index) => {
        if (results[index]) return;
        (busyInOld.has(item.phyId) ? toOld : toNext).push(index);
      });
    } catch (error) {
      // Nothing was written yet: every item answers the read's failure.
      const failure = error instanceof OutboundError ? error : new OutboundError('INTERNAL', toError(error).message, { cause: error });
      return items.map(() => failure);
    }
    // A command the old store keeps carries an id it minted (each layout places commands by its own id).
    const oldItems = toOld.map((index) => ({ ...items[index]!, id: this.old.newCommandId(items[index]!.phyId) }));
    const [fromOld, fromNext] = await Promise.all([
      oldItems.length ? this.old.enqueueBatch(oldItems) : [],
      toNext.length ? this.next.enqueueBatch(toNext.map((index) => items[index]!)) : [],
    ]);
    toOld.forEach((index, k) => (results[index] = fromOld[k]!));
    toNext.forEach((index, k) => (results[index] = fromNext[k]!));
    return results;
  }

  /** Devices of these items with commands still queued or in flight in the old store (none once drained). */
  private async devicesInOld(items: StoreEnqueueItem[]): Promise<Set<string>> {
    if (this.drained) return new Set();
    const devices = [...new Set(items.map((item) => item.phyId))];
    const counts = await Promise.all(devices.map((phyId) => this.old.countDevice(phyId)));
    return new Set(devices.filter((_, i) => counts[i]! > 0));
  }

  async claim(options: ClaimOptions): Promise<ClaimedCommand[]> {
    this.turn += 1;
    const order = this.drained ? [this.next] : this.turn % 2 === 0 ? [this.old, this.next] : [this.next, this.old];
    const taken: ClaimedCommand[] = [];
    for (const store of order) {
      if (taken.length >= options.max) break;
      let claimed: ClaimedCommand[];
      try {
        claimed = await store.claim({ ...options, max: options.max - taken.length });
      } catch (error) {
        // What the first store leased must reach the caller: fail only with nothing taken.
        if (taken.length === 0) throw error;
        break;
      }
      if (store === this.old) for (const command of claimed) this.heldByOld.add(command.id);
      taken.push(...claimed);
    }
    return taken;
  }

  ack(items: AckItem[]): Promise<TransitionResult[]> {
    return this.transition(items, (store, some) => store.ack(some));
  }

  fail(items: FailItem[]): Promise<TransitionResult[]> {
    return this.transition(items, (store, some) => store.fail(some));
  }

  /**
   * A device parked by a release in the old store is parked in the new store too, so the new
   * store's parked state is the device's: its device.offline and device.online events come from
   * the new store's log alone (readEvents leaves out the old store's), once per change.
   */
  async release(items: ReleaseItem[]): Promise<TransitionResult[]> {
    const results = await this.transition(items, (store, some) => store.release(some));
    const parking = items.filter((item, index) => item.deviceOffline && results[index]!.ok);
    await Promise.all(
      parking.map(async (item) => {
        const command = await this.old.get(item.id);
        if (command) await this.next.markDeviceOffline(command.phyId);
      }),
    );
    return results;
  }

  /**
   * Sends each item to the store that answered its claim (the new store for what this process
   * did not claim, e.g. after a restart); an item that store does not know goes to the other.
   */
  private async transition<T extends { id: string }>(items: T[], run: (store: CommandStore, items: T[]) => Promise<TransitionResult[]>): Promise<TransitionResult[]> {
    const results: TransitionResult[] = new Array(items.length);
    const send = async (store: CommandStore, indexes: number[]) => {
      if (indexes.length === 0) return;
      const answers = await run(store, indexes.map((index) => items[index]!));
      indexes.forEach((index, k) => (results[index] = answers[k]!));
    };
    const first = (index: number) => (this.heldByOld.has(items[index]!.id) ? this.old : this.next);
    const all = items.map((_, index) => index);
    await Promise.all([send(this.old, all.filter((i) => first(i) === this.old)), send(this.next, all.filter((i) => first(i) === this.next))]);
    const unknown = all.filter((index) => isNotFound(results[index]!));
    await Promise.all([
      send(this.next, unknown.filter((i) => first(i) === this.old)),
      send(this.old, unknown.filter((i) => first(i) === this.next)),
    ]);
    for (const item of items) this.heldByOld.delete(item.id);
    return results;
  }

  async markDeviceOffline(phyId: string): Promise<void> {
    await Promise.all([this.old.markDeviceOffline(phyId), this.next.markDeviceOffline(phyId)]);
  }

  async markDeviceOnline(phyId: string): Promise<void> {
    await Promise.all([this.old.markDeviceOnline(phyId), this.next.markDeviceOnline(phyId)]);
  }

  /** The old store's parked devices, then the new store's (cursor `old:…`, then `new:…`); a device parked in both may be listed twice. */
  async listParkedDevices(options: PageRequest = {}): Promise<{ phyIds: string[]; nextCursor: string | null }> {
    const read = (store: CommandStore) => async (page: PageRequest) => {
      const { phyIds, nextCursor } = await store.listParkedDevices(page);
      return { items: phyIds, nextCursor };
    };
    const { items, nextCursor } = await pageUnion(options, read(this.old), read(this.next), CURSOR_NAMES);
    return { phyIds: items, nextCursor };
  }

  async reclaimExpired(options?: { limit?: number }): Promise<number> {
    const [a, b] = await Promise.all([this.old.reclaimExpired(options), this.next.reclaimExpired(options)]);
    return a + b;
  }

  async expireDue(options?: { limit?: number }): Promise<number> {
    const [a, b] = await Promise.all([this.old.expireDue(options), this.next.expireDue(options)]);
    return a + b;
  }

  async cancel(id: string): Promise<StoredCommand> {
    try {
      return await this.next.cancel(id);
    } catch (error) {
      if (!(error instanceof OutboundError && error.code === 'COMMAND_NOT_FOUND')) throw error;
      return this.old.cancel(id);
    }
  }

  async get(id: string): Promise<StoredCommand | null> {
    return (await this.next.get(id)) ?? this.old.get(id);
  }

  /** The old store's commands first: they were enqueued before any of the device's in the new store. */
  async listDevice(phyId: string, options: { limit?: number } = {}): Promise<StoredCommand[]> {
    const older = await this.old.listDevice(phyId, options);
    if (options.limit !== undefined && older.length >= options.limit) return older.slice(0, options.limit);
    const newer = await this.next.listDevice(phyId, options.limit === undefined ? {} : { limit: options.limit - older.length });
    return [...older, ...newer];
  }

  async countDevice(phyId: string): Promise<number> {
    const [a, b] = await Promise.all([this.old.countDevice(phyId), this.next.countDevice(phyId)]);
    return a + b;
  }

  /** Both stores' queued commands of the device. */
  async cancelDevice(phyId: string): Promise<number> {
    const [a, b] = await Promise.all([this.old.cancelDevice(phyId), this.next.cancelDevice(phyId)]);
    return a + b;
  }

  /** The new store's commands, then the old store's: newest first (cursor `new:…`, then `old:…`). */
  listCommands(options: ListCommandsOptions = {}): Promise<Page<StoredCommand>> {
    const { limit, cursor, ...filter } = options;
    const request = { ...(cursor === undefined ? {} : { cursor }), limit: limit ?? 100 };
    return pageUnion(request, (page) => this.next.listCommands({ ...filter, ...page }), (page) => this.old.listCommands({ ...filter, ...page }), HISTORY_CURSOR_NAMES);
  }

  /** The old store's dead letters, then the new store's (cursor `old:…`, then `new:…`). */
  listDead(options: ListDeadOptions = {}): Promise<Page<StoredCommand>> {
    const { filter } = options;
    const request = { ...(options.cursor === undefined ? {} : { cursor: options.cursor }), limit: options.limit ?? 100 };
    const withFilter = (page: PageRequest): ListDeadOptions => (filter === undefined ? page : { ...page, filter });
    return pageUnion(request, (page) => this.old.listDead(withFilter(page)), (page) => this.next.listDead(withFilter(page)), CURSOR_NAMES);
  }

  async replayDead(selector: DeadSelector): Promise<number> {
    const [a, b] = await Promise.all([this.old.replayDead(selector), this.next.replayDead(selector)]);
    return a + b;
  }

  async purgeDead(selector: DeadSelector): Promise<number> {
    const [a, b] = await Promise.all([this.old.purgeDead(selector), this.next.purgeDead(selector)]);
    return a + b;
  }

  /** The older of the two stores' oldest ready commands (null when neither can tell). */
  async oldestReadyAgeSeconds(): Promise<number | null> {
    const ages = await Promise.all([this.old, this.next].map((s) => (s.oldestReadyAgeSeconds ? s.oldestReadyAgeSeconds() : null)));
    const known = ages.filter((a): a is number => a !== null);
    return known.length === 0 ? null : Math.max(...known);
  }

  /** Both stores' retained bytes and trims added up (null when neither can tell). */
  async trimRetained(options?: { quietMs?: number }): Promise<{ retainedBytes: number; trimmed: number } | null> {
    const both = await Promise.all([this.old, this.next].map((s) => (s.trimRetained ? s.trimRetained(options) : null)));
    const known = both.filter((b): b is { retainedBytes: number; trimmed: number } => b !== null);
    return known.length === 0 ? null : { retainedBytes: known.reduce((n, b) => n + b.retainedBytes, 0), trimmed: known.reduce((n, b) => n + b.trimmed, 0) };
  }

  async stats(): Promise<QueueStats> {
    const both = await Promise.all([this.old.stats(), this.next.stats()]);
    const total: QueueCounts = { pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 };
    const shards = new Map<number, QueueCounts & { shard: number }>();
    for (const stats of both) {
      for (const key of COUNT_KEYS) total[key] += stats.total[key];
      for (const s of stats.shards) {
        const sum = shards.get(s.shard) ?? { shard: s.shard, pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 };
        for (const key of COUNT_KEYS) sum[key] += s[key];
        shards.set(s.shard, sum);
      }
    }
    return { total, shards: [...shards.values()].sort((a, b) => a.shard - b.shard) };
  }

  /** Wakes on work in either store; the wait that loses is cut short. */
  async waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    const inner = new AbortController();
    const abort = () => inner.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const waits = [this.next.waitForWork(timeoutMs, inner.signal)];
      if (!this.drained) waits.push(this.old.waitForWork(timeoutMs, inner.signal));
      await Promise.race(waits);
    } finally {
      inner.abort();
      signal?.removeEventListener('abort', abort);
    }
  }

  /**
   * Both stores' logs, merged by time: the cursor is the old store's and the new store's joined
   * by `~` (each takes a page, and a page answers the earliest of both). A wait that finds
   * nothing waits on both; the one that answers first ends it.
   */
  async readEvents(options: ReadEventsOptions): Promise<EventPage> {
    let after = options.after;
    for (;;) {
      const page = await this.readEventsOnce({ ...options, after });
      // A page of nothing but the old store's device events moves the cursor: read on from there.
      if (page.events.length > 0 || page.cursor === (after ?? '~') || options.signal?.aborted) return page;
      after = page.cursor;
    }
  }

  private async readEventsOnce(options: ReadEventsOptions): Promise<EventPage> {
    const [oldAfter, nextAfter] = options.after === null ? [null, null] : splitEventCursor(options.after, this.options.oldEventsFrom);
    let [oldPage, nextPage] = await Promise.all([
      this.old.readEvents({ after: oldAfter, limit: options.limit }),
      this.next.readEvents({ after: nextAfter, limit: options.limit }),
    ]);
    if (oldPage.events.length + nextPage.events.length === 0 && options.waitMs && !options.signal?.aborted) {
      // Wait on both; the first to see an event (or reach its end) stops the other.
      const inner = new AbortController();
      const abort = () => inner.abort();
      options.signal?.addEventListener('abort', abort, { once: true });
      try {
        const waits = [
          this.old.readEvents({ after: oldAfter, limit: options.limit, waitMs: options.waitMs, signal: inner.signal }),
          this.next.readEvents({ after: nextAfter, limit: options.limit, waitMs: options.waitMs, signal: inner.signal }),
        ];
        await Promise.race(waits);
        inner.abort();
        [oldPage, nextPage] = (await Promise.all(waits)) as [EventPage, EventPage];
      } finally {
        options.signal?.removeEventListener('abort', abort);
      }
    }
    // Merged by time (the old store first on a tie), each store's page taken in its order: every
    // event's cursor is its own store's after it and the other's as far as taken. The old store's
    // device events are passed over (release says why).
    const limit = eventPageLimit(options.limit);
    const events: LoggedEvent[] = [];
    let oldCursor = oldAfter ?? '';
    let nextCursor = nextAfter ?? '';
    let i = 0;
    let j = 0;
    while (events.length < limit && (i < oldPage.events.length || j < nextPage.events.length)) {
      const a = oldPage.events[i];
      const b = nextPage.events[j];
      const takeOld = a !== undefined && (b === undefined || a.time <= b.time);
      const event = takeOld ? a : b!;
      if (takeOld) {
        oldCursor = event.cursor;
        i += 1;
        if (event.commandId === undefined) continue;
      } else {
        nextCursor = event.cursor;
        j += 1;
      }
      events.push({ ...event, cursor: joinEventCursor(oldCursor, nextCursor) });
    }
    return { events, cursor: joinEventCursor(oldCursor, nextCursor) };
  }

  async eventsHead(): Promise<string> {
    const [oldHead, nextHead] = await Promise.all([this.old.eventsHead(), this.next.eventsHead()]);
    return joinEventCursor(oldHead, nextHead);
  }

  /** A command lives in one store: the new one is asked first. */
  async commandEvents(id: string): Promise<OutboundEvent[] | null> {
    return (await this.next.commandEvents(id)) ?? this.old.commandEvents(id);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.old.close(), this.next.close()]);
  }
}

function isNotFound(result: TransitionResult): boolean {
  return !result.ok && result.error.code === 'COMMAND_NOT_FOUND';
}

/** An event cursor of both stores: the old store's, `~`, the new store's ('' : from the oldest). */
function joinEventCursor(old: string, next: string): string {
  return `${old}~${next}`;
}

function splitEventCursor(cursor: string, oldEventsFrom?: string): [string | null, string | null] {
  const at = cursor.indexOf('~');
  const part = (text: string) => (text === '' ? null : text);
  if (at < 0 && oldEventsFrom !== undefined) return [part(oldEventsFrom), cursor];
  if (at < 0) throw badEventCursor();
  return [part(cursor.slice(0, at)), part(cursor.slice(at + 1))];
}
