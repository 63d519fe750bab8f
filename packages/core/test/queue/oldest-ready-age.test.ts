import Redis from 'ioredis';
import { RedisQueue, RedisQueueV3, ValidatedQueue, type CommandStore } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { cmd, LONG_LEASE } from './conformance/harness';
import { PgQueueFixture } from './postgres-helpers';

/**
 * The scaling metric's source: the age of the oldest command that could be sent now. It grows
 * while ready work waits, ignores commands behind an in-flight one, on a parked device or not yet
 * due, and follows the oldest across priorities (the claim's order is priority first).
 */
const pg = new PgQueueFixture('oldest-ready');
const redisClients: Redis[] = [];
const redisQueues: Array<RedisQueue | RedisQueueV3> = [];
beforeAll(() => pg.setup());
afterAll(async () => {
  await pg.teardown();
  await Promise.all(redisQueues.map((q) => q.close()));
  await Promise.all(redisClients.map((c) => c.quit()));
});

const backends: Array<[string, () => Promise<ValidatedQueue<CommandStore>>]> = [
  ['redis', async () => {
    const client = new Redis(testRedisUrl());
    redisClients.push(client);
    const queue = new RedisQueue(client, { prefix: uniquePrefix('oldest'), shards: 4 });
    redisQueues.push(queue);
    return new ValidatedQueue(queue);
  }],
  ['redis v3', async () => {
    const client = new Redis(testRedisUrl());
    redisClients.push(client);
    const queue = new RedisQueueV3(client, { prefix: uniquePrefix('oldest3'), shards: 4 });
    redisQueues.push(queue);
    return new ValidatedQueue(queue);
  }],
  ['postgres', () => pg.queue()],
];

describe.each(backends)('oldestReadyAgeSeconds (%s)', (_name, open) => {
  it('answers the age of the oldest ready command, and only ready ones count', async () => {
    const queue = await open();
    expect(await queue.oldestReadyAgeSeconds()).toBe(0);

    await queue.enqueue(cmd('age-scheduled', { deliverAt: Date.now() + 3_600_000 }));
    const { id: oldest } = await queue.enqueue(cmd('age-old', { priority: 1 }));
    const firstAge = await waitFor(async () => {
      const age = await queue.oldestReadyAgeSeconds();
      return age! >= 0.2 ? age : undefined;
    }, { what: 'the oldest ready command to be 0.2 s old' });
    // A newer command of higher priority does not hide the older one, though it is its
    // shard's best ready entry (age-new-2 shares age-old's shard of 4).
    await queue.enqueue(cmd('age-new-2', { priority: 9 }));
    await queue.enqueue(cmd('age-parked'));
    await queue.markDeviceOffline('age-parked');
    expect(await queue.oldestReadyAgeSeconds()).toBeGreaterThanOrEqual(firstAge!);
    expect(await queue.oldestReadyAgeSeconds()).toBeLessThan(60);

    // Once the old one is claimed, its device's next command waits behind it: not ready.
    await queue.enqueue(cmd('age-old', { priority: 1 }));
    const claimed = await queue.claim({ max: 2, leaseMs: LONG_LEASE });
    expect(claimed.map((c) => c.id)).toContain(oldest);
    expect(claimed).toHaveLength(2);
    expect(await queue.oldestReadyAgeSeconds()).toBe(0);
  });
});
