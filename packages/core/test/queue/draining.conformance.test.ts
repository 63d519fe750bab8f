import Redis from 'ioredis';
import { DrainingQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type QueueOptions } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { queueConformance } from './conformance';

/** Drops every key of a prefix (SCAN, not KEYS, so a shared server stays responsive). */
async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await client.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** The queue a dispatcher runs during an upgrade (v2 draining into v3) keeps every promise of the contract. */
queueConformance('redis v2 draining into v3 (standalone)', async (options: QueueOptions) => {
  const prefix = uniquePrefix('queue');
  const clients: Redis[] = [];
  const queues: DrainingQueue[] = [];
  const make = (): ValidatedQueue => {
    const client = new Redis(testRedisUrl());
    clients.push(client);
    const queue = new DrainingQueue(new RedisQueue(client, { ...options, prefix }), new RedisQueueV3(client, { ...options, prefix }));
    queues.push(queue);
    return new ValidatedQueue(queue);
  };
  const queue = make();
  return {
    queue,
    sibling: async () => make(),
    async cleanup() {
      await Promise.all(queues.map((q) => q.close()));
      await dropPrefix(clients[0]!, prefix);
      await Promise.all(clients.map((c) => c.quit()));
    },
  };
});
