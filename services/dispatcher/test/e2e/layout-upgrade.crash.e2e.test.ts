import request from 'supertest';
import type { SimulatedDevice } from '@outbound/cli';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { ADMIN_KEY, SEND_KEY, as } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from './support/dispatcher-process';
import { b64, startStack, type Stack } from './support/stack';

const DEVICES = 20;
const BEFORE = 1_000;
const AFTER = 200;
const MAX_IN_FLIGHT = 200;

/**
 * The draining upgrade survives a kill -9: a dispatcher process on v3 draining v2 dies while
 * it holds leases on v2 commands, another starts with the same settings, and every command
 * (the v2 backlog, and those enqueued after the switch, some through a v2 API replica still
 * running) ends acked, each device's in enqueue order, applied once.
 */
describe('end to end: kill -9 of a dispatcher process in the middle of the v2 to v3 drain', () => {
  let stack: Stack;
  const processes: DispatcherProcess[] = [];
  beforeAll(async () => {
    // In-process: one ingress and an API-only dispatcher still on v2 (a replica not yet switched).
    stack = await startStack(testRedisUrl(), { name: 'e2e-upgrade-crash', backend: 'redis-v2', dispatcher: { worker: { enabled: false } } });
  });
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await stack.stop();
  });

  it('ends every command acked, in each device\'s order, duplicates only of what the dead process held', async () => {
    const devices: SimulatedDevice[] = [];
    for (let i = 0; i < DEVICES; i += 1) devices.push(await stack.device(`UPX-${i}`, { ackLatencyMs: { min: 1, max: 5 } }));
    const sent = new Map<string, string[]>(); // phyId -> ids in enqueue order
    const enqueue = async (post: (body: unknown) => Promise<{ status: number; body: { accepted: number; results: Array<{ id: string }> } }>, from: number, count: number) => {
      const commands = Array.from({ length: count }, (_, i) => ({ phyId: `UPX-${(from + i) % DEVICES}`, payload: b64(`c${from + i}`), ackTimeoutMs: 1_000, maxAttempts: 20, idempotencyKey: `key-${from + i}` }));
      const res = await post({ commands });
      expect(res.status).toBe(200);
      expect(res.body.accepted).toBe(count);
      res.body.results.forEach((r, i) => sent.set(commands[i]!.phyId, [...(sent.get(commands[i]!.phyId) ?? []), r.id]));
      return res.body.results.map((r) => r.id);
    };
    const viaV2 = (body: unknown) => request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send(body as object);
    const viaProcess = (p: DispatcherProcess) => async (body: unknown) => {
      const res = await fetch(`${p.url}/v1/commands/batch`, { method: 'POST', headers: { ...as(SEND_KEY), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { accepted: number; results: Array<{ id: string }> } };
    };
    const ids: string[] = [];
    for (let start = 0; start < BEFORE; start += 500) ids.push(...(await enqueue(viaV2, start, 500)));

    const workerEnv = {
      ...stack.env, QUEUE_REDIS_LAYOUT: 'v3', QUEUE_REDIS_UPGRADE_FROM: 'v2', LOG_LEVEL: 'info',
      DISPATCHER_LEASE_MS: '2000', DISPATCHER_LEASE_MARGIN_MS: '800', DISPATCHER_REAP_INTERVAL_MS: '200',
      DISPATCHER_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), DISPATCHER_PARKED_CHECK_MS: '500',
    };
    const victim = await spawnDispatcher(testRedisUrl(), stack.prefix, workerEnv);
    processes.push(victim);
    await waitFor(() => devices.reduce((n, d) => n + d.stats.applied, 0) >= 100, { timeoutMs: 30_000, what: 'deliveries under way' });
    // Freeze it while it holds v2 leases (the v2 replica's stats read only the v2 layout), then kill it.
    const held = await waitFor(async () => {
      victim.child.kill('SIGSTOP');
      await stack.api.queue.stats(); // a store call the victim sent just before it stopped lands first
      const { inflight } = (await stack.api.queue.stats()).total;
      if (inflight === 0) victim.child.kill('SIGCONT');
      return inflight || null;
    }, { intervalMs: 5, what: 'the victim to hold v2 leases' });
    expect(held).toBeGreaterThan(0);
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');

    // After the crash: more commands, half through the v2 replica, half through the next upgraded process.
    ids.push(...(await enqueue(viaV2, BEFORE, AFTER / 2)));
    const survivor = await spawnDispatcher(testRedisUrl(), stack.prefix, workerEnv);
    processes.push(survivor);
    ids.push(...(await enqueue(viaProcess(survivor), BEFORE + AFTER / 2, AFTER / 2)));
    // A client retries a request made before the switch: it answers the first command.
    const retried = await viaProcess(survivor)({ commands: [{ phyId: 'UPX-3', payload: b64('c3'), ackTimeoutMs: 1_000, maxAttempts: 20, idempotencyKey: 'key-3' }] });
    expect(retried.body.results[0]).toMatchObject({ id: ids[3], duplicate: true });

    const read = async (id: string) => (await fetch(`${survivor.url}/v1/commands/${id}`, { headers: as(ADMIN_KEY) })).json() as Promise<{ status: string }>;
    const pending = [...ids];
    await waitFor(async () => {
      while (pending.length > 0 && (await read(pending[0]!)).status === 'acked') pending.shift();
      return pending.length === 0;
    }, { timeoutMs: 60_000, intervalMs: 100, what: 'every command to be acked' });

    expect(ids.filter((id) => !devices.some((d) => d.appliedCount(id) === 1))).toEqual([]);
    expect(ids.filter((id) => devices.some((d) => d.appliedCount(id) > 1))).toEqual([]);
    devices.forEach((device, i) => expect(device.appliedIds).toEqual(sent.get(`UPX-${i}`)));
    // Only what the killed process held could be sent twice.
    expect(devices.reduce((n, d) => n + d.stats.duplicates, 0)).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    // The survivor reclaimed the dead process's leases, and reports the v2 layout drained.
    const metrics = async () => (await fetch(`${survivor.url}/metrics`)).text();
    expect(await metrics()).toMatch(/outbound_dispatcher_leases_reclaimed_total\{[^}]*\} [1-9]/);
    await waitFor(async () => /^outbound_queue_upgrade_pending_commands(\{[^}]*\})? 0$/m.test(await metrics()), { what: 'the gauge to reach 0' });
    await waitFor(() => survivor.output().includes('upgrade drained'), { what: 'the drained log line' });
    expect(survivor.child.exitCode).toBeNull();
  }, 150_000);
});
