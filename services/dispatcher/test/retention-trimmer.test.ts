import { Registry } from 'prom-client';
import { createLogger, createRedisClient, RedisQueue, RedisQueueV3, ValidatedQueue, type CommandQueue, type RedisClient } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { createDispatcherMetrics } from '../src/metrics';
import { createRetentionTrimmer } from '../src/retention-trimmer';

const logger = createLogger({ service: 'test', level: 'silent' });
const input = (phyId: string) => ({ phyId, payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 1_000, maxAttempts: 3 });

let client: RedisClient;
const queues: CommandQueue[] = [];
beforeEach(() => {
  client = createRedisClient({ url: testRedisUrl() });
});
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.close()));
  await client.quit();
});

async function deliver(queue: CommandQueue, n: number): Promise<void> {
  for (let from = 0; from < n; from += 500) {
    const size = Math.min(500, n - from);
    await queue.enqueueBatch(Array.from({ length: size }, (_, i) => input(`TRIM-${from + i}`)));
    const claimed = await queue.claim({ max: size, leaseMs: 60_000 });
    expect(claimed).toHaveLength(size);
    await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' })));
  }
}

async function value(registry: Registry, name: string): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name) as { values: Array<{ value: number }> } | undefined;
  return metric?.values[0]?.value;
}

describe('RetentionTrimmer', () => {
  it('reports the retained bytes, records and events, and counts what the byte budget trimmed (Redis v3)', async () => {
    const prefix = uniquePrefix('trimmer');
    const queue = new ValidatedQueue(new RedisQueueV3(client, { prefix, shards: 2, retentionMaxBytes: 400_000 }));
    queues.push(queue);
    const registry = new Registry();
    const metrics = createDispatcherMetrics(registry, queue);
    await deliver(queue, 2_500); // about 700,000 bytes of finished records and events (two entries each)
    await createRetentionTrimmer({ queue, metrics, logger, intervalMs: 60_000 }).runNow();
    const retained = (await value(registry, 'outbound_queue_retained_bytes'))!;
    // Within 10% of the budget either way: the trim stops on its own estimate of the stream, then measures the stream
    // again (sampled), and a cut frees whole stream nodes only; a CI run ended 716 bytes over the budget.
    expect(retained).toBeGreaterThan(360_000);
    expect(retained).toBeLessThanOrEqual(440_000);
    // What Redis counts for the shards' finished-record hashes and event streams.
    const keys = [...(await client.keys(`${prefix}:v3:{*}:f:*`)), `${prefix}:v3:{0}:ev`, `${prefix}:v3:{1}:ev`];
    const usage = (await Promise.all(keys.map((key) => client.memory('USAGE', key, 'SAMPLES', 0)))).reduce<number>((sum, size) => sum + Number(size ?? 0), 0);
    expect(Math.abs(usage - retained)).toBeLessThanOrEqual(40_000);
    const trimmed = (await value(registry, 'outbound_queue_trimmed_early_total'))!;
    expect(trimmed).toBeGreaterThan(800);
    const left = await Promise.all((await queue.listDevice('TRIM-0')).map((c) => c.status));
    expect(left.every((s) => s === 'acked')).toBe(true);
  });

  it('does nothing on a store without a byte budget to keep (v2)', async () => {
    const queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('trimmer2'), shards: 2 }));
    queues.push(queue);
    const registry = new Registry();
    const metrics = createDispatcherMetrics(registry, queue);
    await deliver(queue, 10);
    await createRetentionTrimmer({ queue, metrics, logger, intervalMs: 60_000 }).runNow();
    expect(await value(registry, 'outbound_queue_retained_bytes')).toBe(0);
    expect(await value(registry, 'outbound_queue_trimmed_early_total')).toBe(0);
  });
});
