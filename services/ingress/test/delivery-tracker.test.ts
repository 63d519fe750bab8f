import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { AckStatus, FrameType, createLogger, encodeAck, type DeliveryHopTimes } from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { DeliveryTracker } from '../src/delivery-tracker';
import { IngressMetrics } from '../src/metrics';
import { RawDevice } from './support/raw-device';
import { SECRET, startTestIngress } from './support/test-ingress';

/** A DeliveryTracker of its own over a real ingress' connections, speaking to devices on real sockets. */
describe('DeliveryTracker', () => {
  let ingress: IngressHandle;
  let tracker: DeliveryTracker;
  let metrics: IngressMetrics;
  const devices: RawDevice[] = [];

  async function device(phyId: string): Promise<RawDevice> {
    const d = await RawDevice.handshake(ingress.tcpPort, phyId, SECRET);
    devices.push(d);
    await waitFor(() => ingress.devices.deliverable(phyId), { what: `${phyId} deliverable` });
    return d;
  }

  const counted = async (outcome: string) => (await metrics.registry.getSingleMetricAsString('outbound_ingress_deliveries_total')).match(new RegExp(`outcome="${outcome}"[^}]*\\} (\\d+)`))?.[1];

  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('tracker'));
  });

  beforeEach(() => {
    metrics = new IngressMetrics(new Registry());
    tracker = new DeliveryTracker((phyId) => ingress.devices.forDelivery(phyId), metrics, createLogger({ service: 'test', level: 'silent' }));
  });

  afterEach(() => {
    for (const d of devices.splice(0)) d.close();
  });

  afterAll(async () => {
    await ingress.stop();
  });

  it('answers the ACK with its result, stamps the hops asked for, and counts one waiter until then', async () => {
    const dev = await device('TRK-OK');
    const id = randomUUID();
    const times: DeliveryHopTimes = { received: performance.timeOrigin + performance.now(), answered: 0 };
    const answer = tracker.deliver({ phyId: 'TRK-OK', id, payload: Buffer.from('go'), ackTimeoutMs: 5_000 }, times);
    expect(tracker.waiting).toBe(1);
    let idle = false;
    void tracker.whenIdle().then(() => (idle = true));
    expect(await dev.nextCommand()).toEqual({ id, payload: Buffer.from('go') });
    expect(idle).toBe(false);
    dev.send(encodeAck(id, AckStatus.OK, Buffer.from('done')));
    expect(await answer).toEqual({ status: 200, outcome: 'ok', result: Buffer.from('done'), latencyMs: expect.any(Number) });
    await waitFor(() => idle, { what: 'whenIdle to resolve' });
    expect(tracker.waiting).toBe(0);
    expect(times.written).toBeGreaterThanOrEqual(times.received);
    expect(times.acked).toBeGreaterThanOrEqual(times.written!);
    expect(await counted('ok')).toBe('1');
  });

  it('answers rejected and busy as the device says', async () => {
    const dev = await device('TRK-RB');
    dev.ackAll(AckStatus.REJECTED, Buffer.from('no'));
    expect(await tracker.deliver({ phyId: 'TRK-RB', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 5_000 })).toMatchObject({ status: 200, outcome: 'rejected', result: Buffer.from('no') });
    dev.ackAll(AckStatus.BUSY);
    expect(await tracker.deliver({ phyId: 'TRK-RB', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 5_000 })).toMatchObject({ status: 200, outcome: 'busy', result: Buffer.alloc(0) });
  });

  it('answers 404 at once for a device it does not hold, without counting a waiter', async () => {
    const answer = await tracker.deliver({ phyId: 'TRK-NOBODY', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 5_000 });
    expect(answer).toMatchObject({ status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
    expect(tracker.waiting).toBe(0);
    expect(await counted('device_not_connected')).toBe('1');
  });

  it('answers 409 STALE_EPOCH for an older epoch and 404 for a newer one, writing nothing', async () => {
    const dev = await device('TRK-EPOCH');
    const epoch = ingress.devices.connectionOf('TRK-EPOCH')!.epoch;
    if (epoch > 1) {
      expect(await tracker.deliver({ phyId: 'TRK-EPOCH', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 1_000, epoch: epoch - 1 })).toMatchObject({ status: 409, error: { code: 'STALE_EPOCH' } });
    }
    expect(await tracker.deliver({ phyId: 'TRK-EPOCH', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 1_000, epoch: epoch + 1 })).toMatchObject({ status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
    await expect(dev.next(FrameType.COMMAND, 200)).rejects.toThrow();
    // The current epoch is delivered.
    dev.ackAll();
    expect(await tracker.deliver({ phyId: 'TRK-EPOCH', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 5_000, epoch })).toMatchObject({ status: 200, outcome: 'ok' });
  });

  it('answers 409 STALE_EPOCH when the device reconnected since the route was read', async () => {
    const first = await device('TRK-RECONNECT');
    const oldEpoch = ingress.devices.connectionOf('TRK-RECONNECT')!.epoch;
    first.close();
    await waitFor(() => !ingress.devices.deliverable('TRK-RECONNECT'), { what: 'the first connection to go' });
    await device('TRK-RECONNECT');
    expect(ingress.devices.connectionOf('TRK-RECONNECT')!.epoch).toBeGreaterThan(oldEpoch);
    expect(await tracker.deliver({ phyId: 'TRK-RECONNECT', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 1_000, epoch: oldEpoch })).toMatchObject({ status: 409, error: { code: 'STALE_EPOCH' } });
  });

  it('answers 504 ACK_TIMEOUT when the device stays silent', async () => {
    await device('TRK-SLOW');
    expect(await tracker.deliver({ phyId: 'TRK-SLOW', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 100 })).toMatchObject({ status: 504, error: { code: 'ACK_TIMEOUT' } });
    expect(tracker.waiting).toBe(0);
  });

  it('answers 404 when the connection closes while a delivery waits, and the drain sees it idle', async () => {
    const dev = await device('TRK-GONE');
    const answer = tracker.deliver({ phyId: 'TRK-GONE', id: randomUUID(), payload: Buffer.alloc(1), ackTimeoutMs: 30_000 });
    await dev.nextCommand();
    const idle = tracker.whenIdle();
    dev.close();
    expect(await answer).toMatchObject({ status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
    await idle;
    expect(tracker.waiting).toBe(0);
  });

  it('joins a second delivery of the same command: one COMMAND on the wire, both answered', async () => {
    const dev = await device('TRK-JOIN');
    const id = randomUUID();
    const first = tracker.deliver({ phyId: 'TRK-JOIN', id, payload: Buffer.from('x'), ackTimeoutMs: 5_000 });
    const second = tracker.deliver({ phyId: 'TRK-JOIN', id, payload: Buffer.from('x'), ackTimeoutMs: 5_000 });
    expect(tracker.waiting).toBe(2);
    await dev.nextCommand();
    dev.send(encodeAck(id, AckStatus.OK));
    expect(await Promise.all([first, second])).toEqual([expect.objectContaining({ outcome: 'ok' }), expect.objectContaining({ outcome: 'ok' })]);
    await expect(dev.next(FrameType.COMMAND, 200)).rejects.toThrow();
    expect(await counted('joined')).toBe('1');
  });
});
