import { testRedisUrl, waitFor } from '@outbound/test-support';
import { BACKENDS, b64, startStack, type Stack } from './support/stack';

describe.each(BACKENDS)('end to end on %s: priority across devices', (backend) => {
  let stack: Stack;
  beforeAll(async () => {
    // The first dispatcher serves the API only, so commands pile up before any worker runs.
    stack = await startStack(testRedisUrl(), { name: 'e2e-priorities', backend, dispatcher: { worker: { enabled: false } } });
  });
  afterAll(() => stack.stop());

  it('delivers higher priorities first when many devices have work', async () => {
    const seen: Array<{ priority: number; phyId: string }> = [];
    const priorityOf = new Map<string, number>();
    for (let i = 0; i < 8; i += 1) {
      const phyId = `PRIO-${i}`;
      const device = await stack.device(phyId);
      device.on('command', (c: { id: string }) => seen.push({ priority: priorityOf.get(c.id)!, phyId }));
    }
    // Two commands per device, priorities spread so that device order and priority order differ.
    const priorities = [2, 9, 4, 7, 0, 5, 8, 1, 6, 3, 9, 2, 7, 4, 5, 0];
    for (let i = 0; i < priorities.length; i += 1) {
      const id = await stack.enqueue({ phyId: `PRIO-${i % 8}`, payload: b64(`c${i}`), priority: priorities[i] });
      priorityOf.set(id, priorities[i]!);
    }
    // One delivery at a time, one claim per command: the order the devices see is the queue's order.
    await stack.startDispatcher({ worker: { enabled: true, maxInFlight: 1, claimBatch: 1 } });
    await waitFor(() => seen.length === priorities.length, { what: 'every command delivered', timeoutMs: 10_000 });

    // Every command is ready and each device's line is ordered by priority, so the queue's
    // order across devices is simply all priorities from high to low.
    const order = seen.map((s) => s.priority);
    const expected = [...priorities].sort((x, y) => y - x);
    expect(order).toEqual(expected);
  });
});
