import request from 'supertest';
import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('set-power 11kW').toString('base64');

describe('public API: commands (worker off, real Redis)', () => {
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false }, api: { maxWaitMs: 20_000 }, http: { host: '127.0.0.1', port: 0, bodyLimitBytes: 65_536 } }, 'api-commands');
  });
  afterAll(() => d.stop());

  it('enqueues a command and reads it back with the defaults applied', async () => {
    const created = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-A1', payload, priority: 7 }).expect(202);
    expect(created.body).toEqual({ id: expect.any(String), status: 'queued', duplicate: false });
    const read = await request(d.app).get(`/v1/commands/${created.body.id}`).set(as(SEND_KEY)).expect(200);
    expect(read.body).toMatchObject({ id: created.body.id, phyId: 'DEV-A1', priority: 7, status: 'queued', attempts: 0, maxAttempts: 5, result: null, lastError: null });
    expect(Date.parse(read.body.expiresAt) - Date.parse(read.body.createdAt)).toBe(3_600_000);
  });

  it('answers enqueues as JSON with their length, and counts a batch\'s new commands (not its repeats) in enqueued_total', async () => {
    const batchCount = async (): Promise<number> => {
      const text = (await request(d.app).get('/metrics').expect(200)).text;
      return Number(/outbound_dispatcher_enqueued_total\{[^}]*source="batch"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const one = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-A2', payload }).expect(202);
    expect(one.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(one.headers['content-length'])).toBe(Buffer.byteLength(one.text));
    expect(JSON.parse(one.text)).toEqual({ id: expect.any(String), status: 'queued', duplicate: false });

    const before = await batchCount();
    const first = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY))
      .send({ commands: [{ phyId: 'DEV-A2', payload, idempotencyKey: 'count-once' }, { phyId: 'DEV-A2', payload }, { phyId: 'bad id!', payload }] }).expect(200);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(first.headers['content-length'])).toBe(Buffer.byteLength(first.text));
    expect(first.body).toMatchObject({ accepted: 2, failed: 1 });
    expect(await batchCount()).toBe(before + 2);
    // The repeat of a key answers the first command and is not counted again.
    const repeat = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY))
      .send({ commands: [{ phyId: 'DEV-A2', payload, idempotencyKey: 'count-once' }, { phyId: 'DEV-A2', payload }] }).expect(200);
    expect(repeat.body.results.map((r: { duplicate: boolean }) => r.duplicate)).toEqual([true, false]);
    expect(await batchCount()).toBe(before + 3);
  });

  it('answers 400 naming each bad field, and stores nothing', async () => {
    const before = (await d.queue.stats()).total.pending;
    const res = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'bad id!', payload: '%%%', priority: 12 }).expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.map((i: { path: string }) => i.path).sort()).toEqual(['payload', 'phyId', 'priority']);
    expect((await d.queue.stats()).total.pending).toBe(before);
  });

  it('names unknown fields and bad query parameters', async () => {
    const unknown = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-A1', payload, colour: 'red' }).expect(400);
    expect(JSON.stringify(unknown.body.errors)).toContain('colour');
    const wait = await request(d.app).post('/v1/commands?waitMs=999999').set(as(SEND_KEY)).send({ phyId: 'DEV-A1', payload }).expect(400);
    expect(wait.body.errors[0].path).toBe('query.waitMs');
  });

  it('rejects missing, unknown and under-privileged keys', async () => {
    const none = await request(d.app).post('/v1/commands').send({ phyId: 'DEV-A1', payload }).expect(401);
    expect(none.body.code).toBe('UNAUTHORIZED');
    await request(d.app).get('/v1/stats').set(as('not-a-key')).expect(401);
    const weak = await request(d.app).get('/v1/stats').set(as(SEND_KEY)).expect(403);
    expect(weak.body.code).toBe('FORBIDDEN');
    await request(d.app).get('/v1/stats').set(as(ADMIN_KEY)).expect(200);
    // admin may do what send may
    await request(d.app).post('/v1/commands').set(as(ADMIN_KEY)).send({ phyId: 'DEV-A1', payload }).expect(202);
  });

  it('answers 400 for malformed JSON and 413 for a body over the limit', async () => {
    const bad = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).set('Content-Type', 'application/json').send('{"phyId":').expect(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    const big = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-A1', payload: 'A'.repeat(70_000) }).expect(413);
    expect(big.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('deduplicates by idempotency key', async () => {
    const body = { phyId: 'DEV-IDEM', payload, idempotencyKey: 'order-77' };
    const first = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send(body).expect(202);
    const second = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send(body).expect(202);
    expect(second.body).toEqual({ id: first.body.id, status: 'queued', duplicate: true });
  });

  it('enqueues a batch with one answer per item, a bad item failing alone', async () => {
    const res = await request(d.app)
      .post('/v1/commands/batch')
      .set(as(SEND_KEY))
      .send({ commands: [{ phyId: 'DEV-B1', payload }, { phyId: 'DEV-B2', payload, priority: -1 }, { phyId: 'DEV-B3', payload }] })
      .expect(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.failed).toBe(1);
    expect(res.body.results[0]).toMatchObject({ index: 0, status: 'queued' });
    expect(res.body.results[1]).toMatchObject({ index: 1, status: 400, code: 'VALIDATION_FAILED', errors: [{ path: 'commands.1.priority' }] });
    expect((await d.queue.get(res.body.results[2].id))?.phyId).toBe('DEV-B3');
    await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands: [] }).expect(400);
  });

  it('refuses a batch over 1000 commands', async () => {
    const commands = Array.from({ length: 1001 }, () => ({ phyId: 'D', payload: '' }));
    const res = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands }).expect(400);
    expect(res.body.errors[0]).toMatchObject({ path: 'commands', message: 'must hold at most 1000 commands' });
  });

  it('cancels a queued command (idempotently), refuses one in flight with 409, and 404s an unknown id', async () => {
    const { body } = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-C1', payload }).expect(202);
    const cancelled = await request(d.app).delete(`/v1/commands/${body.id}`).set(as(SEND_KEY)).expect(200);
    expect(cancelled.body.status).toBe('cancelled');
    const again = await request(d.app).delete(`/v1/commands/${body.id}`).set(as(SEND_KEY)).expect(200);
    expect(again.body.status).toBe('cancelled');
    // A command in flight cannot be cancelled: claim everything ready (as a worker would), try, give it back.
    const sent = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-C2', payload, priority: 9 }).expect(202);
    const claimed = await d.queue.claim({ max: 1000, leaseMs: 10_000 });
    expect(claimed.map((c) => c.id)).toContain(sent.body.id);
    const conflict = await request(d.app).delete(`/v1/commands/${sent.body.id}`).set(as(SEND_KEY)).expect(409);
    expect(conflict.body.code).toBe('INVALID_STATE');
    await d.queue.release(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken })));
    const missing = await request(d.app).get('/v1/commands/00000000-0000-4000-8000-000000000000').set(as(SEND_KEY)).expect(404);
    expect(missing.body.code).toBe('COMMAND_NOT_FOUND');
    const malformed = await request(d.app).get('/v1/commands/not-a-uuid').set(as(SEND_KEY)).expect(400);
    expect(malformed.body.errors[0].path).toBe('id');
  });

  it('long-polls: enqueue ?waitMs answers 202 with the full command when the wait passes', async () => {
    const started = Date.now();
    const res = await request(d.app).post('/v1/commands?waitMs=300').set(as(SEND_KEY)).send({ phyId: 'DEV-W1', payload }).expect(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.body).toMatchObject({ phyId: 'DEV-W1', status: 'queued', attempts: 0, duplicate: false });
  });

  it('long-polls: GET ?waitMs answers as soon as the command becomes terminal', async () => {
    const { body } = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-W2', payload }).expect(202);
    const started = Date.now();
    // A wait far longer than the bound: an answer that sat out the wait fails it, a loaded host's scheduling does not.
    const waiting = request(d.app).get(`/v1/commands/${body.id}?waitMs=20000`).set(as(SEND_KEY)).then((r) => r);
    // Cancel through the queue directly, as another dispatcher would, so the waiter has to see it in the store.
    setTimeout(() => void d.queue.cancel(body.id), 100);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('answers the enqueue paths the same however they are spelled, and labels them by route pattern', async () => {
    // The exact paths are served without the router's walk; a trailing slash or other letter
    // case goes through the router, as every other route does: the answers must not differ.
    for (const path of ['/v1/commands', '/v1/commands/', '/V1/Commands']) {
      const res = await request(d.app).post(path).set(as(SEND_KEY)).send({ phyId: 'DEV-SP', payload }).expect(202);
      expect(res.body).toEqual({ id: expect.any(String), status: 'queued', duplicate: false });
      const bad = await request(d.app).post(path).set(as(SEND_KEY)).send({ phyId: 'DEV-SP', payload, priority: 12 }).expect(400);
      expect(bad.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'priority' }] });
      await request(d.app).post(path).send({ phyId: 'DEV-SP', payload }).expect(401);
      await request(d.app).post(path).set(as(SEND_KEY)).set('content-type', 'text/plain').send('x').expect(415);
    }
    for (const path of ['/v1/commands/batch', '/v1/commands/batch/']) {
      const res = await request(d.app).post(path).set(as(SEND_KEY)).send({ commands: [{ phyId: 'DEV-SP', payload }, { phyId: 'DEV-SP' }] }).expect(200);
      expect(res.body).toMatchObject({ accepted: 1, failed: 1 });
    }
    const metrics = (await request(d.app).get('/metrics').expect(200)).text;
    for (const [route, status] of [['/v1/commands', 202], ['/v1/commands', 400], ['/v1/commands/batch', 200]] as const) {
      expect(metrics).toMatch(new RegExp(`outbound_http_requests_total\\{[^}]*method="POST",route="${route}",status="${status}"[^}]*\\} [1-9]`));
    }
    // A request refused before any route matched names none, as before.
    expect(metrics).toMatch(/outbound_http_requests_total\{[^}]*method="POST",route="unmatched",status="401"[^}]*\} [1-9]/);
  });

  it('serves unknown routes as 404 in the error shape', async () => {
    const res = await request(d.app).get('/v1/nothing-here').set(as(SEND_KEY)).expect(404);
    expect(res.body.code).toBe('NOT_FOUND');
  });
});
