import Redis from 'ioredis';
import { RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { startRedisServer, uniquePrefix, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { cmd } from './conformance';

/**
 * The v3 enqueue leaves out the `ready` and `expiry` writes the shard's bounds (the lowest
 * priority and the highest TTL queued since it was last empty, kept in `meta`) prove
 * unchanged, and writes them whenever a command could move its device's place: a higher
 * priority, a shorter TTL, a dead letter queued again, a meta written by an earlier release.
 * A private redis-server, so its command counts are this suite's alone.
 */
describe('RedisQueueV3 enqueue: ready and expiry writes left out only when they change nothing', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let store: RedisQueueV3;
  let queue: ValidatedQueue<RedisQueueV3>;
  let prefix: string;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(() => {
    client = new Redis(redis.url);
    prefix = uniquePrefix('v3-bounds');
    store = new RedisQueueV3(client, { prefix, shards: 1, retentionMs: 60_000 });
    queue = new ValidatedQueue(store);
  });
  afterEach(async () => {
    await queue.close();
    await client.quit();
  });

  const meta = () => `${store.keys.shardPrefix(0)}meta`;
  const zaddCalls = async () => Number(/^cmdstat_zadd:calls=(\d+)/m.exec(await client.info('commandstats'))?.[1] ?? 0);
  /** The ZADDs one enqueue call runs. */
  async function zaddsOf(enqueue: () => Promise<unknown>): Promise<number> {
    await client.config('RESETSTAT');
    await enqueue();
    return zaddCalls();
  }
  async function drainOrder(): Promise<string[]> {
    const order: string[] = [];
    for (let claimed = await queue.claim({ max: 1, leaseMs: 60_000 }); claimed.length > 0; claimed = await queue.claim({ max: 1, leaseMs: 60_000 })) {
      order.push(claimed[0]!.id);
      await queue.ack([{ id: claimed[0]!.id, leaseToken: claimed[0]!.leaseToken, outcome: 'ok' }]);
    }
    return order;
  }

  it('writes only the lines when every device is queued and the new commands cannot pass their heads', async () => {
    const devices = ['b-0', 'b-1', 'b-2', 'b-3', 'b-4'];
    const first = await queue.enqueueBatch(devices.map((d) => cmd(d)));
    // the first call into the empty shard: lines, ready and expiry
    expect(await zaddsOf(() => queue.enqueueBatch(devices.map((d) => cmd(d))))).toBe(devices.length);
    expect(await client.zcard(`${store.keys.shardPrefix(0)}ready`)).toBe(devices.length);
    expect(await client.zcard(`${store.keys.shardPrefix(0)}expiry`)).toBe(devices.length);
    const order = await drainOrder();
    expect(order).toHaveLength(2 * devices.length);
    expect(order.slice(0, devices.length)).toEqual(first.map((r) => (r as { id: string }).id));
  });

  it('moves a queued device ahead of another when a higher-priority command joins it', async () => {
    const [y] = await queue.enqueueBatch([cmd('p-y')]);
    await queue.enqueueBatch([cmd('p-x')]);
    const [urgent] = await queue.enqueueBatch([cmd('p-x', { priority: 9 })]);
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect(claimed!.id).toBe((urgent as { id: string }).id);
    expect((await queue.claim({ max: 1, leaseMs: 60_000 }))[0]!.id).toBe((y as { id: string }).id);
  });

  it('notes an earlier expiry when a shorter TTL joins a queued device, and the sweep finds it', async () => {
    await queue.enqueueBatch([cmd('t-x')]);
    const [short] = await queue.enqueueBatch([cmd('t-x', { ttlMs: 50 })]);
    const id = (short as { id: string }).id;
    // the sweep reads only `expiry`: it finds the command only if its device's entry moved up
    await waitFor(async () => (await store.expireDue()) === 1, { timeoutMs: 5_000, intervalMs: 20, what: 'the sweep expiring the short-lived command' });
    expect((await queue.get(id))?.status).toBe('expired');
  });

  it('writes ready and expiry again after an earlier release wrote the shard\'s meta without its bounds', async () => {
    const devices = ['m-0', 'm-1', 'm-2'];
    await queue.enqueueBatch(devices.map((d) => cmd(d)));
    expect(await client.strlen(meta())).toBe(48);
    // a dispatcher of the earlier release writes meta as it knows it: seq, size, inflight, due
    await client.set(meta(), (await client.getBuffer(meta()))!.subarray(0, 32));
    expect(await zaddsOf(() => queue.enqueueBatch(devices.map((d) => cmd(d))))).toBe(devices.length + 2);
    expect(await client.strlen(meta())).toBe(32);
    // the shard empties: the next enqueue starts the bounds again
    expect(await drainOrder()).toHaveLength(2 * devices.length);
    await queue.enqueueBatch(devices.map((d) => cmd(d)));
    expect(await client.strlen(meta())).toBe(48);
    expect(await zaddsOf(() => queue.enqueueBatch(devices.map((d) => cmd(d))))).toBe(devices.length);
  });

  it('counts a dead letter queued again in the bounds: a command joining its device still takes its place', async () => {
    // a priority-0 command dies while the shard holds nothing else
    const [dead] = await queue.enqueueBatch([cmd('d-z', { priority: 0, maxAttempts: 1 })]);
    const [lease] = await queue.claim({ max: 1, leaseMs: 60_000 });
    await queue.fail([{ id: lease!.id, leaseToken: lease!.leaseToken, error: 'no', retryable: true }]); // its last attempt: dead
    expect((await queue.get((dead as { id: string }).id))?.status).toBe('dead');
    // the empty shard starts its bounds at priority 5, then the dead letter is queued again
    const [v] = await queue.enqueueBatch([cmd('d-v')]);
    expect(await queue.replayDead({ ids: [(dead as { id: string }).id] })).toBe(1);
    const [z] = await queue.enqueueBatch([cmd('d-z')]);
    const [w] = await queue.enqueueBatch([cmd('d-w')]);
    const order = await drainOrder();
    const ids = [v, z, w].map((r) => (r as { id: string }).id);
    // z's new command is its head (priority 5 before the replayed 0): its device sits between v and w
    expect(order.slice(0, 3)).toEqual(ids);
  });
});
