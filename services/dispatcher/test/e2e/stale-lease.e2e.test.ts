import { Registry } from 'prom-client';
import type { DeviceRoute } from '@outbound/core';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { CompletionWaiter } from '../../src/completion-waiter';
import { DeliveryClient } from '../../src/delivery-client';
import { DispatchLoop } from '../../src/dispatch-loop';
import { createDispatcherMetrics } from '../../src/metrics';
import { OutcomeRecorder } from '../../src/outcome-recorder';
import { INTERNAL_TOKEN } from '../support/harness';
import { b64, startStack, type Stack } from './support/stack';

/**
 * A dispatcher paused between its claim and its delivery (SIGSTOP, a long GC pause, a frozen
 * VM) for longer than its lease. The pause sits in the route lookup, the last step before the
 * write, so it is exact: the loop has claimed and will write next.
 */
describe('a dispatcher paused past its lease', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-stale-lease', dispatcher: { worker: { enabled: false } } });
  });
  afterAll(() => stack.stop());

  it('does not write to the device after it resumes, and counts no outcome the store refused', async () => {
    const device = await stack.device('STALE-1');
    const received: string[] = [];
    device.on('command', ({ id }: { id: string }) => received.push(id));

    let resume!: () => void;
    const paused = new Promise<void>((resolve) => { resume = resolve; });
    let claimedAt = 0;
    const { queue, registry } = stack.api;
    const metricsRegistry = new Registry();
    const metrics = createDispatcherMetrics(metricsRegistry, queue);
    const client = new DeliveryClient({ internalToken: INTERNAL_TOKEN });
    const recorder = new OutcomeRecorder(queue, stack.api.logger, {});
    const stale = new DispatchLoop(
      {
        queue, registry, client, recorder, metrics, waiter: new CompletionWaiter(), logger: stack.api.logger,
        routes: {
          lookupMany: async (phyIds: string[]): Promise<Map<string, DeviceRoute>> => {
            claimedAt = Date.now();
            await paused;
            return registry.lookupMany(phyIds);
          },
          prefetch: () => undefined,
          forget: () => undefined,
          forgetAddress: () => undefined,
        },
      },
      { claimBatch: 1, maxInFlight: 1, leaseMs: 1_000, leaseMarginMs: 300, idleWaitMs: 200, deliveryBatchMax: 1 },
    );

    const id = await stack.enqueue({ phyId: 'STALE-1', payload: b64('first'), ackTimeoutMs: 2_000 });
    stale.start();
    await waitFor(() => claimedAt > 0, { what: 'the stale loop to claim and reach its last step before the write' });

    // Its lease lapses; a healthy dispatcher reclaims the command and delivers it.
    const healthy = await stack.startDispatcher({ worker: { enabled: true, leaseMs: 3_000, leaseMarginMs: 1_000, reapIntervalMs: 100 } });
    await stack.waitStatus(id, 'acked');
    expect(received).toEqual([id]);
    await healthy.stop();

    resume();
    await waitFor(() => stale.inFlight === 0, { what: 'the stale loop to let go of the command' });
    await stale.stop(1_000);
    await client.close();
    // Nothing reached the device after the resume, and the command stays as the healthy one left it.
    expect(received).toEqual([id]);
    expect(device.stats.duplicates).toBe(0);
    expect((await stack.get(id)).status).toBe('acked');
    const text = await metricsRegistry.metrics();
    expect(text).not.toMatch(/outbound_dispatcher_delivered_total\{outcome="ok"[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_delivered_total\{outcome="lease_lost"[^}]*\} 1/);
  });
});
