import request from 'supertest';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { SEND_KEY, as } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from './support/dispatcher-process';
import { BACKENDS, b64, startStack, type Stack } from './support/stack';

describe.each(BACKENDS)('end to end on %s: SIGTERM of a dispatcher process', (backend) => {
  let stack: Stack;
  let worker: DispatcherProcess | null = null;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-sigterm', backend, dispatcher: { worker: { enabled: false } } });
  });
  afterAll(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker?.exited;
    await stack.stop();
  });

  it('stops claiming, finishes what is in flight, and exits 0 within the grace period leaving nothing in flight', async () => {
    const devices = await Promise.all(Array.from({ length: 10 }, (_, i) => stack.device(`TERM-${i}`, { ackLatencyMs: 300 })));
    worker = await spawnDispatcher(testRedisUrl(), stack.prefix, { ...stack.env, DISPATCHER_SHUTDOWN_GRACE_MS: '10000', DISPATCHER_LEASE_MS: '20000' });
    const commands = Array.from({ length: 50 }, (_, i) => ({ phyId: `TERM-${i % 10}`, payload: b64(`t${i}`) }));
    const res = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands }).expect(200);
    // Wait until commands were written to the devices (not merely claimed), so "in flight at the
    // signal" is something the devices hold; the grace is generous so a loaded CI host cannot
    // turn a 300 ms ACK into a release.
    const received = () => devices.reduce((n, d) => n + d.stats.received, 0);
    await waitFor(() => received() >= 5, { what: 'commands written to the devices' });

    const receivedAtSignal = received();
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(12_000);
    expect(worker.output()).not.toMatch(/"level":"error"/);

    // Nothing is left holding a lease (it would otherwise wait 20 s for the reaper), and what was sent was recorded.
    const stats = await stack.api.queue.stats();
    expect(stats.total.inflight).toBe(0);
    const views = await Promise.all(res.body.results.map((r: { id: string }) => stack.api.queue.get(r.id)));
    const acked = views.filter((v) => v?.status === 'acked').length;
    const applied = devices.reduce((n, d) => n + d.stats.applied, 0);
    // Everything the devices had received when the signal came was finished, not dropped.
    expect(acked).toBeGreaterThanOrEqual(receivedAtSignal);
    expect(acked).toBe(applied);
    expect(views.filter((v) => v?.status !== 'acked' && v?.status !== 'queued')).toEqual([]);
  });
});
