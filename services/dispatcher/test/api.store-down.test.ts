import request from 'supertest';
import { startRedisServer, waitFor, type RedisServerHandle } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

describe('public API when Redis is unreachable', () => {
  let redis: RedisServerHandle;
  let d: RunningDispatcher;
  beforeAll(async () => {
    redis = await startRedisServer();
    d = await startTestDispatcher(redis.url, { worker: { enabled: false } }, 'api-store-down');
  });
  afterAll(async () => {
    await d.stop();
    await redis.stop();
  });

  it('answers 503 STORE_UNAVAILABLE with Retry-After, reports not ready, and still serves /metrics', async () => {
    await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-1', payload: '' }).expect(202);
    await request(d.app).get('/readyz').expect(200);
    await redis.kill();
    // A request written to the socket in the instant before the client sees it close is truly
    // OUTCOME_UNKNOWN (it may have been stored); wait until the dispatcher knows Redis is gone,
    // so this one is refused before anything is sent.
    await waitFor(async () => (await request(d.app).get('/readyz')).status === 503, { timeoutMs: 10_000, what: 'readiness to report Redis down' });

    const res = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-1', payload: '' });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.code).toBe('STORE_UNAVAILABLE');

    const stats = await request(d.app).get('/v1/stats').set(as(ADMIN_KEY));
    expect(stats.status).toBe(503);
    const health = await request(d.app).get('/health').expect(503);
    expect(health.body.checks.redis.status).toBe('down');
    const metrics = await request(d.app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/outbound_dispatcher_store_errors_total\{backend="redis",kind="unreachable"[^}]*\} [1-9]/);
  });
});
