import request from 'supertest';
import { SimulatedDevice } from '@outbound/cli';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { startIngressProcess, type IngressProcess } from '../../../ingress/test/support/ingress-process';
import type { RunningDispatcher } from '../../src';
import { ADMIN_KEY, INTERNAL_TOKEN, SEND_KEY, as, startTestDispatcher } from '../support/harness';
import { DEVICE_SECRET, b64 } from './support/stack';

describe('end to end on redis: the ingress process killed with a delivery in flight on its stream', () => {
  let ingress: IngressProcess;
  let dispatcher: RunningDispatcher;
  let device: SimulatedDevice;

  beforeAll(async () => {
    const prefix = uniquePrefix('e2e-stream-kill');
    ingress = await startIngressProcess({ REGISTRY_PREFIX: prefix, INGRESS_REPLICA_ID: 'stream-kill-0', DEVICE_AUTH_SECRETS: DEVICE_SECRET, INTERNAL_TOKEN });
    dispatcher = await startTestDispatcher(testRedisUrl(), {}, 'dispatcher', prefix);
    // The device holds its ACK far past the kill.
    device = new SimulatedDevice({ host: '127.0.0.1', port: ingress.tcpPort, phyId: 'SK-1', secret: DEVICE_SECRET, ackLatencyMs: 30_000 });
    await device.connect();
  }, 60_000);

  afterAll(async () => {
    await device.close();
    await dispatcher.stop();
    if (ingress.child.exitCode === null && ingress.child.signalCode === null) ingress.child.kill('SIGKILL');
  });

  it('spends the attempt as a transport failure and queues the command again: never lost, never acked', async () => {
    const res = await request(dispatcher.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'SK-1', payload: b64('x'), maxAttempts: 5 });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await waitFor(() => device.stats.received >= 1, { what: 'the COMMAND at the device' });
    ingress.child.kill('SIGKILL');
    // The attempt is recorded as a transport failure (the outcome counter counts only what the store took) ...
    const transportErrors = async () => {
      const text = (await request(dispatcher.app).get('/metrics')).text;
      return Number(/^outbound_dispatcher_delivered_total\{[^}]*outcome="transport_error"[^}]*\} (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    await waitFor(async () => (await transportErrors()) === 1, { what: 'the attempt recorded as a transport failure', timeoutMs: 10_000 });
    // ... and the command waits to be delivered again (its next try finds the replica gone and parks it, no attempt spent).
    // Polled: a retry that finds the replica gone holds it in flight for a moment.
    const command = await waitFor(async () => {
      const c = (await request(dispatcher.app).get(`/v1/commands/${id}`).set(as(ADMIN_KEY))).body as { status: string; attempts: number };
      return c.status === 'queued' ? c : null;
    }, { what: 'the command queued again' });
    expect(command.attempts).toBe(1);
    const text = (await request(dispatcher.app).get('/metrics')).text;
    expect(/^outbound_dispatcher_delivered_total\{[^}]*outcome="ok"[^}]*\} [1-9]/m.test(text)).toBe(false);
  });
});
