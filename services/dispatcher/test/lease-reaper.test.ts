import { Registry } from 'prom-client';
import { createLogger, createRedisClient, RedisQueue, ValidatedQueue, type RedisClient } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { createLeaseReaper } from '../src/lease-reaper';
import { createDispatcherMetrics, type DispatcherMetrics } from '../src/metrics';

const logger = createLogger({ service: 'test', level: 'silent' });
const input = (phyId: string, ttlMs = 60_000) => ({ phyId, payload: Buffer.from('x'), priority: 5, ttlMs, ackTimeoutMs: 1_000, maxAttempts: 3 });

describe('LeaseReaper (real Redis queue)', () => {
  let client: RedisClient;
  let queue: ValidatedQueue<RedisQueue>;
  let metrics: DispatcherMetrics;

  const counter = async (name: string) => Number((await metrics.registry.getSingleMetricAsString(name)).match(/\} (\d+)$|\s(\d+)$/m)?.slice(1).find(Boolean) ?? 0);

  beforeEach(() => {
    client = createRedisClient({ url: testRedisUrl() });
    queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('reaper'), shards: 2 }));
    metrics = createDispatcherMetrics(new Registry(), queue);
  });

  afterEach(async () => {
    await queue.close();
    await client.quit();
  });

  it('returns a command whose lease expired to its device, counts it and signals work', async () => {
    const { id } = await queue.enqueue(input('REAP-1'));
    const [claimed] = await queue.claim({ max: 1, leaseMs: 50 });
    expect(claimed!.id).toBe(id);
    let signals = 0;
    const reaper = createLeaseReaper({ queue, metrics, logger, intervalMs: 60_000, onWork: () => signals++ });
    await waitFor(async () => {
      await reaper.runNow();
      return (await counter('outbound_dispatcher_leases_reclaimed_total')) === 1;
    }, { what: 'the expired lease to be reclaimed' });
    expect(signals).toBe(1);
    const [again] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect(again).toMatchObject({ id, attempts: 2 });
    // The first holder's outcome is refused: the lease went with the reclaim.
    const [late] = await queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok' }]);
    expect(late).toMatchObject({ ok: false, error: { code: 'LEASE_LOST' } });
  });

  it('leaves a lease that has not expired alone and signals nothing', async () => {
    await queue.enqueue(input('REAP-2'));
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    let signals = 0;
    const reaper = createLeaseReaper({ queue, metrics, logger, intervalMs: 60_000, onWork: () => signals++ });
    await reaper.runNow();
    expect(signals).toBe(0);
    expect(await counter('outbound_dispatcher_leases_reclaimed_total')).toBe(0);
    expect((await queue.get(claimed!.id))!.status).toBe('inflight');
  });

  it('clears more expired leases than one page (500) in one tick', async () => {
    const n = 520;
    await queue.enqueueBatch(Array.from({ length: n }, (_, i) => input(`REAP-MANY-${i}`)));
    const claimed = await queue.claim({ max: n, leaseMs: 50 });
    expect(claimed).toHaveLength(n);
    const reaper = createLeaseReaper({ queue, metrics, logger, intervalMs: 60_000 });
    // Wait until every lease has lapsed (the claim spans shards, so they lapse at different
    // times: the latest counts), then one tick must take them all.
    const lastLapse = claimed.reduce((latest, c) => Math.max(latest, c.leaseExpiresAt), 0);
    await waitFor(async () => (await queue.stats()).total.inflight === n && Date.now() > lastLapse + 5, { what: 'the leases to lapse' });
    await reaper.runNow();
    expect(await counter('outbound_dispatcher_leases_reclaimed_total')).toBe(n);
    expect((await queue.stats()).total.inflight).toBe(0);
  });

  it('moves a command past its TTL to expired and counts it', async () => {
    const { id } = await queue.enqueue(input('REAP-TTL', 30));
    const reaper = createLeaseReaper({ queue, metrics, logger, intervalMs: 60_000 });
    await waitFor(async () => {
      await reaper.runNow();
      return (await queue.get(id))!.status === 'expired';
    }, { what: 'the command to expire' });
    expect(await counter('outbound_dispatcher_expired_total')).toBe(1);
  });
});
