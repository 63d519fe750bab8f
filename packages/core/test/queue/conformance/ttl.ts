import { waitFor } from '@outbound/test-support';
import { cmd, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** TTL expiry and scheduled delivery (deliverAt). */
export function ttlConformance(makeQueue: MakeQueue): void {
  describe('ttl and schedule', () => {
    const open = useQueues(makeQueue);

    it('expires queued commands whose TTL passed, and keeps the others', async () => {
      const queue = await open();
      const short = await queue.enqueue(cmd('ttl-dev', { ttlMs: 40 }));
      const long = await queue.enqueue(cmd('ttl-other'));
      await queue.markDeviceOffline('ttl-dev'); // nobody claims it meanwhile
      await waitFor(async () => (await queue.expireDue()) === 1, { what: 'the short TTL to pass' });
      expect(await queue.get(short.id)).toMatchObject({ status: 'expired' });
      expect(await queue.get(long.id)).toMatchObject({ status: 'queued' });
      expect(await queue.countDevice('ttl-dev')).toBe(0);
      expect((await queue.stats()).total).toMatchObject({ pending: 1, waitingForDevice: 0 });
    });

    it('never delivers a command whose TTL passed before its claim', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('ttl-claim', { ttlMs: 30 }));
      await waitFor(async () => {
        const command = await queue.get(id);
        return command !== null && Date.now() > command.expiresAt + 10;
      });
      expect(await queue.claim({ max: 1, leaseMs: LONG_LEASE })).toEqual([]);
      expect(await queue.get(id)).toMatchObject({ status: 'expired' });
    });

    it('holds a scheduled command until deliverAt, then it becomes claimable', async () => {
      const queue = await open();
      // Four store calls must land before deliverAt: 300 ms was too short for PostgreSQL on a loaded machine.
      const deliverAt = Date.now() + 2_000;
      const { id } = await queue.enqueue(cmd('sched', { deliverAt }));
      expect(await queue.get(id)).toMatchObject({ status: 'queued', waitingFor: 'schedule', deliverAt });
      expect((await queue.stats()).total).toMatchObject({ delayed: 1, pending: 0 });
      const early = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      // A claim answered before deliverAt takes nothing (a host too loaded for four calls in 2 s answers it later).
      const answeredAt = Date.now();
      expect(answeredAt < deliverAt ? early : []).toEqual([]);
      // waitForWork ends when the schedule is due, not at the (long) fallback timeout.
      const controller = new AbortController();
      const guard = setTimeout(() => controller.abort(), 20_000);
      await queue.waitForWork(20_000, controller.signal);
      clearTimeout(guard);
      expect(controller.signal.aborted).toBe(false);
      const claimed = await waitFor(async () => (await queue.claim({ max: 1, leaseMs: LONG_LEASE }))[0], { what: 'the schedule' });
      expect(claimed.id).toBe(id);
      expect(Date.now()).toBeGreaterThanOrEqual(deliverAt - 50);
    });

    it('keeps finished commands readable for the retention period, then removes them; dead letters stay', async () => {
      // Long enough that the read right after the ack lands inside it on a busy host (150 ms did not
      // always), short enough that the wait for its removal stays brief.
      const queue = await open({ retentionMs: 1_000 });
      const done = await queue.enqueue(cmd('retained'));
      const dying = await queue.enqueue(cmd('retained-dead', { maxAttempts: 1 }));
      const claimed = await queue.claim({ max: 2, leaseMs: LONG_LEASE });
      const by = (id: string) => claimed.find((c) => c.id === id)!;
      await queue.ack([{ id: done.id, leaseToken: by(done.id).leaseToken, outcome: 'ok' }]);
      expect(await queue.get(done.id)).toMatchObject({ status: 'acked' });
      await queue.fail([{ id: dying.id, leaseToken: by(dying.id).leaseToken, error: 'last', retryable: true }]);
      await waitFor(
        async () => {
          await queue.expireDue();
          return (await queue.get(done.id)) === null;
        },
        { what: 'the finished command to pass its retention' },
      );
      expect(await queue.get(dying.id)).toMatchObject({ status: 'dead', lastError: 'last' });
      expect((await queue.listDead()).items.map((c) => c.id)).toEqual([dying.id]);
    });

    it('treats a deliverAt in the past as now', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('past', { deliverAt: Date.now() - 60_000 }));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      expect(claimed?.id).toBe(id);
    });
  });
}
