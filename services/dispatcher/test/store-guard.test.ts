import Redis from 'ioredis';
import { RedisQueue, RedisRouteRegistry, ValidatedQueue, type StoreError } from '@outbound/core';
import { freePort, startRedisServer, uniquePrefix, type RedisServerHandle } from '@outbound/test-support';
import { guardStore } from '../src/store-guard';

const input = (phyId: string) => ({ phyId, payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 5_000, maxAttempts: 3 });

describe('guardStore on a Redis that refuses writes (a replica)', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url);
    await client.call('REPLICAOF', '127.0.0.1', String(await freePort()));
  });
  afterAll(async () => {
    await client.call('REPLICAOF', 'NO', 'ONE');
    await client.quit();
    await redis.stop();
  });

  it('reports each failed store call once, with the backend and kind, and passes the answer on unchanged', async () => {
    const seen: Array<[string, string, string]> = [];
    const onStoreError = (operation: string, error: StoreError) => seen.push([operation, error.backend, error.kind]);
    const queue = guardStore(new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('guard'), shards: 1 })), onStoreError);
    const registry = guardStore(new RedisRouteRegistry({ client, prefix: uniquePrefix('guard-routes'), shards: 1 }), onStoreError);

    // One script call for three commands: three per-item answers, one failure counted.
    const answers = await queue.enqueueBatch([input('G-1'), input('G-2'), input('G-3')]);
    expect(answers.map((a) => (a as StoreError).code)).toEqual(['STORE_UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_UNAVAILABLE']);
    await expect(queue.claim({ max: 5, leaseMs: 5_000 })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(registry.register('G-1', { replicaId: 'r1', address: 'http://127.0.0.1:1' })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // Reads work on a replica: nothing to count.
    expect(await queue.get('00000000-0000-4000-8000-000000000000')).toBeNull();

    expect(seen).toEqual([
      ['enqueueBatch', 'redis', 'failover'],
      ['claim', 'redis', 'failover'],
      ['register', 'redis', 'failover'],
    ]);
    await queue.close();
    await registry.close();
  });
});
