import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { WireErrorCode } from '@outbound/core';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { DeviceHandshakeError, type SimulatedDevice } from '@outbound/cli';
import { ADMIN_KEY, as } from '../support/harness';
import { BACKENDS, b64, startStack, type Stack } from './support/stack';

/** How long a revocation may take to cut a connected device off, on any replica. */
const REVOCATION_DEADLINE_MS = 2_000;

/** connect() fails with this wire error code. */
async function refusedWith(connect: Promise<unknown>): Promise<number | undefined> {
  try {
    await connect;
  } catch (error) {
    if (error instanceof DeviceHandshakeError) return error.wireCode;
    throw error;
  }
  throw new Error('the handshake succeeded');
}

/**
 * The admin API drives the handshake on every ingress replica: a provisioned key replaces the
 * derived one, and a revocation through any dispatcher cuts the device off wherever it is
 * connected and keeps it out until lifted.
 */
describe.each(BACKENDS)('device credentials end to end on %s: admin API, two ingress replicas', (backend) => {
  let stack: Stack;
  const admin = () => request(stack.api.app);
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-credentials', backend, ingresses: 2, dispatchers: 1 });
  });
  afterAll(() => stack.stop());

  it('a provisioned key replaces the derived one: the device with it gets and ACKs commands, the derived key is refused', async () => {
    const key = randomBytes(32);
    await admin().put('/v1/devices/OWN-KEY/credentials').set(as(ADMIN_KEY)).send({ key: key.toString('base64') }).expect(200);

    expect(await refusedWith(stack.device('OWN-KEY', {}, 1))).toBe(WireErrorCode.AUTH_FAILED);
    await stack.device('OWN-KEY', { key }, 1);
    const id = await stack.enqueue({ phyId: 'OWN-KEY', payload: b64('hello') });
    await stack.waitStatus(id, 'acked');

    // Reverting: the derived key works again, the provisioned one no longer does.
    await admin().delete('/v1/devices/OWN-KEY/credentials').set(as(ADMIN_KEY)).expect(200);
    expect(await refusedWith(stack.device('OWN-KEY-2', { key }, 0))).toBe(WireErrorCode.AUTH_FAILED);
    await stack.device('OWN-KEY', {}, 0);
  });

  it('a revocation cuts the device off on whichever replica holds it within 2 s, refuses it until lifted, and leaves others alone', async () => {
    const devices: SimulatedDevice[] = [await stack.device('REVOKED-0', {}, 0), await stack.device('REVOKED-1', {}, 1)];
    const bystander = await stack.device('BYSTANDER', {}, 1);
    const cutAt: number[] = [];
    for (const device of devices) device.once('error-frame', (frame: { code: number }) => frame.code === WireErrorCode.AUTH_FAILED && cutAt.push(Date.now()));

    const started = Date.now();
    await Promise.all(['REVOKED-0', 'REVOKED-1'].map((phyId) => admin().put(`/v1/devices/${phyId}/revocation`).set(as(ADMIN_KEY)).expect(200)));
    await waitFor(() => cutAt.length === 2 && devices.every((d) => !d.connected), { timeoutMs: REVOCATION_DEADLINE_MS, what: 'both revoked devices cut off with AUTH_FAILED' });
    expect(Math.max(...cutAt) - started).toBeLessThan(REVOCATION_DEADLINE_MS);

    expect(await refusedWith(stack.device('REVOKED-1', {}, 0))).toBe(WireErrorCode.AUTH_FAILED);
    expect(bystander.connected).toBe(true);
    const view = await admin().get('/v1/devices/REVOKED-1').set(as(ADMIN_KEY)).expect(200);
    expect(view.body).toMatchObject({ online: false, credentials: { key: 'derived', revoked: true } });

    await admin().delete('/v1/devices/REVOKED-1/revocation').set(as(ADMIN_KEY)).expect(200);
    await stack.device('REVOKED-1', {}, 1);
    const id = await stack.enqueue({ phyId: 'REVOKED-1', payload: b64('back') });
    await stack.waitStatus(id, 'acked');
  });
});
