import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { AckStatus, encodeAck } from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, TOKEN, startTestIngress } from './support/test-ingress';

const auth = { Authorization: `Bearer ${TOKEN}` };

describe('internal delivery endpoint against a device on a real socket', () => {
  let ingress: IngressHandle;
  const devices: RawDevice[] = [];

  async function device(phyId: string): Promise<RawDevice> {
    const d = await RawDevice.handshake(ingress.tcpPort, phyId, SECRET);
    devices.push(d);
    await waitFor(() => ingress.devices.deliverable(phyId), { what: `${phyId} deliverable` });
    return d;
  }

  function deliver(phyId: string, body: Record<string, unknown>) {
    return request(ingress.app).post(`/internal/v1/devices/${phyId}/deliver`).set(auth).send(body);
  }

  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-deliver'));
  });

  afterEach(() => {
    for (const d of devices.splice(0)) d.close();
  });

  afterAll(async () => {
    await ingress.stop();
  });

  it('writes COMMAND and answers the device ACK: ok with its result', async () => {
    const dev = await device('DEV-OK');
    const id = randomUUID();
    const answer = deliver('DEV-OK', { id, payload: Buffer.from('turn on').toString('base64'), ackTimeoutMs: 5_000 });
    const pending = answer.then((r) => r);
    const command = await dev.nextCommand();
    expect(command).toEqual({ id, payload: Buffer.from('turn on') });
    dev.send(encodeAck(id, AckStatus.OK, Buffer.from('done')));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ outcome: 'ok', result: Buffer.from('done').toString('base64'), latencyMs: expect.any(Number) });
  });

  it('answers rejected and busy as the device says', async () => {
    const dev = await device('DEV-RB');
    dev.ackAll(AckStatus.REJECTED, Buffer.from('no'));
    const rejected = await deliver('DEV-RB', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 5_000 });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ outcome: 'rejected', result: Buffer.from('no').toString('base64') });
    dev.ackAll(AckStatus.BUSY);
    const busy = await deliver('DEV-RB', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 5_000, epoch: ingress.devices.connectionOf('DEV-RB')!.epoch });
    expect(busy.status).toBe(200);
    expect(busy.body).toMatchObject({ outcome: 'busy', result: '' });
  });

  it('answers 504 ACK_TIMEOUT when the device does not ACK in time', async () => {
    await device('DEV-SLOW');
    const res = await deliver('DEV-SLOW', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 150 });
    expect(res.status).toBe(504);
    expect(res.body.code).toBe('ACK_TIMEOUT');
  });

  it('answers errors as problem details: 404 for a device it does not hold, 405 with Allow, 415 for a body that is not JSON', async () => {
    const missing = await deliver('DEV-NOBODY', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 1_000 }).expect(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.body).toMatchObject({ type: 'urn:outbound:error:DEVICE_NOT_CONNECTED', status: 404, code: 'DEVICE_NOT_CONNECTED', detail: expect.any(String) });
    const wrongMethod = await request(ingress.app).get('/internal/v1/deliveries').set(auth).expect(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    const text = await request(ingress.app).post('/internal/v1/deliveries').set(auth).set('Content-Type', 'text/plain').send('{"deliveries":[]}').expect(415);
    expect(text.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 404 DEVICE_NOT_CONNECTED for an unknown device, and at once when the connection closes while waiting', async () => {
    const missing = await deliver('DEV-NOBODY', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 1_000 });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('DEVICE_NOT_CONNECTED');
    const dev = await device('DEV-GONE');
    const started = Date.now();
    const answer = deliver('DEV-GONE', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 30_000 }).then((r) => r);
    await dev.nextCommand();
    dev.close();
    const res = await answer;
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('DEVICE_NOT_CONNECTED');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('joins a duplicate of an id in flight: one COMMAND, both callers get the same answer', async () => {
    const dev = await device('DEV-DUP');
    const id = randomUUID();
    const body = { id, payload: 'AQID', ackTimeoutMs: 5_000 };
    const first = deliver('DEV-DUP', body).then((r) => r);
    await dev.nextCommand();
    const second = deliver('DEV-DUP', body).then((r) => r);
    await waitFor(() => ingress.devices.connectionOf('DEV-DUP')?.waitersFor(id) === 2, { what: 'the duplicate to join' });
    dev.send(encodeAck(id, AckStatus.OK, Buffer.from('r')));
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.result).toBe(b.body.result);
    expect(dev.frames.filter((f) => f.type === 0x10)).toHaveLength(0);
  });

  it('answers 409 STALE_EPOCH when the epoch names an older connection', async () => {
    await device('DEV-EPOCH');
    const oldEpoch = ingress.devices.connectionOf('DEV-EPOCH')!.epoch;
    const newer = await device('DEV-EPOCH');
    await waitFor(() => (ingress.devices.connectionOf('DEV-EPOCH')?.epoch ?? 0) > oldEpoch, { what: 'the newer connection registered' });
    newer.ackAll();
    const stale = await deliver('DEV-EPOCH', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 1_000, epoch: oldEpoch });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('STALE_EPOCH');
    expect(newer.frames.filter((f) => f.type === 0x10)).toHaveLength(0);
    const current = await deliver('DEV-EPOCH', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 1_000, epoch: oldEpoch + 1 });
    expect(current.status).toBe(200);
  });

  it('answers 401 without the internal token, and serves health without one', async () => {
    const none = await request(ingress.app).post('/internal/v1/devices/DEV-X/deliver').send({});
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('UNAUTHORIZED');
    const wrong = await request(ingress.app).post('/internal/v1/deliveries').set('Authorization', 'Bearer nope').send({});
    expect(wrong.status).toBe(401);
    expect((await request(ingress.app).get('/healthz')).status).toBe(200);
    expect((await request(ingress.app).get('/readyz')).status).toBe(200);
    const health = await request(ingress.app).get('/health');
    expect(health.body.checks.redis).toMatchObject({ latencyMs: expect.any(Number) });
  });

  it('answers 400 VALIDATION_FAILED naming the field for a bad body', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ id: 'not-a-uuid', payload: 'AA==', ackTimeoutMs: 10 }, 'id'],
      [{ id: randomUUID(), payload: '***', ackTimeoutMs: 10 }, 'payload'],
      [{ id: randomUUID(), payload: 'AA==', ackTimeoutMs: 0 }, 'ackTimeoutMs'],
      [{ id: randomUUID(), payload: 'AA==', ackTimeoutMs: 300_001 }, 'ackTimeoutMs'],
      [{ id: randomUUID(), payload: 'AA==', ackTimeoutMs: 10, epoch: 1.5 }, 'epoch'],
      [{ id: randomUUID(), payload: 'AA==' }, 'ackTimeoutMs'],
    ];
    for (const [body, field] of cases) {
      const res = await deliver('DEV-X', body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors.map((d: { path: string }) => d.path)).toContain(field);
    }
    const badPhy = await deliver('bad%20id', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 10 });
    expect(badPhy.status).toBe(400);
    expect(badPhy.body.errors[0].path).toBe('phyId');
    const badJson = await request(ingress.app).post('/internal/v1/deliveries').set(auth).set('Content-Type', 'application/json').send('{"deliveries":');
    expect(badJson.status).toBe(400);
    const tooMany = await request(ingress.app).post('/internal/v1/deliveries').set(auth).send({ deliveries: Array.from({ length: 1001 }, () => ({})) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0].path).toBe('deliveries');
  });

  it('streams one NDJSON line per batch delivery as each is answered', async () => {
    const fast = await device('DEV-B1');
    fast.ackAll(AckStatus.OK, Buffer.from('f'));
    const slow = await device('DEV-B2');
    const slowId = randomUUID();
    const fastIds = [randomUUID(), randomUUID()];
    const deliveries = [
      { phyId: 'DEV-B1', id: fastIds[0], payload: 'AA==', ackTimeoutMs: 5_000 },
      { phyId: 'DEV-B2', id: slowId, payload: 'AA==', ackTimeoutMs: 5_000 },
      { phyId: 'DEV-NONE', id: randomUUID(), payload: 'AA==', ackTimeoutMs: 5_000 },
      { phyId: 'DEV-B1', id: 'bad', payload: 'AA==', ackTimeoutMs: 5_000 },
      { phyId: 'DEV-B1', id: fastIds[1], payload: 'AA==', ackTimeoutMs: 5_000, epoch: 999 },
    ];
    const lines: Array<Record<string, unknown>> = [];
    let ended = false;
    const req = request(ingress.app)
      .post('/internal/v1/deliveries')
      .set(auth)
      .send({ deliveries })
      .buffer(false)
      .parse((res, done) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          let nl;
          while ((nl = text.indexOf('\n')) >= 0) {
            lines.push(JSON.parse(text.slice(0, nl)));
            text = text.slice(nl + 1);
          }
        });
        res.on('end', () => {
          ended = true;
          done(null, text);
        });
      });
    const finished = req.then((r) => r);
    // Everything but the slow device is answered while the slow one still waits.
    await waitFor(() => lines.length === 4, { what: 'four lines before the slow ACK' });
    const { id } = await slow.nextCommand();
    slow.send(encodeAck(id, AckStatus.OK, Buffer.from('s')));
    await waitFor(() => ended, { what: 'the response to end' });
    const res = await finished;
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(lines).toHaveLength(5);
    const byId = new Map(lines.map((l) => [l.id, l]));
    expect(byId.get(fastIds[0])).toMatchObject({ phyId: 'DEV-B1', status: 200, outcome: 'ok', result: Buffer.from('f').toString('base64') });
    expect(byId.get(slowId)).toMatchObject({ phyId: 'DEV-B2', status: 200, outcome: 'ok', result: Buffer.from('s').toString('base64') });
    expect(lines[4]).toMatchObject({ id: slowId });
    expect(byId.get(deliveries[2].id)).toMatchObject({ status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
    expect(byId.get('bad')).toMatchObject({ status: 400, error: { code: 'VALIDATION_FAILED' } });
    expect(byId.get(fastIds[1])).toMatchObject({ status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
  });

  it('counts deliveries by outcome and ACK latency in /metrics', async () => {
    const text = (await request(ingress.app).get('/metrics')).text;
    expect(text).toMatch(/outbound_ingress_deliveries_total\{outcome="ok"[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_ingress_deliveries_total\{outcome="ack_timeout"[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_ingress_ack_latency_seconds_count\{[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_ingress_handshakes_total\{result="ok"[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_ingress_frames_in_total\{type="ACK"[^}]*\} [1-9]/);
    expect(text).toContain('process_resident_memory_bytes');
  });
});
