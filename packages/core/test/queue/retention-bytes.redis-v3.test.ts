import Redis from 'ioredis';
import { RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '@outbound/test-support';
import { cmd, LONG_LEASE } from './conformance/harness';

/**
 * QUEUE_RETENTION_MAX_BYTES on the v3 layout: finished records and the event log together stay
 * near the byte budget, the oldest going first, and a finished record still held keeps its
 * events; pending commands (queued, scheduled, parked) never go. A private redis-server, so
 * that its used_memory is this file's alone; the stores have their own connection, so that the
 * test's reads never hold up their liveness pings.
 */
const SHARDS = 4;
const BUDGET = 1_200_000; // 300,000 bytes a shard: trims go by stream nodes (4 KB) and the records their entries name
const ENTRY_BYTES = 64; // as lua/includes/v3.lua counts a record: field + value + this
let server: RedisServerHandle;
let client: Redis;
let storeClient: Redis;
const made: RedisQueueV3[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url);
  storeClient = new Redis(server.url);
});
afterAll(async () => {
  await Promise.all(made.map((q) => q.close()));
  await client.quit();
  await storeClient.quit();
  await server.stop();
});

function open(options: { retentionMaxBytes?: number; shards?: number; prefix?: string } = {}): { queue: ValidatedQueue<RedisQueueV3>; prefix: string } {
  const prefix = options.prefix ?? uniquePrefix('retain');
  const store = new RedisQueueV3(storeClient, { prefix, shards: options.shards ?? SHARDS, ...(options.retentionMaxBytes ? { retentionMaxBytes: options.retentionMaxBytes } : {}) });
  made.push(store);
  return { queue: new ValidatedQueue(store), prefix };
}

async function scan(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** The finished records the hashes hold, read from Redis itself: their ids and bytes as the budget counts them. */
async function finishedRecords(prefix: string): Promise<{ bytes: number; ids: string[] }> {
  let bytes = 0;
  const ids: string[] = [];
  for (const key of await scan(`${prefix}:v3:{*}:f:*`)) {
    // <prefix>:v3:{<shard>}:f:<minute>; an id is its shard in 4 hex digits, the minute, the field (keys-v3.ts)
    const [, shard, minute] = /\{(\d+)\}:f:([0-9a-f]{7})$/.exec(key)!;
    const hash = await client.hgetallBuffer(key);
    for (const [field, value] of Object.entries(hash)) {
      bytes += Buffer.byteLength(field) + value.length + ENTRY_BYTES;
      ids.push(`${Number(shard).toString(16).padStart(4, '0')}${minute!.slice(0, 4)}-${minute!.slice(4)}${field}`);
    }
  }
  return { bytes, ids };
}

const streamKeys = (prefix: string, shards = SHARDS) => Array.from({ length: shards }, (_, s) => `${prefix}:v3:{${s}}:ev`);

/** What the hashes and streams take by Redis' own full count (MEMORY USAGE of every node and entry). */
async function memoryUsage(prefix: string): Promise<number> {
  const keys = [...(await scan(`${prefix}:v3:{*}:f:*`)), ...streamKeys(prefix)];
  const sizes = await Promise.all(keys.map((key) => client.memory('USAGE', key, 'SAMPLES', 0)));
  return sizes.reduce<number>((sum, size) => sum + Number(size ?? 0), 0);
}

/** used_memory freed by deleting the hashes and streams, in one transaction. */
async function freedByDeleting(prefix: string): Promise<number> {
  const keys = [...(await scan(`${prefix}:v3:{*}:f:*`)), ...streamKeys(prefix)];
  const used = (info: string) => Number(/used_memory:(\d+)/.exec(info)![1]);
  const answers = (await client.multi().info('memory').del(...keys).info('memory').exec())!;
  return used(answers[0]![1] as string) - used(answers[2]![1] as string);
}

/**
 * Holds `kept` (whether each command is still there, in creation order) to a trimmed prefix:
 * every trimmed command older than every kept one. The kept part may be empty: a budget the
 * stream's own entries nearly fill leaves room for no record, and the trim rightly takes them all.
 * Answers how many were kept.
 */
function expectTrimmedPrefix(kept: boolean[]): number {
  const firstKept = kept.includes(true) ? kept.indexOf(true) : kept.length;
  expect(kept.slice(0, firstKept).some(Boolean)).toBe(false);
  expect(kept.slice(firstKept).every(Boolean)).toBe(true);
  return kept.length - firstKept;
}

/** Whether each command is still there (read 100 at a time). */
async function stillThere(queue: ValidatedQueue<RedisQueueV3>, ids: string[]): Promise<boolean[]> {
  const found: boolean[] = [];
  for (let i = 0; i < ids.length; i += 100) found.push(...(await Promise.all(ids.slice(i, i + 100).map((id) => queue.get(id)))).map((c) => c !== null));
  return found;
}

/**
 * Has the store mint ids as if created at `ms` (an id carries its creation minute): the tests
 * that look at the order of trimming keep their commands in the minutes they choose, whatever
 * minute the clock passes meanwhile.
 */
function createdAt(store: RedisQueueV3, ms: number): void {
  store.newCommandId = (phyId) => store.keys.newCommandId(store.keys.shardOf(phyId), ms);
}

/** Delivers n commands through one replica (three events each: queued, delivered, acked); answers their ids. */
async function deliverRound(queue: ValidatedQueue<RedisQueueV3>, round: number, n: number): Promise<string[]> {
  const results = await queue.enqueueBatch(Array.from({ length: n }, (_, i) => cmd(`done-${round}-${i}`)));
  expect(results.filter((r) => r instanceof Error)).toEqual([]);
  let left = n;
  while (left > 0) {
    const claimed = (await queue.claim({ max: 500, leaseMs: LONG_LEASE })).filter((c) => c.phyId.startsWith('done-'));
    expect(claimed.length).toBeGreaterThan(0);
    const answers = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' })));
    expect(answers.filter((a) => !a.ok)).toEqual([]);
    left -= claimed.length;
  }
  return results.map((r) => (r as { id: string }).id);
}

it('keeps finished records and their events within 10% of the byte budget over a run about four times its size, and never trims a pending command', async () => {
  const { queue, prefix } = open({ retentionMaxBytes: BUDGET });
  // Pending all through the run: queued on a parked device, and scheduled for later.
  const early: string[] = [];
  for (let i = 0; i < 20; i += 1) early.push((await queue.enqueue(cmd(`parked-${i}`))).id);
  for (let i = 0; i < 20; i += 1) await queue.markDeviceOffline(`parked-${i}`);
  for (let i = 0; i < 20; i += 1) early.push((await queue.enqueue(cmd(`later-${i}`, { deliverAt: Date.now() + 3_600_000 }))).id);
  const late: string[] = [];

  let delivered = 0;
  let trimmed = 0;
  for (let round = 0; round < 8; round += 1) {
    // pending ones enqueued near the end, whose events the budget still holds
    if (round === 7) for (let i = 0; i < 10; i += 1) late.push((await queue.enqueue(cmd(`parked-late-${i}`, { deliverAt: Date.now() + 3_600_000 }))).id);
    await deliverRound(queue, round, 1500);
    delivered += 1500;
    const answer = (await queue.trimRetained())!;
    trimmed += answer.trimmed;
    const held = await finishedRecords(prefix);
    // Every finished record is either held or trimmed, and (looked at twice) every one held has its three events.
    expect(held.ids.length + trimmed).toBe(delivered);
    if (round === 4 || round === 7) {
      const incomplete: string[] = [];
      for (let i = 0; i < held.ids.length; i += 200) {
        const chunk = held.ids.slice(i, i + 200);
        const timelines = await Promise.all(chunk.map((id) => queue.commandEvents(id)));
        chunk.forEach((id, j) => timelines[j]?.map((e) => e.type).join() === 'command.queued,command.delivered,command.acked' || incomplete.push(id));
      }
      expect(incomplete).toEqual([]);
    }
    if (trimmed > 0) {
      // Redis' own count of what the hashes and streams take, not the script's estimate
      const usage = await memoryUsage(prefix);
      expect(usage).toBeGreaterThanOrEqual(BUDGET * 0.9);
      expect(usage).toBeLessThanOrEqual(BUDGET * 1.1);
      expect(Math.abs(answer.retainedBytes - usage)).toBeLessThanOrEqual(BUDGET * 0.1);
    }
  }
  // The run wrote about 3.7 budgets of records and events: most went.
  expect(trimmed).toBeGreaterThan(delivered / 2);
  // Pending commands stay whole: gettable, and claimable once due; the early ones' events went
  // with the stream's oldest entries, the late ones' are there.
  for (const id of [...early, ...late]) expect(await queue.get(id)).toMatchObject({ id, status: 'queued' });
  expect((await queue.stats()).total).toMatchObject({ inflight: 0, waitingForDevice: 20, delayed: 30 });
  for (const id of early) expect(await queue.commandEvents(id)).toEqual([]);
  for (const id of late) expect((await queue.commandEvents(id))!.map((e) => e.type)).toEqual(['command.queued']);
  for (let i = 0; i < 20; i += 1) await queue.markDeviceOnline(`parked-${i}`);
  const claimed = await queue.claim({ max: 100, leaseMs: LONG_LEASE });
  expect(claimed.map((c) => c.id).sort()).toEqual(early.slice(0, 20).sort());
  // What the allocator frees with them stays within the budget too (MEMORY USAGE counts a
  // stream about 9% above what it frees: 0.91-0.92 of the budget measured).
  const freed = await freedByDeleting(prefix);
  expect(freed).toBeGreaterThanOrEqual(BUDGET * 0.85);
  expect(freed).toBeLessThanOrEqual(BUDGET);
});

it('without a budget counts the retained bytes, records and events, and trims nothing', async () => {
  const { queue, prefix } = open();
  await deliverRound(queue, 0, 100);
  // Finishing counted each record in its shard's index, the script's only source for records.
  const store = queue.store;
  const indexed = await Promise.all(Array.from({ length: SHARDS }, async (_, shard) => (await client.zrange(store.keys.finishedBytes(shard), 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number)));
  expect(indexed.flat().reduce((a, b) => a + b, 0)).toBe((await finishedRecords(prefix)).bytes);
  const answer = (await queue.trimRetained())!;
  expect(answer.trimmed).toBe(0);
  const streams = await Promise.all(streamKeys(prefix).map(async (key) => Number(await client.memory('USAGE', key))));
  expect(answer.retainedBytes).toBe((await finishedRecords(prefix)).bytes + streams.reduce((a, b) => a + b, 0));
  expect((await finishedRecords(prefix)).ids).toHaveLength(100);
});

it('answers the last count within the quiet time of a trim, so many dispatchers cost one trim per shard', async () => {
  const { queue } = open({ retentionMaxBytes: BUDGET });
  await deliverRound(queue, 0, 50);
  const first = (await queue.trimRetained({ quietMs: 60_000 }))!;
  await deliverRound(queue, 1, 50);
  expect(await queue.trimRetained({ quietMs: 60_000 })).toEqual({ retainedBytes: first.retainedBytes, trimmed: 0 });
  expect((await queue.trimRetained())!.retainedBytes).toBeGreaterThan(first.retainedBytes);
});

/** What a shard holds, counted without a budget (another store on the same keys). */
async function retained(prefix: string): Promise<number> {
  return (await open({ prefix, shards: 1 }).queue.trimRetained())!.retainedBytes;
}

it('trims the oldest commands first, each with its events', async () => {
  const { queue, prefix } = open({ shards: 1 });
  createdAt(queue.store, Date.now());
  const older = await deliverRound(queue, 0, 300);
  const newer = await deliverRound(queue, 1, 300);
  const budget = Math.floor((await retained(prefix)) / 2);
  const trimmer = open({ prefix, shards: 1, retentionMaxBytes: budget }).queue;
  const { trimmed, retainedBytes } = (await trimmer.trimRetained())!;
  expect(retainedBytes).toBeLessThanOrEqual(budget * 1.1);
  expect(trimmed).toBeGreaterThan(0);
  // In the order they were created: trimmed ones, then kept ones, never the other way round.
  const all = [...older, ...newer];
  const keptCount = expectTrimmedPrefix(await stillThere(queue, all));
  expect(all.length - keptCount).toBe(trimmed);
  // What is kept fits the budget with the stream (Redis' own count of both), and a record
  // still held keeps its three events.
  expect((await finishedRecords(prefix)).bytes).toBeLessThanOrEqual(budget * 1.1);
  for (const id of all.slice(all.length - Math.min(keptCount, 10))) expect(await queue.commandEvents(id)).toHaveLength(3);
});

it('drops an older creation minute whole before reading any younger command\'s events', async () => {
  const { queue, prefix } = open({ shards: 1 });
  const store = queue.store;
  // Commands created now, then commands whose ids carry a minute ten minutes ago (their events
  // are written now, after the others'): the stream alone would take the younger ones first.
  const now = Date.now();
  createdAt(store, now);
  const fresh = await deliverRound(queue, 0, 300);
  createdAt(store, now - 600_000);
  const old = await deliverRound(queue, 1, 300);
  const budget = Math.floor((await retained(prefix)) * 0.45);
  const { trimmed } = (await open({ prefix, shards: 1, retentionMaxBytes: budget }).queue.trimRetained())!;
  expect(trimmed).toBeGreaterThan(300);
  expect((await stillThere(queue, old)).filter(Boolean)).toEqual([]);
  expect(expectTrimmedPrefix(await stillThere(queue, fresh))).toBe(600 - trimmed);
});

it('with many minutes in the budget drops whole minutes, then random records of the oldest left, and cuts the stream only between minutes', async () => {
  const { queue, prefix } = open({ shards: 1 });
  const store = queue.store;
  const now = Date.now();
  // Twenty creation minutes of 100 commands each, the oldest twenty minutes ago (their events
  // are all written now: no cut between those minutes reaches them).
  const byMinute: string[][] = [];
  for (let m = 0; m < 20; m += 1) {
    createdAt(store, now - (20 - m) * 60_000);
    byMinute.push(await deliverRound(queue, m, 100));
  }
  const [stream] = streamKeys(prefix, 1);
  const entries = await client.xlen(stream!);
  const records = (await finishedRecords(prefix)).bytes;
  // room for the events and about half the records
  const budget = Math.floor((await retained(prefix)) - records / 2);
  const { trimmed, retainedBytes } = (await open({ prefix, shards: 1, retentionMaxBytes: budget }).queue.trimRetained())!;
  expect(retainedBytes).toBeLessThanOrEqual(budget);
  expect(retainedBytes).toBeGreaterThanOrEqual(budget * 0.9);
  expect(await client.xlen(stream!)).toBe(entries);
  const kept: number[] = [];
  for (const ids of byMinute) kept.push((await stillThere(queue, ids)).filter(Boolean).length);
  // [0, ..., 0, part, 100, ..., 100]: at most one minute in part
  const firstKept = kept.findIndex((n) => n > 0);
  expect(firstKept).toBeGreaterThan(5);
  expect(kept.slice(0, firstKept).every((n) => n === 0)).toBe(true);
  expect(kept.slice(firstKept + 1).every((n) => n === 100)).toBe(true);
  expect(kept.reduce((a, b) => a + b, 0)).toBe(2000 - trimmed);
});
