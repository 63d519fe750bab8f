import { randomUUID } from 'node:crypto';
import { createLogger, type DeliveryAnswerLine } from '@outbound/core';
import { SimulatedDevice } from '@outbound/cli';
import { loadIngressConfig, startIngress, type IngressHandle } from '@outbound/ingress';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { startIngressProcess, type IngressProcess } from '../../ingress/test/support/ingress-process';
import { DeliveryBatchError, DeliveryClient } from '../src/delivery-client';
import { DeliveryStream } from '../src/delivery-stream';
import { INTERNAL_TOKEN } from './support/harness';
import { DEVICE_SECRET, testIngressSettings } from './e2e/support/stack';

const silent = createLogger({ service: 'test', level: 'silent' });
const one = (phyId: string, ackTimeoutMs = 5_000) => ({ phyId, id: randomUUID(), payload: Buffer.from(phyId), ackTimeoutMs });

async function connectDevice(tcpPort: number, phyId: string, ackLatencyMs: number, secret = DEVICE_SECRET): Promise<SimulatedDevice> {
  const d = new SimulatedDevice({ host: '127.0.0.1', port: tcpPort, phyId, secret, ackLatencyMs });
  await d.connect();
  return d;
}

describe('DeliveryClient over the delivery stream (a real ingress, devices on real sockets)', () => {
  let ingress: IngressHandle;
  let address: string;
  let client: DeliveryClient;
  const devices: SimulatedDevice[] = [];

  async function device(phyId: string, ackLatencyMs = 0, on = ingress): Promise<void> {
    devices.push(await connectDevice(on.tcpPort, phyId, ackLatencyMs));
    await waitFor(() => on.devices.deliverable(phyId), { what: `${phyId} deliverable` });
  }

  async function startTestIngress(name: string, overrides: Record<string, unknown> = {}): Promise<IngressHandle> {
    const { config } = loadIngressConfig({ env: {}, overrides: testIngressSettings(testRedisUrl(), uniquePrefix(name), `${name}-replica`, overrides) });
    return startIngress(config, { logger: silent });
  }

  beforeAll(async () => {
    ingress = await startTestIngress('stream-client');
    address = `http://127.0.0.1:${ingress.httpPort}`;
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await client?.close();
    await Promise.all(devices.splice(0).map((d) => d.close()));
  });

  afterAll(async () => {
    await ingress.stop();
  });

  it('carries concurrent batches on one stream and ends each as its own devices answer, whatever the order', async () => {
    client = new DeliveryClient({ internalToken: INTERNAL_TOKEN, stream: true, logger: silent });
    const opened = jest.spyOn(DeliveryStream, 'open');
    await device('STC-SLOW', 400);
    await device('STC-FAST-1');
    await device('STC-FAST-2');
    const ended: string[] = [];
    const answers = new Map<string, DeliveryAnswerLine>();
    const batch = (name: string, items: ReturnType<typeof one>[]) =>
      client.deliverBatch(address, items, (a) => answers.set(a.id!, a)).then(() => ended.push(name));
    const slow = one('STC-SLOW');
    const fast = [one('STC-FAST-1'), one('STC-FAST-2'), one('STC-NOBODY')];
    await Promise.all([batch('slow', [slow]), batch('fast', fast.slice(0, 2)), batch('offline', fast.slice(2))]);
    expect(ended[ended.length - 1]).toBe('slow');
    expect(answers.get(slow.id)).toMatchObject({ status: 200, outcome: 'ok', phyId: 'STC-SLOW' });
    expect(answers.get(fast[0]!.id)).toMatchObject({ status: 200, outcome: 'ok' });
    expect(answers.get(fast[2]!.id)).toMatchObject({ status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
    expect(opened).toHaveBeenCalledTimes(1);
    expect(client.openStreams).toEqual([address]);
    // Hop stamps are asked per batch.
    const timed = new DeliveryClient({ internalToken: INTERNAL_TOKEN, stream: true, hopTiming: true });
    try {
      const lines: DeliveryAnswerLine[] = [];
      await timed.deliverBatch(address, [one('STC-FAST-1')], (a) => lines.push(a));
      expect(lines[0]!.t).toMatchObject({ received: expect.any(Number), written: expect.any(Number), acked: expect.any(Number), answered: expect.any(Number) });
    } finally {
      await timed.close();
    }
  });

  it('falls back to batch calls when the ingress refuses the upgrade, and asks again after streamRetryMs', async () => {
    const old = await startTestIngress('stream-refused', { http: { deliveryStream: false } });
    const oldAddress = `http://127.0.0.1:${old.httpPort}`;
    try {
      await device('STC-OLD', 0, old);
      // Long enough that the two calls below fit inside it on a loaded host.
      client = new DeliveryClient({ internalToken: INTERNAL_TOKEN, stream: true, streamRetryMs: 3_000, logger: silent });
      const opened = jest.spyOn(DeliveryStream, 'open');
      const deliver = async () => {
        const lines: DeliveryAnswerLine[] = [];
        await client.deliverBatch(oldAddress, [one('STC-OLD')], (a) => lines.push(a));
        return lines;
      };
      expect(await deliver()).toEqual([expect.objectContaining({ status: 200, outcome: 'ok' })]);
      expect(await deliver()).toEqual([expect.objectContaining({ status: 200, outcome: 'ok' })]);
      expect(opened).toHaveBeenCalledTimes(1);
      expect(client.openStreams).toEqual([]);
      await waitFor(async () => {
        await deliver();
        return opened.mock.calls.length === 2;
      }, { what: 'the stream asked for again after the retry wait', intervalMs: 100, timeoutMs: 20_000 });
    } finally {
      await old.stop();
    }
  });

  it('uses batch calls only when the stream is turned off', async () => {
    client = new DeliveryClient({ internalToken: INTERNAL_TOKEN, stream: false });
    const opened = jest.spyOn(DeliveryStream, 'open');
    await device('STC-OFF');
    const lines: DeliveryAnswerLine[] = [];
    await client.deliverBatch(address, [one('STC-OFF')], (a) => lines.push(a));
    expect(lines).toEqual([expect.objectContaining({ status: 200, outcome: 'ok' })]);
    expect(opened).not.toHaveBeenCalled();
  });

  it('answers a wrong token as the batch call does: DeliveryBatchError 401, sent', async () => {
    client = new DeliveryClient({ internalToken: 'wrong-token', stream: true, logger: silent });
    const call = client.deliverBatch(address, [one('STC-X')], () => undefined);
    await expect(call).rejects.toMatchObject({ name: 'DeliveryBatchError', httpStatus: 401, notSent: false });
  });
});

describe('DeliveryClient over the delivery stream when the ingress process is killed', () => {
  let ingress: IngressProcess;
  let device: SimulatedDevice;

  beforeAll(async () => {
    ingress = await startIngressProcess({ INTERNAL_TOKEN, DEVICE_AUTH_SECRETS: DEVICE_SECRET, INGRESS_REPLICA_ID: 'stream-kill' });
    device = await connectDevice(ingress.tcpPort, 'STK-1', 10_000);
  }, 30_000);

  afterAll(async () => {
    await device.close();
    if (ingress.child.exitCode === null && ingress.child.signalCode === null) ingress.child.kill('SIGKILL');
  });

  it('fails every batch in flight on the stream as sent (never acked), then says notSent once nothing listens', async () => {
    const client = new DeliveryClient({ internalToken: INTERNAL_TOKEN, stream: true, logger: silent });
    try {
      const answered: DeliveryAnswerLine[] = [];
      // Two batches in flight on the one stream: the device holds its ACKs for 10 s.
      const batches = [client.deliverBatch(ingress.base, [one('STK-1')], (a) => answered.push(a)), client.deliverBatch(ingress.base, [one('STK-1')], (a) => answered.push(a))];
      const settled = batches.map((b) => b.then(() => null, (error: unknown) => error));
      await waitFor(() => device.stats.received >= 1, { what: 'the device to hold a command' });
      expect(client.openStreams).toEqual([ingress.base]);
      ingress.child.kill('SIGKILL');
      const errors = await Promise.all(settled);
      for (const error of errors) {
        expect(error).toBeInstanceOf(DeliveryBatchError);
        expect(error).toMatchObject({ notSent: false });
      }
      expect(answered).toEqual([]);
      await waitFor(() => client.openStreams.length === 0, { what: 'the broken stream dropped' });
      await expect(client.deliverBatch(ingress.base, [one('STK-1')], () => undefined)).rejects.toMatchObject({ name: 'DeliveryBatchError', notSent: true });
    } finally {
      await client.close();
    }
  });
});

describe('DeliveryClient over the delivery stream when the ingress process stops answering (SIGSTOP)', () => {
  let ingress: IngressProcess;
  let device: SimulatedDevice;

  beforeAll(async () => {
    ingress = await startIngressProcess({ INTERNAL_TOKEN, DEVICE_AUTH_SECRETS: DEVICE_SECRET, INGRESS_REPLICA_ID: 'stream-stop' });
    device = await connectDevice(ingress.tcpPort, 'STS-1', 0);
  }, 30_000);

  afterAll(async () => {
    if (ingress.child.signalCode === null && ingress.child.exitCode === null) {
      ingress.child.kill('SIGCONT');
      ingress.child.kill('SIGKILL');
    }
    await device.close();
  });

  it('drops a stream that read nothing for a whole batch wait, and opens a new one once the replica answers again', async () => {
    const client = new DeliveryClient({ internalToken: INTERNAL_TOKEN, stream: true, logger: silent });
    const opened = jest.spyOn(DeliveryStream, 'open');
    try {
      const ok = async () => {
        const lines: DeliveryAnswerLine[] = [];
        await client.deliverBatch(ingress.base, [one('STS-1', 300)], (a) => lines.push(a));
        return lines.map((l) => l.status);
      };
      expect(await ok()).toEqual([200]);
      ingress.child.kill('SIGSTOP');
      // The batch waits its ACK wait plus 5 s, then fails as sent; the silent stream goes with it.
      await expect(client.deliverBatch(ingress.base, [one('STS-1', 300)], () => undefined)).rejects.toMatchObject({ name: 'DeliveryBatchError', notSent: false });
      await waitFor(() => client.openStreams.length === 0, { what: 'the silent stream dropped' });
      ingress.child.kill('SIGCONT');
      expect(await ok()).toEqual([200]);
      expect(opened).toHaveBeenCalledTimes(2);
    } finally {
      jest.restoreAllMocks();
      await client.close();
    }
  }, 30_000);
});
