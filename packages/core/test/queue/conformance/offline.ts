import { cmd, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** Guarantee 4: commands for offline devices wait without spending attempts. */
export function offlineConformance(makeQueue: MakeQueue): void {
  describe('offline devices', () => {
    const open = useQueues(makeQueue);

    it('parks a device on release with deviceOffline: no attempt spent, claims skip it until online', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('parked', { maxAttempts: 1 }));
      const second = await queue.enqueue(cmd('parked'));
      const other = await queue.enqueue(cmd('awake'));
      for (let round = 0; round < 3; round += 1) {
        const claimed = await queue.claim({ max: 5, leaseMs: LONG_LEASE });
        const mine = claimed.find((c) => c.phyId === 'parked')!;
        expect(mine).toMatchObject({ id, attempts: 1 });
        await queue.release([{ id, leaseToken: mine.leaseToken, deviceOffline: true, reason: 'device not connected' }]);
        expect(await queue.get(id)).toMatchObject({ status: 'queued', waitingFor: 'device', attempts: 0 });
        if (round === 0) expect(claimed.map((c) => c.id)).toContain(other.id);
        const skipped = await queue.claim({ max: 5, leaseMs: LONG_LEASE });
        expect(skipped.filter((c) => c.phyId === 'parked')).toEqual([]);
        expect((await queue.listParkedDevices()).phyIds).toContain('parked');
        await queue.markDeviceOnline('parked');
      }
      expect((await queue.listParkedDevices()).phyIds).not.toContain('parked');
      const [last] = await queue.claim({ max: 5, leaseMs: LONG_LEASE });
      expect(last).toMatchObject({ id, attempts: 1 });
      expect((await queue.get(second.id))?.status).toBe('queued');
    });

    it('holds commands enqueued for a device marked offline, and counts them as waiting for device', async () => {
      const queue = await open();
      await queue.markDeviceOffline('sleeper');
      const { id } = await queue.enqueue(cmd('sleeper'));
      expect(await queue.claim({ max: 5, leaseMs: LONG_LEASE })).toEqual([]);
      expect((await queue.stats()).total).toMatchObject({ waitingForDevice: 1, pending: 0 });
      expect(await queue.get(id)).toMatchObject({ waitingFor: 'device', attempts: 0 });
      await queue.markDeviceOnline('sleeper');
      const [claimed] = await queue.claim({ max: 5, leaseMs: LONG_LEASE });
      expect(claimed).toMatchObject({ id, attempts: 1 });
    });

    it('wakes a waiting claimer within milliseconds when a device comes online', async () => {
      const queue = await open();
      await queue.markDeviceOffline('wake-online');
      await queue.enqueue(cmd('wake-online'));
      // As the dispatcher does: wait only after an empty claim. On PostgreSQL the claim is what starts the LISTEN
      // (a bare wait starts it in the background): waiting on a fresh queue, the NOTIFY could come before the LISTEN
      // and the wait ran its full 10 s (seen in a loaded full run, where a 50 ms pause did not cover it).
      expect(await queue.claim({ max: 1, leaseMs: LONG_LEASE })).toEqual([]);
      const started = Date.now();
      // The waiter is registered before markDeviceOnline's round trip can complete, so the wake-up ends the wait.
      const waiting = queue.waitForWork(10_000).then(() => Date.now());
      await queue.markDeviceOnline('wake-online');
      const wokeAt = await waiting;
      expect(wokeAt - started).toBeLessThan(5_000);
      expect(await queue.claim({ max: 1, leaseMs: LONG_LEASE })).toHaveLength(1);
    });

    it('pages parked devices', async () => {
      const queue = await open();
      const names = Array.from({ length: 25 }, (_, i) => `page-${i}`);
      for (const name of names) await queue.markDeviceOffline(name);
      const seen = new Set<string>();
      let cursor: string | undefined;
      for (let pages = 0; pages < 50; pages += 1) {
        const page = await queue.listParkedDevices({ limit: 10, ...(cursor ? { cursor } : {}) });
        page.phyIds.forEach((p) => seen.add(p));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect([...seen].sort()).toEqual([...names].sort());
    });
  });
}
