import type { DeadSelector, ListDeadOptions } from '../queue';
import { fanOut, groupByShard } from '../redis-v3/shard-fan-out';
import { parseDeadCursor } from './queue-input';
import type { Arg } from './scripts';

/**
 * Dead letters across the shards of either Redis layout: a filtered, merged, cursor-paged
 * listing, and replay or purge by ids, of all, or by a filter, run here page by page (one
 * script per shard and page), never one call per id from the caller.
 */

/** Dead-letter entries one list-dead script examines at most per page (bounds its run on a filter that matches few). */
const SCAN_BUDGET = 1_000;
/** Ids per replay or purge script (bounds the time one script holds Redis). */
const CHUNK = 500;

export interface DeadLetterShards<T> {
  shards: number;
  shardOfId(id: string): number | null;
  /** Runs list-dead on one shard (bulk strings as Buffers). */
  list(shard: number, args: Arg[]): Promise<unknown>;
  /** A record list-dead answered, as the layout decodes it. */
  decode(record: Buffer[]): T & { id: string };
  /** The Redis clock, epoch ms (a filter's default end, so a replay never chases the letters it makes). */
  now(): Promise<number>;
}

type Position = [number, string];
const before = (a: Position, b: Position) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** One page across every shard, oldest death first. Ids only (`idsOnly`) answer `{ id }` items. */
async function page<T>(shards: DeadLetterShards<T>, options: ListDeadOptions, idsOnly: boolean): Promise<{ items: Array<{ id: string; value: T | null }>; nextCursor: string | null }> {
  const limit = options.limit ?? 100;
  const filter = options.filter ?? {};
  let [afterScore, afterId] = parseDeadCursor(options.cursor);
  if (filter.since !== undefined && (afterScore === '-inf' || Number(afterScore) < filter.since)) [afterScore, afterId] = [String(filter.since), ''];
  const args: Arg[] = [
    afterScore, afterId, limit + 1, filter.until === undefined ? '+inf' : `(${filter.until}`,
    filter.phyId ?? '', filter.reason ?? '', Math.max(SCAN_BUDGET, limit + 1), idsOnly ? '1' : '0',
  ];
  const replies = (await Promise.all(Array.from({ length: shards.shards }, (_, shard) => shards.list(shard, args)))) as Array<[Array<[Buffer, Buffer | Buffer[]]>, Buffer, Buffer]>;
  const entries: Array<{ at: Position; id: string; value: T | null }> = [];
  // The earliest place a shard stopped examining (its budget ran out): nothing past it is answered yet.
  let stop: Position | null = null;
  for (const [items, stopScore, stopId] of replies) {
    for (const [score, raw] of items) {
      const decoded = Buffer.isBuffer(raw) ? null : shards.decode(raw);
      const id = decoded ? decoded.id : (raw as Buffer).toString();
      entries.push({ at: [Number(score.toString()), id], id, value: decoded });
    }
    if (stopScore.length > 0) {
      const at: Position = [Number(stopScore.toString()), stopId.toString()];
      if (!stop || before(at, stop)) stop = at;
    }
  }
  entries.sort((a, b) => (before(a.at, b.at) ? -1 : before(b.at, a.at) ? 1 : 0));
  const kept = stop ? entries.filter((e) => !before(stop!, e.at)) : entries;
  const items = kept.slice(0, limit);
  const last = items[items.length - 1];
  const cursorOf = (at: Position) => `${at[0]}:${at[1]}`;
  return { items, nextCursor: kept.length > limit && last ? cursorOf(last.at) : stop ? cursorOf(stop) : null };
}

export async function listDeadLetters<T>(shards: DeadLetterShards<T>, options: ListDeadOptions = {}): Promise<{ items: T[]; nextCursor: string | null }> {
  const answer = await page(shards, options, false);
  return { items: answer.items.map((item) => item.value!), nextCursor: answer.nextCursor };
}

/**
 * Runs replay-dead or purge-dead (`run`, given 'all' or 'ids' and its arguments) on what the
 * selector names and answers how many it moved. A filter is listed page by page (ids only) up
 * to the Redis time the call started, each page's ids acted on as they come.
 */
export async function actOnDeadLetters<T>(
  shards: DeadLetterShards<T>,
  selector: DeadSelector,
  run: (shard: number, mode: 'all' | 'ids', args: Arg[]) => Promise<unknown>,
): Promise<number> {
  let total = 0;
  const byIds = async (ids: string[]) => {
    const known = ids.filter((id) => shards.shardOfId(id) !== null);
    await fanOut(groupByShard(known, (id) => shards.shardOfId(id)!), CHUNK, async (shard, chunk) => {
      const n = Number(await run(shard, 'ids', [0, ...chunk]));
      total += n; // read after the await: `total += await ...` would add to a stale total
    });
  };
  if ('ids' in selector) {
    await byIds(selector.ids);
    return total;
  }
  if ('all' in selector) {
    await Promise.all(
      Array.from({ length: shards.shards }, async (_, shard) => {
        for (;;) {
          const n = Number(await run(shard, 'all', [CHUNK]));
          total += n;
          if (n < CHUNK) return;
        }
      }),
    );
    return total;
  }
  const filter = { ...selector.filter, until: selector.filter.until ?? (await shards.now()) + 1 };
  let cursor: string | undefined;
  do {
    const answer = await page(shards, { filter, limit: CHUNK, ...(cursor === undefined ? {} : { cursor }) }, true);
    await byIds(answer.items.map((item) => item.id));
    cursor = answer.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return total;
}
