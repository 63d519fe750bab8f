import Redis from 'ioredis';
import { RedisQueue, RedisKeys, ValidatedQueue } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { QueueScripts, commandName, SCRIPT_VERSION } from '../../src/queue/redis/scripts';
import { cmd } from './conformance';

/**
 * Redis-only properties: scripts are safe to run twice (ioredis re-sends after a reconnect),
 * keys follow keys.ts with one hash tag per shard, scripts read Redis' clock, and are
 * registered under versioned names.
 */
describe('RedisQueue scripts', () => {
  let client: Redis;
  let queue: ValidatedQueue<RedisQueue>;
  let prefix: string;

  beforeEach(() => {
    client = new Redis(testRedisUrl());
    prefix = uniquePrefix('scripts');
    queue = new ValidatedQueue(new RedisQueue(client, { prefix, shards: 1, retentionMs: 60_000 }));
  });

  afterEach(async () => {
    await queue.close();
    await client.quit();
  });

  it('claims nothing more when a claim request is run again, and answers the same commands', async () => {
    await queue.enqueueBatch(Array.from({ length: 5 }, (_, i) => cmd(`rerun-${i}`)));
    const first = await queue.store.claimShard(0, 3, 60_000, 'request-1');
    const again = await queue.store.claimShard(0, 3, 60_000, 'request-1');
    expect(first).toHaveLength(3);
    expect(again.map((c) => [c.id, c.leaseToken, c.attempts])).toEqual(first.map((c) => [c.id, c.leaseToken, c.attempts]));
    expect((await queue.stats()).total).toMatchObject({ inflight: 3, pending: 2 });
    const rest = await queue.store.claimShard(0, 10, 60_000, 'request-2');
    expect(rest).toHaveLength(2);
    expect(rest.map((c) => c.id)).not.toEqual(expect.arrayContaining(first.map((c) => c.id)));
  });

  it('answers a re-sent ack, fail or release by the same holder as before, without a second effect', async () => {
    await queue.enqueueBatch([cmd('twice-ack'), cmd('twice-fail'), cmd('twice-release')]);
    const claimed = await queue.claim({ max: 3, leaseMs: 60_000 });
    const by = (phyId: string) => claimed.find((c) => c.phyId === phyId)!;
    const ack = { id: by('twice-ack').id, leaseToken: by('twice-ack').leaseToken, outcome: 'ok' as const };
    expect(await queue.ack([ack])).toEqual(await queue.ack([ack]));

    const fail = { id: by('twice-fail').id, leaseToken: by('twice-fail').leaseToken, error: 'busy', retryable: true, retryDelayMs: 60_000 };
    const [f1] = await queue.fail([fail]);
    const [f2] = await queue.fail([fail]);
    expect(f1).toEqual({ id: fail.id, ok: true, status: 'queued' });
    expect(f2).toEqual(f1);
    expect(await queue.get(fail.id)).toMatchObject({ attempts: 1, status: 'queued', waitingFor: 'backoff' });

    const release = { id: by('twice-release').id, leaseToken: by('twice-release').leaseToken };
    await queue.release([release]);
    await queue.release([release]);
    expect(await queue.get(release.id)).toMatchObject({ attempts: 0, status: 'queued' });
    expect(await queue.countDevice('twice-release')).toBe(1);
  });

  it('creates one command when an enqueue script is run twice with the same id', async () => {
    const keys = new RedisKeys(prefix, 1);
    const scripts = new QueueScripts(client);
    const id = keys.newCommandId(0);
    const args = [1, 1000, 1000, 60_000, keys.wakeChannel(), 1, id, 'twice-enqueue', Buffer.from([0, 1, 2]), 5, 60_000, 10_000, 5, '', ''];
    const first = await scripts.run('enqueue', keys.shardKeyList(0), args);
    const second = await scripts.run('enqueue', keys.shardKeyList(0), args);
    expect(second).toEqual(first);
    expect(await queue.countDevice('twice-enqueue')).toBe(1);
    expect((await queue.get(id))?.payload).toEqual(Buffer.from([0, 1, 2]));
  });

  it('keeps every key under <prefix>:{<shard>}: as keys.ts builds them', async () => {
    const sharded = new ValidatedQueue(new RedisQueue(client, { prefix: `${prefix}-16`, shards: 16 }));
    const { id } = await sharded.enqueue(cmd('layout-dev', { idempotencyKey: 'k1' }));
    await sharded.enqueue(cmd('layout-dev'));
    const [claimed] = await sharded.claim({ max: 1, leaseMs: 60_000 });
    const k = sharded.store.keys;
    const shard = k.shardOf('layout-dev');
    expect(k.shardOfId(id)).toBe(shard);
    expect(await client.exists(k.command(id)!)).toBe(1);
    expect(await client.sismember(k.deviceInflight('layout-dev'), claimed.id)).toBe(1);
    expect(await client.zcard(k.deviceLine('layout-dev'))).toBe(1);
    expect(await client.get(k.idempotency('layout-dev', 'k1'))).toBe(id);
    expect(await client.zscore(k.shard(shard).leases, claimed.id)).toBe(String(claimed.leaseExpiresAt));
    const [, all] = await client.scan('0', 'MATCH', `${prefix}-16:*`, 'COUNT', 10_000);
    expect(all.length).toBeGreaterThan(5);
    for (const key of all) expect(key.startsWith(k.shardPrefix(shard))).toBe(true);
    await sharded.close();
  });

  it('stamps times from the Redis clock (TIME) and keeps finished records only for the retention', async () => {
    const toMs = ([s, us]: [string, string]) => Number(s) * 1000 + Math.floor(Number(us) / 1000);
    const before = toMs((await client.time()) as unknown as [string, string]);
    const { id } = await queue.enqueue(cmd('clock'));
    const after = toMs((await client.time()) as unknown as [string, string]);
    const stored = await queue.get(id);
    expect(stored!.createdAt).toBeGreaterThanOrEqual(before);
    expect(stored!.createdAt).toBeLessThanOrEqual(after);
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    await queue.ack([{ id, leaseToken: claimed.leaseToken, outcome: 'ok' }]);
    const ttl = await client.pttl(queue.store.keys.command(id)!);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('registers each script under a versioned command name', () => {
    expect(commandName('claim')).toBe(`outbound_v${SCRIPT_VERSION}_claim`);
    expect(typeof (client as unknown as Record<string, unknown>)[commandName('claim')]).toBe('function');
    expect(typeof (client as unknown as Record<string, unknown>)[commandName('replay-dead')]).toBe('function');
  });
});
