import request from 'supertest';
import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('reboot').toString('base64');

describe('public API: devices, stats, dead letters (worker off, real Redis)', () => {
  let d: RunningDispatcher;
  const enqueue = async (body: Record<string, unknown>) =>
    (await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ payload, ...body }).expect(202)).body.id as string;

  /** Fails every ready command once with maxAttempts 1, as a worker would after a BUSY, so they go dead. */
  async function killAll(): Promise<string[]> {
    const claimed = await d.queue.claim({ max: 1000, leaseMs: 10_000 });
    const results = await d.queue.fail(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, error: 'BUSY', retryable: true })));
    return results.filter((r) => r.ok && r.status === 'dead').map((r) => r.id);
  }

  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false } }, 'api-admin');
  });
  afterAll(() => d.stop());

  it('shows a device as offline with its pending count, and its commands in delivery order', async () => {
    const low = await enqueue({ phyId: 'DEV-V1', priority: 1 });
    const high = await enqueue({ phyId: 'DEV-V1', priority: 8 });
    const mid = await enqueue({ phyId: 'DEV-V1', priority: 5 });
    const view = await request(d.app).get('/v1/devices/DEV-V1').set(as(ADMIN_KEY)).expect(200);
    expect(view.body).toEqual({ phyId: 'DEV-V1', online: false, replicaId: null, epoch: null, connectedSince: null, pending: 3 });
    const list = await request(d.app).get('/v1/devices/DEV-V1/commands').set(as(ADMIN_KEY)).expect(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([high, mid, low]);
    await request(d.app).get('/v1/devices/DEV-V1').set(as(SEND_KEY)).expect(403);
    const bad = await request(d.app).get('/v1/devices/bad%20id').set(as(ADMIN_KEY)).expect(400);
    expect(bad.body.errors[0].path).toBe('phyId');
  });

  it('shows a connected device with its replica and epoch', async () => {
    const { epoch } = await d.registry.register('DEV-ON', { replicaId: 'replica-x', address: 'http://127.0.0.1:1' });
    await d.registry.heartbeat({ replicaId: 'replica-x', address: 'http://127.0.0.1:1' }, 10_000);
    const view = await request(d.app).get('/v1/devices/DEV-ON').set(as(ADMIN_KEY)).expect(200);
    expect(view.body).toMatchObject({ online: true, replicaId: 'replica-x', epoch, pending: 0 });
    expect(Date.now() - Date.parse(view.body.connectedSince)).toBeLessThan(10_000);
  });

  it('counts queued commands in stats, in total and per shard', async () => {
    const res = await request(d.app).get('/v1/stats').set(as(ADMIN_KEY)).expect(200);
    expect(res.body.total.pending).toBeGreaterThanOrEqual(3);
    const perShard = res.body.shards.reduce((sum: number, s: { pending: number }) => sum + s.pending, 0);
    expect(perShard).toBe(res.body.total.pending);
  });

  it('lists dead letters in pages, replays some, deletes one', async () => {
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push(await enqueue({ phyId: `DEV-D${i}`, maxAttempts: 1, priority: 9 }));
    const dead = await killAll();
    expect(dead).toEqual(expect.arrayContaining(ids));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await request(d.app).get(`/v1/dead-letters?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).set(as(ADMIN_KEY)).expect(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((c: { id: string; status: string }) => { expect(c.status).toBe('dead'); return c.id; }));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(expect.arrayContaining(ids));

    const replayed = await request(d.app).post('/v1/dead-letters/replay').set(as(ADMIN_KEY)).send({ ids: [ids[0], ids[1]] }).expect(200);
    expect(replayed.body).toEqual({ replayed: 2 });
    const back = await request(d.app).get(`/v1/commands/${ids[0]}`).set(as(SEND_KEY)).expect(200);
    expect(back.body).toMatchObject({ status: 'queued', attempts: 0 });

    await request(d.app).delete(`/v1/dead-letters/${ids[2]}`).set(as(ADMIN_KEY)).expect(200, { deleted: 1 });
    const gone = await request(d.app).delete(`/v1/dead-letters/${ids[2]}`).set(as(ADMIN_KEY)).expect(404);
    expect(gone.body.code).toBe('COMMAND_NOT_FOUND');

    const all = await request(d.app).post('/v1/dead-letters/replay').set(as(ADMIN_KEY)).send({ all: true }).expect(200);
    expect(all.body.replayed).toBeGreaterThanOrEqual(2);
    const empty = await request(d.app).get('/v1/dead-letters').set(as(ADMIN_KEY)).expect(200);
    expect(empty.body.items).toEqual([]);

    const invalid = await request(d.app).post('/v1/dead-letters/replay').set(as(ADMIN_KEY)).send({ ids: ['x'] }).expect(400);
    expect(invalid.body.code).toBe('VALIDATION_FAILED');
    await request(d.app).get('/v1/dead-letters').set(as(SEND_KEY)).expect(403);
  });
});
