import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { IngressHandle } from '@outbound/ingress';
import { ConnState } from '../src/device-connection';
import {
  createTestDatabase, startLatencyProxy, testRedisUrl, uniquePrefix, waitFor, type LatencyProxyHandle, type TestDatabase,
} from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, TOKEN, startTestIngress } from './support/test-ingress';

/** How long replica-b hears its store's answers late once a test turns the delay on. */
const REPLY_DELAY_MS = 600;

// A route is readable by every replica and dispatcher the moment the store wrote it; the replica
// that wrote it learns its epoch one answer later. Replica-b talks to its store through a relay
// that holds the answers back, which keeps that moment open long enough to deliver into it.
describe.each(['redis', 'postgres'] as const)('a delivery that arrives while its route is readable but the replica is still registering the device (%s)', (backend) => {
  let a: IngressHandle;
  let b: IngressHandle;
  let proxy: LatencyProxyHandle;
  let database: TestDatabase | undefined;
  const devices: RawDevice[] = [];

  beforeAll(async () => {
    const prefix = uniquePrefix('ingress-registering');
    if (backend === 'postgres') {
      database = await createTestDatabase('ingress-registering');
      proxy = await startLatencyProxy(database.url);
      a = await startTestIngress(prefix, { replicaId: 'replica-a', registry: { backend }, postgres: { url: database.url } });
      b = await startTestIngress(prefix, { replicaId: 'replica-b', registry: { backend }, postgres: { url: proxy.urlFor(database.url) } });
    } else {
      proxy = await startLatencyProxy(testRedisUrl());
      a = await startTestIngress(prefix, { replicaId: 'replica-a' });
      b = await startTestIngress(prefix, { replicaId: 'replica-b', redis: { url: proxy.urlFor(testRedisUrl()) } });
    }
  });

  afterEach(() => {
    proxy.replyDelayMs = 0;
  });

  afterAll(async () => {
    for (const d of devices) d.close();
    if (proxy) proxy.replyDelayMs = 0;
    await Promise.all([a?.stop(), b?.stop()]);
    await proxy?.close();
    await database?.drop();
  });

  /** Connects `phyId` to replica-b with its store answers held back, and waits until replica-a reads the route. */
  async function connectWhileSlow(phyId: string): Promise<{ device: RawDevice; epoch: number }> {
    const device = await RawDevice.handshake(b.tcpPort, phyId, SECRET, { beforeProof: () => (proxy.replyDelayMs = REPLY_DELAY_MS) });
    devices.push(device);
    const route = await waitFor(async () => {
      const r = await a.registry.lookup(phyId);
      return r?.replicaId === 'replica-b' ? r : null;
    }, { what: `route of ${phyId} on replica-b` });
    // The moment under test: a dispatcher may read this route and call replica-b now.
    expect(b.devices.connectionOf(phyId)?.state).toBe(ConnState.REGISTERING);
    return { device, epoch: route.epoch };
  }

  async function commandsWritten(): Promise<number> {
    return (await b.metrics.framesOut.get()).values.find((v) => v.labels.type === 'COMMAND')?.value ?? 0;
  }

  function deliver(phyId: string, body: Record<string, unknown>) {
    return request(b.app).post(`/internal/v1/devices/${phyId}/deliver`).set('Authorization', `Bearer ${TOKEN}`).send(body);
  }

  it('waits for the registration and delivers, instead of answering DEVICE_NOT_CONNECTED to a route it published', async () => {
    const { device, epoch } = await connectWhileSlow('DEV-REG-OK');
    device.ackAll();
    const answer = await deliver('DEV-REG-OK', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 10_000, epoch });
    expect({ status: answer.status, body: answer.body }).toMatchObject({ status: 200, body: { outcome: 'ok' } });
    expect(b.devices.connectionOf('DEV-REG-OK')).toMatchObject({ state: ConnState.READY, epoch });
  });

  it('answers DEVICE_NOT_CONNECTED when the connection closes while it registers', async () => {
    const { device, epoch } = await connectWhileSlow('DEV-REG-GONE');
    const answering = deliver('DEV-REG-GONE', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 10_000, epoch }).then((r) => r);
    await waitFor(() => b.devices.connectionOf('DEV-REG-GONE')?.awaitingRegistration === 1, { what: 'the delivery to wait for the registration' });
    device.close();
    const answer = await answering;
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: 'DEVICE_NOT_CONNECTED', detail: expect.stringContaining('DEV-REG-GONE') });
  });

  it('answers DEVICE_NOT_CONNECTED when the registration outlasts the delivery\'s ackTimeoutMs, without writing the command', async () => {
    const { epoch } = await connectWhileSlow('DEV-REG-SLOW');
    const commandsBefore = await commandsWritten();
    const answer = await deliver('DEV-REG-SLOW', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 20, epoch });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: 'DEVICE_NOT_CONNECTED', detail: expect.stringContaining('still registering') });
    const conn = await waitFor(() => b.devices.deliverable('DEV-REG-SLOW'), { what: 'the registration to finish' });
    expect(conn.awaitingRegistration).toBe(0);
    expect(await commandsWritten()).toBe(commandsBefore);
  });
});
