import request from 'supertest';
import { SimulatedDevice, type DeviceBehaviour } from '@outbound/cli';
import { loadIngressConfig, startIngress, type IngressHandle } from '@outbound/ingress';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { loadDispatcherConfig, startDispatcher, type RunningDispatcher } from '../../src';
import { SEND_KEY, as, testDispatcherSettings } from '../support/harness';
import { captureLogs } from '../support/log-capture';
import { DEVICE_SECRET, testIngressSettings } from './support/stack';

describe('command transitions in the log: API → queue → dispatcher → ingress → simulated device', () => {
  const dispatcherLogs = captureLogs('dispatcher');
  const ingressLogs = captureLogs('ingress');
  let ingress: IngressHandle;
  let d: RunningDispatcher;
  const devices: SimulatedDevice[] = [];
  beforeAll(async () => {
    const prefix = uniquePrefix('translog');
    const { config: ic } = loadIngressConfig({ env: {}, overrides: testIngressSettings(testRedisUrl(), prefix, 'replica-0') });
    ingress = await startIngress(ic, { logger: ingressLogs.logger });
    const { config } = loadDispatcherConfig({ env: {}, overrides: testDispatcherSettings(testRedisUrl(), prefix) });
    d = await startDispatcher(config, { logger: dispatcherLogs.logger });
  });
  afterAll(async () => {
    await Promise.all(devices.map((device) => device.close()));
    await d.stop();
    await ingress.stop();
  });

  const connect = async (phyId: string, behaviour: DeviceBehaviour = {}) => {
    const device = new SimulatedDevice({ host: '127.0.0.1', port: ingress.tcpPort, phyId, secret: DEVICE_SECRET, ...behaviour });
    devices.push(device);
    await device.connect();
    return device;
  };

  it('follows one command from its request id to its delivery by command id', async () => {
    await connect('TRACE-1');
    const res = await request(d.app).post('/v1/commands?waitMs=5000').set(as(SEND_KEY)).set('X-Request-Id', 'abc').send({ phyId: 'TRACE-1', payload: Buffer.from('x').toString('base64') });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('abc');
    const id = res.body.id as string;
    const accepted = dispatcherLogs.lines.find((l) => l.msg === 'command accepted' && l.requestId === 'abc');
    expect(accepted).toMatchObject({ commandId: id, phyId: 'TRACE-1', attempt: 0 });
    const delivered = await waitFor(() => dispatcherLogs.lines.find((l) => l.msg === 'command delivered' && l.commandId === id), { what: 'the delivered line' });
    // The caller's request id is kept with the command, so the asynchronous delivery's line carries it too.
    expect(delivered).toMatchObject({ level: 'info', phyId: 'TRACE-1', attempt: 1, status: 'acked', outcome: 'ok', requestId: 'abc' });
    // The internal hop is in the ingress' log too: the delivery stream the dispatcher opened to it.
    expect(ingressLogs.lines.some((l) => l.route === '/internal/v1/delivery-stream' && l.method === 'GET' && l.status === 101 && l.msg === 'delivery stream opened')).toBe(true);
  });

  it('writes every failed attempt of a retried command with its attempt number', async () => {
    const device = await connect('TRACE-BUSY', { busyRate: 1 });
    const created = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'TRACE-BUSY', payload: Buffer.from('y').toString('base64'), maxAttempts: 10 }).expect(202);
    const id = created.body.id as string;
    await waitFor(() => dispatcherLogs.lines.filter((l) => l.msg === 'attempt failed' && l.commandId === id).length >= 2, { what: 'two failed attempts logged' });
    device.setBehaviour({ busyRate: 0 });
    const delivered = await waitFor(() => dispatcherLogs.lines.find((l) => l.msg === 'command delivered' && l.commandId === id), { what: 'the delivered line' });
    const failed = dispatcherLogs.lines.filter((l) => l.msg === 'attempt failed' && l.commandId === id);
    expect(failed.map((l) => l.attempt)).toEqual(failed.map((_l, i) => i + 1));
    expect(failed[0]).toMatchObject({ outcome: 'busy', status: 'queued', phyId: 'TRACE-BUSY' });
    // No X-Request-Id sent: the one the service made up for the request is not stored with the command.
    expect(delivered.requestId).toBeUndefined();
    expect(delivered.attempt).toBe(failed.length + 1);
  });
});
