import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { SimulatedDevice } from '@outbound/cli';
import type { IngressHandle } from '@outbound/ingress';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { SECRET, TOKEN, startTestIngress } from './support/test-ingress';

/** The delivery endpoint against the project's device simulator (real TCP, real protocol). */
describe('delivery endpoint with the device simulator', () => {
  let ingress: IngressHandle;
  let device: SimulatedDevice;

  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-sim'));
    device = new SimulatedDevice({ host: '127.0.0.1', port: ingress.tcpPort, phyId: 'SIM-1', secret: SECRET });
    await device.connect();
    await waitFor(() => ingress.devices.deliverable('SIM-1'), { what: 'SIM-1 deliverable' });
  });

  afterAll(async () => {
    await device.close();
    await ingress.stop();
  });

  const deliver = (id: string, ackTimeoutMs = 2_000) =>
    request(ingress.app).post('/internal/v1/devices/SIM-1/deliver').set('Authorization', `Bearer ${TOKEN}`)
      .send({ id, payload: Buffer.from('set 42').toString('base64'), ackTimeoutMs });

  it('ok, busy, rejected and timeout follow the device behaviour; a re-send is not applied twice', async () => {
    const id = randomUUID();
    const first = await deliver(id);
    expect(first.status).toBe(200);
    expect(first.body.outcome).toBe('ok');
    const again = await deliver(id);
    expect(again.body.outcome).toBe('ok');
    expect(device.appliedCount(id)).toBe(1);

    device.setBehaviour({ busyRate: 1 });
    expect((await deliver(randomUUID())).body.outcome).toBe('busy');
    device.setBehaviour({ busyRate: 0, rejectRate: 1 });
    expect((await deliver(randomUUID())).body.outcome).toBe('rejected');
    device.setBehaviour({ rejectRate: 0, noAckRate: 1 });
    expect((await deliver(randomUUID(), 100)).status).toBe(504);
  });

  it('joins concurrent deliveries of one id into one COMMAND', async () => {
    device.setBehaviour({ noAckRate: 0, ackLatencyMs: 500 });
    const received = device.stats.received;
    const id = randomUUID();
    const answers = await Promise.all([deliver(id), deliver(id), deliver(id)]);
    expect(answers.map((a) => a.body.outcome)).toEqual(['ok', 'ok', 'ok']);
    expect(device.stats.received - received).toBe(1);
  });
});
