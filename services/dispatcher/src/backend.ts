import {
  checkRedisHealth, createRedisClient, RedisQueue, RedisRouteRegistry, toRedisConnectionOptions,
  type CommandQueue, type DependencyCheck, type QueueOptions, type RouteRegistry,
} from '@outbound/core';
import type { DispatcherConfig } from './config';

/** The stores the dispatcher runs on, chosen by `queue.backend` (QUEUE_BACKEND). */
export interface Backend {
  queue: CommandQueue;
  registry: RouteRegistry;
  /** Each store's health check for /health and /readyz. */
  checks: Record<string, () => Promise<DependencyCheck>>;
  close(): Promise<void>;
}

export function queueOptions(config: DispatcherConfig): QueueOptions {
  return {
    prefix: config.queue.prefix,
    shards: config.queue.shards,
    maxInFlightPerDevice: config.queue.maxInFlightPerDevice,
    perDeviceCap: config.queue.perDeviceCap,
    globalCap: config.queue.globalCap,
    retentionMs: config.queue.retentionMs,
    backoff: { baseMs: config.queue.backoffBaseMs, maxMs: config.queue.backoffMaxMs },
  };
}

/** The one place that picks a backend: everything else sees CommandQueue and RouteRegistry. */
export async function createBackend(config: DispatcherConfig, name = 'outbound-dispatcher'): Promise<Backend> {
  if (config.queue.backend !== 'redis') {
    throw new Error(`queue.backend "${config.queue.backend}" is not available in this build yet; use QUEUE_BACKEND=redis`);
  }
  const client = createRedisClient(toRedisConnectionOptions(config.redis, name));
  // ioredis reconnects on its own; each failed command is reported by the caller.
  client.on('error', () => undefined);
  const queue = new RedisQueue(client, queueOptions(config));
  const registry = new RedisRouteRegistry({ client, prefix: config.registry.prefix, shards: config.registry.shards });
  return {
    queue,
    registry,
    checks: { redis: async () => ({ ...(await checkRedisHealth(client)) }) },
    async close() {
      await registry.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await client.quit().catch(() => client.disconnect());
    },
  };
}
