import request from 'supertest';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import type { DispatchLoop } from '../../src/dispatch-loop';
import { SEND_KEY, as } from '../support/harness';
import { b64, startStack, type Stack } from './support/stack';

/** Sum and count of one hop of outbound_dispatcher_hop_seconds, from the dispatcher's /metrics (0 before its first observation). */
async function hop(stack: Stack, name: string): Promise<{ sum: number; count: number }> {
  const text = (await request(stack.api.app).get('/metrics')).text;
  const read = (suffix: string) => Number(new RegExp(`^outbound_dispatcher_hop_seconds_${suffix}\\{[^}]*hop="${name}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('sum'), count: read('count') };
}

const waiting = (loop: DispatchLoop | null) => loop !== null && (loop as unknown as { waiting: boolean }).waiting;

describe.each([
  ['v2', 'redis-v2'],
  ['v3, the default', 'redis'],
] as const)('end to end on redis (%s layout): an enqueue through an idle dispatcher claims for its own worker', (_layout, backend) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: `e2e-claim-on-enqueue-${backend}`, backend, dispatcher: { worker: { hopTiming: true } } });
  });
  afterAll(() => stack.stop());

  it('delivers a command claimed by the enqueue call itself: no wake-up, in order per device', async () => {
    const device = await stack.device('EQC-1');
    // A command the enqueue claimed is observed with a zero wake-up (a claim after the wake-up
    // is later than the enqueue). The loop may wake between our look and the enqueue (a wake
    // message, the end of its idle wait) and then rightly leaves the claim to itself, so a
    // loaded host gets a few tries; a store that never claims in the enqueue fails them all.
    const singles: string[] = [];
    const wakes: Array<{ sum: number; count: number }> = [];
    for (let attempt = 0; attempt < 5 && !wakes.some((w) => w.count === 1 && w.sum === 0); attempt += 1) {
      await waitFor(() => waiting(stack.api.loop), { what: 'the dispatch loop waiting for work' });
      const before = await hop(stack, 'wake');
      const id = await stack.enqueue({ phyId: 'EQC-1', payload: b64(`one-${attempt}`) });
      singles.push(id);
      await stack.waitStatus(id, 'acked');
      const after = await hop(stack, 'wake');
      wakes.push({ sum: after.sum - before.sum, count: after.count - before.count });
    }
    expect(wakes).toContainEqual({ sum: 0, count: 1 });
    // Two commands in one batch for one device: the second waits for the first's ACK, then the worker claims it.
    const res = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({
      commands: [{ phyId: 'EQC-1', payload: b64('two') }, { phyId: 'EQC-1', payload: b64('three') }],
    });
    expect(res.status).toBe(200);
    const ids = (res.body.results as Array<{ id: string }>).map((r) => r.id);
    await stack.waitAllStatus(ids, 'acked');
    expect(device.appliedIds).toEqual([...singles, ...ids]);
  });

  it('claims in the enqueue while other commands are still in flight', async () => {
    // EQC-SLOW holds its command unanswered for 4 s: the loop has it in flight while it waits for work.
    await stack.device('EQC-SLOW', { ackLatencyMs: 4_000 });
    await stack.device('EQC-FAST');
    const slow = await stack.enqueue({ phyId: 'EQC-SLOW', payload: b64('slow') });
    await waitFor(() => (stack.api.loop?.inFlight ?? 0) > 0, { what: 'the slow command in flight' });
    const wakes: Array<{ sum: number; count: number }> = [];
    const fast: string[] = [];
    for (let attempt = 0; attempt < 5 && !wakes.some((w) => w.count === 1 && w.sum === 0); attempt += 1) {
      await waitFor(() => waiting(stack.api.loop), { what: 'the dispatch loop waiting for work' });
      expect(stack.api.loop!.inFlight).toBeGreaterThan(0);
      const before = await hop(stack, 'wake');
      const id = await stack.enqueue({ phyId: 'EQC-FAST', payload: b64(`fast-${attempt}`) });
      fast.push(id);
      await stack.waitStatus(id, 'acked');
      const after = await hop(stack, 'wake');
      wakes.push({ sum: after.sum - before.sum, count: after.count - before.count });
    }
    expect(wakes).toContainEqual({ sum: 0, count: 1 });
    expect((await stack.get(slow)).status).toBe('inflight');
    await stack.waitStatus(slow, 'acked');
  });

  it('splits each enqueue request answered without a wait into enqueue_api, enqueue_store and enqueue_answer', async () => {
    await stack.device('EQC-HOPS');
    const hops = ['enqueue_api', 'enqueue_store', 'enqueue_answer'];
    const before = await Promise.all(hops.map((name) => hop(stack, name)));
    const single = await request(stack.api.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'EQC-HOPS', payload: b64('h1') });
    expect(single.status).toBe(202);
    const batch = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands: [{ phyId: 'EQC-HOPS', payload: b64('h2') }] });
    expect(batch.status).toBe(200);
    // Not timed: an answer held for the command's outcome, and a batch with nothing to store.
    const waited = await request(stack.api.app).post('/v1/commands?waitMs=10000').set(as(SEND_KEY)).send({ phyId: 'EQC-HOPS', payload: b64('h3') });
    expect(waited.status).toBe(200);
    const refused = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands: [{ phyId: 'EQC-HOPS' }] });
    expect(refused.body.failed).toBe(1);
    const after = await Promise.all(hops.map((name) => hop(stack, name)));
    hops.forEach((name, i) => {
      expect({ name, count: after[i]!.count - before[i]!.count }).toEqual({ name, count: 2 });
      expect(after[i]!.sum).toBeGreaterThan(before[i]!.sum);
    });
  });

  it('leaves the claim to the worker when it is turned off', async () => {
    const other = await stack.startDispatcher({ worker: { claimOnEnqueue: false } });
    await stack.device('EQC-OFF');
    await waitFor(() => waiting(other.loop), { what: 'the second dispatch loop waiting for work' });
    const offered = jestSpyOffer(other.loop!);
    const res = await request(other.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'EQC-OFF', payload: b64('x') });
    expect(res.status).toBe(202);
    await stack.waitStatus(res.body.id as string, 'acked');
    expect(offered()).toBe(0);
  });
});

/** Counts the offers the store made to a loop. */
function jestSpyOffer(loop: DispatchLoop): () => number {
  const spy = jest.spyOn(loop, 'offer');
  return () => spy.mock.calls.length;
}
