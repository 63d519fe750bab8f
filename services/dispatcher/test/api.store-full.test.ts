import Redis from 'ioredis';
import request from 'supertest';
import { fillRedisMemory, startRedisServer, waitFor, type RedisServerHandle } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('set-power 11kW').toString('base64');

describe('public API when Redis reaches the enqueue high-water mark', () => {
  let redis: RedisServerHandle;
  let filler: Redis;
  let d: RunningDispatcher;
  beforeAll(async () => {
    redis = await startRedisServer(['--maxmemory', '8mb', '--maxmemory-policy', 'noeviction']);
    filler = new Redis(redis.url);
    d = await startTestDispatcher(redis.url, { worker: { enabled: false }, queue: { admissionMaxMemoryRatio: 0.85 } }, 'api-store-full');
  });
  afterAll(async () => {
    filler.disconnect();
    await d.stop();
    await redis.stop();
  });

  it('answers 503 STORE_FULL with Retry-After and stores nothing, while claims, acks and route writes go on and health says why', async () => {
    const before = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'FULL-1', payload }).expect(202);
    await fillRedisMemory(filler, 0.9);
    await waitFor(async () => (await request(d.app).get('/health')).body.checks.redis.memoryRatio >= 0.85, { what: 'health to see the fill' });

    const single = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'FULL-2', payload });
    expect(single.status).toBe(503);
    expect(single.body.code).toBe('STORE_FULL');
    expect(Number(single.headers['retry-after'])).toBeGreaterThan(0);

    const batch = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY))
      .send({ commands: Array.from({ length: 100 }, (_, i) => ({ phyId: `FULL-B${i}`, payload })) });
    expect(batch.status).toBe(503);
    expect(batch.body.code).toBe('STORE_FULL');
    expect(Number(batch.headers['retry-after'])).toBeGreaterThan(0);
    const stats = await request(d.app).get('/v1/stats').set(as(ADMIN_KEY)).expect(200);
    expect(stats.body.total.pending).toBe(1);

    // The queue drains: what is queued is claimed and acknowledged, and routes are written.
    const [claimed] = await d.queue.claim({ max: 10, leaseMs: 30_000 });
    expect(claimed?.id).toBe(before.body.id);
    const [acked] = await d.queue.ack([{ id: claimed!.id, leaseToken: claimed!.leaseToken, outcome: 'ok' }]);
    expect(acked).toMatchObject({ ok: true, status: 'acked' });
    await d.registry.heartbeat({ replicaId: 'r-full', address: 'http://127.0.0.1:1' }, 10_000);
    expect((await d.registry.register('FULL-1', { replicaId: 'r-full', address: 'http://127.0.0.1:1' })).epoch).toBeGreaterThan(0);

    const health = await request(d.app).get('/health').expect(200);
    expect(health.body.checks.redis).toMatchObject({ status: 'degraded', maxMemoryBytes: 8 * 1024 * 1024 });
    expect(health.body.checks.redis.warnings.join(' ')).toMatch(/enqueue is paused/);
    // Still ready: a full store still delivers; /readyz names it.
    const ready = await request(d.app).get('/readyz').expect(200);
    expect(ready.body.degraded).toEqual(['redis']);
    const metrics = await request(d.app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/outbound_dispatcher_store_errors_total\{backend="redis",kind="full"[^}]*\} [1-9]/);
    expect(Number(/outbound_dispatcher_store_memory_ratio\{[^}]*\} ([\d.]+)/.exec(metrics.text)?.[1])).toBeGreaterThanOrEqual(0.85);

    // Room again: enqueue takes commands once the sample shows it.
    await filler.del('test-filler');
    await waitFor(async () => (await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'FULL-3', payload })).status === 202, { what: 'enqueue accepted again' });
  });
});
