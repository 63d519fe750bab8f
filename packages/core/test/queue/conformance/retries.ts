import { waitFor } from '@outbound/test-support';
import { cmd, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** Retries keep their place; attempts run out into dead letters; dead letters are managed. */
export function retryConformance(makeQueue: MakeQueue): void {
  describe('retries and dead letters', () => {
    const open = useQueues(makeQueue);

    it('retries with backoff at the head of its device line, then dead-letters after maxAttempts with the reason', async () => {
      const queue = await open({ backoff: { baseMs: 400, maxMs: 2_000, jitter: 0 } });
      const { id } = await queue.enqueue(cmd('retry-dev', { maxAttempts: 3 }));
      const next = await queue.enqueue(cmd('retry-dev'));
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        const claimed = await waitFor(async () => (await queue.claim({ max: 5, leaseMs: LONG_LEASE }))[0], { what: `attempt ${attempt}` });
        // The retried command keeps its place: the device's next command is never sent meanwhile.
        expect(claimed).toMatchObject({ id, attempts: attempt });
        const [result] = await queue.fail([{ id, leaseToken: claimed.leaseToken, error: `busy #${attempt}`, retryable: true }]);
        expect(result).toEqual({ id, ok: true, status: attempt < 3 ? 'queued' : 'dead' });
        if (attempt < 3) {
          expect(await queue.get(id)).toMatchObject({ status: 'queued', waitingFor: 'backoff', attempts: attempt, lastError: `busy #${attempt}` });
          expect(await queue.claim({ max: 5, leaseMs: LONG_LEASE })).toEqual([]);
        }
      }
      expect(await queue.get(id)).toMatchObject({ status: 'dead', attempts: 3, lastError: 'busy #3' });
      const dead = await queue.listDead();
      expect(dead.items.map((c) => [c.id, c.lastError])).toEqual([[id, 'busy #3']]);
      // The line moves on once the head is dead.
      const [after] = await queue.claim({ max: 5, leaseMs: LONG_LEASE });
      expect(after.id).toBe(next.id);
    });

    it('honours a per-item retryDelayMs and shows the wait in stats as delayed', async () => {
      const queue = await open({ backoff: { baseMs: 5, maxMs: 5, jitter: 0 } });
      const { id } = await queue.enqueue(cmd('busy-hint'));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      await queue.fail([{ id, leaseToken: claimed.leaseToken, error: 'BUSY', retryable: true, retryDelayMs: 300 }]);
      expect((await queue.stats()).total).toMatchObject({ delayed: 1, pending: 0, inflight: 0 });
      const started = Date.now();
      const again = await waitFor(async () => (await queue.claim({ max: 1, leaseMs: LONG_LEASE }))[0], { what: 'the retry to be due' });
      expect(again.id).toBe(id);
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    });

    it('rejects a permanent failure at once', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('perm'));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      expect(await queue.fail([{ id, leaseToken: claimed.leaseToken, error: 'bad payload', retryable: false }])).toEqual([{ id, ok: true, status: 'rejected' }]);
      expect(await queue.get(id)).toMatchObject({ status: 'rejected', lastError: 'bad payload' });
      expect((await queue.listDead()).items).toEqual([]);
    });

    it('pages, replays and purges dead letters', async () => {
      const queue = await open();
      const ids = (await queue.enqueueBatch(Array.from({ length: 5 }, (_, i) => cmd(`dl-${i}`, { maxAttempts: 1 })))).map((r) => {
        if (r instanceof Error) throw r;
        return r.id;
      });
      const claimed = await queue.claim({ max: 5, leaseMs: LONG_LEASE });
      await queue.fail(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, error: 'gone', retryable: true })));
      expect((await queue.stats()).total.dead).toBe(5);

      const page1 = await queue.listDead({ limit: 2 });
      expect(page1.items).toHaveLength(2);
      expect(page1.nextCursor).not.toBeNull();
      const page2 = await queue.listDead({ limit: 2, cursor: page1.nextCursor! });
      const page3 = await queue.listDead({ limit: 2, cursor: page2.nextCursor! });
      expect(page3.nextCursor).toBeNull();
      const listed = [...page1.items, ...page2.items, ...page3.items].map((c) => c.id);
      expect([...listed].sort()).toEqual([...ids].sort());

      expect(await queue.replayDead({ ids: [ids[0], ids[1]] })).toBe(2);
      expect(await queue.get(ids[0])).toMatchObject({ status: 'queued', attempts: 0 });
      expect((await queue.stats()).total).toMatchObject({ dead: 3, pending: 2 });
      expect(await queue.purgeDead({ ids: [ids[2]] })).toBe(1);
      expect(await queue.get(ids[2])).toBeNull();
      expect(await queue.replayDead({ all: true })).toBe(2);
      expect((await queue.stats()).total).toMatchObject({ dead: 0, pending: 4 });
      const replayed = await queue.claim({ max: 10, leaseMs: LONG_LEASE });
      expect(replayed.map((c) => c.id).sort()).toEqual([ids[0], ids[1], ids[3], ids[4]].sort());
      await queue.fail(replayed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, error: 'again', retryable: true })));
      expect(await queue.purgeDead({ all: true })).toBe(4);
      expect((await queue.stats()).total.dead).toBe(0);
    });
  });
}
