import { Registry } from 'prom-client';
import type { AckAndClaimResult, AckItem, ClaimedCommand, ClaimOptions, CommandQueue } from '@outbound/core';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { CompletionWaiter } from '../../src/completion-waiter';
import { DeliveryClient } from '../../src/delivery-client';
import { DispatchLoop } from '../../src/dispatch-loop';
import { createDispatcherMetrics } from '../../src/metrics';
import { OutcomeRecorder } from '../../src/outcome-recorder';
import { INTERNAL_TOKEN } from '../support/harness';
import { b64, startStack, type Stack } from './support/stack';

/** `held` with the most it ever held at once. */
class PeakMap<K, V> extends Map<K, V> {
  peak = 0;
  override set(key: K, value: V): this {
    super.set(key, value);
    if (this.size > this.peak) this.peak = this.size;
    return this;
  }
}

interface Calls {
  /** Per ackAndClaim call: how many it acked, the claim it asked for and the ids it claimed. */
  ackClaims: Array<{ acked: number; max: number; claimed: string[] }>;
  claims: number;
  /** Throws from the next ackAndClaim calls before they reach the store, while > 0. */
  failNext: number;
}

/** The stack's real queue (Redis v3), its ackAndClaim and claim calls recorded. */
function recorded(queue: CommandQueue): { queue: CommandQueue; calls: Calls } {
  const calls: Calls = { ackClaims: [], claims: 0, failNext: 0 };
  const counted = Object.create(queue) as CommandQueue;
  counted.claim = (options: ClaimOptions) => (calls.claims += 1, queue.claim(options));
  // Defined, not assigned: the queue layer's ackAndClaim is a getter (present only where its store has one).
  Object.defineProperty(counted, 'ackAndClaim', {
    value: async (items: AckItem[], next: ClaimOptions): Promise<AckAndClaimResult> => {
      if (calls.failNext > 0) {
        calls.failNext -= 1;
        throw new Error('store call failed (test)');
      }
      const answer = await queue.ackAndClaim!(items, next);
      calls.ackClaims.push({ acked: items.length, max: next.max, claimed: answer.claimed.map((c: ClaimedCommand) => c.id) });
      return answer;
    },
  });
  return { queue: counted, calls };
}

/**
 * The dispatch loop claiming in the outcome recorder's ack calls (Redis v3: the ack script
 * claims on its shard), against a real store, ingress and simulated devices. The loop runs
 * here, not in the stack's dispatcher (its worker is off), so its room and calls can be read.
 */
describe('end to end on redis (v3): the dispatch loop claims with its acks', () => {
  let stack: Stack;
  const clients: DeliveryClient[] = [];
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-claim-with-acks', dispatcher: { worker: { enabled: false } } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stack.stop();
  });

  function loopOn(queue: CommandQueue, options: { maxInFlight: number; claimBatch: number }): { loop: DispatchLoop; held: PeakMap<string, ClaimedCommand> } {
    const client = new DeliveryClient({ internalToken: INTERNAL_TOKEN });
    clients.push(client);
    const { registry, logger } = stack.api;
    const recorder = new OutcomeRecorder(queue, logger, {});
    const loop = new DispatchLoop(
      {
        queue, registry, client, recorder, logger,
        metrics: createDispatcherMetrics(new Registry(), queue),
        waiter: new CompletionWaiter(),
        routes: { lookupMany: (phyIds: string[]) => registry.lookupMany(phyIds), prefetch: () => undefined, forget: () => undefined, forgetAddress: () => undefined },
      },
      { ...options, leaseMs: 30_000, leaseMarginMs: 1_000, idleWaitMs: 1_000, deliveryBatchMax: 100, claimWithAcks: true },
    );
    const held = new PeakMap<string, ClaimedCommand>();
    Object.defineProperty(loop, 'held', { value: held });
    return { loop, held };
  }

  const reserved = (loop: DispatchLoop) => (loop as unknown as { reserved: number }).reserved;

  it('delivers what the ack claimed, within maxInFlight, in order per device', async () => {
    const devices = await Promise.all(['AC-1', 'AC-2', 'AC-3'].map((phyId) => stack.device(phyId)));
    const ids: string[][] = [[], [], []];
    for (let n = 0; n < 4; n += 1) {
      for (let d = 0; d < 3; d += 1) ids[d]!.push(await stack.enqueue({ phyId: `AC-${d + 1}`, payload: b64(`c${n}`) }));
    }
    const { queue, calls } = recorded(stack.api.queue);
    // A device's next command is ready only once its last is acked, and with one in flight per
    // device nothing better waits elsewhere: each ack may claim its device's next one.
    const { loop, held } = loopOn(queue, { maxInFlight: 3, claimBatch: 3 });
    loop.start();
    await stack.waitAllStatus(ids.flat(), 'acked');
    await loop.stop(1_000);

    const ackClaimed = calls.ackClaims.flatMap((c) => c.claimed);
    expect(ackClaimed.length).toBeGreaterThan(0);
    // Every command claimed by an ack reached its device.
    const applied = new Set(devices.flatMap((d) => d.appliedIds));
    for (const id of ackClaimed) expect(applied.has(id)).toBe(true);
    for (const call of calls.ackClaims) expect(call.claimed.length).toBeLessThanOrEqual(call.max);
    expect(held.peak).toBeLessThanOrEqual(3);
    devices.forEach((device, d) => expect(device.appliedIds).toEqual(ids[d]));
    expect(reserved(loop)).toBe(0);
  });

  it('gives the room back when an ack call fails, and loses nothing', async () => {
    const devices = await Promise.all(['AF-1', 'AF-2'].map((phyId) => stack.device(phyId)));
    const ids: string[] = [];
    for (let n = 0; n < 3; n += 1) {
      for (const phyId of ['AF-1', 'AF-2']) ids.push(await stack.enqueue({ phyId, payload: b64(`f${n}`) }));
    }
    const { queue, calls } = recorded(stack.api.queue);
    calls.failNext = 2;
    // Room for 4, one in flight per device: the failing calls hold the 2 free places.
    const { loop, held } = loopOn(queue, { maxInFlight: 4, claimBatch: 4 });
    loop.start();
    await stack.waitAllStatus(ids, 'acked');
    await waitFor(() => loop.inFlight === 0, { what: 'the loop to hold nothing' });
    // Both failures were taken (the recorder retried), the room they held came back: the loop
    // delivered the rest within maxInFlight.
    expect(calls.failNext).toBe(0);
    expect(reserved(loop)).toBe(0);
    expect(held.peak).toBeLessThanOrEqual(4);
    await loop.stop(1_000);
    expect(devices.flatMap((d) => d.appliedIds).sort()).toEqual([...ids].sort());
  });

  it('stop() gives back commands an ack claimed that are still in flight', async () => {
    // Each command is answered after 1.5 s: the second is claimed by the first's ack and is
    // still unanswered when stop() begins.
    await stack.device('AS-1', { ackLatencyMs: 1_500 });
    const first = await stack.enqueue({ phyId: 'AS-1', payload: b64('first') });
    const second = await stack.enqueue({ phyId: 'AS-1', payload: b64('second') });
    const { queue, calls } = recorded(stack.api.queue);
    const { loop } = loopOn(queue, { maxInFlight: 1, claimBatch: 1 });
    loop.start();
    await stack.waitStatus(first, 'acked');
    await waitFor(() => loop.inFlight === 1, { what: 'the second command in flight' });
    expect(calls.ackClaims.flatMap((c) => c.claimed)).toEqual([second]);
    expect((await stack.get(second)).status).toBe('inflight');
    await loop.stop(200);
    expect(loop.inFlight).toBe(0);
    expect((await stack.get(second)).status).toBe('queued');
  });
});
