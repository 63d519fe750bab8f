import type { RedisClient } from '../../redis/connection';
import { badEventCursor, eventPageLimit, EVENT_TYPES, type EventPage, type EventType, type LoggedEvent, type OutboundEvent, type ReadEventsOptions } from '../events';
import type { GatedCall } from './shard-reads';

/**
 * The event log of a Redis layout (both layouts write the same entries, lua/includes/shard.lua
 * and redis-v3/lua/includes/v3.lua): one stream per shard, read here. docs/architecture.md,
 * "Event log", says what is written when; docs/redis-keys.md shows the entries.
 */

/**
 * Entry type codes (field `t`) as the scripts write them: numbers; the letters are what
 * releases before the fixed entry layout wrote, still read from a log written by them.
 */
const TYPE_CODES: Record<string, EventType> = {
  1: 'command.queued',
  2: 'command.delivered',
  3: 'command.retrying',
  4: 'command.acked',
  5: 'command.rejected',
  6: 'command.dead',
  7: 'command.expired',
  8: 'command.cancelled',
  9: 'device.online',
  10: 'device.offline',
  q: 'command.queued',
  d: 'command.delivered',
  r: 'command.retrying',
  a: 'command.acked',
  j: 'command.rejected',
  x: 'command.dead',
  e: 'command.expired',
  c: 'command.cancelled',
  on: 'device.online',
  off: 'device.offline',
};
for (const type of Object.values(TYPE_CODES)) if (!EVENT_TYPES.includes(type)) throw new Error(`unknown event type ${type}`);

/** Field `v` by type: what the scripts' one detail field holds. */
const DETAIL_OF: Partial<Record<EventType, 'replica' | 'reason' | 'priority'>> = {
  'command.queued': 'priority',
  'command.delivered': 'replica',
  'command.retrying': 'reason',
  'command.rejected': 'reason',
  'command.dead': 'reason',
  'command.expired': 'reason',
};

/**
 * A command id as an entry holds it: the 32 hex digits of an id of 36 characters in 16 bytes
 * (the dashes' places skipped, not checked, as packEventCommandId in lua/includes/event-log.lua
 * does), else the text. Scripts that log events of ids they are given take them so.
 */
export function eventCommandId(id: string): Buffer | string {
  if (id.length !== 36) return id;
  // Read digit by digit: slicing the four parts out, matching them and decoding the hex cost
  // ~1 µs per id, on every enqueued and every acked command.
  const out = Buffer.allocUnsafe(16);
  let at = 0;
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    const high = HEX_VALUE[id.charCodeAt(i)] ?? 16;
    const low = HEX_VALUE[id.charCodeAt(i + 1)] ?? 16;
    if (high > 15 || low > 15) return id;
    out[at++] = (high << 4) | low;
  }
  return out;
}

/** A hex digit's value by its character code (16: not a hex digit). */
const HEX_VALUE = new Uint8Array(128).fill(16);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[65 + i] = 10 + i;
  HEX_VALUE[97 + i] = 10 + i;
}

/** The id eventCommandId packed, as text. */
function commandIdOf(value: Buffer): string {
  if (value.length !== 16) return value.toString();
  const hex = value.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A waiting read looks at every shard's last entry this often (one read per shard for all the
 * readers waiting on this queue). Polling, not XREAD BLOCK: on a Cluster the shards' streams
 * live on different nodes, and one blocked connection per reader would not scale with readers.
 */
export const EVENT_POLL_MS = 50;

/**
 * A place in a shard's stream: after the entry (ms, seq), or with third element 1, after only
 * the first event of a paired entry (isPaired) at (ms, seq). [0, 0] is before every entry.
 */
type Position = [number, number] | [number, number, 1];
export type Entry = [Buffer, Buffer[]];

function parseId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

function after(a: Position, b: Position): boolean {
  if (a[0] !== b[0]) return a[0] > b[0];
  if (a[1] !== b[1]) return a[1] > b[1];
  return a[2] === undefined && b[2] === 1; // the whole entry is after its first half
}

/**
 * Whether an entry stands for two events: the v3 ack logs a command's delivered and acked events
 * as one acked entry carrying the delivering replica in `v` (redis-v3/lua/ack-1.lua), where
 * older releases, and the v2 layout, wrote a delivered entry and an acked one without `v`.
 */
function isPaired(type: EventType, f: Record<string, string>): boolean {
  return type === 'command.acked' && !!f.v;
}

/**
 * Every shard's last-read entry id, printable and short: the smallest ms (base 36), then per
 * shard `.` and its ms less that (base 36, `-seq` when seq is not 0, then `_` when only the
 * first event of a paired entry was read), empty for "nothing read". 64 shards within a day of
 * each other fit in about 400 characters.
 */
export function encodeCursor(positions: Position[]): string {
  const read = positions.filter((p) => p[0] > 0 || p[1] > 0);
  const base = read.length === 0 ? 0 : Math.min(...read.map((p) => p[0]));
  const parts = positions.map((p) =>
    p[0] === 0 && p[1] === 0 ? '' : (p[0] - base).toString(36) + (p[1] > 0 ? `-${p[1].toString(36)}` : '') + (p[2] === 1 ? '_' : ''),
  );
  return `${base.toString(36)}.${parts.join('.')}`;
}

export function decodeCursor(cursor: string, shards: number): Position[] {
  const parts = cursor.split('.');
  const base = parseInt(parts[0]!, 36);
  const valid = /^[0-9a-z]+(\.([0-9a-z]+(-[0-9a-z]+)?_?)?)+$/.test(cursor) && parts.length === shards + 1 && Number.isSafeInteger(base);
  if (!valid) throw badEventCursor();
  return parts.slice(1).map((part): Position => {
    if (part === '') return [0, 0];
    const half = part.endsWith('_');
    const [ms, seq] = (half ? part.slice(0, -1) : part).split('-');
    const at: [number, number] = [base + parseInt(ms!, 36), seq === undefined ? 0 : parseInt(seq, 36)];
    return half ? [at[0], at[1], 1] : at;
  });
}

/** One entry's fields as XRANGE returns them (Buffers): its type, command id ('' for none), and the rest as text by name. */
export function decodeEntry(flat: Buffer[]): { type: EventType; commandId: string; f: Record<string, string> } {
  const f: Record<string, string> = {};
  let commandId = '';
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toString();
    if (name === 'c') commandId = commandIdOf(flat[i + 1]!);
    else f[name] = flat[i + 1]!.toString();
  }
  return { type: TYPE_CODES[f.t!] ?? (f.t as EventType), commandId, f };
}

export interface RedisEventLogOptions {
  client: RedisClient;
  call: GatedCall;
  shards: number;
  /** The stream of one shard. */
  streamKey(shard: number): string;
  /** The entry ids a command's record keeps (in order), or null when the command is unknown. */
  commandEntryIds(id: string): Promise<{ shard: number; ids: string[] } | null>;
  /** Prefixed to event ids, so two layouts' logs never share one (the v2 layout: none). */
  idPrefix?: string;
}

/** Reads one Redis layout's event log: merged over its shards, resumable by cursor. */
export class RedisEventLog {
  private readonly waiters = new Set<{ positions: Position[]; wake(): void }>();
  private polling = false;

  constructor(private readonly o: RedisEventLogOptions) {}

  async readEvents(options: ReadEventsOptions): Promise<EventPage> {
    const limit = eventPageLimit(options.limit);
    const positions = options.after === null ? this.shardList().map((): Position => [0, 0]) : decodeCursor(options.after, this.o.shards);
    const until = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const page = await this.readPage(positions, limit);
      if (page.events.length > 0 || Date.now() >= until || options.signal?.aborted) return { events: page.events, cursor: page.cursor ?? options.after ?? encodeCursor(positions) };
      await this.waitForEntry(positions, until - Date.now(), options.signal);
    }
  }

  async eventsHead(): Promise<string> {
    return encodeCursor(await this.heads());
  }

  async commandEvents(id: string): Promise<OutboundEvent[] | null> {
    const found = await this.o.commandEntryIds(id);
    if (!found) return null;
    const key = this.o.streamKey(found.shard);
    const entries = await Promise.all(found.ids.map((sid) => this.o.call('commandEvents', () => this.o.client.xrangeBuffer(key, sid, sid) as Promise<Entry[]>)));
    return entries.flatMap((list) => list.flatMap((entry) => this.toEvents(found.shard, entry)));
  }

  /** Up to `limit` entries after `positions`, merged by time over the shards (each shard's in its order). */
  private async readPage(positions: Position[], limit: number): Promise<{ events: LoggedEvent[]; cursor: string | null }> {
    const lists = await Promise.all(
      this.shardList().map((shard) => {
        const [ms, seq, half] = positions[shard]!;
        // after half a paired entry: from that entry (its first event is skipped below)
        const start = ms === 0 && seq === 0 ? '-' : half ? `${ms}-${seq}` : `(${ms}-${seq}`;
        return this.o.call('readEvents', () => this.o.client.xrangeBuffer(this.o.streamKey(shard), start, '+', 'COUNT', limit) as Promise<Entry[]>);
      }),
    );
    const merged = lists.flatMap((list, shard) =>
      list.flatMap((entry) => {
        const id = parseId(entry[0].toString());
        const events = this.toEvents(shard, entry).map((event, i, all): { shard: number; event: OutboundEvent; at: Position } => ({
          shard,
          event,
          at: i < all.length - 1 ? [id[0], id[1], 1] : id,
        }));
        const from = positions[shard]!;
        return from[2] === 1 && from[0] === id[0] && from[1] === id[1] ? events.slice(1) : events;
      }),
    );
    // stable: a paired entry's two events stay in their order
    merged.sort((a, b) => a.at[0] - b.at[0] || a.shard - b.shard || a.at[1] - b.at[1]);
    const taken = merged.slice(0, limit);
    if (taken.length === 0) return { events: [], cursor: null };
    const now = positions.slice();
    const events = taken.map(({ shard, event, at }) => {
      now[shard] = at;
      return { ...event, cursor: encodeCursor(now) };
    });
    return { events, cursor: events[events.length - 1]!.cursor };
  }

  /**
   * The events an entry stands for: one, or for a paired entry (isPaired) the delivered event
   * then the acked one, at the same time; the delivered one's id is the acked one's with `-d`.
   */
  private toEvents(shard: number, [rawId, flat]: Entry): OutboundEvent[] {
    const sid = rawId.toString();
    const { type, commandId, f } = decodeEntry(flat);
    const event: OutboundEvent = { id: `${this.o.idPrefix ?? ''}${shard}-${sid}`, type, time: parseId(sid)[0], phyId: f.p ?? '', details: {} };
    if (commandId) event.commandId = commandId;
    if (f.n && Number(f.n) > 0) event.attempt = Number(f.n);
    if (isPaired(type, f)) return [{ ...event, id: `${event.id}-d`, type: 'command.delivered', details: { replica: f.v! } }, event];
    const detail = DETAIL_OF[type];
    // v: the fixed layout's one detail; r, e, o: the older layout's.
    const replica = detail === 'replica' ? f.v : f.r;
    const reason = detail === 'reason' ? f.v : f.e;
    const priority = detail === 'priority' ? f.v : f.o;
    if (replica) event.details.replica = replica;
    if (reason) event.details.reason = reason;
    if (f.w) event.details.retryAt = Number(f.w);
    if (priority) event.details.priority = Number(priority);
    return [event];
  }

  /** Every shard's last entry id ([0, 0]: none). */
  private heads(): Promise<Position[]> {
    return Promise.all(
      this.shardList().map(async (shard): Promise<Position> => {
        const [last] = (await this.o.call('eventsHead', () => this.o.client.xrevrange(this.o.streamKey(shard), '+', '-', 'COUNT', 1))) as Array<[string, string[]]>;
        return last ? parseId(last[0]) : [0, 0];
      }),
    );
  }

  /** Resolves when a shard has an entry after `positions`, after `ms`, or on abort. */
  private waitForEntry(positions: Position[], ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const waiter = {
        positions,
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, Math.max(0, ms));
      signal?.addEventListener('abort', waiter.wake, { once: true });
      this.waiters.add(waiter);
      void this.poll();
    });
  }

  /** One loop for every waiting reader: reads the shards' last ids each EVENT_POLL_MS while anyone waits. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.waiters.size > 0) {
        const heads = await this.heads().catch(() => null);
        for (const waiter of [...this.waiters]) {
          // A failed read wakes everyone: their own read answers the error.
          if (!heads || heads.some((head, shard) => after(head, waiter.positions[shard]!))) waiter.wake();
        }
        if (this.waiters.size > 0) await new Promise((resolve) => setTimeout(resolve, EVENT_POLL_MS));
      }
    } finally {
      this.polling = false;
    }
  }

  private shardList(): number[] {
    return Array.from({ length: this.o.shards }, (_, i) => i);
  }
}
