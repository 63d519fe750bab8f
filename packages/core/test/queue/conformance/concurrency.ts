import type { ClaimedCommand, CommandQueue } from '@outbound/core';
import { claimersFor as claimers, cmd, enqueueAll, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** Claims racing from several claimers (each its own queue instance on the same store). */
export function concurrencyConformance(makeQueue: MakeQueue): void {
  describe('concurrency', () => {
    const open = useQueues(makeQueue);

    it('claims each of 20,000 commands on 1,000 devices exactly once with 4 racing claimers', async () => {
      const queue = await open({ perDeviceCap: 100 });
      const inputs = Array.from({ length: 20_000 }, (_, i) => cmd(`race-${i % 1_000}`, { payload: Buffer.from([i & 0xff]) }));
      const ids: string[] = [];
      for (let i = 0; i < inputs.length; i += 1_000) ids.push(...(await enqueueAll(queue, inputs.slice(i, i + 1_000))));
      const seen = new Map<string, number>();
      const run = async (claimer: CommandQueue) => {
        for (;;) {
          const batch = await claimer.claim({ max: 64, leaseMs: LONG_LEASE });
          if (batch.length === 0) return;
          for (const c of batch) seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
          const acked = await claimer.ack(batch.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
          if (!acked.every((a) => a.ok)) throw new Error('an ack was refused');
        }
      };
      const all = await claimers(queue, 4);
      await Promise.all(all.map(run));
      expect(seen.size).toBe(20_000);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(ids)).toEqual(new Set(seen.keys()));
      expect((await queue.stats()).total).toEqual({ pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 });
    });

    it('keeps one command per device in flight with 8 concurrent claimers', async () => {
      const queue = await open({ perDeviceCap: 100 });
      const devices = Array.from({ length: 10 }, (_, i) => `serial-${i}`);
      await enqueueAll(queue, devices.flatMap((d) => Array.from({ length: 20 }, () => cmd(d))));
      const inFlight = new Map<string, string>();
      const perDevice = new Map<string, string[]>();
      let violations = 0;
      const run = async (claimer: CommandQueue) => {
        for (let idle = 0; idle < 3; ) {
          const batch: ClaimedCommand[] = await claimer.claim({ max: 4, leaseMs: LONG_LEASE });
          if (batch.length === 0) {
            idle += 1;
            await claimer.waitForWork(20);
            continue;
          }
          idle = 0;
          for (const c of batch) {
            if (inFlight.has(c.phyId)) violations += 1;
            inFlight.set(c.phyId, c.id);
            perDevice.set(c.phyId, [...(perDevice.get(c.phyId) ?? []), c.id]);
          }
          await new Promise((r) => setImmediate(r)); // let the other claimers race while these are out
          for (const c of batch) inFlight.delete(c.phyId);
          await claimer.ack(batch.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
        }
      };
      await Promise.all((await claimers(queue, 8)).map(run));
      expect(violations).toBe(0);
      expect([...perDevice.values()].map((ids) => ids.length)).toEqual(Array(10).fill(20));
    });

    it('wakes a claimer waiting on an empty queue within milliseconds of an enqueue from another instance', async () => {
      const queue = await open();
      const [, producer] = await claimers(queue, 2);
      const started = Date.now();
      const waiting = queue.waitForWork(10_000).then(() => Date.now());
      // Give the claimer time to settle into its wait, so the wake-up (not the first look) ends it.
      await new Promise((r) => setTimeout(r, 50));
      const sentAt = Date.now();
      await producer.enqueue(cmd('wake-me'));
      const wokeAt = await waiting;
      expect(wokeAt - started).toBeLessThan(5_000);
      expect(wokeAt - sentAt).toBeGreaterThanOrEqual(0);
      expect(await queue.claim({ max: 1, leaseMs: LONG_LEASE })).toHaveLength(1);
    });

    it('ends waitForWork on abort and on its fallback timeout', async () => {
      const queue = await open();
      const controller = new AbortController();
      const waiting = queue.waitForWork(60_000, controller.signal);
      controller.abort();
      await waiting;
      const started = Date.now();
      await queue.waitForWork(30);
      expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    });
  });
}
