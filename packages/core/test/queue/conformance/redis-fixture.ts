import Redis from 'ioredis';
import { ValidatedQueue, type CommandStore, type QueueOptions } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import type { MakeQueue } from './harness';

/** Drops every key of a prefix (SCAN, not KEYS, so a shared server stays responsive). */
export async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await client.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/**
 * A conformance fixture on the shared redis-server under a fresh prefix: `store` builds the
 * layout under test on its own client; siblings are more stores on more clients, like more
 * dispatchers; cleanup closes them and drops the prefix.
 */
export function redisFixture(store: (client: Redis, options: QueueOptions & { prefix: string }) => CommandStore): MakeQueue {
  return async (options: QueueOptions) => {
    const prefix = uniquePrefix('queue');
    const clients: Redis[] = [];
    const stores: CommandStore[] = [];
    const make = (): ValidatedQueue => {
      const client = new Redis(testRedisUrl());
      clients.push(client);
      const made = store(client, { ...options, prefix });
      stores.push(made);
      return new ValidatedQueue(made);
    };
    const queue = make();
    return {
      queue,
      sibling: async () => make(),
      async cleanup() {
        await Promise.all(stores.map((s) => s.close()));
        await dropPrefix(clients[0]!, prefix);
        await Promise.all(clients.map((c) => c.quit()));
      },
    };
  };
}
