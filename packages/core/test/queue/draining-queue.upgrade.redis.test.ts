import Redis from 'ioredis';
import { DrainingQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type ClaimedCommand, type QueueOptions } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { cmd } from './conformance';
import { dropPrefix } from './conformance/redis-fixture';

/**
 * A running v2 deployment switches to v3 with QUEUE_REDIS_UPGRADE_FROM=v2: the v2 layout holds
 * commands in every state, the draining queue over both layouts (what the dispatcher runs) must
 * bring each to its end, keep each device's order and honour every idempotency key used before.
 */
const OPTIONS: QueueOptions = { backoff: { baseMs: 100, maxMs: 200, jitter: 0 }, retentionMs: 600_000 };
const LEASE = 30_000;

/** Every store the test made, closed (and its keys dropped) after each test. */
const made: Array<{ close(): Promise<void> }> = [];
let client: Redis;
let prefix: string;

beforeEach(() => {
  client = new Redis(testRedisUrl());
  prefix = uniquePrefix('upgrade');
});

afterEach(async () => {
  while (made.length) await made.pop()!.close().catch(() => undefined);
  await dropPrefix(client, prefix);
  await client.quit();
});

function v2(): RedisQueue {
  const store = new RedisQueue(client, { ...OPTIONS, prefix });
  made.push(store);
  return store;
}

/** What a dispatcher with QUEUE_REDIS_LAYOUT=v3, QUEUE_REDIS_UPGRADE_FROM=v2 runs. */
function upgrading(logger?: { info: jest.Mock; warn: jest.Mock }): { queue: ValidatedQueue<DrainingQueue>; old: RedisQueue; next: RedisQueueV3 } {
  const old = new RedisQueue(client, { ...OPTIONS, prefix });
  const next = new RedisQueueV3(client, { ...OPTIONS, prefix });
  const draining = new DrainingQueue(old, next, { checkEveryMs: 50, ...(logger ? { logger } : {}), names: { old: 'v2', next: 'v3' } });
  made.push(draining);
  return { queue: new ValidatedQueue(draining), old, next };
}

async function enqueue(queue: ValidatedQueue, phyId: string, overrides: Parameters<typeof cmd>[1] = {}): Promise<string> {
  return (await queue.enqueue(cmd(phyId, overrides))).id;
}

/** Claims one command of `phyId` (others claimed on the way are given back). */
async function claimOf(queue: ValidatedQueue, phyId: string, leaseMs = LEASE): Promise<ClaimedCommand> {
  return waitFor(async () => {
    const claimed = await queue.claim({ max: 50, leaseMs });
    const mine = claimed.find((c) => c.phyId === phyId) ?? null;
    const others = claimed.filter((c) => c !== mine);
    if (others.length) await queue.release(others.map((c) => ({ id: c.id, leaseToken: c.leaseToken })));
    return mine;
  }, { what: `a claim of ${phyId}` });
}

/**
 * A delivery worker with its lease reaper: claims and acks until every id in `ids` is acked;
 * answers the claims in order (so a test can read each device's delivery order and count repeats).
 */
async function deliverAll(queue: ValidatedQueue, ids: string[], leaseMs = LEASE): Promise<ClaimedCommand[]> {
  const delivered: ClaimedCommand[] = [];
  await waitFor(async () => {
    await queue.reclaimExpired();
    const claimed = await queue.claim({ max: 50, leaseMs });
    delivered.push(...claimed);
    if (claimed.length) {
      const answers = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
      expect(answers.filter((a) => !a.ok)).toEqual([]);
    }
    const statuses = await Promise.all(ids.map(async (id) => (await queue.get(id))?.status));
    return statuses.every((s) => s === 'acked');
  }, { timeoutMs: 20_000, intervalMs: 20, what: 'every command to be acked' });
  return delivered;
}

const order = (delivered: ClaimedCommand[], phyId: string) => delivered.filter((c) => c.phyId === phyId).map((c) => c.id);

describe('draining upgrade from the v2 layout to v3', () => {
  it('brings every command v2 held (queued, scheduled, backing off, parked, in flight, dead, finished) to its end, in each device\'s order', async () => {
    const before = new ValidatedQueue(v2());
    // queued: two for one device
    const queued = [await enqueue(before, 'dev-queued'), await enqueue(before, 'dev-queued')];
    // scheduled
    const scheduled = await enqueue(before, 'dev-scheduled', { deliverAt: Date.now() + 4_000 });
    // backing off: one failed attempt, retry due later
    const backoffId = await enqueue(before, 'dev-backoff');
    const first = await claimOf(before, 'dev-backoff');
    expect(await before.fail([{ id: first.id, leaseToken: first.leaseToken, error: 'busy', retryable: true, retryDelayMs: 4_000 }])).toMatchObject([{ ok: true, status: 'queued' }]);
    // parked: the device went offline during delivery
    const parked = await enqueue(before, 'dev-parked');
    const parkedClaim = await claimOf(before, 'dev-parked');
    await before.release([{ id: parkedClaim.id, leaseToken: parkedClaim.leaseToken, deviceOffline: true }]);
    // in flight, its dispatcher gone: the lease must run out and be reclaimed
    const orphan = await enqueue(before, 'dev-orphan');
    await claimOf(before, 'dev-orphan', 300);
    // in flight, its dispatcher still running (a rolling restart): its ack arrives after the switch
    const straggler = await enqueue(before, 'dev-straggler');
    const stragglerClaim = await claimOf(before, 'dev-straggler');
    // dead: one to replay, one to purge
    const dead = [await enqueue(before, 'dev-dead', { maxAttempts: 1 }), await enqueue(before, 'dev-dead', { maxAttempts: 1 })];
    for (let i = 0; i < 2; i += 1) {
      const c = await claimOf(before, 'dev-dead');
      await before.fail([{ id: c.id, leaseToken: c.leaseToken, error: 'broken', retryable: true }]);
    }
    // finished, with an idempotency key
    const finished = await enqueue(before, 'dev-finished', { idempotencyKey: 'order-1' });
    const done = await claimOf(before, 'dev-finished');
    await before.ack([{ id: done.id, leaseToken: done.leaseToken, outcome: 'ok', result: Buffer.from('ok') }]);
    // queued with an idempotency key
    const keyed = await enqueue(before, 'dev-keyed', { idempotencyKey: 'order-2' });
    const stats = (await before.stats()).total;
    expect(stats).toMatchObject({ inflight: 2, delayed: 2, waitingForDevice: 1, dead: 2 });

    // The switch.
    const logger = { info: jest.fn(), warn: jest.fn() };
    const { queue, old, next } = upgrading(logger);
    expect((await queue.stats()).total).toEqual(stats);
    expect(await queue.countDevice('dev-queued')).toBe(2);
    expect((await queue.listDevice('dev-queued')).map((c) => c.id)).toEqual(queued);
    expect(await queue.get(finished)).toMatchObject({ id: finished, status: 'acked', result: Buffer.from('ok') });

    // Idempotency keys used before the switch still answer their command, finished or not.
    expect(await queue.enqueue(cmd('dev-finished', { idempotencyKey: 'order-1' }))).toEqual({ id: finished, status: 'acked', duplicate: true });
    expect(await queue.enqueue(cmd('dev-keyed', { idempotencyKey: 'order-2' }))).toEqual({ id: keyed, status: 'queued', duplicate: true });
    await expect(queue.enqueue(cmd('dev-finished', { idempotencyKey: 'order-1', payload: Buffer.from('other') }))).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    await expect(queue.enqueue(cmd('dev-keyed', { idempotencyKey: 'order-2', priority: 1 }))).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });

    // A device with commands left in v2 gets its new ones there (behind them); a device with none gets v3.
    const queuedLater = await enqueue(queue, 'dev-queued');
    const fresh = await enqueue(queue, 'dev-fresh');
    expect(await old.get(queuedLater)).toMatchObject({ status: 'queued' });
    expect(await next.get(fresh)).toMatchObject({ status: 'queued' });
    expect(await old.get(fresh)).toBeNull();
    // A new key on a finished device goes to v3.
    const keyedLater = (await queue.enqueue(cmd('dev-finished', { idempotencyKey: 'order-3' }))).id;
    expect(await next.get(keyedLater)).toMatchObject({ status: 'queued' });

    // Cancel reaches the layout that holds the command.
    const cancelMe = await enqueue(before, 'dev-cancel');
    expect(await queue.cancel(cancelMe)).toMatchObject({ id: cancelMe, status: 'cancelled' });

    // The dead letters across both layouts; one replayed, one purged.
    const deadPage = await queue.listDead({ limit: 1 });
    expect(deadPage.items).toHaveLength(1);
    const deadRest = await queue.listDead({ limit: 10, cursor: deadPage.nextCursor! });
    expect([...deadPage.items, ...deadRest.items].map((c) => c.id).sort()).toEqual([...dead].sort());
    expect(await queue.replayDead({ ids: [dead[0]!] })).toBe(1);
    expect(await queue.purgeDead({ ids: [dead[1]!] })).toBe(1);
    expect(await queue.get(dead[1]!)).toBeNull();

    // The parked device is listed, and comes back online through the upgrading queue.
    expect((await queue.listParkedDevices()).phyIds).toContain('dev-parked');
    await queue.markDeviceOnline('dev-parked');

    // The rolling restart's straggler acks through the upgrading queue, which never claimed it.
    expect(await queue.ack([{ id: stragglerClaim.id, leaseToken: stragglerClaim.leaseToken, outcome: 'ok' }])).toEqual([{ id: straggler, ok: true, status: 'acked' }]);
    // The orphan's lease runs out; the reaper gives it back.
    await waitFor(async () => (await queue.reclaimExpired()) > 0, { what: 'the orphaned lease to be reclaimed' });

    const expected = [...queued, queuedLater, scheduled, backoffId, parked, orphan, dead[0]!, keyed, fresh, keyedLater];
    const delivered = await deliverAll(queue, expected);
    expect(delivered.map((c) => c.id).sort()).toEqual([...expected].sort()); // each once, nothing else
    expect(order(delivered, 'dev-queued')).toEqual([...queued, queuedLater]);
    expect(await queue.get(straggler)).toMatchObject({ status: 'acked' });

    // Drained: the gauge's count is 0 and the log says so.
    await waitFor(async () => (await queue.store.oldPending()) === 0, { what: 'the v2 layout to be drained' });
    expect(queue.store.drained).toBe(true);
    expect(logger.info.mock.calls.map(([, msg]) => String(msg).split(':')[0])).toEqual(['upgrade', 'upgrade drained']);
    expect(logger.info).toHaveBeenLastCalledWith(expect.objectContaining({ upgradeFrom: 'v2' }), expect.stringMatching(/upgrade drained/));
    // Finished v2 records are still read through, and their keys still honoured.
    expect(await queue.get(finished)).toMatchObject({ status: 'acked' });
    expect(await queue.enqueue(cmd('dev-finished', { idempotencyKey: 'order-1' }))).toMatchObject({ id: finished, duplicate: true });

    // Once drained, a new command of a former v2 device goes to v3.
    const afterDrain = await enqueue(queue, 'dev-queued');
    expect(await next.get(afterDrain)).toMatchObject({ status: 'queued' });
  });

  it('keeps a device on v2 while it has a command in flight there, so it never has two outstanding', async () => {
    const before = new ValidatedQueue(v2());
    const a = await enqueue(before, 'dev-busy');
    const { queue } = upgrading();
    const claimA = await claimOf(queue, 'dev-busy');
    expect(claimA.id).toBe(a);
    const b = await enqueue(queue, 'dev-busy');
    // B waits for A: a claim now finds nothing for the device.
    expect((await queue.claim({ max: 10, leaseMs: LEASE })).map((c) => c.id)).toEqual([]);
    await queue.ack([{ id: a, leaseToken: claimA.leaseToken, outcome: 'ok' }]);
    expect((await claimOf(queue, 'dev-busy')).id).toBe(b);
  });

  it('records a v2 command\'s release and failed attempt in v2, where its device\'s line is', async () => {
    const before = new ValidatedQueue(v2());
    const id = await enqueue(before, 'dev-retry');
    const { queue, old, next } = upgrading();
    const first = await claimOf(queue, 'dev-retry');
    expect(await queue.release([{ id, leaseToken: first.leaseToken, reason: 'shutting down' }])).toEqual([{ id, ok: true, status: 'queued' }]);
    const second = await claimOf(queue, 'dev-retry');
    expect(second.attempts).toBe(1); // a release spends no attempt
    expect(await queue.fail([{ id, leaseToken: second.leaseToken, error: 'busy', retryable: true, retryDelayMs: 0 }])).toEqual([{ id, ok: true, status: 'queued' }]);
    expect(await old.get(id)).toMatchObject({ status: 'queued', attempts: 1, lastError: 'busy' });
    expect(await next.get(id)).toBeNull();
    const third = await claimOf(queue, 'dev-retry');
    expect(third.attempts).toBe(2);
    // A stale token is refused by v2 (the layout that holds the command), not answered as unknown.
    expect(await queue.ack([{ id, leaseToken: second.leaseToken, outcome: 'ok' }])).toMatchObject([{ id, ok: false, error: { code: 'LEASE_LOST' } }]);
    expect(await queue.ack([{ id, leaseToken: third.leaseToken, outcome: 'ok' }])).toEqual([{ id, ok: true, status: 'acked' }]);
  });

  it('reports the older of its layouts\' oldest ready commands, so the scaling signal covers both', async () => {
    const before = new ValidatedQueue(v2());
    const { queue, old, next } = upgrading();
    expect(await queue.oldestReadyAgeSeconds()).toBe(0);
    const first = await enqueue(queue, 'dev-age-new-layout');
    expect(await next.get(first)).toMatchObject({ status: 'queued' });
    const v3Age = await waitFor(async () => {
      const age = await next.oldestReadyAgeSeconds();
      return age >= 0.2 ? age : undefined;
    }, { what: 'the v3 command to be 0.2 s old' });
    // A newer command waits in v2 (an old dispatcher still enqueuing there): the v3 one is older.
    await enqueue(before, 'dev-age-old-layout');
    expect(await old.oldestReadyAgeSeconds()).toBeLessThan(v3Age);
    expect(await queue.oldestReadyAgeSeconds()).toBeGreaterThanOrEqual(v3Age);
    // Once the v3 command is claimed, the v2 one is the oldest.
    await claimOf(queue, 'dev-age-new-layout');
    expect(await next.oldestReadyAgeSeconds()).toBe(0);
    expect(await queue.oldestReadyAgeSeconds()).toBeGreaterThan(0);
  });

  it('wakes a waiting claimer on work that becomes ready in either layout', async () => {
    const before = new ValidatedQueue(v2());
    await enqueue(before, 'dev-parked-wake');
    const parked = await claimOf(before, 'dev-parked-wake');
    await before.release([{ id: parked.id, leaseToken: parked.leaseToken, deviceOffline: true }]);
    const { queue } = upgrading();
    expect(await queue.claim({ max: 10, leaseMs: LEASE })).toEqual([]);
    for (const ready of [() => before.markDeviceOnline('dev-parked-wake'), () => enqueue(queue, 'dev-new-wake')]) {
      const woke = queue.waitForWork(60_000).then(() => 'woke');
      await ready();
      // 60 s of fallback against a jest timeout of 20 s: only a wake-up ends this wait in time.
      expect(await woke).toBe('woke');
      const claimed = await queue.claim({ max: 10, leaseMs: LEASE });
      expect(claimed).toHaveLength(1);
      await queue.ack([{ id: claimed[0]!.id, leaseToken: claimed[0]!.leaseToken, outcome: 'ok' }]);
    }
  }, 20_000);

  it('loses nothing when the upgrading process dies mid-drain and another starts', async () => {
    const before = new ValidatedQueue(v2());
    const ids: string[] = [];
    for (let i = 0; i < 60; i += 1) ids.push(await enqueue(before, `dev-crash-${i % 12}`, { idempotencyKey: `k-${i}` }));
    // The first upgrading process delivers part, then holds leases when it dies (closed without a word).
    const first = upgrading();
    const early = await first.queue.claim({ max: 6, leaseMs: 400 });
    await first.queue.ack(early.slice(0, 3).map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    const held = await first.queue.claim({ max: 20, leaseMs: 400 });
    const newer = [await enqueue(first.queue, 'dev-crash-0'), await enqueue(first.queue, 'dev-crash-fresh')];
    await first.queue.close();
    expect(early.length + held.length).toBeGreaterThan(3);

    // The next process reclaims the dead one's leases and finishes the drain.
    const second = upgrading();
    await waitFor(async () => (await second.queue.reclaimExpired()) > 0, { what: 'the dead process\'s leases to be reclaimed' });
    // A client retries every request after the crash: each answers its first command.
    for (let i = 0; i < 60; i += 1) expect((await second.queue.enqueue(cmd(`dev-crash-${i % 12}`, { idempotencyKey: `k-${i}` }))).id).toBe(ids[i]);
    const all = [...ids, ...newer];
    const delivered = await deliverAll(second.queue, all);
    const unacked = early.slice(3).concat(held).map((c) => c.id);
    const again = delivered.filter((c) => early.slice(0, 3).some((e) => e.id === c.id));
    expect(again).toEqual([]); // what was acked stays acked
    // Delivered twice only what the dead process held.
    const seen = new Map<string, number>();
    for (const c of [...early, ...held, ...delivered]) seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
    expect([...seen].filter(([id, n]) => n > 1 && !unacked.includes(id))).toEqual([]);
    expect([...seen.keys()].sort()).toEqual([...all].sort());
    // dev-crash-0's command after the switch still came after its v2 commands.
    const dev0 = [...early, ...held, ...delivered].filter((c) => c.phyId === 'dev-crash-0').map((c) => c.id);
    expect(dev0.indexOf(newer[0]!)).toBe(dev0.length - 1);
    await waitFor(async () => (await second.queue.store.oldPending()) === 0, { what: 'the v2 layout to be drained' });
  });

  it('pages dead letters and parked devices across both layouts with its own cursor', async () => {
    const before = new ValidatedQueue(v2());
    const kill = async (queue: ValidatedQueue, phyId: string) => {
      const id = await enqueue(queue, phyId, { maxAttempts: 1 });
      const c = await claimOf(queue, phyId);
      await queue.fail([{ id, leaseToken: c.leaseToken, error: 'broken', retryable: true }]);
      return id;
    };
    const oldDead = [await kill(before, 'dead-a'), await kill(before, 'dead-b')];
    const parked = await enqueue(before, 'parked-old');
    await before.markDeviceOffline('parked-old');
    const { queue } = upgrading();
    const newDead = await kill(queue, 'dead-new');
    await queue.markDeviceOffline('parked-new');
    const first = await queue.listDead({ limit: 2 });
    expect(first.items.map((c) => c.id).sort()).toEqual([...oldDead].sort());
    expect(first.nextCursor).toMatch(/^(old|new):/);
    const second = await queue.listDead({ limit: 2, cursor: first.nextCursor! });
    expect(second).toEqual({ items: [expect.objectContaining({ id: newDead, status: 'dead' })], nextCursor: null });
    const phyIds: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await queue.listParkedDevices({ limit: 1, ...(cursor ? { cursor } : {}) });
      phyIds.push(...page.phyIds);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect([...new Set(phyIds)].sort()).toEqual(['parked-new', 'parked-old']);
    expect(await queue.get(parked)).toMatchObject({ status: 'queued' });
    // A cursor of either layout's own form is not one this listing answered.
    await expect(queue.listDead({ cursor: '123:abc' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
  it('reads both layouts\' event logs as one: merged in time, resumable, each command\'s timeline from its own layout', async () => {
    const before = v2();
    const oldId = (await before.enqueueBatch([{ ...cmd('ev-up'), id: before.newCommandId('ev-up'), fingerprint: 'f' }]))[0] as { id: string };
    await before.markDeviceOffline('ev-up-parked');
    const { queue, next } = upgrading();
    const newId = await enqueue(queue, 'ev-up-new');
    const claimed = await claimOf(queue, 'ev-up');
    await queue.ack([{ id: claimed.id, leaseToken: claimed.leaseToken, outcome: 'ok', replica: 'ingress-1' }]);
    // Parked in v2 before the switch: the old log's device events are passed over, and v3 never had it parked, so
    // the reader sees no device event for it (device events start with the new layout's parked state).
    await queue.markDeviceOnline('ev-up-parked');
    const all = [];
    let after: string | null = null;
    for (;;) {
      const page = await queue.readEvents({ after, limit: 2 });
      if (page.events.length === 0) break;
      all.push(...page.events);
      after = page.cursor;
    }
    expect(all.map((e) => [e.type, e.commandId ?? e.phyId])).toEqual([
      ['command.queued', oldId.id],
      ['command.queued', newId],
      ['command.delivered', oldId.id],
      ['command.acked', oldId.id],
    ]);
    for (let i = 1; i < all.length; i += 1) expect(all[i]!.time).toBeGreaterThanOrEqual(all[i - 1]!.time);
    const resumed = await queue.readEvents({ after: all[1]!.cursor });
    expect(resumed.events.map((e) => e.id)).toEqual(all.slice(2).map((e) => e.id));
    expect((await queue.commandEvents(oldId.id))!.map((e) => e.type)).toEqual(['command.queued', 'command.delivered', 'command.acked']);
    expect((await queue.commandEvents(newId))!.map((e) => e.type)).toEqual(['command.queued']);
    expect(await next.commandEvents(oldId.id)).toBeNull();
    // A release that parks a v2 command's device parks it in v3 too: one device.offline, from v3.
    const [held] = await before.enqueueBatch([{ ...cmd('ev-up-held'), id: before.newCommandId('ev-up-held'), fingerprint: 'f' }]);
    const again = await claimOf(queue, 'ev-up-held');
    expect(again.id).toBe((held as { id: string }).id);
    await queue.release([{ id: again.id, leaseToken: again.leaseToken, deviceOffline: true }]);
    const device = (await queue.readEvents({ after: all.at(-1)!.cursor })).events.filter((e) => e.type.startsWith('device.'));
    expect(device.map((e) => [e.type, e.phyId, e.id.startsWith('v3:')])).toEqual([['device.offline', 'ev-up-held', true]]);
  });
});
