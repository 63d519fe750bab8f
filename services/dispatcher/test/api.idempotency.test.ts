import request from 'supertest';
import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('set-power 11kW').toString('base64');
const other = Buffer.from('set-power 22kW').toString('base64');

describe('public API: idempotency keys (worker off, real Redis)', () => {
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false } }, 'api-idempotency');
  });
  afterAll(() => d.stop());

  const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    request(d.app).post('/v1/commands').set(as(SEND_KEY)).set(headers).send(body);

  it('keeps (IDC0:Z, order-1) and (IDC0, Z:order-1) apart: both commands are stored', async () => {
    const first = await post({ phyId: 'IDC0:Z', payload, idempotencyKey: 'order-1' }).expect(202);
    const second = await post({ phyId: 'IDC0', payload, idempotencyKey: 'Z:order-1' }).expect(202);
    expect(second.body).toEqual({ id: expect.any(String), status: 'queued', duplicate: false });
    expect(second.body.id).not.toBe(first.body.id);
    expect((await d.queue.get(second.body.id))?.phyId).toBe('IDC0');
    expect(await d.queue.countDevice('IDC0')).toBe(1);
  });

  it('answers 409 IDEMPOTENCY_CONFLICT naming the first command when the key comes with another payload or parameters', async () => {
    const first = await post({ phyId: 'DEV-IC', payload, idempotencyKey: 'order-9' }).expect(202);
    for (const change of [{ payload: other }, { priority: 9 }, { ttlMs: 60_000 }, { maxAttempts: 1 }, { ackTimeoutMs: 1_000 }]) {
      const res = await post({ phyId: 'DEV-IC', payload, idempotencyKey: 'order-9', ...change }).expect(409);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 409, code: 'IDEMPOTENCY_CONFLICT', id: first.body.id, type: 'urn:outbound:error:IDEMPOTENCY_CONFLICT' });
    }
    // Leaving out a field and sending its default ask for the same thing.
    const same = await post({ phyId: 'DEV-IC', payload, idempotencyKey: 'order-9', priority: 5 }).expect(202);
    expect(same.body).toEqual({ id: first.body.id, status: 'queued', duplicate: true });
    expect(await d.queue.countDevice('DEV-IC')).toBe(1);
  });

  it('answers a conflicting batch item in its own slot, in the same problem members', async () => {
    const res = await request(d.app)
      .post('/v1/commands/batch')
      .set(as(SEND_KEY))
      .send({ commands: [{ phyId: 'DEV-IB', payload, idempotencyKey: 'b-1' }, { phyId: 'DEV-IB', payload: other, idempotencyKey: 'b-1' }] })
      .expect(200);
    expect(res.body).toMatchObject({ accepted: 1, failed: 1 });
    expect(res.body.results[1]).toMatchObject({ index: 1, status: 409, code: 'IDEMPOTENCY_CONFLICT', id: res.body.results[0].id, title: expect.any(String), detail: expect.any(String) });
  });

  it('takes the key from the Idempotency-Key header as from the body', async () => {
    const byHeader = await post({ phyId: 'DEV-IH', payload }, { 'Idempotency-Key': 'h-1' }).expect(202);
    expect(byHeader.body.duplicate).toBe(false);
    expect((await d.queue.get(byHeader.body.id))?.idempotencyKey).toBe('h-1');
    const byBody = await post({ phyId: 'DEV-IH', payload, idempotencyKey: 'h-1' }).expect(202);
    expect(byBody.body).toEqual({ id: byHeader.body.id, status: 'queued', duplicate: true });
    const both = await post({ phyId: 'DEV-IH', payload, idempotencyKey: 'h-1' }, { 'Idempotency-Key': 'h-1' }).expect(202);
    expect(both.body.id).toBe(byHeader.body.id);
  });

  it('answers 400 when the header and the body name different keys, or the header is too long, and stores nothing', async () => {
    const before = await d.queue.countDevice('DEV-IX');
    const differ = await post({ phyId: 'DEV-IX', payload, idempotencyKey: 'a' }, { 'Idempotency-Key': 'b' }).expect(400);
    expect(differ.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'headers.idempotency-key' }] });
    const long = await post({ phyId: 'DEV-IX', payload }, { 'Idempotency-Key': 'k'.repeat(201) }).expect(400);
    expect(long.body.errors[0].path).toBe('headers.idempotency-key');
    expect(await d.queue.countDevice('DEV-IX')).toBe(before);
    const batch = await request(d.app).post('/v1/commands/batch').set(as(SEND_KEY)).set('Idempotency-Key', 'b').send({ commands: [{ phyId: 'DEV-IX', payload }] }).expect(400);
    expect(batch.body.errors[0].path).toBe('headers.idempotency-key');
    expect(await d.queue.countDevice('DEV-IX')).toBe(before);
  });
});
