import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { AutoDrainingQueue, DrainingQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type CommandStore, type RedisClient } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { createBackend, loadDispatcherConfig } from '../src';
import { captureLogs } from './support/log-capture';

const COMMAND = { payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 10_000, maxAttempts: 3 };

/** The store the backend's queue layer writes to, under the v2 watch when there is one. */
function writer(store: CommandStore): CommandStore {
  return store instanceof AutoDrainingQueue ? store.next : store;
}

/** QUEUE_REDIS_LAYOUT picks the Redis record layout the dispatcher's queue writes. */
describe('dispatcher Redis layout', () => {
  it.each([
    ['v2', 'v2', RedisQueue, ':{'],
    ['v3', 'v3', RedisQueueV3, ':v3:{'],
    ['unset (v3)', undefined, RedisQueueV3, ':v3:{'],
  ] as const)('QUEUE_REDIS_LAYOUT=%s stores commands in that layout', async (_, layout, kind, segment) => {
    const prefix = uniquePrefix(`layout-${layout ?? 'default'}`);
    const { config } = loadDispatcherConfig({ env: { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, INTERNAL_TOKEN: 'internal-token-0123456789', ...(layout ? { QUEUE_REDIS_LAYOUT: layout } : {}) } });
    const backend = await createBackend(config, 'layout-test');
    const probe = new Redis(testRedisUrl());
    try {
      expect(backend.queue).toBeInstanceOf(ValidatedQueue);
      expect(writer((backend.queue as ValidatedQueue).store)).toBeInstanceOf(kind);
      const { id } = await backend.queue.enqueue({ phyId: 'layout-dev', payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 10_000, maxAttempts: 3 });
      // Every key of the prefix: one SCAN call covers only part of a keyspace other suites fill.
      const keys: string[] = [];
      for await (const batch of probe.scanStream({ match: `${prefix}:*`, count: 1_000 })) keys.push(...(batch as string[]));
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

  it('by default, a dispatcher starting over a v2 layout that holds a command delivers it, logs the upgrade and counts it on the gauge', async () => {
    const prefix = uniquePrefix('layout-auto-start');
    const probe = new Redis(testRedisUrl());
    const v2 = new RedisQueue(probe as unknown as RedisClient, { prefix });
    const { logger, lines } = captureLogs('dispatcher');
    let backend: Awaited<ReturnType<typeof createBackend>> | undefined;
    try {
      const { id } = await new ValidatedQueue(v2).enqueue({ phyId: 'left-dev', ...COMMAND });
      backend = await createBackend(loadDispatcherConfig({ env: { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, INTERNAL_TOKEN: 'internal-token-0123456789' } }).config, 'layout-test', logger);
      const store = (backend.queue as ValidatedQueue).store as AutoDrainingQueue;
      expect(store).toBeInstanceOf(AutoDrainingQueue);
      expect(store.upgrading).toBe(true);
      expect(lines.some((line) => /upgrade: delivering what the v2 layout holds/.test(String(line.msg)))).toBe(true);
      const registry = new Registry();
      backend.registerMetrics(registry);
      expect(await registry.getSingleMetricAsString('outbound_queue_upgrade_pending_commands')).toMatch(/^outbound_queue_upgrade_pending_commands 1$/m);
      const [claimed] = await backend.queue.claim({ max: 10, leaseMs: 10_000 });
      expect(claimed).toMatchObject({ id, phyId: 'left-dev' });
      expect(await backend.queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok' }])).toMatchObject([{ ok: true }]);
      // A new command for a device v2 no longer holds goes to v3.
      const { id: next } = await backend.queue.enqueue({ phyId: 'left-dev', ...COMMAND });
      expect(await store.next.get(next)).toMatchObject({ status: 'queued' });
    } finally {
      await backend?.close();
      await v2.close();
      await probe.quit();
    }
  });

  it('by default, v2 empty at start: v3 alone, until an older dispatcher still on v2 enqueues there; then its command is delivered too', async () => {
    const prefix = uniquePrefix('layout-auto-rolling');
    const probe = new Redis(testRedisUrl());
    const older = new ValidatedQueue(new RedisQueue(probe as unknown as RedisClient, { prefix }));
    const { config } = loadDispatcherConfig({ env: { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, INTERNAL_TOKEN: 'internal-token-0123456789', QUEUE_REDIS_UPGRADE_CHECK_MS: '50' } });
    const backend = await createBackend(config, 'layout-test');
    try {
      const store = (backend.queue as ValidatedQueue).store as AutoDrainingQueue;
      expect(store.upgrading).toBe(false);
      expect(await backend.queue.claim({ max: 10, leaseMs: 10_000 })).toEqual([]);
      const { id } = await older.enqueue({ phyId: 'rolling-dev', ...COMMAND });
      const claimed = await waitFor(async () => (await backend.queue.claim({ max: 10, leaseMs: 10_000 }))[0] ?? null, { what: 'the command the older dispatcher wrote to v2 to be claimed' });
      expect(claimed).toMatchObject({ id, phyId: 'rolling-dev' });
      expect(store.upgrading).toBe(true);
    } finally {
      await backend.close();
      await older.close();
      await probe.quit();
    }
  });

  it('QUEUE_REDIS_UPGRADE_FROM=none warns at start-up when v2 still holds commands, and never reads it', async () => {
    const prefix = uniquePrefix('layout-stranded');
    const env = { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, INTERNAL_TOKEN: 'internal-token-0123456789', QUEUE_REDIS_UPGRADE_FROM: 'none' };
    const probe = new Redis(testRedisUrl());
    const v2 = new RedisQueue(probe as unknown as RedisClient, { prefix });
    try {
      for (const held of [0, 1]) {
        if (held) await new ValidatedQueue(v2).enqueue({ phyId: 'held-dev', payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 10_000, maxAttempts: 3 });
        const { logger, lines } = captureLogs('dispatcher');
        const backend = await createBackend(loadDispatcherConfig({ env }).config, 'layout-test', logger);
        expect((backend.queue as ValidatedQueue).store).toBeInstanceOf(RedisQueueV3);
        expect(await backend.queue.claim({ max: 10, leaseMs: 10_000 })).toEqual([]);
        await backend.close();
        expect(lines.filter((line) => /QUEUE_REDIS_UPGRADE_FROM=auto/.test(String(line.msg)))).toHaveLength(held);
      }
    } finally {
      await v2.close();
      await probe.quit();
    }
  });
});
