import Redis from 'ioredis';
import { RedisQueue, RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { createBackend, loadDispatcherConfig } from '../src';

/** QUEUE_REDIS_LAYOUT picks the Redis record layout the dispatcher's queue writes. */
describe('dispatcher Redis layout', () => {
  it.each([
    ['v2', RedisQueue, ':{'],
    ['v3', RedisQueueV3, ':v3:{'],
  ] as const)('QUEUE_REDIS_LAYOUT=%s stores commands in that layout', async (layout, kind, segment) => {
    const prefix = uniquePrefix(`layout-${layout}`);
    const { config } = loadDispatcherConfig({ env: { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, QUEUE_REDIS_LAYOUT: layout, INTERNAL_TOKEN: 'internal-token-0123456789' } });
    const backend = await createBackend(config, 'layout-test');
    const probe = new Redis(testRedisUrl());
    try {
      expect(backend.queue).toBeInstanceOf(ValidatedQueue);
      expect((backend.queue as ValidatedQueue).store).toBeInstanceOf(kind);
      const { id } = await backend.queue.enqueue({ phyId: 'layout-dev', payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 10_000, maxAttempts: 3 });
      const [, keys] = await probe.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 10_000);
      expect(keys.some((key) => key.includes(id))).toBe(true);
      expect(keys.every((key) => key.startsWith(`${prefix}${segment}`))).toBe(true);
      expect(await backend.queue.get(id)).toMatchObject({ id, status: 'queued' });
    } finally {
      await probe.quit();
      await backend.close();
    }
  });
});
