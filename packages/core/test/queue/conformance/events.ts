import { waitFor } from '@outbound/test-support';
import type { CommandQueue, LoggedEvent, OutboundEvent } from '@outbound/core';
import { cmd, enqueueAll, useQueues, LONG_LEASE, type MakeQueue } from './harness';

/** Every event after `after` (paging with `limit`), until a page comes back empty. */
async function readAll(queue: CommandQueue, after: string | null, limit = 100): Promise<{ events: LoggedEvent[]; cursor: string }> {
  const events: LoggedEvent[] = [];
  let cursor = after;
  for (let pages = 0; pages < 1_000; pages += 1) {
    const page = await queue.readEvents({ after: cursor, limit });
    expect(page.events.length).toBeLessThanOrEqual(limit);
    if (page.events.length === 0) return { events, cursor: page.cursor };
    events.push(...page.events);
    cursor = page.cursor;
  }
  throw new Error('the log did not end');
}

/** The events of one command as the log and the per-command timeline give them, checked equal. */
async function timeline(queue: CommandQueue, id: string): Promise<OutboundEvent[]> {
  const own = await queue.commandEvents(id);
  expect(own).not.toBeNull();
  const logged = (await readAll(queue, null)).events.filter((e) => e.commandId === id).map(({ cursor: _cursor, ...event }) => event);
  expect(own).toEqual(logged);
  return own!;
}

/** An id of the same shape as `id` (same store, same shard) that names no command. */
function unknownLike(id: string): string {
  return id.slice(0, -1) + (id.endsWith('0') ? '1' : '0');
}

/** The event log: one event per transition, written with it; readable as a whole, resumable, per command. */
export function eventConformance(makeQueue: MakeQueue): void {
  describe('event log', () => {
    const open = useQueues(makeQueue);

    it('logs a command retried twice then acked: queued, delivered x3 with the replica, retrying x2, acked', async () => {
      const queue = await open({ backoff: { baseMs: 20, maxMs: 20, jitter: 0 } });
      const before = Date.now();
      const { id } = await queue.enqueue(cmd('ev-retry', { priority: 7, maxAttempts: 5 }));
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        const claimed = await waitFor(async () => (await queue.claim({ max: 1, leaseMs: LONG_LEASE }))[0], { what: `attempt ${attempt}` });
        if (attempt < 3) {
          await queue.fail([{ id, leaseToken: claimed.leaseToken, error: `busy #${attempt}`, retryable: true, replica: 'ingress-a' }]);
        } else {
          await queue.ack([{ id, leaseToken: claimed.leaseToken, outcome: 'ok', replica: 'ingress-b' }]);
        }
      }
      const events = await timeline(queue, id);
      expect(events.map((e) => [e.type, e.attempt])).toEqual([
        ['command.queued', undefined],
        ['command.delivered', 1],
        ['command.retrying', 1],
        ['command.delivered', 2],
        ['command.retrying', 2],
        ['command.delivered', 3],
        ['command.acked', 3],
      ]);
      for (const e of events) expect(e).toMatchObject({ commandId: id, phyId: 'ev-retry' });
      expect(events[0]!.details).toMatchObject({ priority: 7 });
      expect(events.filter((e) => e.type === 'command.delivered').map((e) => e.details.replica)).toEqual(['ingress-a', 'ingress-a', 'ingress-b']);
      const retries = events.filter((e) => e.type === 'command.retrying');
      expect(retries.map((e) => e.details.reason)).toEqual(['busy #1', 'busy #2']);
      for (const r of retries) expect(r.details.retryAt).toBeGreaterThanOrEqual(r.time);
      // Store clock, in order, and unique ids.
      for (let i = 1; i < events.length; i += 1) expect(events[i]!.time).toBeGreaterThanOrEqual(events[i - 1]!.time);
      expect(events[0]!.time).toBeGreaterThan(before - 60_000);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    });

    it('logs no delivered event for an outcome without a replica', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('ev-noreplica'));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      await queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok' }]);
      expect((await timeline(queue, id)).map((e) => e.type)).toEqual(['command.queued', 'command.acked']);
    });

    it('logs rejections by the device and permanent failures', async () => {
      const queue = await open();
      const [a, b] = await enqueueAll(queue, [cmd('ev-rej-a'), cmd('ev-rej-b')]);
      const claimed = await queue.claim({ max: 2, leaseMs: LONG_LEASE });
      const by = (id: string) => claimed.find((c) => c.id === id)!;
      await queue.ack([{ id: a!, leaseToken: by(a!).leaseToken, outcome: 'rejected', replica: 'ingress-a' }]);
      await queue.fail([{ id: b!, leaseToken: by(b!).leaseToken, error: 'bad payload', retryable: false, replica: 'ingress-a' }]);
      const ea = await timeline(queue, a!);
      expect(ea.map((e) => [e.type, e.attempt])).toEqual([['command.queued', undefined], ['command.delivered', 1], ['command.rejected', 1]]);
      const eb = await timeline(queue, b!);
      expect(eb.map((e) => [e.type, e.attempt])).toEqual([['command.queued', undefined], ['command.delivered', 1], ['command.rejected', 1]]);
      expect(eb[2]!.details.reason).toBe('bad payload');
    });

    it('logs dead letters and their replay', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('ev-dead', { maxAttempts: 1 }));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      await queue.fail([{ id, leaseToken: claimed!.leaseToken, error: 'gone', retryable: true }]);
      expect(await queue.replayDead({ ids: [id] })).toBe(1);
      const events = await timeline(queue, id);
      expect(events.map((e) => e.type)).toEqual(['command.queued', 'command.dead', 'command.queued']);
      expect(events[1]).toMatchObject({ attempt: 1, details: { reason: 'gone' } });
    });

    it('logs a lease that expired without an outcome as a retry', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('ev-reclaim', { maxAttempts: 3 }));
      await queue.claim({ max: 1, leaseMs: 30 });
      await waitFor(async () => (await queue.reclaimExpired()) === 1, { what: 'the lease to expire and be reclaimed' });
      const events = await timeline(queue, id);
      expect(events.map((e) => [e.type, e.attempt])).toEqual([['command.queued', undefined], ['command.retrying', 1]]);
      expect(events[1]!.details.reason).toEqual(expect.any(String));
      expect(events[1]!.details.retryAt).toEqual(expect.any(Number));
    });

    it('logs expiry and cancellation', async () => {
      const queue = await open();
      const short = await queue.enqueue(cmd('ev-ttl', { ttlMs: 40 }));
      const kept = await queue.enqueue(cmd('ev-cancel'));
      await queue.markDeviceOffline('ev-ttl');
      await waitFor(async () => (await queue.expireDue()) === 1, { what: 'the short TTL to pass' });
      await queue.cancel(kept.id);
      expect((await timeline(queue, short.id)).map((e) => e.type)).toEqual(['command.queued', 'command.expired']);
      expect((await timeline(queue, kept.id)).map((e) => e.type)).toEqual(['command.queued', 'command.cancelled']);
    });

    it('logs a device going offline and online only when its parked state changes', async () => {
      const queue = await open();
      const head = await queue.eventsHead();
      await queue.markDeviceOffline('ev-park');
      await queue.markDeviceOffline('ev-park');
      await queue.markDeviceOnline('ev-park');
      await queue.markDeviceOnline('ev-park');
      const { id } = await queue.enqueue(cmd('ev-park'));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      await queue.release([{ id, leaseToken: claimed!.leaseToken, deviceOffline: true, reason: 'device not connected' }]);
      const device = (await readAll(queue, head)).events.filter((e) => e.type.startsWith('device.'));
      expect(device.map((e) => [e.type, e.phyId, e.commandId])).toEqual([
        ['device.offline', 'ev-park', undefined],
        ['device.online', 'ev-park', undefined],
        ['device.offline', 'ev-park', undefined],
      ]);
    });

    it('pages through every shard with no gap and no repeat, and a logged cursor resumes right after its event', async () => {
      const queue = await open();
      const start = await queue.eventsHead();
      const ids = await enqueueAll(queue, Array.from({ length: 40 }, (_, i) => cmd(`ev-page-${i}`)));
      const { events, cursor } = await readAll(queue, start, 7);
      expect(events.map((e) => e.commandId).sort()).toEqual([...ids].sort());
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      // Read from the oldest retained: the same events.
      expect((await readAll(queue, null, 13)).events.map((e) => e.id)).toEqual(events.map((e) => e.id));
      for (const k of [0, 6, 7, 20, 39]) {
        const rest = await readAll(queue, events[k]!.cursor, 9);
        expect(rest.events.map((e) => e.id)).toEqual(events.slice(k + 1).map((e) => e.id));
      }
      for (const e of events) expect(e.cursor).toMatch(/^[\x21-\x7e]{1,1024}$/);
      // Nothing after the end; the next event is after it.
      expect(await queue.readEvents({ after: cursor })).toEqual({ events: [], cursor });
      const next = await queue.enqueue(cmd('ev-page-late'));
      expect((await queue.readEvents({ after: cursor })).events.map((e) => e.commandId)).toEqual([next.id]);
    });

    it('starts at the head with eventsHead, and a waiting read wakes on a new event', async () => {
      const queue = await open();
      await queue.enqueue(cmd('ev-old'));
      const head = await queue.eventsHead();
      expect((await queue.readEvents({ after: head })).events).toEqual([]);
      const started = Date.now();
      const reading = queue.readEvents({ after: head, waitMs: 20_000 });
      const { id } = await queue.enqueue(cmd('ev-new'));
      const page = await reading;
      expect(page.events.map((e) => [e.type, e.commandId])).toEqual([['command.queued', id]]);
      expect(Date.now() - started).toBeLessThan(10_000);
      // With nothing new, a short wait answers empty at its end, with the cursor unchanged.
      expect(await queue.readEvents({ after: page.cursor, waitMs: 50 })).toEqual({ events: [], cursor: page.cursor });
    });

    it('answers null for a command it does not know', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('ev-known'));
      expect(await queue.commandEvents(unknownLike(id))).toBeNull();
      expect(await queue.commandEvents('not-a-command-id')).toBeNull();
    });
  });
}
