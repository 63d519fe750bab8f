import request from 'supertest';
import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('x').toString('base64');

/**
 * Every error answer is RFC 9457 problem details; 405 names the allowed methods, 415 refuses a
 * body that is not JSON, 429 carries Retry-After; bounds on deliverAt and the payload answer
 * 400 naming the field, fast. The default body limit (8 MB) lets a 7 MB payload reach the schema.
 */
describe('public API: problem answers and input bounds (worker off, real Redis)', () => {
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false }, queue: { perDeviceCap: 1 } }, 'api-problems');
  });
  afterAll(() => d.stop());

  it('answers a field error as application/problem+json with type, title, status, detail, code and errors', async () => {
    const res = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'bad id', payload }).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      type: 'urn:outbound:error:VALIDATION_FAILED',
      title: expect.any(String),
      status: 400,
      detail: expect.stringContaining('phyId'),
      code: 'VALIDATION_FAILED',
      errors: [{ path: 'phyId', message: expect.any(String) }],
    });
  });

  it('answers 405 with Allow for a known path and another method, 404 for an unknown path', async () => {
    const put = await request(d.app).put('/v1/commands').set(as(SEND_KEY)).send({}).expect(405);
    expect(put.headers.allow).toBe('GET, HEAD, POST'); // POST enqueues, GET reads the history
    expect(put.body).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    const onId = await request(d.app).post('/v1/commands/00000000-0000-4000-8000-000000000000').set(as(SEND_KEY)).send({}).expect(405);
    expect(onId.headers.allow).toBe('DELETE, GET, HEAD');
    const unknown = await request(d.app).get('/v1/nothing').set(as(SEND_KEY)).expect(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(unknown.body.code).toBe('NOT_FOUND');
  });

  it('answers 415 for a POST body that is not JSON, and stores nothing', async () => {
    const before = (await d.queue.stats()).total.pending;
    const text = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).set('Content-Type', 'text/plain').send(`{"phyId":"DEV-415","payload":"${payload}"}`).expect(415);
    expect(text.body).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    await request(d.app).post('/v1/commands').set(as(SEND_KEY)).type('form').send({ phyId: 'DEV-415', payload }).expect(415);
    expect((await d.queue.stats()).total.pending).toBe(before);
  });

  it('answers 429 QUEUE_FULL with Retry-After', async () => {
    await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-429', payload }).expect(202);
    const full = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-429', payload }).expect(429);
    expect(full.headers['retry-after']).toMatch(/^\d+$/);
    expect(full.body).toMatchObject({ code: 'QUEUE_FULL', scope: 'device' });
  });

  it('refuses a deliverAt past any date or after the command expires, naming deliverAt, and every view keeps answering', async () => {
    for (const deliverAt of [9007199254740991, Date.now() + 2 * 3_600_000, '2999-01-01T00:00:00Z']) {
      const res = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-DA', payload, deliverAt }).expect(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['deliverAt']);
    }
    const later = Date.now() + 30 * 60_000;
    const ok = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-DA', payload, deliverAt: later }).expect(202);
    const view = await request(d.app).get(`/v1/commands/${ok.body.id}`).set(as(SEND_KEY)).expect(200);
    expect(view.body).toMatchObject({ deliverAt: new Date(later).toISOString(), waitingFor: 'schedule' });
  });

  it('refuses a 7,000,000-character payload and a 4 MB one with 400 naming payload (its length is checked before its content)', async () => {
    // The content check's own cost is measured in command.schema.test.ts; here the whole request
    // (client JSON, body parsing) runs in this process, so only the answer is checked.
    for (const size of [7_000_000, 4 * 1024 * 1024]) {
      const res = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'DEV-BIG', payload: 'A'.repeat(size) });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ path: 'payload', message: expect.stringContaining('at most') }]);
    }
    expect(await d.queue.countDevice('DEV-BIG')).toBe(0);
  });
});
