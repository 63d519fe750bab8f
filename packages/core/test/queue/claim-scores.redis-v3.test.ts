import Redis from 'ioredis';
import { isOutboundError, RedisQueueV3, ValidatedQueue, type ClaimedCommand, type LocalClaim, type LocalClaimer } from '@outbound/core';
import { startRedisServer, uniquePrefix, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { cmd } from './conformance';

/**
 * A private redis-server for the enclosing describe (its command counts are that block's alone),
 * and per test a client, a v3 store of `shards` shards and its validated queue, handed to `use`,
 * with the counts reset.
 */
function privateV3Store(prefix: string, shards: number, use: (made: { client: Redis; store: RedisQueueV3; queue: ValidatedQueue<RedisQueueV3> }) => void): void {
  let redis: RedisServerHandle;
  let made: { client: Redis; store: RedisQueueV3; queue: ValidatedQueue<RedisQueueV3> };
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    const client = new Redis(redis.url);
    const store = new RedisQueueV3(client, { prefix: uniquePrefix(prefix), shards, retentionMs: 60_000 });
    made = { client, store, queue: new ValidatedQueue(store) };
    use(made);
    await client.config('RESETSTAT');
  });
  afterEach(async () => {
    await made.queue.close();
    await made.client.quit();
  });
}

/** How many times Redis ran `command` since the last RESETSTAT. */
async function callsSinceReset(client: Redis, command: string): Promise<number> {
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await client.info('commandstats'))?.[1] ?? 0);
}

/** A claimer that takes up to `room` per enqueue call and keeps what each call settled. */
class RecordingClaimer implements LocalClaimer {
  readonly settled: ClaimedCommand[][] = [];
  constructor(public room: number) {}
  offer(phyIds: readonly string[]): LocalClaim | null {
    const max = Math.min(phyIds.length, this.room);
    if (max <= 0) return null;
    return { max, leaseMs: 60_000, settle: (claimed) => this.settled.push(claimed) };
  }
}

/**
 * The v3 claims (claim, an ack that claims, an enqueue that claims) take a device's head by id
 * alone (ZRANGE and ZREMRANGEBYRANK of its line): a ZPOPMIN's reply carries the head's score,
 * which Redis prints as text, and nothing reads it. The ack answers each item with one integer.
 * A private redis-server, so its command counts are this suite's alone.
 */
describe('RedisQueueV3 claims: a line head taken without its score', () => {
  let client: Redis;
  let store: RedisQueueV3;
  let queue: ValidatedQueue<RedisQueueV3>;
  privateV3Store('v3-scores', 1, (made) => ({ client, store, queue } = made));

  const calls = (command: string) => callsSinceReset(client, command);
  const line = (phyId: string) => `${store.keys.shardPrefix(0)}line:${phyId}`;

  it('claims and acks in per-device order with no ZPOPMIN, and answers each ack', async () => {
    const a1 = await queue.enqueue(cmd('sc-a'));
    const a2 = await queue.enqueue(cmd('sc-a'));
    const b1 = await queue.enqueue(cmd('sc-b', { priority: 9 }));
    const first = await queue.claim({ max: 10, leaseMs: 60_000 });
    expect(first.map((c) => c.id)).toEqual([b1.id, a1.id]);
    expect(await client.zrange(line('sc-a'), 0, -1)).toEqual([a2.id]);
    expect(await client.exists(line('sc-b'))).toBe(0);
    const held = first.find((c) => c.id === a1.id)!;
    // an ack that claims: the acked device's next command, taken from its line
    const { results, claimed } = await queue.ackAndClaim!([{ id: held.id, leaseToken: held.leaseToken, outcome: 'ok' }], { max: 1, leaseMs: 60_000 });
    expect(results[0]).toMatchObject({ ok: true, status: 'acked' });
    expect(claimed.map((c) => c.id)).toEqual([a2.id]);
    expect(await client.exists(line('sc-a'))).toBe(0);
    // a second ack of the same command by its holder, one by another holder, and an unknown id
    const again = await queue.ack([
      { id: held.id, leaseToken: held.leaseToken, outcome: 'ok' },
      { id: a2.id, leaseToken: 'another-holder', outcome: 'ok' },
      { id: '00000000-0000-7000-8000-000000000000', leaseToken: held.leaseToken, outcome: 'ok' },
    ]);
    expect(again[0]).toMatchObject({ ok: true, status: 'acked' });
    expect(again[1]).toMatchObject({ ok: false, error: { code: 'LEASE_LOST', details: { status: 'inflight' } } });
    expect(again[2]).toMatchObject({ ok: false, error: { code: 'COMMAND_NOT_FOUND' } });
    expect(await calls('zpopmin')).toBe(0);
    expect(await calls('zremrangebyrank')).toBeGreaterThanOrEqual(3);
  });

  it('leaves an expired head in its line when an enqueue claims, for a claim to expire', async () => {
    const stale = await queue.enqueue(cmd('sc-ttl', { ttlMs: 1 }));
    const created = (await queue.get(stale.id))!.createdAt;
    await waitFor(async () => Date.now() > created + 5);
    const claimer = new RecordingClaimer(10);
    store.setLocalClaimer(claimer);
    const fresh = await queue.enqueue(cmd('sc-ttl'));
    expect(claimer.settled.flat().map((c) => c.id)).not.toContain(stale.id);
    store.setLocalClaimer(null);
    expect((await queue.get(stale.id))?.status).not.toBe('inflight');
    const claimed = await queue.claim({ max: 10, leaseMs: 60_000 });
    const taken = [...claimer.settled.flat(), ...claimed].map((c) => c.id);
    expect(taken).toEqual([fresh.id]);
    expect((await queue.get(stale.id))?.status).toBe('expired');
    expect(await calls('zpopmin')).toBe(0);
  });

  it('closes the lease of an enqueue that claimed one command with its ack, without counting it down', async () => {
    const claimer = new RecordingClaimer(1);
    store.setLocalClaimer(claimer);
    const made = await queue.enqueue(cmd('sc-one'));
    store.setLocalClaimer(null);
    const [held] = claimer.settled.flat();
    expect(held?.id).toBe(made.id);
    const leases = `${store.keys.shardPrefix(0)}leases`;
    expect(await client.zcard(leases)).toBe(1);
    const results = await queue.ack([{ id: held!.id, leaseToken: held!.leaseToken, outcome: 'ok' }]);
    expect(results[0]).toMatchObject({ ok: true, status: 'acked' });
    // the lease entry is gone and its request hash kept only for a while, with no HINCRBY
    expect(await client.zcard(leases)).toBe(0);
    expect(await client.pttl(`${store.keys.shardPrefix(0)}claim:${held!.leaseToken}`)).toBeGreaterThan(0);
    expect(await calls('hincrby')).toBe(0);
  });

  it('claims the one command an enqueue makes for an idle device without writing it to its line, and notes its expiry only when it goes back', async () => {
    const first = await queue.enqueue(cmd('sc-straight-2'));
    const claimer = new RecordingClaimer(2);
    store.setLocalClaimer(claimer);
    await client.config('RESETSTAT');
    // one command for an idle device (taken straight), one behind a device's queued command
    const made = await queue.enqueueBatch([cmd('sc-straight'), cmd('sc-straight-2')]);
    store.setLocalClaimer(null);
    const [mine, behind] = made.map((r) => (isOutboundError(r) ? '' : r.id));
    const settled = claimer.settled.flat();
    expect(settled.map((c) => c.id).sort()).toEqual([mine, first.id].sort());
    // the idle device's command: no line entry written and taken out again, no `expiry` entry;
    // the other device's head went through its line (ZADD, ZRANGE, ZREMRANGEBYRANK)
    expect(await calls('zadd')).toBe(2); // sc-straight-2's line, the lease entry
    expect(await calls('zrange')).toBe(1);
    expect(await calls('zremrangebyrank')).toBe(1);
    const prefix = store.keys.shardPrefix(0);
    expect(await client.exists(line('sc-straight'))).toBe(0);
    expect(await client.zscore(`${prefix}expiry`, 'sc-straight')).toBeNull();
    expect(await client.zrange(line('sc-straight-2'), 0, -1)).toEqual([behind]);
    expect((await queue.get(mine!))?.status).toBe('inflight');
    // released, it goes back to its line and its device's expiry entry, and is claimed again
    const held = settled.find((c) => c.id === mine)!;
    expect((await queue.release([{ id: held.id, leaseToken: held.leaseToken }]))[0]).toMatchObject({ ok: true });
    expect(await client.zrange(line('sc-straight'), 0, -1)).toEqual([mine]);
    expect(await client.zscore(`${prefix}expiry`, 'sc-straight')).not.toBeNull();
    const again = await queue.claim({ max: 10, leaseMs: 60_000 });
    expect(again.map((c) => c.id)).toContain(mine);
  });

  it('reads `ready` once when a claim takes every ready device, and answers no best scores without a read', async () => {
    const made = [await queue.enqueue(cmd('sc-e1')), await queue.enqueue(cmd('sc-e2')), await queue.enqueue(cmd('sc-e3'))];
    await client.config('RESETSTAT');
    const claimed = await queue.claim({ max: 10, leaseMs: 60_000 });
    expect(claimed.map((c) => c.id).sort()).toEqual(made.map((c) => c.id).sort());
    // one ZRANGE of `ready` (three devices where ten were asked: it is empty after) and one of
    // each line's head; a second read of `ready` would only find it empty
    expect(await calls('zrange')).toBe(4);
    expect(await client.zcard(`${store.keys.shardPrefix(0)}ready`)).toBe(0);
    // one TIME, read once the claim found a ready device; a claim that finds none reads none
    expect(await calls('time')).toBe(1);
    expect(await queue.claim({ max: 10, leaseMs: 60_000 })).toEqual([]);
    expect(await calls('time')).toBe(1);
    // a claim of what is left still finds work made ready since
    const late = await queue.enqueue(cmd('sc-e4'));
    expect((await queue.claim({ max: 10, leaseMs: 60_000 })).map((c) => c.id)).toEqual([late.id]);
  });
});

/**
 * An ack that claims on a shard whose `ready` set its claim found empty answers the shard's
 * best scores (none) without reading the set again. Two shards, so the scripts answer scores.
 */
describe('RedisQueueV3 ack that claims: no second read of an empty ready set', () => {
  let client: Redis;
  let store: RedisQueueV3;
  let queue: ValidatedQueue<RedisQueueV3>;
  privateV3Store('v3-scores2', 2, (made) => ({ client, store, queue } = made));

  const calls = (command: string) => callsSinceReset(client, command);

  it('acks, claims nothing from an empty shard, and reads `ready` once', async () => {
    const made = await queue.enqueue(cmd('sc-ack'));
    // a claim through the planner: the scripts answer scores from now on
    const [held] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect(held?.id).toBe(made.id);
    const shard = store.keys.shardOfId(made.id)!;
    await client.config('RESETSTAT');
    const { answers, claimed } = await store.ackClaimShard(shard, [{ id: held!.id, leaseToken: held!.leaseToken, outcome: 'ok' }], {
      max: 1,
      leaseMs: 60_000,
      bound: -1,
      token: 'empty-ready-claim.',
    });
    // the claim's read of `ready` (empty), and no read for the best scores after it; nothing
    // is due and nothing was claimed: no TIME
    expect(await calls('zrange')).toBe(1);
    expect(await calls('time')).toBe(0);
    expect(answers).toHaveLength(1);
    expect(claimed).toEqual([]);
    expect((await queue.get(made.id))?.status).toBe('acked');
    // work enqueued since is claimed as usual
    const next = await queue.enqueue(cmd('sc-ack'));
    expect((await queue.claim({ max: 1, leaseMs: 60_000 })).map((c) => c.id)).toEqual([next.id]);
  });
});
