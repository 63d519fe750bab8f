import type { CommandQueue, DeadFilter, ListCommandsOptions, StoredCommand } from '@outbound/core';
import { waitFor } from '@outbound/test-support';
import { cmd, enqueueAll, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** Claims everything claimable and fails it (retryable) with `error`: with maxAttempts 1, each becomes a dead letter. */
async function killAll(queue: CommandQueue, error: (phyId: string) => string): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const claimed = await queue.claim({ max: 100, leaseMs: LONG_LEASE });
    if (claimed.length === 0) return ids;
    const answers = await queue.fail(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, error: error(c.phyId), retryable: true })));
    expect(answers.every((a) => a.ok && a.status === 'dead')).toBe(true);
    ids.push(...claimed.map((c) => c.id));
  }
}

/** Every page of a listing, following nextCursor (pages may come back short). */
async function allPages(list: (cursor: string | undefined) => Promise<{ items: StoredCommand[]; nextCursor: string | null }>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages += 1) {
    const page = await list(cursor);
    ids.push(...page.items.map((c) => c.id));
    if (page.nextCursor === null) return ids;
    cursor = page.nextCursor;
  }
  throw new Error('the listing never ended');
}

const sorted = (ids: string[]) => [...ids].sort();

/** Bulk operations: cancel a device's queue, and dead letters listed, replayed and purged by filter. */
export function bulkConformance(makeQueue: MakeQueue): void {
  describe('bulk operations', () => {
    const open = useQueues(makeQueue);

    it('cancels every queued command of a device (line, scheduled, behind a retry) but not the one in flight, nor other devices', async () => {
      const queue = await open({ backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 } });
      const [first] = await enqueueAll(queue, [cmd('bulk-a', { priority: 9 })]);
      const claimed = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      expect(claimed.map((c) => c.id)).toEqual([first]);
      const queued = await enqueueAll(queue, [
        cmd('bulk-a'), cmd('bulk-a', { priority: 2 }), cmd('bulk-a', { deliverAt: Date.now() + 600_000 }),
      ]);
      const [other] = await enqueueAll(queue, [cmd('bulk-b')]);

      expect(await queue.cancelDevice('bulk-a')).toBe(3);
      for (const id of queued) {
        expect(await queue.get(id)).toMatchObject({ status: 'cancelled' });
        // Logged like a single cancel, in the same step.
        expect((await queue.commandEvents(id))!.map((e) => e.type)).toEqual(['command.queued', 'command.cancelled']);
      }
      expect(await queue.get(first!)).toMatchObject({ status: 'inflight' });
      expect(await queue.get(other!)).toMatchObject({ status: 'queued' });
      expect(await queue.countDevice('bulk-a')).toBe(1);
      expect((await queue.listDevice('bulk-a')).map((c) => c.id)).toEqual([first]);
      expect((await queue.stats()).total).toMatchObject({ pending: 1, inflight: 1, delayed: 0 });
      // Nothing left to cancel; the device still works: its in-flight command finishes, a new one is claimed.
      expect(await queue.cancelDevice('bulk-a')).toBe(0);
      await queue.ack([{ id: first!, leaseToken: claimed[0]!.leaseToken, outcome: 'ok' }]);
      const [next] = await enqueueAll(queue, [cmd('bulk-a')]);
      const later = await queue.claim({ max: 5, leaseMs: LONG_LEASE });
      expect(sorted(later.map((c) => c.id))).toEqual(sorted([next!, other!]));

      // A device waiting for a retry, and a parked one, lose their queued commands too (the retry itself is queued).
      const retrying = later.find((c) => c.id === next)!;
      await queue.fail([{ id: retrying.id, leaseToken: retrying.leaseToken, error: 'busy', retryable: true }]);
      await enqueueAll(queue, [cmd('bulk-a')]);
      expect(await queue.cancelDevice('bulk-a')).toBe(2);
      expect(await queue.get(next!)).toMatchObject({ status: 'cancelled' });
      await enqueueAll(queue, [cmd('bulk-parked'), cmd('bulk-parked')]);
      await queue.markDeviceOffline('bulk-parked');
      expect(await queue.cancelDevice('bulk-parked')).toBe(2);
      expect(await queue.countDevice('bulk-parked')).toBe(0);
    });

    it('cancels 1,200 queued commands of one device in one call', async () => {
      const queue = await open({ perDeviceCap: 2_000 });
      const ids = await enqueueAll(queue, Array.from({ length: 1_200 }, () => cmd('bulk-many')));
      expect(await queue.cancelDevice('bulk-many')).toBe(1_200);
      expect(await queue.countDevice('bulk-many')).toBe(0);
      expect(await queue.get(ids[1_199]!)).toMatchObject({ status: 'cancelled' });
      expect(await queue.claim({ max: 10, leaseMs: LONG_LEASE })).toEqual([]);
      expect((await queue.stats()).total.pending).toBe(0);
    });

    /** Dead letters of two devices with two reasons, dying in two rounds a few ms apart; answers their ids and the second round's death time. */
    async function deadLetters(queue: CommandQueue) {
      await enqueueAll(queue, [cmd('dl-x', { maxAttempts: 1 }), cmd('dl-x', { maxAttempts: 1 }), cmd('dl-y', { maxAttempts: 1 })]);
      const early = await killAll(queue, (phyId) => (phyId === 'dl-x' ? 'BUSY: the device asked to retry later' : 'ACK_TIMEOUT: no answer'));
      const earlyRecords = await Promise.all(early.map((id) => queue.get(id)));
      const diedAt = Math.max(...earlyRecords.map((c) => c!.updatedAt));
      const passed = Date.now() + 5;
      await waitFor(() => Date.now() >= passed, { what: 'the clock to move past the first round' });
      await enqueueAll(queue, [cmd('dl-x', { maxAttempts: 1 }), cmd('dl-y', { maxAttempts: 1 })]);
      const late = await killAll(queue, (phyId) => (phyId === 'dl-x' ? 'ACK_TIMEOUT: no answer' : 'BUSY: again'));
      const lateRecords = await Promise.all(late.map((id) => queue.get(id)));
      const secondRound = Math.min(...lateRecords.map((c) => c!.updatedAt));
      expect(secondRound).toBeGreaterThan(diedAt);
      const records = [...earlyRecords, ...lateRecords].map((c) => c!);
      const of = (ids: string[], phyId: string) => ids.filter((id) => records.find((c) => c.id === id)!.phyId === phyId);
      return { early, late, secondRound, records, of };
    }

    it('lists dead letters by device, reason prefix and time of death', async () => {
      const queue = await open();
      const { early, late, secondRound, records } = await deadLetters(queue);
      const list = (filter: DeadFilter) => allPages((cursor) => queue.listDead({ limit: 1, filter, ...(cursor === undefined ? {} : { cursor }) }));
      const expected = (test: (c: StoredCommand) => boolean) => sorted(records.filter(test).map((c) => c.id));

      expect(sorted(await list({ phyId: 'dl-x' }))).toEqual(expected((c) => c.phyId === 'dl-x'));
      expect(sorted(await list({ reason: 'BUSY' }))).toEqual(expected((c) => c.lastError!.startsWith('BUSY')));
      expect(sorted(await list({ reason: 'ACK_TIMEOUT: no answer', phyId: 'dl-y' }))).toEqual(expected((c) => c.phyId === 'dl-y' && c.lastError === 'ACK_TIMEOUT: no answer'));
      expect(sorted(await list({ since: secondRound }))).toEqual(sorted(late));
      expect(sorted(await list({ until: secondRound }))).toEqual(sorted(early));
      expect(await list({ reason: 'busy' })).toEqual([]); // case-sensitive
      expect(await list({ phyId: 'dl-none' })).toEqual([]);
      // Unfiltered, oldest death first.
      const all = await allPages((cursor) => queue.listDead({ limit: 2, ...(cursor === undefined ? {} : { cursor }) }));
      expect(sorted(all.slice(0, 3))).toEqual(sorted(early));
      expect(sorted(all.slice(3))).toEqual(sorted(late));
    });

    it('replays and purges dead letters by filter, on the server, and leaves the rest', async () => {
      const queue = await open();
      const { early, late, of } = await deadLetters(queue);
      expect(await queue.replayDead({ filter: { phyId: 'dl-x', reason: 'BUSY' } })).toBe(2);
      for (const id of of(early, 'dl-x')) {
        expect(await queue.get(id)).toMatchObject({ status: 'queued', attempts: 0 });
        expect((await queue.commandEvents(id))!.map((e) => e.type).slice(-2)).toEqual(['command.dead', 'command.queued']);
      }
      expect((await queue.stats()).total).toMatchObject({ dead: 3, pending: 2 });
      expect(await queue.purgeDead({ filter: { reason: 'ACK_TIMEOUT' } })).toBe(2);
      expect(await queue.get(of(early, 'dl-y')[0]!)).toBeNull();
      expect(await queue.get(of(late, 'dl-x')[0]!)).toBeNull();
      expect(await queue.get(of(late, 'dl-y')[0]!)).toMatchObject({ status: 'dead' });
      expect(await queue.replayDead({ filter: { phyId: 'dl-none' } })).toBe(0);
      expect(await queue.purgeDead({ filter: {} })).toBe(1);
      expect((await queue.stats()).total).toMatchObject({ dead: 0, pending: 2 });
    });

    it('pages a filter that matches few of many dead letters to the end', async () => {
      // One shard (where the store has shards): more dead letters than one page examines.
      const queue = await open({ shards: 1 });
      await enqueueAll(queue, [
        ...Array.from({ length: 1_100 }, (_, i) => cmd(`dl-noise-${i % 100}`, { maxAttempts: 1 })),
        cmd('dl-rare', { maxAttempts: 1 }), cmd('dl-rare', { maxAttempts: 1 }),
      ]);
      const ids = await killAll(queue, () => 'gone');
      const rare = (await Promise.all(ids.map((id) => queue.get(id)))).filter((c) => c!.phyId === 'dl-rare').map((c) => c!.id);
      const listed = await allPages((cursor) => queue.listDead({ limit: 10, filter: { phyId: 'dl-rare' }, ...(cursor === undefined ? {} : { cursor }) }));
      expect(sorted(listed)).toEqual(sorted(rare));
      expect(await queue.purgeDead({ filter: { phyId: 'dl-rare' } })).toBe(2);
      expect((await queue.stats()).total.dead).toBe(1_100);
    });
  });
}

/** The command history: every state within retention, newest enqueue first, filtered and cursor-paged. */
export function historyConformance(makeQueue: MakeQueue): void {
  describe('command history', () => {
    const open = useQueues(makeQueue);

    it('lists queued, in-flight and finished commands newest first, by device, status and enqueue time', async () => {
      const queue = await open();
      // Across devices the order is the enqueue time's millisecond (commands of different shards
      // enqueued within one millisecond may come in either order): the clock moves between them.
      const moved = async () => {
        const passed = Date.now() + 2;
        await waitFor(() => Date.now() >= passed, { what: 'the clock to move on' });
      };
      const first = await enqueueAll(queue, [cmd('h-a')]);
      await moved();
      first.push(...(await enqueueAll(queue, [cmd('h-b')])));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      await queue.ack([{ id: claimed!.id, leaseToken: claimed!.leaseToken, outcome: 'ok' }]);
      const passed = Date.now() + 5;
      await waitFor(() => Date.now() >= passed, { what: 'the clock to move past the first enqueue' });
      const second = await enqueueAll(queue, [cmd('h-a'), cmd('h-a')]);
      await queue.cancel(second[1]!);
      const secondAt = (await queue.get(second[0]!))!.createdAt;

      const page = (options: ListCommandsOptions = {}) =>
        allPages((cursor) => queue.listCommands({ limit: 1, ...options, ...(cursor === undefined ? {} : { cursor }) }));
      expect(await page()).toEqual([second[1], second[0], first[1], first[0]]);
      expect(await page({ phyId: 'h-a' })).toEqual([second[1], second[0], first[0]]);
      expect(await page({ status: 'acked' })).toEqual([claimed!.id]);
      expect(await page({ status: 'cancelled', phyId: 'h-a' })).toEqual([second[1]]);
      expect(await page({ since: secondAt })).toEqual([second[1], second[0]]);
      expect(await page({ until: secondAt })).toEqual([first[1], first[0]]);
      const one = await queue.listCommands({ limit: 2 });
      expect(one.items.map((c) => c.id)).toEqual([second[1], second[0]]);
      expect(one.items[0]).toMatchObject({ status: 'cancelled', phyId: 'h-a' });
      expect(one.nextCursor).not.toBeNull();
    });

    it('pages a rare status to the end across more commands than one page examines', async () => {
      const queue = await open();
      const ids = await enqueueAll(queue, Array.from({ length: 5_100 }, (_, i) => cmd(`h-many-${i % 100}`)));
      // Two commands of one device (h-many-0): their order is the order of one shard's script.
      // Commands of two devices in one batch go to two shards' scripts, which may run either
      // way round (on Cluster, on two servers), so "newest" between them is not fixed.
      await queue.cancel(ids[0]!);
      await queue.cancel(ids[100]!);
      const listed = await allPages((cursor) => queue.listCommands({ status: 'cancelled', limit: 10, ...(cursor === undefined ? {} : { cursor }) }));
      expect(listed).toEqual([ids[100], ids[0]]);
    });
  });
}
