import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { WireErrorCode } from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, TOKEN, startTestIngress } from './support/test-ingress';

describe('supersede across two ingress replicas sharing one Redis', () => {
  let a: IngressHandle;
  let b: IngressHandle;
  const devices: RawDevice[] = [];

  beforeAll(async () => {
    const prefix = uniquePrefix('ingress-two');
    a = await startTestIngress(prefix, { replicaId: 'replica-a' });
    b = await startTestIngress(prefix, { replicaId: 'replica-b' });
  });

  afterAll(async () => {
    for (const d of devices) d.close();
    await Promise.all([a.stop(), b.stop()]);
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
