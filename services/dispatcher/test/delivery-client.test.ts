import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type DeliveryAnswerLine } from '@outbound/core';
import { SimulatedDevice } from '@outbound/cli';
import { loadIngressConfig, startIngress, type IngressHandle } from '@outbound/ingress';
import { freePort, testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { DeliveryBatchError, DeliveryClient } from '../src/delivery-client';
import { INTERNAL_TOKEN } from './support/harness';
import { DEVICE_SECRET, testIngressSettings } from './e2e/support/stack';

describe.each([true, false])('DeliveryClient against a real ingress and devices on real sockets (delivery stream: %s)', (stream) => {
  let ingress: IngressHandle;
  let client: DeliveryClient;
  const devices: SimulatedDevice[] = [];

  async function device(phyId: string, ackLatencyMs = 0): Promise<SimulatedDevice> {
    const d = new SimulatedDevice({ host: '127.0.0.1', port: ingress.tcpPort, phyId, secret: DEVICE_SECRET, ackLatencyMs });
    devices.push(d);
    await d.connect();
    await waitFor(() => ingress.devices.deliverable(phyId), { what: `${phyId} deliverable` });
    return d;
  }

  beforeAll(async () => {
    const prefix = uniquePrefix('delivery-client');
    const { config } = loadIngressConfig({ env: {}, overrides: testIngressSettings(testRedisUrl(), prefix, 'dc-replica') });
    ingress = await startIngress(config, { logger: createLogger({ service: 'test', level: 'silent' }) });
  });

  afterEach(async () => {
    await client?.close();
    await Promise.all(devices.splice(0).map((d) => d.close()));
  });

  afterAll(async () => {
    await ingress.stop();
  });

  it('hands on each answer line as its device answers, decoded, with hop stamps when asked', async () => {
    client = new DeliveryClient({ stream, internalToken: INTERNAL_TOKEN, hopTiming: true });
    await device('DC-FAST');
    await device('DC-SLOW', 300);
    const [fast, slow, nobody] = [randomUUID(), randomUUID(), randomUUID()];
    const answers: Array<{ at: number; answer: DeliveryAnswerLine }> = [];
    const started = Date.now();
    await client.deliverBatch(`http://127.0.0.1:${ingress.httpPort}`, [
      { phyId: 'DC-SLOW', id: slow, payload: Buffer.from('s'), ackTimeoutMs: 5_000 },
      { phyId: 'DC-FAST', id: fast, payload: Buffer.from('f'), ackTimeoutMs: 5_000 },
      { phyId: 'DC-NOBODY', id: nobody, payload: Buffer.from('n'), ackTimeoutMs: 5_000 },
    ], (answer) => answers.push({ at: Date.now() - started, answer }));
    expect(answers).toHaveLength(3);
    expect(new Set(answers.map((a) => a.answer.id))).toEqual(new Set([nobody, fast, slow]));
    const byId = new Map(answers.map((a) => [a.answer.id, a]));
    expect(byId.get(fast)!.answer).toMatchObject({ phyId: 'DC-FAST', status: 200, outcome: 'ok', result: expect.any(Buffer) });
    expect(byId.get(nobody)!.answer).toMatchObject({ phyId: 'DC-NOBODY', status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
    expect(byId.get(slow)!.answer).toMatchObject({ status: 200, outcome: 'ok' });
    // Streamed: the fast device's answer arrived before the slow one ACKed.
    expect(byId.get(fast)!.at).toBeLessThan(byId.get(slow)!.at);
    expect(answers[answers.length - 1]!.answer.id).toBe(slow);
    const t = byId.get(slow)!.answer.t!;
    expect(t.written! - t.received).toBeGreaterThanOrEqual(0);
    expect(t.acked! - t.written!).toBeGreaterThanOrEqual(250);
    expect(t.answered).toBeGreaterThanOrEqual(t.acked!);
  });

  it('sends no hop-timing request by default: the lines carry no stamps', async () => {
    client = new DeliveryClient({ stream, internalToken: INTERNAL_TOKEN });
    await device('DC-PLAIN');
    const answers: DeliveryAnswerLine[] = [];
    await client.deliverBatch(`http://127.0.0.1:${ingress.httpPort}`, [{ phyId: 'DC-PLAIN', id: randomUUID(), payload: Buffer.from('p'), ackTimeoutMs: 5_000 }], (a) => answers.push(a));
    expect(answers).toHaveLength(1);
    expect(answers[0]!.t).toBeUndefined();
  });

  it('throws DeliveryBatchError with the status when the ingress refuses the call (wrong token)', async () => {
    client = new DeliveryClient({ stream, internalToken: 'wrong-token' });
    const call = client.deliverBatch(`http://127.0.0.1:${ingress.httpPort}`, [{ phyId: 'DC-X', id: randomUUID(), payload: Buffer.from('x'), ackTimeoutMs: 1_000 }], () => undefined);
    await expect(call).rejects.toMatchObject({ name: 'DeliveryBatchError', httpStatus: 401, notSent: false });
  });

  it('says notSent when nothing listens at the address (the replica is gone)', async () => {
    client = new DeliveryClient({ stream, internalToken: INTERNAL_TOKEN });
    const port = await freePort();
    const call = client.deliverBatch(`http://127.0.0.1:${port}`, [{ phyId: 'DC-X', id: randomUUID(), payload: Buffer.from('x'), ackTimeoutMs: 1_000 }], () => undefined);
    await expect(call).rejects.toMatchObject({ name: 'DeliveryBatchError', notSent: true, httpStatus: null });
  });
});

describe('DeliveryClient reading an NDJSON answer cut anywhere (a plain HTTP server writes the bytes)', () => {
  let server: Server;
  let address: string;
  let reply: (write: (bytes: string) => Promise<void>) => Promise<void>;
  let client: DeliveryClient;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        // Each write is flushed and given time to arrive on its own, so the client sees the cuts.
        const write = (bytes: string) => new Promise<void>((resolve) => res.write(bytes, () => setTimeout(resolve, 10)));
        void reply(write).then(() => res.end());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new DeliveryClient({ internalToken: 'x', stream: false });
  });

  afterAll(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const one = { phyId: 'D', id: randomUUID(), payload: Buffer.from('x'), ackTimeoutMs: 1_000 };

  it('answers every line once when lines are split across writes and the last has no newline', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const text = `${JSON.stringify({ id: a, phyId: 'D', status: 200, outcome: 'ok', result: 'aGk=', latencyMs: 1 })}\n`
      + `${JSON.stringify({ id: b, phyId: 'D', status: 504, error: { code: 'ACK_TIMEOUT', message: 'late' } })}\n`
      + JSON.stringify({ id: c, phyId: 'D', status: 200, outcome: 'busy', result: '', latencyMs: 2 });
    reply = async (write) => {
      for (let i = 0; i < text.length; i += 7) await write(text.slice(i, i + 7));
    };
    const answers: DeliveryAnswerLine[] = [];
    await client.deliverBatch(address, [one], (x) => answers.push(x));
    expect(answers).toEqual([
      { id: a, phyId: 'D', status: 200, outcome: 'ok', result: Buffer.from('hi'), latencyMs: 1 },
      { id: b, phyId: 'D', status: 504, error: { code: 'ACK_TIMEOUT', message: 'late' } },
      { id: c, phyId: 'D', status: 200, outcome: 'busy', result: Buffer.alloc(0), latencyMs: 2 },
    ]);
  });

  it('throws DeliveryBatchError (sent, status 200) on a line that is not an answer, after handing on the good ones', async () => {
    const a = randomUUID();
    reply = async (write) => {
      await write(`${JSON.stringify({ id: a, phyId: 'D', status: 200, outcome: 'ok', result: '', latencyMs: 1 })}\n`);
      await write('this is not json\n');
    };
    const answers: DeliveryAnswerLine[] = [];
    const call = client.deliverBatch(address, [one], (x) => answers.push(x));
    await expect(call).rejects.toBeInstanceOf(DeliveryBatchError);
    await expect(call).rejects.toMatchObject({ notSent: false, httpStatus: 200 });
    expect(answers.map((x) => x.id)).toEqual([a]);
  });
});
