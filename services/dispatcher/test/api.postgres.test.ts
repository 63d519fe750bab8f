import request from 'supertest';
import { createPgPool } from '@outbound/core';
import { testPgUrl, testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('on').toString('base64');

describe('dispatcher on the PostgreSQL backend (QUEUE_BACKEND=postgres)', () => {
  const schema = uniquePrefix('dispatcher-pg');
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { queue: { backend: 'postgres' }, postgres: { url: testPgUrl() } }, 'dispatcher-pg', schema);
  });
  afterAll(async () => {
    await d.stop();
    const pool = createPgPool({ url: testPgUrl() });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('serves the same API: enqueue, batch, read, cancel, stats, health', async () => {
    // The worker runs in this dispatcher: the command to cancel is scheduled an hour ahead so
    // it is still queued (not momentarily in flight) when the cancel arrives.
    const one = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'PG-1', payload, priority: 8 }).expect(202);
    const batch = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands: [{ phyId: 'PG-2', payload, deliverAt: Date.now() + 3_600_000 }, { phyId: 'bad id', payload }] }).expect(200);
    expect(batch.body).toMatchObject({ accepted: 1, failed: 1 });
    const read = await request(d.app).get(`/v1/commands/${one.body.id}`).set(as(SEND_KEY)).expect(200);
    expect(read.body).toMatchObject({ phyId: 'PG-1', priority: 8 });
    const cancelled = await request(d.app).delete(`/v1/commands/${batch.body.results[0].id}`).set(as(SEND_KEY)).expect(200);
    expect(cancelled.body.status).toBe('cancelled');
    const stats = await request(d.app).get('/v1/stats').set(as(ADMIN_KEY)).expect(200);
    expect(stats.body.total).toBeDefined();
    const health = await request(d.app).get('/health').expect(200);
    expect(health.body.checks.postgres.status).toBe('ok');
  });

  it('runs the worker on it: a command for a device with no route waits for the device without spending an attempt', async () => {
    const { body } = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'PG-OFF', payload }).expect(202);
    const parked = await waitFor(async () => {
      const c = (await request(d.app).get(`/v1/commands/${body.id}`).set(as(SEND_KEY))).body;
      return c.waitingFor === 'device' ? c : null;
    }, { what: 'the command to wait for its device' });
    expect(parked).toMatchObject({ status: 'queued', attempts: 0 });
  });
});
