import Redis from 'ioredis';
import { RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { cmd, LONG_LEASE } from './conformance/harness';

/**
 * QUEUE_RETENTION_MAX_BYTES on the v3 layout: finished records beyond the byte budget go,
 * oldest creation minute first, and the retained bytes stay near the budget; pending commands
 * (queued, scheduled, parked) never go.
 */
const BUDGET = 40_000;
const ENTRY_BYTES = 64; // as lua/includes/v3.lua counts a record: field + value + this
let client: Redis;
const made: RedisQueueV3[] = [];

beforeAll(() => {
  client = new Redis(testRedisUrl());
});
afterAll(async () => {
  await Promise.all(made.map((q) => q.close()));
  await client.quit();
});

function open(retentionMaxBytes?: number): { queue: ValidatedQueue<RedisQueueV3>; prefix: string } {
  const prefix = uniquePrefix('retain');
  const store = new RedisQueueV3(client, { prefix, shards: 4, ...(retentionMaxBytes ? { retentionMaxBytes } : {}) });
  made.push(store);
  return { queue: new ValidatedQueue(store), prefix };
}

/** What the finished-record hashes hold, read from Redis itself, counted as the budget counts. */
async function finishedBytes(prefix: string): Promise<{ bytes: number; records: number }> {
  let bytes = 0;
  let records = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:v3:{*}:f:*`, 'COUNT', 1000);
    for (const key of keys) {
      const hash = await client.hgetallBuffer(key);
      for (const [field, value] of Object.entries(hash)) {
        bytes += Buffer.byteLength(field) + value.length + ENTRY_BYTES;
        records += 1;
      }
    }
    cursor = next;
  } while (cursor !== '0');
  return { bytes, records };
}

async function deliverRound(queue: ValidatedQueue<RedisQueueV3>, round: number, n: number): Promise<void> {
  const results = await queue.enqueueBatch(Array.from({ length: n }, (_, i) => cmd(`done-${round}-${i}`)));
  expect(results.filter((r) => r instanceof Error)).toEqual([]);
  let left = n;
  while (left > 0) {
    const claimed = (await queue.claim({ max: 200, leaseMs: LONG_LEASE })).filter((c) => c.phyId.startsWith('done-'));
    expect(claimed.length).toBeGreaterThan(0);
    const answers = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(answers.filter((a) => !a.ok)).toEqual([]);
    left -= claimed.length;
  }
}

it('keeps finished records within 10% of the byte budget over a run four times its size, and never trims a pending command', async () => {
  const { queue, prefix } = open(BUDGET);
  // Pending all through the run: queued on a parked device, and scheduled for later.
  const pending: string[] = [];
  for (let i = 0; i < 20; i += 1) pending.push((await queue.enqueue(cmd(`parked-${i}`))).id);
  for (let i = 0; i < 20; i += 1) await queue.markDeviceOffline(`parked-${i}`);
  for (let i = 0; i < 20; i += 1) pending.push((await queue.enqueue(cmd(`later-${i}`, { deliverAt: Date.now() + 3_600_000 }))).id);

  let delivered = 0;
  let trimmed = 0;
  for (let round = 0; round < 10; round += 1) {
    await deliverRound(queue, round, 100);
    delivered += 100;
    const answer = (await queue.trimRetained())!;
    trimmed += answer.trimmed;
    const held = await finishedBytes(prefix);
    // The answer is what Redis holds, and every finished record is either held or trimmed.
    expect(answer.retainedBytes).toBe(held.bytes);
    expect(held.records + trimmed).toBe(delivered);
    if (trimmed > 0) {
      expect(held.bytes).toBeGreaterThanOrEqual(BUDGET * 0.9);
      expect(held.bytes).toBeLessThanOrEqual(BUDGET * 1.1);
    }
  }
  // The run held about four budgets of finished records: most went.
  expect(trimmed).toBeGreaterThan(delivered / 2);
  for (const id of pending) expect(await queue.get(id)).toMatchObject({ id, status: 'queued' });
  expect((await queue.stats()).total).toMatchObject({ inflight: 0, waitingForDevice: 20, delayed: 20 });
});

it('without a budget counts the retained bytes and trims nothing', async () => {
  const { queue, prefix } = open();
  await deliverRound(queue, 0, 100);
  // Finishing counted each record in its shard's index, the script's only source.
  const store = queue.store;
  const indexed = await Promise.all(Array.from({ length: 4 }, async (_, shard) => (await client.zrange(store.keys.finishedBytes(shard), 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number)));
  expect(indexed.flat().reduce((a, b) => a + b, 0)).toBe((await finishedBytes(prefix)).bytes);
  const answer = (await queue.trimRetained())!;
  expect(answer.trimmed).toBe(0);
  expect(answer.retainedBytes).toBe((await finishedBytes(prefix)).bytes);
  expect((await finishedBytes(prefix)).records).toBe(100);
});

it('answers the last count within the quiet time of a trim, so many dispatchers cost one trim per shard', async () => {
  const { queue } = open(BUDGET);
  await deliverRound(queue, 0, 50);
  const first = (await queue.trimRetained({ quietMs: 60_000 }))!;
  await deliverRound(queue, 1, 50);
  expect(await queue.trimRetained({ quietMs: 60_000 })).toEqual({ retainedBytes: first.retainedBytes, trimmed: 0 });
  expect((await queue.trimRetained())!.retainedBytes).toBeGreaterThan(first.retainedBytes);
});

it('trims the oldest creation minutes first', async () => {
  const prefix = uniquePrefix('retain-order');
  const store = new RedisQueueV3(client, { prefix, shards: 1, retentionMaxBytes: 7_000 });
  made.push(store);
  const queue = new ValidatedQueue(store);
  const mint = store.newCommandId.bind(store);
  // Commands created ten minutes ago (their ids carry their creation minute), then fresh ones.
  store.newCommandId = (phyId) => store.keys.newCommandId(store.keys.shardOf(phyId), Date.now() - 600_000);
  const old = (await queue.enqueueBatch(Array.from({ length: 30 }, (_, i) => cmd(`done-old-${i}`)))).map((r) => (r as { id: string }).id);
  store.newCommandId = mint;
  const fresh = (await queue.enqueueBatch(Array.from({ length: 30 }, (_, i) => cmd(`done-new-${i}`)))).map((r) => (r as { id: string }).id);
  const claimed = await queue.claim({ max: 100, leaseMs: LONG_LEASE });
  expect(claimed).toHaveLength(60);
  await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
  // 60 records of about 170 bytes: 7,000 bytes hold the 30 fresh ones and some old ones.
  const { trimmed } = (await queue.trimRetained())!;
  expect(trimmed).toBeGreaterThan(0);
  expect(trimmed).toBeLessThanOrEqual(30);
  for (const id of fresh) expect(await queue.get(id)).toMatchObject({ status: 'acked' });
  expect((await Promise.all(old.map((id) => queue.get(id)))).filter((c) => c === null)).toHaveLength(trimmed);
});
