import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { IngressHandle } from '@outbound/ingress';
import { ConnState } from '../src/device-connection';
import {
  createTestDatabase, startLatencyProxy, testRedisUrl, uniquePrefix, waitFor, type LatencyProxyHandle, type TestDatabase,
} from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, TOKEN, startTestIngress } from './support/test-ingress';

/** How late replica-b hears its store's answers while a registration is being written. */
const REPLY_DELAY_MS = 600;

// A route is readable by every replica and dispatcher the moment the store wrote it; the replica
// that wrote it learns its epoch one answer later. Replica-b talks to its store through a relay
// that can delay or hold its answers, which keeps that moment open for as long as a test needs.
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
    proxy.releaseReplies();
  });

  afterAll(async () => {
    for (const d of devices) d.close();
    proxy?.releaseReplies();
    await Promise.all([a?.stop(), b?.stop()]);
    await proxy?.close();
    await database?.drop();
  });

  function deliver(phyId: string, body: Record<string, unknown>) {
    return request(b.app).post(`/internal/v1/devices/${phyId}/deliver`).set('Authorization', `Bearer ${TOKEN}`).send(body);
  }

  async function commandsWritten(): Promise<number> {
    return (await b.metrics.framesOut.get()).values.find((v) => v.labels.type === 'COMMAND')?.value ?? 0;
  }

  /** Connects `phyId` to replica-b, whose store answers are held from PROOF on: the connection stays REGISTERING until released. */
  async function connectHeld(phyId: string): Promise<RawDevice> {
    const device = await RawDevice.handshake(b.tcpPort, phyId, SECRET, { beforeProof: () => proxy.holdReplies() });
    devices.push(device);
    expect(b.devices.connectionOf(phyId)?.state).toBe(ConnState.REGISTERING);
    return device;
  }

  it('waits for the registration and delivers, instead of answering DEVICE_NOT_CONNECTED to a route it published', async () => {
    // Answers come late from PROOF on; once replica-a reads the route, replica-b's are held.
    const device = await RawDevice.handshake(b.tcpPort, 'DEV-REG-OK', SECRET, { beforeProof: () => (proxy.replyDelayMs = REPLY_DELAY_MS) });
    devices.push(device);
    const route = await waitFor(async () => {
      const r = await a.registry.lookup('DEV-REG-OK');
      return r?.replicaId === 'replica-b' ? r : null;
    }, { intervalMs: 2, what: 'route of DEV-REG-OK on replica-b' });
    proxy.holdReplies();
    // The moment under test: a dispatcher may read this route and call replica-b now.
    expect(b.devices.connectionOf('DEV-REG-OK')?.state).toBe(ConnState.REGISTERING);
    device.ackAll();
    let answered = false;
    const answering = deliver('DEV-REG-OK', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 10_000, epoch: route.epoch }).then((r) => {
      answered = true;
      return r;
    });
    await waitFor(() => answered || b.devices.connectionOf('DEV-REG-OK')?.awaitingRegistration === 1, { what: 'the delivery to be answered or to wait' });
    proxy.releaseReplies();
    const answer = await answering;
    expect({ status: answer.status, body: answer.body }).toMatchObject({ status: 200, body: { outcome: 'ok' } });
    expect(b.devices.connectionOf('DEV-REG-OK')).toMatchObject({ state: ConnState.READY, epoch: route.epoch });
  });

  it('answers DEVICE_NOT_CONNECTED when the connection closes while it registers, and its route is removed once recorded', async () => {
    const device = await connectHeld('DEV-REG-GONE');
    const answering = deliver('DEV-REG-GONE', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 10_000 }).then((r) => r);
    await waitFor(() => b.devices.connectionOf('DEV-REG-GONE')?.awaitingRegistration === 1, { what: 'the delivery to wait for the registration' });
    device.close();
    const answer = await answering;
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: 'DEVICE_NOT_CONNECTED', detail: expect.stringContaining('DEV-REG-GONE') });
    proxy.releaseReplies();
    await waitFor(async () => (await b.registry.lookup('DEV-REG-GONE')) === null && b.devices.connectionOf('DEV-REG-GONE') === undefined, {
      what: 'the route recorded after the close to be removed',
    });
  });

  it('answers DEVICE_NOT_CONNECTED when the registration outlasts the delivery\'s ackTimeoutMs, without writing the command', async () => {
    await connectHeld('DEV-REG-SLOW');
    const commandsBefore = await commandsWritten();
    const answer = await deliver('DEV-REG-SLOW', { id: randomUUID(), payload: 'AA==', ackTimeoutMs: 20 });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: 'DEVICE_NOT_CONNECTED', detail: expect.stringContaining('still registering') });
    proxy.releaseReplies();
    const conn = await waitFor(() => b.devices.deliverable('DEV-REG-SLOW'), { what: 'the registration to finish' });
    expect(conn.awaitingRegistration).toBe(0);
    expect(await commandsWritten()).toBe(commandsBefore);
  });
});
