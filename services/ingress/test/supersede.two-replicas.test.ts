import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { WireErrorCode } from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { createTestDatabase, uniquePrefix, waitFor, type TestDatabase } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, TOKEN, startTestIngress } from './support/test-ingress';

// QUEUE_BACKEND selects the registry: the superseded signal travels over Redis pub/sub or
// PostgreSQL LISTEN/NOTIFY; the replicas' behaviour must not differ.
describe.each(['redis', 'postgres'] as const)('supersede across two ingress replicas sharing one registry (%s)', (backend) => {
  let a: IngressHandle;
  let b: IngressHandle;
  let database: TestDatabase | undefined;
  const devices: RawDevice[] = [];

  beforeAll(async () => {
    const prefix = uniquePrefix('ingress-two');
    let store: Record<string, unknown> = {};
    if (backend === 'postgres') {
      // A fresh database; the registry schema is the prefix, so start-up runs the migrations.
      database = await createTestDatabase('ingress-two');
      store = { registry: { backend }, postgres: { url: database.url } };
    }
    a = await startTestIngress(prefix, { replicaId: 'replica-a', ...store });
    b = await startTestIngress(prefix, { replicaId: 'replica-b', ...store });
  });

  afterAll(async () => {
    for (const d of devices) d.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('reports the store behind the registry in /health (PostgreSQL: pool counters and latency)', async () => {
    const health = (await request(a.app).get('/health').expect(200)).body;
    expect(Object.keys(health.checks)).toEqual([backend]);
    // The test Redis runs without AOF, which /health reports as degraded.
    expect(health.checks[backend]).toMatchObject({ status: backend === 'redis' ? 'degraded' : 'ok', latencyMs: expect.any(Number) });
    if (backend === 'postgres') expect(health.checks.postgres).toMatchObject({ total: expect.any(Number), idle: expect.any(Number), waiting: 0 });
  });

  it('closes the older connection on the other replica with SUPERSEDED and routes to the newer one', async () => {
    const older = await RawDevice.handshake(a.tcpPort, 'DEV-MOVE', SECRET);
    devices.push(older);
    const first = await waitFor(() => a.registry.lookup('DEV-MOVE'), { what: 'route on replica-a' });
    expect(first.replicaId).toBe('replica-a');

    const newer = await RawDevice.handshake(b.tcpPort, 'DEV-MOVE', SECRET);
    devices.push(newer);
    expect((await older.errorAndClose()).code).toBe(WireErrorCode.SUPERSEDED);
    const route = await waitFor(async () => {
      const r = await b.registry.lookup('DEV-MOVE');
      return r?.replicaId === 'replica-b' ? r : null;
    }, { what: 'route on replica-b' });
    expect(route.epoch).toBe(first.epoch + 1);
    expect(route.address).toBe(b.address);
    expect(newer.closed).toBe(false);

    // replica-a no longer delivers to it, and its unregister did not remove replica-b's route.
    const onA = await request(a.app).post('/internal/v1/devices/DEV-MOVE/deliver').set('Authorization', `Bearer ${TOKEN}`)
      .send({ id: randomUUID(), payload: 'AA==', ackTimeoutMs: 1_000 });
    expect(onA.status).toBe(404);
    newer.ackAll();
    const onB = await request(b.app).post('/internal/v1/devices/DEV-MOVE/deliver').set('Authorization', `Bearer ${TOKEN}`)
      .send({ id: randomUUID(), payload: 'AA==', ackTimeoutMs: 1_000, epoch: route.epoch });
    expect(onB.status).toBe(200);
    expect(await a.registry.lookup('DEV-MOVE')).toMatchObject({ replicaId: 'replica-b', epoch: route.epoch });
  });

  it('lists both replicas as live with their delivery addresses', async () => {
    const replicas = await a.registry.listReplicas();
    expect(replicas.map((r) => [r.replicaId, r.address])).toEqual([['replica-a', a.address], ['replica-b', b.address]]);
  });
});
