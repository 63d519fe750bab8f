import { testRedisUrl, waitFor } from '@outbound/test-support';
import type { SimulatedDevice } from '@outbound/cli';
import { BACKENDS, b64, startStack, type Stack } from './support/stack';

describe.each(BACKENDS)('end to end on %s: two ingress replicas and two dispatchers', (backend) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-replicas', backend, ingresses: 2, dispatchers: 2 });
  });
  afterAll(() => stack.stop());

  it('sends every command to the replica that holds its device', async () => {
    const devices: SimulatedDevice[] = [];
    for (let i = 0; i < 10; i += 1) devices.push(await stack.device(`REP-${i}`, {}, i % 2));
    const expected = new Map<string, string[]>();
    const ids: string[] = [];
    for (let n = 0; n < 100; n += 1) {
      const phyId = `REP-${n % 10}`;
      const id = await stack.enqueue({ phyId, payload: b64(`m${n}`) });
      ids.push(id);
      expected.set(phyId, [...(expected.get(phyId) ?? []), id]);
    }
    await stack.waitAllStatus(ids, 'acked', 15_000);
    devices.forEach((device, i) => expect(device.appliedIds).toEqual(expected.get(`REP-${i}`)));
    // Every command's outcome was recorded once, by whichever dispatcher claimed it (which one
    // is a race: on a fast store one dispatcher may take all of them); the devices above sit
    // on both replicas, so both replicas delivered.
    let recorded = 0;
    for (const d of stack.dispatchers) {
      const metrics = await d.metrics.registry.getSingleMetricAsString('outbound_dispatcher_delivered_total');
      for (const match of metrics.matchAll(/outcome="ok"[^}]*\} (\d+)/g)) recorded += Number(match[1]);
    }
    expect(recorded).toBe(ids.length);
  });

  it('loses nothing when a device moves between replicas mid-stream', async () => {
    const first = await stack.device('MOVER', { ackLatencyMs: 2 }, 0);
    const ids: string[] = [];
    let second: SimulatedDevice | null = null;
    for (let n = 0; n < 60; n += 1) {
      ids.push(await stack.enqueue({ phyId: 'MOVER', payload: b64(`s${n}`), ackTimeoutMs: 1_000, maxAttempts: 20 }));
      if (n === 25) {
        await waitFor(() => first.appliedIds.length >= 5, { what: 'the stream to be flowing' });
        // The same phyId connects on the other replica: the newer connection wins.
        second = await stack.device('MOVER', { ackLatencyMs: 2 }, 1);
      }
    }
    await stack.waitAllStatus(ids, 'acked', 20_000);
    const applied = new Set([...first.appliedIds, ...second!.appliedIds]);
    expect(ids.filter((id) => !applied.has(id))).toEqual([]);
    expect(second!.appliedIds.length).toBeGreaterThan(0);
    // A command applied by the first connection is re-sent to the second only if its ACK was lost in the move.
    const both = first.appliedIds.filter((id) => second!.appliedIds.includes(id));
    expect(both.length).toBeLessThanOrEqual(1);
  });
});
