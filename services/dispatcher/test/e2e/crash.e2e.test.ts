import request from 'supertest';
import type { SimulatedDevice } from '@outbound/cli';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { SEND_KEY, as } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from './support/dispatcher-process';
import { BACKENDS, b64, startStack, type Stack } from './support/stack';

const DEVICES = 30;
const COMMANDS = 2_000;
const MAX_IN_FLIGHT = 300;

describe.each(BACKENDS)('end to end on %s: kill -9 of a dispatcher process under load', (backend) => {
  let stack: Stack;
  const processes: DispatcherProcess[] = [];
  beforeAll(async () => {
    // In-process: one ingress and an API-only dispatcher. The workers are real processes.
    stack = await startStack(testRedisUrl(), { name: 'e2e-crash', backend, dispatcher: { worker: { enabled: false } } });
  });
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await stack.stop();
  });

  it('ends every accepted command acked; devices see duplicates only of what was in flight and apply none twice', async () => {
    const devices: SimulatedDevice[] = [];
    for (let i = 0; i < DEVICES; i += 1) devices.push(await stack.device(`CRASH-${i}`, { ackLatencyMs: { min: 1, max: 5 } }));
    const workerEnv = {
      DISPATCHER_LEASE_MS: '2000', DISPATCHER_LEASE_MARGIN_MS: '800', DISPATCHER_REAP_INTERVAL_MS: '200',
      DISPATCHER_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), DISPATCHER_PARKED_CHECK_MS: '500',
    };
    const victim = await spawnDispatcher(testRedisUrl(), stack.prefix, { ...stack.env, ...workerEnv });
    const survivor = await spawnDispatcher(testRedisUrl(), stack.prefix, { ...stack.env, ...workerEnv });
    processes.push(victim, survivor);

    const ids: string[] = [];
    for (let start = 0; start < COMMANDS; start += 500) {
      const commands = Array.from({ length: 500 }, (_, i) => ({ phyId: `CRASH-${(start + i) % DEVICES}`, payload: b64(`c${start + i}`), ackTimeoutMs: 1_000, maxAttempts: 20 }));
      const res = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands }).expect(200);
      expect(res.body.accepted).toBe(500);
      ids.push(...res.body.results.map((r: { id: string }) => r.id));
      if (start === 500) {
        await waitFor(() => devices.reduce((n, d) => n + d.stats.applied, 0) >= 300, { what: 'deliveries under way' });
        victim.child.kill('SIGKILL');
        expect(await victim.exited).toBe('SIGKILL');
      }
    }

    await waitFor(async () => (await stack.api.queue.stats()).total.pending + (await stack.api.queue.stats()).total.inflight === 0 || null, {
      timeoutMs: 60_000, intervalMs: 100, what: 'the queue to drain',
    });
    const statuses = await Promise.all(ids.map(async (id) => (await stack.api.queue.get(id))?.status));
    expect(statuses.filter((s) => s !== 'acked')).toEqual([]);

    const appliedTwice = ids.filter((id) => devices.some((d) => d.appliedCount(id) > 1));
    expect(appliedTwice).toEqual([]);
    const applied = new Set(devices.flatMap((d) => d.appliedIds));
    expect(ids.filter((id) => !applied.has(id))).toEqual([]);
    const duplicates = devices.reduce((n, d) => n + d.stats.duplicates, 0);
    // Only what the killed process held could be sent twice.
    expect(duplicates).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(survivor.child.exitCode).toBeNull();
    // The victim held leases when it died: the survivor's reaper returned them.
    const metrics = await (await fetch(`${survivor.url}/metrics`)).text();
    expect(metrics).toMatch(/outbound_dispatcher_leases_reclaimed_total\{[^}]*\} [1-9]/);
  });
});
