import request from 'supertest';
import { createPgPool } from '@outbound/core';
import { deepMerge, testPgUrl, testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('reboot').toString('base64');
type Item = { id: string; phyId: string; status: string };

/** Fails every ready command once, as a worker would, so those with maxAttempts 1 go dead. */
async function killAll(d: RunningDispatcher, error: (phyId: string) => string): Promise<string[]> {
  const claimed = await d.queue.claim({ max: 1000, leaseMs: 10_000 });
  const results = await d.queue.fail(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, error: error(c.phyId), retryable: true })));
  return results.filter((r) => r.ok && r.status === 'dead').map((r) => r.id);
}

async function enqueueBatch(d: RunningDispatcher, commands: Array<Record<string, unknown>>): Promise<string[]> {
  const res = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands: commands.map((c) => ({ payload, ...c })) }).expect(200);
  expect(res.body.failed).toBe(0);
  return res.body.results.map((r: { id: string }) => r.id);
}

/** Each store the routes run on: Redis with either record layout, and PostgreSQL (its own schema, dropped after). */
const STORES: Array<[string, () => Record<string, unknown>]> = [
  ['Redis (v2 layout)', () => ({})],
  ['Redis (v3 layout)', () => ({ queue: { redisLayout: 'v3' } })],
  ['PostgreSQL', () => ({ queue: { backend: 'postgres' }, postgres: { url: testPgUrl() } })],
];

describe.each(STORES)('bulk operations and history API on %s (worker off)', (store, storeSettings) => {
  const prefix = uniquePrefix('api-bulk');
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), deepMerge(storeSettings(), { worker: { enabled: false }, queue: { perDeviceCap: 2_000 } }), 'api-bulk', prefix);
  });
  afterAll(async () => {
    await d.stop();
    if (store === 'PostgreSQL') {
      const pool = createPgPool({ url: testPgUrl() });
      await pool.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`);
      await pool.end();
    }
  });

  it('DELETE /v1/devices/:phyId/commands cancels 1,000 queued commands in one request, not the in-flight one', async () => {
    await enqueueBatch(d, [{ phyId: 'BULK-C', priority: 9 }]);
    const [inflight] = await d.queue.claim({ max: 1, leaseMs: 10_000 });
    expect(inflight?.phyId).toBe('BULK-C');
    const ids = await enqueueBatch(d, Array.from({ length: 999 }, () => ({ phyId: 'BULK-C' })));
    await enqueueBatch(d, [{ phyId: 'BULK-C', deliverAt: Date.now() + 600_000 }]);
    const other = await enqueueBatch(d, [{ phyId: 'BULK-OTHER' }]);

    const res = await request(d.app).delete('/v1/devices/BULK-C/commands').set(as(ADMIN_KEY)).expect(200);
    expect(res.body).toEqual({ cancelled: 1_000 });
    expect((await request(d.app).get(`/v1/commands/${ids[500]}`).set(as(SEND_KEY)).expect(200)).body.status).toBe('cancelled');
    expect((await d.queue.get(inflight!.id))?.status).toBe('inflight');
    expect((await d.queue.get(other[0]!))?.status).toBe('queued');
    const device = await request(d.app).get('/v1/devices/BULK-C').set(as(ADMIN_KEY)).expect(200);
    expect(device.body.pending).toBe(1);
    await request(d.app).delete('/v1/devices/BULK-C/commands').set(as(ADMIN_KEY)).expect(200, { cancelled: 0 });
    await request(d.app).delete('/v1/devices/BULK-C/commands').set(as(SEND_KEY)).expect(403);
    const bad = await request(d.app).delete('/v1/devices/bad%20id/commands').set(as(ADMIN_KEY)).expect(400);
    expect(bad.body.errors[0].path).toBe('phyId');
  });

  it('lists, replays and purges dead letters by filter', async () => {
    await enqueueBatch(d, [
      { phyId: 'BULK-D1', maxAttempts: 1 }, { phyId: 'BULK-D1', maxAttempts: 1 }, { phyId: 'BULK-D2', maxAttempts: 1 },
    ]);
    await killAll(d, (phyId) => (phyId === 'BULK-D2' ? 'ACK_TIMEOUT: no answer' : 'BUSY: later'));
    await killAll(d, () => 'BUSY: later');
    const list = async (query: string) => {
      const items: Item[] = [];
      let cursor: string | null = null;
      do {
        const page: request.Response = await request(d.app).get(`/v1/dead-letters?limit=1&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).set(as(ADMIN_KEY)).expect(200);
        items.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor);
      return items;
    };
    expect((await list('phyId=BULK-D1')).map((c) => c.phyId)).toEqual(['BULK-D1', 'BULK-D1']);
    expect((await list('reason=ACK_TIMEOUT')).map((c) => c.phyId)).toEqual(['BULK-D2']);
    expect(await list(`reason=BUSY&phyId=BULK-D1&since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).toEqual([]);
    const badTime = await request(d.app).get('/v1/dead-letters?since=yesterday').set(as(ADMIN_KEY)).expect(400);
    expect(badTime.body.errors[0].path).toBe('query.since');

    await request(d.app).post('/v1/dead-letters/replay').set(as(ADMIN_KEY)).send({ filter: { phyId: 'BULK-D2', reason: 'ACK_TIMEOUT' } }).expect(200, { replayed: 1 });
    await request(d.app).post('/v1/dead-letters/purge').set(as(ADMIN_KEY)).send({ filter: { phyId: 'BULK-D1' } }).expect(200, { purged: 2 });
    expect(await list('phyId=BULK-D1')).toEqual([]);
    await request(d.app).post('/v1/dead-letters/purge').set(as(ADMIN_KEY)).send({ filter: { phyId: 'BULK-D1' } }).expect(200, { purged: 0 });
    const badBody = await request(d.app).post('/v1/dead-letters/purge').set(as(ADMIN_KEY)).send({ filter: { phyId: 'BULK-D1', color: 'red' } }).expect(400);
    expect(badBody.body.code).toBe('VALIDATION_FAILED');
    await request(d.app).post('/v1/dead-letters/purge').set(as(ADMIN_KEY)).send({}).expect(400);
    await request(d.app).post('/v1/dead-letters/purge').set(as(SEND_KEY)).send({ all: true }).expect(403);
  });

  it('POST /v1/commands/batch?waitMs answers when every command is terminal, each with its full state', async () => {
    const waiting = request(d.app).post('/v1/commands/batch?waitMs=5000').set(as(SEND_KEY))
      .send({ commands: [{ phyId: 'BULK-W1', payload }, { phyId: 'BULK-W2', payload }, { phyId: 'bad id', payload }] }).then((r) => r);
    // Play the worker: claim both as they arrive, ack one, reject the other; give back anything else.
    const done = new Set<string>();
    await waitFor(async () => {
      const found = await d.queue.claim({ max: 100, leaseMs: 10_000 });
      const mine = found.filter((c) => c.phyId === 'BULK-W1' || c.phyId === 'BULK-W2');
      await d.queue.ack(mine.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: c.phyId === 'BULK-W1' ? 'ok' as const : 'rejected' as const })));
      await d.queue.release(found.filter((c) => !mine.includes(c)).map((c) => ({ id: c.id, leaseToken: c.leaseToken })));
      for (const c of mine) done.add(c.phyId);
      return done.size === 2;
    }, { what: 'both commands of the batch to be stored and finished' });
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, failed: 1 });
    expect(res.body.results[0]).toMatchObject({ index: 0, phyId: 'BULK-W1', status: 'acked', attempts: 1, duplicate: false });
    expect(res.body.results[1]).toMatchObject({ index: 1, phyId: 'BULK-W2', status: 'rejected' });
    expect(res.body.results[2]).toMatchObject({ index: 2, code: 'VALIDATION_FAILED' });

    // Nothing finishes: the wait runs out and each item answers where it stands.
    const started = Date.now();
    const late = await request(d.app).post('/v1/commands/batch?waitMs=300').set(as(SEND_KEY)).send({ commands: [{ phyId: 'BULK-W3', payload }] }).expect(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(late.body.results[0]).toMatchObject({ index: 0, phyId: 'BULK-W3', status: 'queued', attempts: 0 });
    await request(d.app).post('/v1/commands/batch?waitMs=-1').set(as(SEND_KEY)).send({ commands: [{ phyId: 'BULK-W3', payload }] }).expect(400);
  });

  it('offline "reject" refuses a command for a device without a live route with 409 DEVICE_OFFLINE and stores nothing', async () => {
    const refused = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'BULK-OFF', payload, offline: 'reject' }).expect(409);
    expect(refused.body).toMatchObject({ code: 'DEVICE_OFFLINE', phyId: 'BULK-OFF' });
    expect(await d.queue.countDevice('BULK-OFF')).toBe(0);
    // The default queues it to wait.
    await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'BULK-OFF', payload }).expect(202);
    expect(await d.queue.countDevice('BULK-OFF')).toBe(1);

    await d.registry.register('BULK-ON', { replicaId: 'replica-b', address: 'http://127.0.0.1:1' });
    await d.registry.heartbeat({ replicaId: 'replica-b', address: 'http://127.0.0.1:1' }, 10_000);
    await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'BULK-ON', payload, offline: 'reject' }).expect(202);

    const batch = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({
      commands: [{ phyId: 'BULK-ON', payload, offline: 'reject' }, { phyId: 'BULK-OFF2', payload, offline: 'reject' }, { phyId: 'BULK-OFF2', payload, offline: 'queue' }],
    }).expect(200);
    expect(batch.body).toMatchObject({ accepted: 2, failed: 1 });
    expect(batch.body.results[1]).toMatchObject({ index: 1, code: 'DEVICE_OFFLINE', status: 409 });
    expect(await d.queue.countDevice('BULK-OFF2')).toBe(1);
    const bad = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'BULK-OFF', payload, offline: 'drop' }).expect(400);
    expect(bad.body.errors[0].path).toBe('offline');
  });

  it('lists the history newest first by device, status and enqueue time, page by page, and a device\'s commands by status and cursor', async () => {
    // Commands of different devices are ordered by their enqueue time's millisecond (on Redis two
    // shards' scripts within one millisecond may come in either order): the clock moves between them.
    const moved = async () => {
      const passed = Date.now() + 2;
      await waitFor(() => Date.now() >= passed, { what: 'the clock to move on' });
    };
    // Earlier tests' commands (over a thousand) are before `start`: the listings here begin after them.
    await moved();
    const start = Date.now();
    await moved();
    const first = await enqueueBatch(d, [{ phyId: 'H-1' }]);
    await moved();
    first.push(...(await enqueueBatch(d, [{ phyId: 'H-2' }])));
    await moved();
    const since = Date.now();
    await moved();
    const second = await enqueueBatch(d, [{ phyId: 'H-1' }, { phyId: 'H-1' }]);
    await request(d.app).delete(`/v1/commands/${second[1]}`).set(as(SEND_KEY)).expect(200);

    const all = async (path: string) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page: request.Response = await request(d.app).get(`${path}${path.includes('?') ? '&' : '?'}limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).set(as(ADMIN_KEY)).expect(200);
        expect(page.body.items.length).toBeLessThanOrEqual(1);
        ids.push(...page.body.items.map((c: Item) => c.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      return ids;
    };
    expect(await all(`/v1/commands?since=${start}`)).toEqual([second[1], second[0], first[1], first[0]]);
    expect(await all('/v1/commands?phyId=H-1')).toEqual([second[1], second[0], first[0]]);
    expect(await all('/v1/commands?phyId=H-1&status=cancelled')).toEqual([second[1]]);
    expect(await all(`/v1/commands?status=queued&since=${start}`)).toEqual([second[0], first[1], first[0]]);
    expect(await all(`/v1/commands?since=${encodeURIComponent(new Date(since).toISOString())}`)).toEqual([second[1], second[0]]);
    expect(await all(`/v1/commands?since=${start}&until=${since}`)).toEqual([first[1], first[0]]);
    const page = await request(d.app).get('/v1/commands?phyId=H-1&limit=2').set(as(SEND_KEY)).expect(200);
    expect(page.body.items.map((c: Item) => c.status)).toEqual(['cancelled', 'queued']);
    expect(page.body.nextCursor).toEqual(expect.any(String));

    // A device's listing with status or cursor is the same history for one device.
    expect(await all('/v1/devices/H-1/commands?status=cancelled')).toEqual([second[1]]);
    expect(await all('/v1/devices/H-1/commands?status=queued')).toEqual([second[0], first[0]]);
    // Without status or cursor it keeps answering the device's pending commands in delivery order.
    const pending = await request(d.app).get('/v1/devices/H-1/commands').set(as(ADMIN_KEY)).expect(200);
    expect(pending.body).toMatchObject({ phyId: 'H-1', items: [{ id: first[0] }, { id: second[0] }], nextCursor: null });

    const bad = await request(d.app).get('/v1/commands?status=lost').set(as(SEND_KEY)).expect(400);
    expect(bad.body.errors[0].path).toBe('query.status');
    const badCursor = await request(d.app).get('/v1/commands?cursor=abc').set(as(SEND_KEY)).expect(400);
    expect(badCursor.body.code).toBe('VALIDATION_FAILED');
    const badStatus = await request(d.app).get('/v1/devices/H-1/commands?status=lost').set(as(ADMIN_KEY)).expect(400);
    expect(badStatus.body.errors[0].path).toBe('query.status');
  });
});
