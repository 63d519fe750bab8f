import request from 'supertest';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { ADMIN_KEY, SEND_KEY, as } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from './support/dispatcher-process';
import { ALL_STORES, b64, startStack, type Stack } from './support/stack';
import { WebhookReceiver } from './support/webhook-receiver';

const DEVICES = 20;
const COMMANDS = 1_000;
const OUTCOMES = ['command.acked', 'command.rejected', 'command.dead', 'command.expired', 'command.cancelled'];

describe.each(ALL_STORES)('end to end on %s: webhooks through a receiver outage and a kill -9 of the delivering dispatcher', (backend) => {
  let stack: Stack;
  const receiver = new WebhookReceiver();
  const processes: DispatcherProcess[] = [];
  beforeAll(async () => {
    // In-process: one ingress and an API-only dispatcher (no delivery, no webhooks). The workers are real processes.
    stack = await startStack(testRedisUrl(), { name: 'e2e-webhooks', backend, dispatcher: { worker: { enabled: false }, webhooks: { enabled: false } } });
    await receiver.listen();
  });
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await receiver.close().catch(() => undefined);
    await stack.stop();
  });

  it('receives every outcome event of 1,000 commands, signed, at least once per event id and nothing else, from two dispatchers sharing the webhook', async () => {
    for (let i = 0; i < DEVICES; i += 1) await stack.device(`WH-${i}`, { ackLatencyMs: { min: 1, max: 3 } });
    const created = await request(stack.api.app).post('/v1/webhooks').set(as(ADMIN_KEY)).send({ url: receiver.url, events: OUTCOMES, phyIdPrefix: 'WH-' }).expect(201);
    receiver.useSecret(created.body.secret as string);
    const env = {
      ...stack.env,
      DISPATCHER_LEASE_MS: '2000', DISPATCHER_LEASE_MARGIN_MS: '800', DISPATCHER_REAP_INTERVAL_MS: '200', DISPATCHER_PARKED_CHECK_MS: '500',
      WEBHOOK_POLL_MS: '200', WEBHOOK_LEASE_MS: '1500', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_MAX_MS: '400', WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_WINDOW: '16',
    };
    // Two worker processes share the webhook: one delivers it under the lease, the other waits to take over.
    const workers = [await spawnDispatcher(testRedisUrl(), stack.prefix, env), await spawnDispatcher(testRedisUrl(), stack.prefix, env)];
    processes.push(...workers);
    const hookId = created.body.id as string;
    // Only the process delivering a webhook reports its lag (null: this one does not deliver it).
    const lagOf = async (p: DispatcherProcess) => {
      const line = (await (await fetch(`${p.url}/metrics`)).text()).split('\n')
        .find((l) => l.startsWith('outbound_dispatcher_webhook_lag_seconds{') && l.includes(`webhook="${hookId}"`));
      return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const delivering = async (p: DispatcherProcess) => (await lagOf(p)) !== null;

    const ids: string[] = [];
    const send = async (count: number) => {
      const commands = Array.from({ length: count }, (_, i) => ({ phyId: `WH-${(ids.length + i) % DEVICES}`, payload: b64(`w${ids.length + i}`), ackTimeoutMs: 1_000, maxAttempts: 20 }));
      const res = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands }).expect(200);
      expect(res.body.accepted).toBe(count);
      ids.push(...res.body.results.map((r: { id: string }) => r.id));
    };
    const started = Date.now();
    const phases: string[] = [];
    const phase = (name: string) => phases.push(`${name} ${Date.now() - started} ms (${receiver.ids().size} ids)`);
    await send(500);
    await waitFor(() => receiver.ids().size >= 100, { timeoutMs: 20_000, what: '100 events at the receiver' });
    phase('first 100');

    // Outage 1: the receiver answers 503 for a while; the events are retried, not skipped, and the
    // delivering process's lag gauge grows while they wait.
    receiver.mode = 'unavailable';
    await waitFor(() => receiver.refused >= 20, { timeoutMs: 10_000, what: 'refused POSTs during the outage' });
    // While delivering, the page's oldest event is a second or two old here; held up, it ages on.
    await waitFor(async () => {
      for (const p of workers) if (((await lagOf(p)) ?? 0) >= 5) return true;
      return false;
    }, { timeoutMs: 15_000, what: 'the webhook lag to grow past 5 s during the outage' });
    receiver.mode = 'ok';
    phase('503 outage over');
    await waitFor(() => receiver.ids().size >= 250, { timeoutMs: 20_000, what: '250 events at the receiver' });
    phase('250');

    // The delivering dispatcher dies mid-run (its webhook lease and command leases with it) while the receiver is
    // off the network (outage 2: connections refused); the other takes the lease once it lapses.
    const holders = await waitFor(async () => {
      const found = [];
      for (const p of workers) if (await delivering(p)) found.push(p);
      return found.length === 1 ? found : null;
    }, { what: 'one process delivering the webhook' });
    const victim = holders[0]!;
    const survivor = workers.find((p) => p !== victim)!;
    await receiver.close();
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    await send(500);
    await receiver.listen();
    phase('victim killed');
    await waitFor(() => delivering(survivor), { timeoutMs: 20_000, what: 'the other process to take the webhook over' });
    phase('taken over');

    // Every command's outcome event, as the event log has it: the receiver must hold each id.
    await stack.waitAllStatus(ids, 'acked', 40_000);
    phase('all acked');
    const expected = new Map<string, string>();
    for (const id of ids) {
      const timeline = (await stack.api.queue.commandEvents(id)) ?? [];
      for (const e of timeline) if (OUTCOMES.includes(e.type)) expected.set(e.id, id);
    }
    expect(expected.size).toBe(COMMANDS);
    phase('timelines read');
    await waitFor(() => [...expected.keys()].every((id) => receiver.ids().has(id)), { timeoutMs: 30_000, intervalMs: 100, what: 'every outcome event at the receiver' });
    const elapsedMs = Date.now() - started;

    expect(receiver.badSignatures).toEqual([]);
    const received = receiver.ids();
    expect([...received].filter((id) => !expected.has(id))).toEqual([]);
    // Each POST carries the event as its body, under the event id it was signed with.
    expect(receiver.received.every((r) => r.data.id === r.webhookId && expected.get(r.webhookId) === r.data.commandId)).toBe(true);
    const duplicates = receiver.received.length - received.size;
    console.log(`webhooks on ${backend}: ${received.size} events in ${elapsedMs} ms through two outages and a kill -9; ${duplicates} sent twice, ${receiver.refused} refused; ${phases.join(', ')}`);

    const metrics = await (await fetch(`${survivor.url}/metrics`)).text();
    expect(metrics).toMatch(/outbound_dispatcher_webhook_deliveries_total\{[^}]*outcome="delivered"[^}]*\} [1-9]/);
    const deliveries = await request(stack.api.app).get(`/v1/webhooks/${created.body.id as string}/deliveries`).set(as(ADMIN_KEY)).expect(200);
    expect(deliveries.body.items).toHaveLength(100);
  }, 180_000);
});
