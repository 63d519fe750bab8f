import Redis from 'ioredis';
import { AutoDrainingQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type QueueOptions } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { cmd } from './conformance';
import { dropPrefix } from './conformance/redis-fixture';

const OPTIONS: QueueOptions = { retentionMs: 600_000 };

/**
 * The queue layers in front of a store (ValidatedQueue, AutoDrainingQueue) have `ackAndClaim`
 * exactly when the store behind them has it: a caller decides by its presence whether claims
 * may ride on acks (one call on Redis v3, an ack call and a claim call anywhere else).
 */
describe('queue layers: ackAndClaim only where the store behind has it', () => {
  let client: Redis;
  let prefix: string;
  const made: Array<{ close(): Promise<void> }> = [];
  beforeEach(() => {
    client = new Redis(testRedisUrl());
    prefix = uniquePrefix('fwd-ack-claim');
  });
  afterEach(async () => {
    while (made.length) await made.pop()!.close().catch(() => undefined);
    await dropPrefix(client, prefix);
    await client.quit();
  });
  const keep = <T extends { close(): Promise<void> }>(queue: T): T => {
    made.push(queue);
    return queue;
  };

  it('a v2 store has none, and neither has the queue layer in front of it', () => {
    const queue = keep(new ValidatedQueue(new RedisQueue(client, { ...OPTIONS, prefix })));
    expect(queue.ackAndClaim).toBeUndefined();
  });

  it('in front of a v3 store it forwards the store\'s own: the ack and the claim in one call', async () => {
    const queue = keep(new ValidatedQueue(new RedisQueueV3(client, { ...OPTIONS, prefix })));
    expect(typeof queue.ackAndClaim).toBe('function');
    const first = await queue.enqueue(cmd('FWD-1'));
    const second = await queue.enqueue(cmd('FWD-1'));
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    expect(claimed!.id).toBe(first.id);
    const answer = await queue.ackAndClaim!([{ id: claimed!.id, leaseToken: claimed!.leaseToken, outcome: 'ok' }], { max: 1, leaseMs: 60_000 });
    expect(answer.results).toEqual([expect.objectContaining({ id: first.id, ok: true })]);
    expect(answer.claimed.map((c) => c.id)).toEqual([second.id]);
  });

  it('over v2 and v3 it has one while v3 runs alone and none once v2 is drained beside it', async () => {
    const auto = keep(new AutoDrainingQueue(new RedisQueue(client, { ...OPTIONS, prefix }), new RedisQueueV3(client, { ...OPTIONS, prefix }), { checkEveryMs: 60_000 }));
    const queue = new ValidatedQueue(auto);
    await auto.start();
    expect(auto.upgrading).toBe(false);
    expect(typeof auto.ackAndClaim).toBe('function');
    expect(typeof queue.ackAndClaim).toBe('function');
    // An older dispatcher writes v2: the next count begins the drain over both layouts.
    await keep(new ValidatedQueue(new RedisQueue(client, { ...OPTIONS, prefix }))).enqueue(cmd('FWD-2'));
    await auto.oldPending();
    expect(auto.upgrading).toBe(true);
    expect(auto.ackAndClaim).toBeUndefined();
    expect(queue.ackAndClaim).toBeUndefined();
  });
});
