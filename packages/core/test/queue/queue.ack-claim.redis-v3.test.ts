import Redis from 'ioredis';
import { isOutboundError, RedisQueueV3, ValidatedQueue, type ClaimedCommand } from '@outbound/core';
import { startRedisServer, testRedisUrl, uniquePrefix, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { cmd } from './conformance';

const ok = (c: ClaimedCommand) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const });

/**
 * An ack that claims the caller's next commands in its own script (ack-1.lua with a claim), and
 * ackAndClaim, which plans that claim across shards from what the shards last answered.
 */
describe('RedisQueueV3 ack that claims', () => {
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<RedisQueueV3>> = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  const open = (shards: number, options: { maxInFlightPerDevice?: number } = {}): { client: Redis; store: RedisQueueV3; queue: ValidatedQueue<RedisQueueV3> } => {
    const client = new Redis(testRedisUrl());
    clients.push(client);
    const store = new RedisQueueV3(client, { prefix: uniquePrefix('ack-claim'), shards, retentionMs: 60_000, ...options });
    const queue = new ValidatedQueue(store);
    queues.push(queue);
    return { client, store, queue };
  };

  it('acks, then claims the best ready commands of the shard in the same script, leased as a claim leases', async () => {
    const { client, store, queue } = open(1);
    const [low, high, mid] = (await queue.enqueueBatch([cmd('ac-a', { priority: 1 }), cmd('ac-b', { priority: 9 }), cmd('ac-c', { priority: 5 })])).map((r) => (isOutboundError(r) ? '' : r.id));
    const [first] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect(first!.id).toBe(high);
    const before = Date.now();
    const { answers, claimed } = await store.ackClaimShard(0, [ok(first!)], { max: 5, leaseMs: 30_000, bound: -1, token: 'ack-claim-token-1' });
    expect(answers).toEqual([{ code: 0, status: 'acked' }]);
    expect(claimed.map((c) => c.id)).toEqual([mid, low]);
    for (const c of claimed) {
      expect(c).toMatchObject({ leaseToken: 'ack-claim-token-1', attempts: 1 });
      expect(c.leaseExpiresAt).toBeGreaterThanOrEqual(before + 30_000 - 1_000);
      expect(await queue.get(c.id)).toMatchObject({ status: 'inflight', attempts: 1 });
    }
    expect(await queue.get(high!)).toMatchObject({ status: 'acked' });
    expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 2 });
    // the claim record is the one every claim writes: the lease entry and the request hash
    const shard = store.keys.shardPrefix(0);
    expect(Number(await client.zscore(`${shard}leases`, 'ack-claim-token-1'))).toBe(claimed[0]!.leaseExpiresAt);
    expect(await client.hgetall(`${shard}claim:ack-claim-token-1`)).toEqual({ ids: `${mid}${low}`, left: '2' });
    // and the ack reads it: the batch's lease entry goes with its last command
    await queue.ack([ok(claimed[0]!)]);
    expect(await client.zscore(`${shard}leases`, 'ack-claim-token-1')).not.toBeNull();
    await queue.ack([ok(claimed[1]!)]);
    expect(await client.zscore(`${shard}leases`, 'ack-claim-token-1')).toBeNull();
    expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 0 });
  });

  it('gives what it claimed back through the lease reaper when the lease lapses', async () => {
    const { store, queue } = open(1);
    await queue.enqueueBatch([cmd('reap-a'), cmd('reap-b'), cmd('reap-c')]);
    const [first] = await queue.claim({ max: 1, leaseMs: 60_000 });
    const { claimed } = await store.ackClaimShard(0, [ok(first!)], { max: 2, leaseMs: 50, bound: -1, token: 'short-lease-token' });
    expect(claimed).toHaveLength(2);
    await waitFor(async () => (await queue.reclaimExpired()) === 2, { what: 'the merged claim to lapse and be reclaimed' });
    for (const c of claimed) expect(await queue.get(c.id)).toMatchObject({ status: 'queued', attempts: 1 });
    const late = await queue.ack([ok(claimed[0]!)]);
    expect(!late[0]!.ok && isOutboundError(late[0]!.error, 'LEASE_LOST')).toBe(true);
    expect((await queue.claim({ max: 5, leaseMs: 60_000 })).map((c) => c.attempts)).toEqual([2, 2]);
  });

  it('answers a re-sent call with what its first run claimed, acking and claiming nothing more', async () => {
    const { store, queue } = open(1);
    await queue.enqueueBatch(Array.from({ length: 6 }, (_, i) => cmd(`rerun-${i}`)));
    const [first] = await queue.claim({ max: 1, leaseMs: 60_000 });
    const call = () => store.ackClaimShard(0, [ok(first!)], { max: 2, leaseMs: 60_000, bound: -1, token: 'rerun-claim-token' });
    const once = await call();
    const twice = await call();
    expect(twice.answers).toEqual(once.answers);
    expect(twice.claimed.map((c) => [c.id, c.leaseToken, c.attempts, c.leaseExpiresAt])).toEqual(once.claimed.map((c) => [c.id, c.leaseToken, c.attempts, c.leaseExpiresAt]));
    expect((await queue.stats()).total).toMatchObject({ pending: 3, inflight: 2 });
    // once one of them is acked, a re-run answers only the one the token still holds
    await queue.ack([ok(once.claimed[0]!)]);
    expect((await call()).claimed.map((c) => c.id)).toEqual([once.claimed[1]!.id]);
    expect((await queue.stats()).total).toMatchObject({ pending: 3, inflight: 1 });
  });

  it('claims the next command of the device the ack freed, keeps maxInFlightPerDevice and takes nothing above its bound', async () => {
    const { client, store, queue } = open(1, { maxInFlightPerDevice: 1 });
    const ids = (await queue.enqueueBatch([cmd('own-a', { priority: 9 }), cmd('own-a', { priority: 9 }), cmd('own-b', { priority: 1 })])).map((r) => (isOutboundError(r) ? '' : r.id));
    const [first] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect(first!.id).toBe(ids[0]);
    // a bound below own-b's score (its priority 1 head): only own-a's next (priority 9) may be taken
    const bound = Number(await client.zscore(`${store.keys.shardPrefix(0)}ready`, 'own-b')) - 1;
    const next = await store.ackClaimShard(0, [ok(first!)], { max: 5, leaseMs: 60_000, bound, token: 'bounded-claim' });
    expect(next.claimed.map((c) => c.id)).toEqual([ids[1]]);
    // own-a is at its limit: a claim of 5 takes own-b alone
    const rest = await store.ackClaimShard(0, [], { max: 5, leaseMs: 60_000, bound: -1, token: 'rest-claim' });
    expect(rest.claimed.map((c) => c.id)).toEqual([ids[2]]);
  });

  it('promotes work whose time came before it claims', async () => {
    const { store, queue } = open(1);
    const [nowId] = (await queue.enqueueBatch([cmd('due-a')])).map((r) => (isOutboundError(r) ? '' : r.id));
    const deliverAt = Date.now() + 150;
    const { id: laterId } = await queue.enqueue(cmd('due-b', { deliverAt }));
    const [first] = await queue.claim({ max: 5, leaseMs: 60_000 });
    expect(first!.id).toBe(nowId);
    await waitFor(async () => Date.now() > deliverAt + 20, { what: 'the delivery time to pass' });
    const { claimed } = await store.ackClaimShard(0, [ok(first!)], { max: 5, leaseMs: 60_000, bound: -1, token: 'due-claim' });
    expect(claimed.map((c) => c.id)).toEqual([laterId]);
  });

  it('over shards, claims in the ack only what beats the best known elsewhere, and in the same write what the plan has to spare', async () => {
    const { store, queue } = open(16);
    // two devices on different shards
    let other = 'xs-1';
    for (let i = 2; store.keys.shardOf(other) === store.keys.shardOf('xs-0'); i += 1) other = `xs-${i}`;
    const claimScored = jest.spyOn(store as unknown as { claimScored: (...args: unknown[]) => unknown }, 'claimScored');
    await queue.enqueueBatch([cmd('xs-0', { priority: 5 }), cmd('xs-0', { priority: 5 }), cmd(other, { priority: 9 }), cmd(other, { priority: 1 })]);
    const [a] = await queue.claim({ max: 1, leaseMs: 60_000 }); // every shard answers: the plan is known
    expect(a!.phyId).toBe(other);
    // the best ready command is xs-0's (priority 5 over 1), on another shard than the ack's, and
    // the ack's shard had nothing else ready: its script claims only what the ack frees that
    // beats it (other's priority 1 does not), the caller claims
    claimScored.mockClear();
    const first = await queue.ackAndClaim!([ok(a!)], { max: 1, leaseMs: 60_000 });
    expect(first).toEqual({ results: [{ id: a!.id, ok: true, status: 'acked' }], claimed: [] });
    expect(claimScored).not.toHaveBeenCalled();
    const [b] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect([b!.phyId, b!.priority]).toEqual(['xs-0', 5]);
    // now the ack's shard holds the best (xs-0's second, freed by the ack): claimed in the ack's own script
    claimScored.mockClear();
    const second = await queue.ackAndClaim!([ok(b!)], { max: 1, leaseMs: 60_000 });
    expect(second.claimed.map((c) => [c.phyId, c.priority])).toEqual([['xs-0', 5]]);
    expect(claimScored).not.toHaveBeenCalled();
    // with room beyond the ack (max 2, one ack), the best known elsewhere is claimed in the same write
    const third = await queue.ackAndClaim!([ok(second.claimed[0]!)], { max: 2, leaseMs: 60_000 });
    expect(third.claimed.map((c) => [c.phyId, c.priority])).toEqual([[other, 1]]);
    expect(claimScored.mock.calls.map((call) => call[0])).toEqual([store.keys.shardOf(other)]);
    const last = await queue.ackAndClaim!([ok(third.claimed[0]!)], { max: 1, leaseMs: 60_000 });
    expect(last).toEqual({ results: [{ id: third.claimed[0]!.id, ok: true, status: 'acked' }], claimed: [] });
    expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 0 });
  });

  it('leases a claim of one command under a token ending in ".", closed by its one outcome without counting the batch down', async () => {
    const { client, store, queue } = open(1);
    await queue.enqueueBatch([cmd('one-a'), cmd('one-b'), cmd('one-c'), cmd('one-d')]);
    const shard = store.keys.shardPrefix(0);
    const [first] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect(first!.leaseToken).toMatch(/^[\w-]{15}\.$/);
    expect(await client.hgetall(`${shard}claim:${first!.leaseToken}`)).toEqual({ ids: first!.id });
    // the ack that claims one next command leases it the same way
    const { claimed } = await queue.ackAndClaim!([ok(first!)], { max: 1, leaseMs: 60_000 });
    expect(claimed).toHaveLength(1);
    expect(claimed[0]!.leaseToken).toMatch(/\.$/);
    // the first lease is closed (its entry gone, its request hash kept for a re-sent claim) with no `left` written
    expect(await client.zscore(`${shard}leases`, first!.leaseToken)).toBeNull();
    expect(await client.hgetall(`${shard}claim:${first!.leaseToken}`)).toEqual({ ids: first!.id });
    expect(await client.pttl(`${shard}claim:${first!.leaseToken}`)).toBeGreaterThan(0);
    await queue.ack([ok(claimed[0]!)]);
    expect(await client.zscore(`${shard}leases`, claimed[0]!.leaseToken)).toBeNull();
    // a claim or an ack that claims under such a token takes one command, whatever it asks for
    expect(await store.claimShard(0, 3, 60_000, 'one-command-tok.')).toHaveLength(1);
    expect((await store.ackClaimShard(0, [], { max: 3, leaseMs: 60_000, bound: -1, token: 'one-command-ack.' })).claimed).toHaveLength(1);
    expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 2 });
  });

  it('publishes a wake message only when its acks leave ready work in a shard whose ready set was empty', async () => {
    const { client, store, queue } = open(1, { maxInFlightPerDevice: 1 });
    const subscriber = new Redis(testRedisUrl());
    clients.push(subscriber);
    const heard: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => heard.push(message));
    await subscriber.subscribe(store.keys.wakeChannel());
    // the messages the calls so far published, in order: a marker published last comes after them all
    let marks = 0;
    const published = async (): Promise<number> => {
      const mark = `mark-${(marks += 1)}`;
      await client.publish(store.keys.wakeChannel(), mark);
      await waitFor(async () => heard.includes(mark), { what: 'the marker message' });
      const wakes = heard.indexOf(mark);
      heard.splice(0, wakes + 1);
      return wakes;
    };
    await queue.enqueueBatch([...Array.from({ length: 5 }, () => cmd('wk-a')), cmd('wk-b'), cmd('wk-b')]);
    const [a1, b1] = await queue.claim({ max: 2, leaseMs: 60_000 });
    await published();
    // ready empty, both devices freed, one claimed in the same call: the other is left ready
    const { claimed } = await store.ackClaimShard(0, [ok(a1!), ok(b1!)], { max: 1, leaseMs: 60_000, bound: -1, token: 'wake-claim-1' });
    expect(claimed).toHaveLength(1);
    expect(await published()).toBe(1);
    // ready holds a device: an ack that frees another wakes nobody
    await queue.ack([ok(claimed[0]!)]);
    expect(await published()).toBe(0);
    // ready empty again (both heads claimed): an ack that claims what it frees wakes nobody
    const both = await queue.claim({ max: 2, leaseMs: 60_000 });
    expect(both.map((c) => c.phyId).sort()).toEqual(['wk-a', 'wk-b']);
    const next = await store.ackClaimShard(0, [ok(both.find((c) => c.phyId === 'wk-a')!)], { max: 1, leaseMs: 60_000, bound: -1, token: 'wake-claim-2' });
    expect(next.claimed.map((c) => c.phyId)).toEqual(['wk-a']);
    expect(await published()).toBe(0);
    // nor does a plain ack that frees nothing more (wk-b has nothing queued)
    await queue.ack([ok(both.find((c) => c.phyId === 'wk-b')!)]);
    expect(await published()).toBe(0);
    // a plain ack that makes wk-a ready in the empty shard wakes
    await queue.ack([ok(next.claimed[0]!)]);
    expect(await published()).toBe(1);
    expect(await queue.claim({ max: 5, leaseMs: 60_000 })).toHaveLength(1);
    expect(await published()).toBe(0);
  });

  it('over shards, may pass over the next command of a device its own ack frees for the best known elsewhere, which the next claim takes', async () => {
    const { queue, store } = open(16);
    // two devices on one shard (one with two commands) and a third on another shard
    const onShard = (shard: number, from: number): string => {
      for (let i = from; ; i += 1) if (store.keys.shardOf(`pp-${i}`) === shard) return `pp-${i}`;
    };
    const busy = 'pp-0';
    const worse = onShard(store.keys.shardOf(busy), 1);
    let elsewhere = 'pp-x1';
    for (let i = 2; store.keys.shardOf(elsewhere) === store.keys.shardOf(busy); i += 1) elsewhere = `pp-x${i}`;
    await queue.enqueueBatch([cmd(busy, { priority: 9 }), cmd(busy, { priority: 9 }), cmd(worse, { priority: 1 }), cmd(elsewhere, { priority: 5 })]);
    const [a] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect([a!.phyId, a!.priority]).toEqual([busy, 9]);
    // the ack's shard holds priority 1 at best, the other priority 5: that is claimed with the ack,
    // though the ack made busy's second (priority 9) ready
    const next = await queue.ackAndClaim!([ok(a!)], { max: 1, leaseMs: 60_000 });
    expect(next.claimed.map((c) => [c.phyId, c.priority])).toEqual([[elsewhere, 5]]);
    // which the next claim takes, before the worse one of its shard
    expect((await queue.claim({ max: 1, leaseMs: 60_000 })).map((c) => [c.phyId, c.priority])).toEqual([[busy, 9]]);
    expect((await queue.claim({ max: 1, leaseMs: 60_000 })).map((c) => [c.phyId, c.priority])).toEqual([[worse, 1]]);
  });

  it('refuses a claim size or lease that is not a positive integer', async () => {
    const { queue } = open(1);
    await expect(queue.ackAndClaim!([], { max: 0, leaseMs: 1_000 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(queue.ackAndClaim!([], { max: 1, leaseMs: 0.5 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('RedisQueueV3 ack that claims at claim batch 1: its Redis calls', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis.stop());

  it('closes the acked lease and claims the next command without a re-run check, a HINCRBY or a ZCARD', async () => {
    const client = new Redis(redis.url);
    const queue = new ValidatedQueue(new RedisQueueV3(client, { prefix: uniquePrefix('ack-claim-calls'), shards: 1, maxInFlightPerDevice: 1 }));
    try {
      await queue.enqueueBatch([cmd('calls-a'), cmd('calls-b'), cmd('calls-a')]);
      const [first] = await queue.claim({ max: 1, leaseMs: 60_000 });
      await client.config('RESETSTAT');
      // the ack frees calls-a's next, the claim takes calls-b's head (the older): one device in, one out
      const { results, claimed } = await queue.ackAndClaim!([ok(first!)], { max: 1, leaseMs: 60_000 });
      expect(results[0]).toMatchObject({ ok: true });
      expect(claimed.map((c) => c.phyId)).toEqual(['calls-b']);
      const info = await client.info('commandstats');
      const calls = new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
      expect(calls.get('hincrby')).toBeUndefined();
      expect(calls.get('zcard')).toBeUndefined();
      // the device states (calls-a's and calls-b's): no HGET of the claim's request hash
      expect(calls.get('hget')).toBe(2);
      expect((await queue.stats()).total).toMatchObject({ pending: 1, inflight: 1 });
    } finally {
      await queue.close();
      await client.quit();
    }
  });
});
