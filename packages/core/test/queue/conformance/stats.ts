import type { CommandQueue, QueueCounts } from '@outbound/core';
import { cmd, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** Counts each command by reading it back, to compare with stats(). */
async function countByContents(queue: CommandQueue, ids: string[]): Promise<QueueCounts> {
  const counts: QueueCounts = { pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 };
  for (const id of ids) {
    const c = await queue.get(id);
    if (!c) continue;
    if (c.status === 'inflight') counts.inflight += 1;
    else if (c.status === 'dead') counts.dead += 1;
    else if (c.status === 'queued' && c.waitingFor === 'device') counts.waitingForDevice += 1;
    else if (c.status === 'queued' && (c.waitingFor === 'backoff' || c.waitingFor === 'schedule')) counts.delayed += 1;
    else if (c.status === 'queued') counts.pending += 1;
  }
  return counts;
}

/** stats() agrees with what get() shows, in every state at once. */
export function statsConformance(makeQueue: MakeQueue): void {
  describe('stats', () => {
    const open = useQueues(makeQueue);

    it('agrees with the contents: pending, inflight, delayed, waiting for device, dead', async () => {
      const queue = await open({ backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 } });
      const ids: string[] = [];
      const add = async (phyId: string, extra = {}) => ids.push((await queue.enqueue(cmd(phyId, extra))).id);
      await add('s-inflight');
      await add('s-backoff');
      await add('s-dead', { maxAttempts: 1 });
      await add('s-offline');
      await add('s-offline');
      await add('s-sched', { deliverAt: Date.now() + 3_600_000 });
      const claimed = await queue.claim({ max: 10, leaseMs: LONG_LEASE });
      expect(claimed.map((c) => c.phyId).sort()).toEqual(['s-backoff', 's-dead', 's-inflight', 's-offline']);
      const by = (phyId: string) => claimed.find((c) => c.phyId === phyId)!;
      await queue.fail([
        { id: by('s-backoff').id, leaseToken: by('s-backoff').leaseToken, error: 'busy', retryable: true },
        { id: by('s-dead').id, leaseToken: by('s-dead').leaseToken, error: 'no more', retryable: true },
      ]);
      await queue.release([{ id: by('s-offline').id, leaseToken: by('s-offline').leaseToken, deviceOffline: true }]);
      await add('s-ready');
      await add('s-ready');

      const stats = await queue.stats();
      const contents = await countByContents(queue, ids);
      expect(contents).toEqual({ pending: 2, inflight: 1, delayed: 2, waitingForDevice: 2, dead: 1 });
      expect(stats.total).toEqual(contents);
      const summed = stats.shards.reduce(
        (sum, s) => ({
          pending: sum.pending + s.pending,
          inflight: sum.inflight + s.inflight,
          delayed: sum.delayed + s.delayed,
          waitingForDevice: sum.waitingForDevice + s.waitingForDevice,
          dead: sum.dead + s.dead,
        }),
        { pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 },
      );
      expect(summed).toEqual(stats.total);
      expect(await queue.countDevice('s-offline')).toBe(2);
      expect(await queue.countDevice('s-ready')).toBe(2);
      expect(await queue.countDevice('s-dead')).toBe(0);
    });
  });
}
