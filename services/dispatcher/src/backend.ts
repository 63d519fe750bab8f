import {
  AutoDrainingQueue, checkRedisHealth, createLogger, createRedisClient, DrainingQueue, openPostgresStore, PostgresCredentialStore, PostgresQueue, PostgresRouteRegistry, RedisCredentialStore, RedisQueue,
  RedisQueueV3, RedisRouteRegistry, toRedisConnectionOptions, ValidatedQueue,
  type CommandQueue, type CommandStore, type CredentialStore, type DependencyCheck, type Logger, type QueueOptions, type RedisMemorySample, type RouteRegistry,
} from '@outbound/core';
import { Gauge, type Registry } from 'prom-client';
import { RateLimiterPostgres, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RateLimiterFactory } from './api-rate-limit';
import type { DispatcherConfig } from './config';
import { PostgresWebhookStore } from './webhooks/postgres-store';
import { RedisWebhookStore } from './webhooks/redis-store';
import type { WebhookStore } from './webhooks/store';

/** The stores the dispatcher runs on, chosen by `queue.backend` (QUEUE_BACKEND). */
export interface Backend {
  /** The store behind the queue layer (ValidatedQueue): every enqueue is checked before it reaches the store. */
  queue: CommandQueue;
  registry: RouteRegistry;
  /** Per-device keys and revocations, beside the route registry (the ingress replicas read them there). */
  credentials: CredentialStore;
  /** Webhooks and their delivery state (cursor, lease, recent attempts). */
  webhooks: WebhookStore;
  /** Rate limiters counting in this store, so every dispatcher shares each budget. */
  rateLimiter: RateLimiterFactory;
  /** Each store's health check for /health and /readyz. */
  checks: Record<string, () => Promise<DependencyCheck>>;
  /** Store memory used as a share of its limit (the metric), null when the store has none to tell. */
  memoryRatio(): Promise<number | null>;
  /** Registers this backend's own gauges (the draining upgrade's pending count). */
  registerMetrics(registry: Registry): void;
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

/**
 * The one place that picks a backend: everything else sees CommandQueue, RouteRegistry and
 * CredentialStore. `logger` gets the layout upgrade's lines (draining-queue.ts) and the start-up
 * check's; by default a logger like the dispatcher's own.
 */
export async function createBackend(
  config: DispatcherConfig,
  name = 'outbound-dispatcher',
  logger: Logger = createLogger({ service: 'dispatcher', level: config.logLevel }),
): Promise<Backend> {
  if (config.queue.backend === 'postgres') return createPostgresBackend(config, name);
  const client = createRedisClient(toRedisConnectionOptions(config.redis, name));
  // ioredis reconnects on its own; each failed command is reported by the caller.
  client.on('error', () => undefined);
  const redisOptions = { ...queueOptions(config), admissionMaxMemoryRatio: config.queue.admissionMaxMemoryRatio };
  const store =
    config.queue.redisLayout === 'v3'
      ? new RedisQueueV3(client, { ...redisOptions, keepFinishedPayload: config.queue.keepFinishedPayload, retentionMaxBytes: config.queue.retentionMaxBytes })
      : new RedisQueue(client, redisOptions);
  const draining = config.queue.redisLayout === 'v3' ? await v2Upgrade(config, client, redisOptions, store, logger) : null;
  const queue = new ValidatedQueue(draining ?? store);
  const registry = new RedisRouteRegistry({ client, prefix: config.registry.prefix, shards: config.registry.shards });
  const credentials = new RedisCredentialStore({ client, prefix: config.registry.prefix, shards: config.registry.shards });
  const limitPrefix = `${config.queue.prefix}:rate`;
  return {
    queue,
    registry,
    credentials,
    webhooks: new RedisWebhookStore(client, config.queue.prefix),
    rateLimiter: ({ keyPrefix, points, durationSeconds }) =>
      new RateLimiterRedis({ storeClient: client, keyPrefix: `${limitPrefix}:${keyPrefix}`, points, duration: durationSeconds }),
    checks: { redis: async () => withMemory({ ...(await checkRedisHealth(client)) }, await store.memory(), store.admissionMaxMemoryRatio) },
    memoryRatio: async () => (await store.memory())?.ratio ?? null,
    registerMetrics: (registry) => draining && registerUpgradeGauge(registry, draining),
    async close() {
      await credentials.close().catch(() => undefined);
      await registry.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * On the v3 layout, what of v2 this dispatcher delivers (QUEUE_REDIS_UPGRADE_FROM): `v2`, both
 * layouts from the start (draining-queue.ts); `auto`, v3 alone until a check (at start, then
 * every interval) finds v2 holding a command, then both (auto-draining-queue.ts), so a
 * deployment upgraded without being told, or rolled while older dispatchers still write v2,
 * loses nothing; `none`, v3 alone (a warning when v2 holds commands at start).
 */
async function v2Upgrade(
  config: DispatcherConfig, client: ReturnType<typeof createRedisClient>, options: QueueOptions, store: CommandStore, logger: Logger,
): Promise<DrainingQueue | AutoDrainingQueue | null> {
  const drainOptions = { logger, names: { old: 'v2', next: config.queue.redisLayout }, checkEveryMs: config.queue.redisUpgradeCheckMs };
  const v2 = new RedisQueue(client, options);
  if (config.queue.redisUpgradeFrom === 'v2') return new DrainingQueue(v2, store, drainOptions);
  if (config.queue.redisUpgradeFrom === 'none') {
    await warnIfStranded(v2, logger);
    return null;
  }
  const auto = new AutoDrainingQueue(v2, store, drainOptions);
  await auto.start();
  return auto;
}

/**
 * QUEUE_REDIS_UPGRADE_FROM=none: the v3 layout never reads what v2 holds, so say how much would
 * be stranded and what to set. It only warns: the operator asked for v3 alone.
 */
async function warnIfStranded(v2: RedisQueue, logger: Logger): Promise<void> {
  try {
    const { total } = await v2.stats();
    const held = total.pending + total.inflight + total.delayed + total.waitingForDevice + total.dead;
    if (held > 0) logger.warn({ held, counts: total }, 'QUEUE_REDIS_UPGRADE_FROM=none but the v2 layout still holds commands this dispatcher will not deliver: set QUEUE_REDIS_UPGRADE_FROM=auto (the default) until outbound_queue_upgrade_pending_commands is 0');
  } catch {
    // A store that is not answering yet: the health checks say so.
  } finally {
    await v2.close();
  }
}

/**
 * `outbound_queue_upgrade_pending_commands`: what the v2 layout still holds, counted at scrape
 * time (a failed count leaves the last value). 0: drained.
 */
function registerUpgradeGauge(registry: Registry, draining: DrainingQueue | AutoDrainingQueue): void {
  new Gauge({
    name: 'outbound_queue_upgrade_pending_commands',
    help: 'Commands the v2 layout still holds (queued, scheduled, backing off, parked, in flight, dead) on a dispatcher running v3; 0: drained',
    registers: [registry],
    async collect() {
      const pending = await draining.oldPending().catch(() => null);
      if (pending !== null) this.set(pending);
    },
  });
}

/**
 * The Redis check with its memory: `degraded` (still ready: a full store still delivers) once
 * used memory reaches the enqueue high-water mark, saying that enqueue is paused.
 */
function withMemory(health: DependencyCheck, memory: RedisMemorySample | null, admissionRatio: number): DependencyCheck {
  if (!memory) return health;
  const check: DependencyCheck = { ...health, usedMemoryBytes: memory.usedBytes, maxMemoryBytes: memory.maxBytes, memoryRatio: Number(memory.ratio.toFixed(4)) };
  if (health.status !== 'down' && admissionRatio > 0 && memory.maxBytes > 0 && memory.ratio >= admissionRatio) {
    const warnings = Array.isArray(health.warnings) ? (health.warnings as string[]) : [];
    check.status = 'degraded';
    check.warnings = [...warnings, `memory at ${(memory.ratio * 100).toFixed(1)}% of maxmemory: enqueue is paused (STORE_FULL) at ${(admissionRatio * 100).toFixed(0)}% while the queue drains`];
  }
  return check;
}

/**
 * PostgreSQL (DATABASE_URL): the queue lives in schema QUEUE_PREFIX, the route registry in
 * schema REGISTRY_PREFIX (the same by default). Migrations run at start unless
 * DATABASE_MIGRATE=false; they take an advisory lock, so dispatchers starting together are safe.
 */
async function createPostgresBackend(config: DispatcherConfig, name: string): Promise<Backend> {
  const store = await openPostgresStore(config.postgres, { applicationName: name, schemas: [config.queue.prefix, config.registry.prefix] });
  const queue = new ValidatedQueue(new PostgresQueue(store.pool, queueOptions(config)));
  const registry = new PostgresRouteRegistry({ pool: store.pool, schema: config.registry.prefix });
  const credentials = new PostgresCredentialStore({ pool: store.pool, schema: config.registry.prefix });
  return {
    queue,
    registry,
    credentials,
    webhooks: new PostgresWebhookStore(store.pool, config.queue.prefix),
    // Table rate_limits (migration 0005) in the registry schema; tableCreated: the migration made it.
    rateLimiter: ({ keyPrefix, points, durationSeconds }) =>
      new RateLimiterPostgres({
        storeClient: store.pool, storeType: 'pool', schemaName: config.registry.prefix, tableName: 'rate_limits', tableCreated: true,
        clearExpiredByTimeout: true, keyPrefix, points, duration: durationSeconds,
      }),
    checks: { postgres: () => store.check() },
    memoryRatio: () => Promise.resolve(null),
    registerMetrics: () => undefined,
    async close() {
      await credentials.close().catch(() => undefined);
      await registry.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await store.close().catch(() => undefined);
    },
  };
}
