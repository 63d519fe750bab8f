import Redis from 'ioredis';
import { isOutboundError, RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { cmd } from './conformance';

/**
 * Dispatchers plan a cross-shard claim from what each shard last answered. Another dispatcher's
 * claim empties a shard without telling anyone (claims publish nothing), so a plan can send the
 * whole claim to a shard that has nothing left; the claim must then take what it knows is ready
 * elsewhere instead of answering short (a dispatch loop would wait for a wake-up that may not
 * come, and a drain would stop with work left).
 */
describe('RedisQueueV3 claim after another dispatcher emptied the planned shard', () => {
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<RedisQueueV3>> = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  const open = (prefix: string): { store: RedisQueueV3; queue: ValidatedQueue<RedisQueueV3> } => {
    const client = new Redis(testRedisUrl());
    clients.push(client);
    const store = new RedisQueueV3(client, { prefix, shards: 2, retentionMs: 60_000 });
    const queue = new ValidatedQueue(store);
    queues.push(queue);
    return { store, queue };
  };

  it('claims the work it knows of on another shard when its planned shard comes back empty', async () => {
    const prefix = uniquePrefix('short-claim');
    const a = open(prefix);
    const b = open(prefix);
    // three devices with urgent work on one shard, one device with low-priority work on the other
    const onFirst: string[] = [];
    let other = '';
    for (let i = 0; onFirst.length < 3 || other === ''; i += 1) {
      const phyId = `sc-${i}`;
      if (a.store.keys.shardOf(phyId) === 0) {
        if (onFirst.length < 3) onFirst.push(phyId);
      } else if (other === '') other = phyId;
    }
    const made = await b.queue.enqueueBatch([...onFirst.map((phyId) => cmd(phyId, { priority: 9 })), cmd(other, { priority: 0 })]);
    const ids = made.map((r) => (isOutboundError(r) ? '' : r.id));
    const low = ids[3]!;

    // A hears both shards (the first urgent command claimed, two more left on shard 0) ...
    expect((await a.queue.claim({ max: 1, leaseMs: 60_000 })).map((c) => c.id)).toEqual([ids[0]]);
    // ... B takes the other two urgent ones, which tells A nothing ...
    expect((await b.queue.claim({ max: 2, leaseMs: 60_000 })).map((c) => c.id).sort()).toEqual([ids[1], ids[2]].sort());
    // ... so A's plan sends its next claim to shard 0, which is empty now: the low-priority
    // command A knows is ready on shard 1 is what it must get.
    expect((await a.queue.claim({ max: 1, leaseMs: 60_000 })).map((c) => c.id)).toEqual([low]);
  });
});
