import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import type { RedisClient } from '../../redis/connection';
import type { ListCommandsOptions } from '../queue';
import { decodeEntry, type Entry } from './event-log';
import type { GatedCall } from './shard-reads';

/**
 * The command history on Redis (both layouts), read from the event log: every command logs a
 * `command.queued` entry (type `q`) in its shard's stream when it is enqueued, so the shards'
 * streams read newest first (XREVRANGE) and merged by entry id are the commands newest first,
 * without an index of its own or a scan of the keyspace. A device's commands all live in its
 * shard, so a `phyId` filter reads one stream. Each page reads at most MAX_ROUNDS x ENTRIES_PER_SHARD
 * entries per shard (a device's one stream: as many as all shards' together) (a filter that matches few answers short pages with a cursor), then the commands
 * themselves, in order, until the page is full; status is checked on them. A command appears
 * once per `command.queued` entry: a replayed dead letter is listed again at its replay.
 * Commands past retention (their record gone) are skipped; so are those whose entries the
 * stream's trim dropped.
 */

export interface HistoryShards {
  client: RedisClient;
  call: GatedCall;
  shards: number;
  streamKey(shard: number): string;
  shardOf(phyId: string): number;
  get(id: string): Promise<StoredCommand | null>;
}

/** Entries one page reads at most per shard's stream: about 3 per command (queued, delivered, outcome). */
const ENTRIES_PER_SHARD = 400;
/** Rounds of reads one page makes at most over every shard (one stream, a device's: that many times the shards). */
const MAX_ROUNDS = 5;
/** Commands read at once while filling a page. */
const READ_CHUNK = 50;

/** An entry's place in the merged order: its id (ms, seq), then its shard. Newest first is descending. */
type Place = [number, number, number];
const above = (a: Place, b: Place) => a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])));

function parseCursor(cursor: string | undefined): Place | null {
  if (cursor === undefined) return null;
  const match = /^(\d{1,15})-(\d{1,15})-(\d{1,5})$/.exec(cursor);
  if (!match) throw new OutboundError('VALIDATION_FAILED', `cursor ${JSON.stringify(cursor)} is not one this listing answered`, { details: [{ path: 'cursor', message: 'unknown cursor' }] });
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * Reads rounds of at most ENTRIES_PER_SHARD entries per stream until the page is full, the
 * streams are read to the end, or MAX_ROUNDS rounds were read: most entries are deliveries and
 * outcomes, so the newest round may hold few `command.queued` ones.
 */
export async function listCommandHistory(o: HistoryShards, options: ListCommandsOptions = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
  const limit = options.limit ?? 100;
  const items: StoredCommand[] = [];
  let cursor = options.cursor;
  // The same number of entries whether one stream is read (a device's) or every shard's.
  const rounds = options.phyId === undefined ? MAX_ROUNDS : MAX_ROUNDS * o.shards;
  for (let round = 0; round < rounds; round += 1) {
    const page = await historyRound(o, { ...options, limit: limit - items.length, ...(cursor === undefined ? {} : { cursor }) });
    items.push(...page.items.filter((command) => !items.some((known) => known.id === command.id)));
    if (page.nextCursor === null || items.length >= limit) return { items, nextCursor: page.nextCursor };
    cursor = page.nextCursor;
  }
  return { items, nextCursor: cursor ?? null };
}

async function historyRound(o: HistoryShards, options: ListCommandsOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
  const limit = options.limit ?? 100;
  const from = parseCursor(options.cursor);
  const shards = options.phyId === undefined ? Array.from({ length: o.shards }, (_, s) => s) : [o.shardOf(options.phyId)];
  const count = Math.max(ENTRIES_PER_SHARD, 3 * (limit + 1));
  const start = options.since === undefined ? '-' : String(options.since);
  const reads = await Promise.all(
    shards.map(async (shard) => {
      // Strictly below the cursor in the merged order: a shard after the cursor's one may still hold its id.
      let end = '+';
      if (options.until !== undefined) end = `(${options.until}-0`;
      if (from && (options.until === undefined || from[0] < options.until)) end = shard < from[2] ? `${from[0]}-${from[1]}` : `(${from[0]}-${from[1]}`;
      const entries = (await o.call('listCommands', () => o.client.xrevrangeBuffer(o.streamKey(shard), end, start, 'COUNT', count))) as Entry[];
      return { shard, entries };
    }),
  );
  // A shard that answered a full read may hold more below its last entry: nothing below the
  // highest such place is answered in this page (the next page starts there).
  let cut: Place | null = null;
  const queued: Array<{ place: Place; id: string }> = [];
  for (const { shard, entries } of reads) {
    for (const [entryId, fields] of entries) {
      const [ms, seq] = entryId.toString().split('-').map(Number) as [number, number];
      const place: Place = [ms, seq, shard];
      const { type, commandId, f } = decodeEntry(fields);
      if (type === 'command.queued' && (options.phyId === undefined || f.p === options.phyId)) queued.push({ place, id: commandId });
    }
    const last = entries[entries.length - 1];
    if (entries.length === count && last) {
      const [ms, seq] = last[0].toString().split('-').map(Number) as [number, number];
      const place: Place = [ms, seq, shard];
      if (!cut || above(place, cut)) cut = place;
    }
  }
  const candidates = queued.filter((c) => !cut || !above(cut, c.place)).sort((a, b) => (above(a.place, b.place) ? -1 : 1));
  const items: StoredCommand[] = [];
  const seen = new Set<string>();
  let consumed: Place | null = null;
  for (let i = 0; i < candidates.length && items.length < limit; i += READ_CHUNK) {
    const chunk = candidates.slice(i, i + READ_CHUNK);
    const commands = await Promise.all(chunk.map((c) => o.get(c.id)));
    for (let j = 0; j < chunk.length; j += 1) {
      if (items.length >= limit) break;
      consumed = chunk[j]!.place;
      const command = commands[j];
      if (!command || seen.has(command.id) || (options.status !== undefined && command.status !== options.status)) continue;
      seen.add(command.id);
      items.push(command);
    }
  }
  const atPlace = (p: Place) => `${p[0]}-${p[1]}-${p[2]}`;
  const lastCandidate = candidates[candidates.length - 1];
  // Stopped with candidates left: the next page starts after the last one read; else after the cut, if any.
  const next = consumed && lastCandidate && consumed !== lastCandidate.place ? consumed : cut;
  return { items, nextCursor: next ? atPlace(next) : null };
}
