import Redis from 'ioredis';
import { RedisQueue, ValidatedQueue } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { firstDepth, planClaim, type ShardScores } from '../../src/queue/redis/claim-plan';
import { cmd } from './conformance';

/**
 * A cross-shard claim plans from the scores each shard last answered (claim-plan.ts). These
 * prove the plan stays exact when a shard holds more of the best than it was first asked
 * for, and that a dispatcher still sees work another dispatcher put in a shard it last saw empty.
 */
describe('cross-shard claim plan', () => {
  it('asks a shard deeper when all it answered made the cut, and gives each shard its exact share', async () => {
    // Shard 0 holds the 6 best scores; the first ask (depth 4 for max 6 over 8 shards) cannot know that.
    const data = new Map<number, number[]>([[0, [1, 2, 3, 4, 5, 6]], [1, [7, 8]], [2, [9]]]);
    for (let s = 3; s < 8; s += 1) data.set(s, []);
    const asked: Array<[number, number]> = [];
    const known = new Map<number, ShardScores>();
    const counts = await planClaim(6, [...data.keys()], known, async (shard, depth) => {
      asked.push([shard, depth]);
      return data.get(shard)!.slice(0, depth);
    });
    expect([...counts]).toEqual([[0, 6]]);
    expect(firstDepth(6, 8)).toBe(4);
    expect(asked.filter(([shard]) => shard === 0).map(([, depth]) => depth)).toEqual([4, 6]);
    expect(asked.filter(([shard]) => shard !== 0).every(([, depth]) => depth === 4)).toBe(true);
  });

  it('uses known scores without asking, and asks only shards it knows nothing of', async () => {
    const known = new Map<number, ShardScores>([
      [0, { scores: [10, 30], depth: 3, at: Date.now() }],
      [1, { scores: [20], depth: 3, at: Date.now() }],
    ]);
    const asked: number[] = [];
    const counts = await planClaim(2, [0, 1, 2], known, async (shard) => {
      asked.push(shard);
      return [5];
    });
    expect(asked).toEqual([2]);
    expect(new Map(counts)).toEqual(new Map([[2, 1], [0, 1]]));
  });

  it('plans from a snapshot when other calls drop shards it knew while it waits', async () => {
    const known = new Map<number, ShardScores>([[0, { scores: [10], depth: 3, at: Date.now() }]]);
    const counts = await planClaim(2, [0, 1], known, async () => {
      known.delete(0); // an enqueue on shard 0 while shard 1 is being asked
      return [20];
    });
    expect(new Map(counts)).toEqual(new Map([[0, 1], [1, 1]]));
  });

  describe('on redis', () => {
    const clients: Redis[] = [];
    const queues: Array<ValidatedQueue<RedisQueue>> = [];
    afterEach(async () => {
      await Promise.all(queues.splice(0).map((q) => q.close()));
      await Promise.all(clients.splice(0).map((c) => c.quit()));
    });
    const open = (prefix: string): ValidatedQueue<RedisQueue> => {
      const client = new Redis(testRedisUrl());
      clients.push(client);
      const queue = new ValidatedQueue(new RedisQueue(client, { prefix, shards: 16 }));
      queues.push(queue);
      return queue;
    };

    it('claims what another dispatcher enqueued into a shard this one just saw empty', async () => {
      const prefix = uniquePrefix('claim-plan');
      const claimer = open(prefix);
      const producer = open(prefix);
      expect(await claimer.claim({ max: 8, leaseMs: 60_000 })).toEqual([]); // every shard answered: empty
      const { id } = await producer.enqueue(cmd('plan-elsewhere'));
      const claimed = await claimer.claim({ max: 8, leaseMs: 60_000 });
      expect(claimed.map((c) => c.id)).toEqual([id]);
    });

    it('takes the best across shards after an ack freed a device with better work', async () => {
      const prefix = uniquePrefix('claim-plan-acks');
      const queue = open(prefix);
      const a1 = await queue.enqueue(cmd('plan-a', { priority: 9 }));
      const a2 = await queue.enqueue(cmd('plan-a', { priority: 8 })); // waits behind a1: one in flight per device
      const others = [];
      for (let i = 0; i < 6; i += 1) others.push(await queue.enqueue(cmd(`plan-other-${i}`, { priority: 5 })));
      const first = await queue.claim({ max: 6, leaseMs: 60_000 });
      expect(first.map((c) => c.id)).toEqual([a1.id, ...others.slice(0, 5).map((o) => o.id)]);
      const held = first.find((c) => c.id === a1.id)!;
      await queue.ack([{ id: held.id, leaseToken: held.leaseToken, outcome: 'ok' }]);
      // a2 (priority 8) is now ready and beats the last priority-5 command in any shard.
      const next = await queue.claim({ max: 1, leaseMs: 60_000 });
      expect(next.map((c) => c.id)).toEqual([a2.id]);
    });
  });
});
