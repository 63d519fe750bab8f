import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { DrainingQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type RedisClient } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { createBackend, loadDispatcherConfig } from '../src';
import { captureLogs } from './support/log-capture';

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

  it('QUEUE_REDIS_UPGRADE_FROM=v2 drains v2 behind the queue layer and counts what it holds on the gauge', async () => {
    const prefix = uniquePrefix('layout-upgrade');
    const env = { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, INTERNAL_TOKEN: 'internal-token-0123456789' };
    const probe = new Redis(testRedisUrl());
    const v2 = new RedisQueue(probe as unknown as RedisClient, { prefix });
    const { config } = loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v3', QUEUE_REDIS_UPGRADE_FROM: 'v2' } });
    const backend = await createBackend(config, 'layout-test');
    try {
      await new ValidatedQueue(v2).enqueue({ phyId: 'held-dev', payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 10_000, maxAttempts: 3 });
      const store = (backend.queue as ValidatedQueue).store as DrainingQueue;
      expect(store).toBeInstanceOf(DrainingQueue);
      expect(store.old).toBeInstanceOf(RedisQueue);
      expect(store.next).toBeInstanceOf(RedisQueueV3);
      const registry = new Registry();
      backend.registerMetrics(registry);
      // Enqueued after the backend's first count began: a scrape after that count ends shows it.
      await waitFor(async () => /^outbound_queue_upgrade_pending_commands 1$/m.test(await registry.getSingleMetricAsString('outbound_queue_upgrade_pending_commands')), {
        what: 'the gauge to count the v2 command',
      });
    } finally {
      await backend.close();
      await v2.close();
      await probe.quit();
    }
  });

  it('QUEUE_REDIS_LAYOUT=v3 without the upgrade setting warns at start-up when v2 still holds commands', async () => {
    const prefix = uniquePrefix('layout-stranded');
    const env = { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, INTERNAL_TOKEN: 'internal-token-0123456789', QUEUE_REDIS_LAYOUT: 'v3' };
    const probe = new Redis(testRedisUrl());
    const v2 = new RedisQueue(probe as unknown as RedisClient, { prefix });
    try {
      for (const held of [0, 1]) {
        if (held) await new ValidatedQueue(v2).enqueue({ phyId: 'held-dev', payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 10_000, maxAttempts: 3 });
        const { logger, lines } = captureLogs('dispatcher');
        const backend = await createBackend(loadDispatcherConfig({ env }).config, 'layout-test', logger);
        await backend.close();
        expect(lines.filter((line) => /QUEUE_REDIS_UPGRADE_FROM=v2/.test(String(line.msg)))).toHaveLength(held);
      }
    } finally {
      await v2.close();
      await probe.quit();
    }
  });
});
