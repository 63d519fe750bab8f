import Redis from 'ioredis';
import { RedisQueue, RedisRouteRegistry, StoreError, ValidatedQueue, isStoreError } from '@outbound/core';
import { fillRedisMemory, startRedisServer, uniquePrefix, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { cmd } from './conformance';

describe('RedisQueue when Redis is out of memory (maxmemory, noeviction)', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let queue: ValidatedQueue<RedisQueue>;

  beforeAll(async () => {
    redis = await startRedisServer(['--maxmemory', '8mb', '--maxmemory-policy', 'noeviction']);
  });
  beforeEach(() => {
    client = new Redis(redis.url);
    // Admission off: what Redis itself does at OOM.
    queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('oom'), shards: 16, admissionMaxMemoryRatio: 0 }));
  });
  afterEach(async () => {
    await client.del('test-filler');
    await queue.close();
    await client.quit();
  });
  afterAll(() => redis.stop());

  it('refuses a batch of 100 as a whole: every item answers STORE_FULL and nothing is stored', async () => {
    const before = (await queue.stats()).total.pending;
    await fillRedisMemory(client, 1.02);
    const batch = Array.from({ length: 100 }, (_, i) => ({ ...cmd(`oom-${i % 40}`), payload: Buffer.alloc(2_000, i) }));
    const answers = await queue.enqueueBatch(batch);
    for (const answer of answers) {
      expect(isStoreError(answer)).toBe(true);
      expect(answer).toMatchObject({ code: 'STORE_FULL', status: 503, backend: 'redis', kind: 'full' });
    }
    await client.del('test-filler');
    expect((await queue.stats()).total.pending).toBe(before);
    for (let i = 0; i < 40; i += 1) expect(await queue.listDevice(`oom-${i}`)).toEqual([]);
  });

  it('keeps draining at OOM: claims, acks and route writes still run', async () => {
    await queue.enqueueBatch([cmd('drain-1'), cmd('drain-2')]);
    await fillRedisMemory(client, 1.02);
    await expect(queue.enqueue(cmd('drain-3'))).rejects.toBeInstanceOf(StoreError);

    const claimed = await queue.claim({ max: 10, leaseMs: 30_000 });
    expect(claimed.map((c) => c.phyId).sort()).toEqual(['drain-1', 'drain-2']);
    const acked = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acked.every((r) => r.ok)).toBe(true);

    const registry = new RedisRouteRegistry({ client, prefix: uniquePrefix('oom-routes'), shards: 4 });
    await registry.heartbeat({ replicaId: 'r1', address: 'http://127.0.0.1:1' }, 10_000);
    const { epoch } = await registry.register('drain-1', { replicaId: 'r1', address: 'http://127.0.0.1:1' });
    expect(epoch).toBeGreaterThan(0);
    expect((await registry.lookup('drain-1'))?.replicaId).toBe('r1');
    await registry.close();
  });

  it('stops enqueue at the high-water mark, before Redis refuses anything, and says how full it is', async () => {
    const guarded = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('oom-mark'), shards: 16, admissionMaxMemoryRatio: 0.9 }));
    await guarded.enqueue(cmd('mark-1'));
    await fillRedisMemory(client, 0.95);
    // The sample is at most a second old: wait for one that shows the fill.
    await waitFor(async () => ((await guarded.store.memory())?.ratio ?? 0) >= 0.9, { what: 'a memory sample above the mark' });
    const answer = await guarded.enqueueBatch(Array.from({ length: 100 }, (_, i) => cmd(`mark-${i}`))).catch((error: unknown) => error);
    expect(answer).toMatchObject({ code: 'STORE_FULL', kind: 'full', details: { maxMemoryBytes: 8 * 1024 * 1024 } });
    expect(((answer as StoreError).details as { usedMemoryBytes: number }).usedMemoryBytes).toBeGreaterThan(0.9 * 8 * 1024 * 1024);
    expect(await guarded.listDevice('mark-2')).toEqual([]);
    // Redis itself still takes writes: the claim below the OOM line works.
    expect(await guarded.claim({ max: 5, leaseMs: 30_000 })).toHaveLength(1);
    await guarded.close();
  });
});
