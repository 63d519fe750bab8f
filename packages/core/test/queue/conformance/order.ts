import { enqueueAll, cmd, drain, drainAckingWithClaim, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** Guarantee 3: priority then FIFO, per-device head of line, no starvation by a backlog. */
export function orderConformance(makeQueue: MakeQueue): void {
  describe('order', () => {
    const open = useQueues(makeQueue);

    it('delivers all 10 priority levels highest first across devices, at current timestamps', async () => {
      const queue = await open();
      // Lowest priority enqueued first so enqueue order alone would give the reverse.
      const inputs = Array.from({ length: 10 }, (_, p) => cmd(`prio-dev-${p}`, { priority: p }));
      const ids = await enqueueAll(queue, inputs);
      const claimed = await drain(queue, 3);
      expect(claimed.map((c) => c.priority)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      expect(claimed.map((c) => c.id)).toEqual([...ids].reverse());
    });

    it('keeps FIFO within a priority across devices and within one device', async () => {
      const queue = await open({ perDeviceCap: 100 });
      const inputs = Array.from({ length: 30 }, (_, i) => cmd(`fifo-${i % 5}`, { priority: 4, payload: Buffer.from(String(i)) }));
      const ids: string[] = [];
      for (const input of inputs) ids.push((await queue.enqueue(input)).id); // one at a time: a strict enqueue order
      const claimed = await drain(queue, 4);
      expect(claimed.map((c) => c.id)).toEqual(ids);
    });

    it('keeps priority across devices and each device its order when each ack claims the next batch', async () => {
      const queue = await open({ perDeviceCap: 100 });
      for (const max of [1, 3]) {
        const ids: string[] = [];
        // one at a time: a strict enqueue order; priorities 9 and 3 over seven devices
        for (let i = 0; i < 28; i += 1) ids.push((await queue.enqueue(cmd(`ack-claim-${i % 7}`, { priority: i % 2 === 0 ? 3 : 9 }))).id);
        const claimed = await drainAckingWithClaim(queue, max);
        expect(claimed.map((c) => c.id).sort()).toEqual([...ids].sort());
        // one at a time, highest priority first (a batch of 3 holds one command per device)
        if (max === 1) expect(claimed.map((c) => c.priority)).toEqual([...Array(14).fill(9), ...Array(14).fill(3)]);
        for (let d = 0; d < 7; d += 1) {
          // the device's k-th command is the (d + 7k)-th enqueued: priority 9 when that is odd
          const own = ids.filter((_, i) => i % 7 === d);
          const byPriority = [...own.filter((_, k) => (d + k) % 2 === 1), ...own.filter((_, k) => (d + k) % 2 === 0)];
          expect(claimed.filter((c) => c.phyId === `ack-claim-${d}`).map((c) => c.id)).toEqual(byPriority);
        }
      }
      expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 0 });
    });

    it('orders one device by priority, then enqueue order', async () => {
      const queue = await open();
      const ids: string[] = [];
      for (const priority of [1, 7, 1, 9, 7]) ids.push((await queue.enqueue(cmd('one-device', { priority }))).id);
      const claimed = await drain(queue, 10);
      expect(claimed.map((c) => c.id)).toEqual([ids[3], ids[1], ids[4], ids[0], ids[2]]);
      const listed = await queue.listDevice('one-device');
      expect(listed).toEqual([]);
    });

    it('lists a device in delivery order, in-flight first', async () => {
      const queue = await open();
      const ids: string[] = [];
      for (const priority of [2, 8, 5]) ids.push((await queue.enqueue(cmd('listed', { priority }))).id);
      const [first] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      expect(first.id).toBe(ids[1]);
      const listed = await queue.listDevice('listed');
      expect(listed.map((c) => [c.id, c.status])).toEqual([
        [ids[1], 'inflight'],
        [ids[2], 'queued'],
        [ids[0], 'queued'],
      ]);
      expect(await queue.countDevice('listed')).toBe(3);
    });

    it('lets a device with a big backlog delay another device by at most one claim batch', async () => {
      const queue = await open({ perDeviceCap: 3_000, maxInFlightPerDevice: 8 });
      await enqueueAll(queue, Array.from({ length: 2_000 }, () => cmd('backlog')));
      const lone = await queue.enqueue(cmd('lone'));
      const first = await queue.claim({ max: 10, leaseMs: LONG_LEASE });
      expect(first.map((c) => c.id)).toContain(lone.id);
      expect(first.filter((c) => c.phyId === 'backlog')).toHaveLength(8);
    });

    it('never has more than maxInFlightPerDevice outstanding for a device', async () => {
      const queue = await open({ maxInFlightPerDevice: 2 });
      await enqueueAll(queue, Array.from({ length: 5 }, () => cmd('limited')));
      const first = await queue.claim({ max: 10, leaseMs: LONG_LEASE });
      expect(first).toHaveLength(2);
      expect(await queue.claim({ max: 10, leaseMs: LONG_LEASE })).toHaveLength(0);
      await queue.ack([{ id: first[0].id, leaseToken: first[0].leaseToken, outcome: 'ok' }]);
      expect(await queue.claim({ max: 10, leaseMs: LONG_LEASE })).toHaveLength(1);
    });
  });
}
