import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { RedisQueue, RedisQueueV3, ValidatedQueue, type CommandStore } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { cmd } from './conformance';

/** Write system calls this process has made so far (Linux /proc/self/io). */
function writeCalls(): number {
  return Number(/syscw: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

/** Write system calls made from `call()` until its answer; it counts the test runner's own writes (a few) too. */
async function writesOf<T>(call: () => Promise<T>): Promise<{ value: T; writes: number }> {
  const before = writeCalls();
  const value = await call();
  return { value, writes: writeCalls() - before };
}

/**
 * A batch spread over many shards runs one script per shard; on one Redis those scripts leave
 * in one write (inOneWrite), not one write each. An ack sends its scripts before it returns, so
 * its writes are counted exactly; enqueue and claim send theirs after an await, so what the
 * test runner and the client write meanwhile counts too: their bound is half a write per shard
 * touched (one write per script made 17 for the enqueue alone).
 */
describe.each(['v2', 'v3'] as const)('%s store: one write per batch across shards', (layout) => {
  let client: Redis;
  let queue: ValidatedQueue<CommandStore>;
  let shardsTouched: number;
  const SHARDS = 16;

  beforeAll(async () => {
    client = new Redis(testRedisUrl());
    const options = { prefix: uniquePrefix(`one-write-${layout}`), shards: SHARDS };
    const store = layout === 'v2' ? new RedisQueue(client, options) : new RedisQueueV3(client, options);
    queue = new ValidatedQueue<CommandStore>(store);
    shardsTouched = new Set(Array.from({ length: 64 }, (_, i) => store['keys'].shardOf(`one-write-${i}`))).size;
    await queue.stats(); // connected, scripts' first EVALs behind us
  });

  afterAll(async () => {
    await queue.close();
    await client.quit();
  });

  it('enqueues, claims and acks 64 commands on 64 devices in a few writes each', async () => {
    expect(shardsTouched).toBeGreaterThanOrEqual(12);
    const enqueued = await writesOf(() => queue.enqueueBatch(Array.from({ length: 64 }, (_, i) => cmd(`one-write-${i}`))));
    expect(enqueued.value.every((r) => 'id' in r)).toBe(true);
    expect(enqueued.writes).toBeLessThan(shardsTouched / 2);

    const claimed = await writesOf(() => queue.claim({ max: 64, leaseMs: 60_000 }));
    expect(claimed.value).toHaveLength(64);
    expect(claimed.writes).toBeLessThan(shardsTouched / 2);

    const before = writeCalls();
    const acking = queue.ack(claimed.value.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(writeCalls() - before).toBe(1);
    expect((await acking).every((r) => r.ok)).toBe(true);
    expect((await queue.stats()).total.inflight).toBe(0);
  });
});
