import { Client } from 'pg';
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

  /**
   * Waits until a store call the stopped victim sent has landed, so that the in-flight count read next is what it holds.
   * Redis answers in order: a second read has waited behind it. PostgreSQL runs statements side by side, and one waiting
   * for a lock can finish long after: an ack counted as in flight there left the survivor nothing to reclaim (failed a
   * CI run). So it waits until no statement but its own runs in the stack's database; one of an open transaction the
   * victim has not committed rolls back when it is killed, and was rightly counted.
   */
  async function storeCallsLanded(): Promise<void> {
    if (backend !== 'postgres') {
      await stack.api.queue.stats();
      return;
    }
    const pg = new Client({ connectionString: stack.env.DATABASE_URL });
    await pg.connect();
    try {
      await waitFor(async () => {
        const { rows } = await pg.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`,
        );
        return rows[0]!.n === 0 || null;
      }, { intervalMs: 2, what: 'the statements sent before the stop to finish' });
    } finally {
      await pg.end();
    }
  }

  it('ends every accepted command acked; devices see duplicates only of what was in flight and apply none twice', async () => {
    const devices: SimulatedDevice[] = [];
    for (let i = 0; i < DEVICES; i += 1) devices.push(await stack.device(`CRASH-${i}`, { ackLatencyMs: { min: 1, max: 5 } }));
    const workerEnv = {
      DISPATCHER_LEASE_MS: '2000', DISPATCHER_LEASE_MARGIN_MS: '800', DISPATCHER_REAP_INTERVAL_MS: '200',
      DISPATCHER_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), DISPATCHER_PARKED_CHECK_MS: '500',
    };
    const victim = await spawnDispatcher(testRedisUrl(), stack.prefix, { ...stack.env, ...workerEnv });
    processes.push(victim);
    let survivor: DispatcherProcess | null = null;

    const ids: string[] = [];
    for (let start = 0; start < COMMANDS; start += 500) {
      const commands = Array.from({ length: 500 }, (_, i) => ({ phyId: `CRASH-${(start + i) % DEVICES}`, payload: b64(`c${start + i}`), ackTimeoutMs: 1_000, maxAttempts: 20 }));
      const res = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands }).expect(200);
      expect(res.body.accepted).toBe(500);
      ids.push(...res.body.results.map((r: { id: string }) => r.id));
      if (start === 500) {
        await waitFor(() => devices.reduce((n, d) => n + d.stats.applied, 0) >= 300, { what: 'deliveries under way' });
        // Kill it while it holds leases: frozen (SIGSTOP), it can neither finish nor take any, and as the only worker
        // everything in flight is its own. With the survivor running from the start, the victim often held nothing:
        // a dispatcher that frees a device's slot claims that device's next command at once, so whichever process
        // claimed first kept all 30 devices, and on a loaded machine that was the survivor (failed 2 of 2 full runs).
        const held = await waitFor(async () => {
          victim.child.kill('SIGSTOP');
          await storeCallsLanded();
          const { inflight } = (await stack.api.queue.stats()).total;
          if (inflight === 0) victim.child.kill('SIGCONT');
          return inflight || null;
        }, { intervalMs: 5, what: 'the victim to hold leases' });
        expect(held).toBeGreaterThan(0);
        victim.child.kill('SIGKILL');
        expect(await victim.exited).toBe('SIGKILL');
        survivor = await spawnDispatcher(testRedisUrl(), stack.prefix, { ...stack.env, ...workerEnv });
        processes.push(survivor);
      }
    }

    await waitFor(async () => (await stack.api.queue.stats()).total.pending + (await stack.api.queue.stats()).total.inflight === 0 || null, {
      timeoutMs: 60_000, intervalMs: 100, what: 'the queue to drain',
    });
    // Ten reads at a time (the PostgreSQL pool's size): 2,000 at once queue for a client past the pool's 5 s connect
    // timeout on a loaded machine.
    const statuses: Array<string | undefined> = [];
    for (let i = 0; i < ids.length; i += 10) {
      statuses.push(...(await Promise.all(ids.slice(i, i + 10).map(async (id) => (await stack.api.queue.get(id))?.status))));
    }
    expect(statuses.filter((s) => s !== 'acked')).toEqual([]);

    const appliedTwice = ids.filter((id) => devices.some((d) => d.appliedCount(id) > 1));
    expect(appliedTwice).toEqual([]);
    const applied = new Set(devices.flatMap((d) => d.appliedIds));
    expect(ids.filter((id) => !applied.has(id))).toEqual([]);
    const duplicates = devices.reduce((n, d) => n + d.stats.duplicates, 0);
    // Only what the killed process held could be sent twice.
    expect(duplicates).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(survivor!.child.exitCode).toBeNull();
    // The victim held leases when it died: the survivor's reaper returned them.
    const metrics = await (await fetch(`${survivor!.url}/metrics`)).text();
    expect(metrics).toMatch(/outbound_dispatcher_leases_reclaimed_total\{[^}]*\} [1-9]/);
  });
});
