/** The queue contract, the layer every caller uses (ValidatedQueue) and the Redis store. PostgreSQL: `@outbound/core/postgres`. */
export * from './queue';
export * from './events';
export * from './store-errors';
export { ValidatedQueue } from './validated-queue';
export { DrainingQueue, type DrainingQueueOptions, type IdempotencyLookup, type IdempotencyRecord } from './draining-queue';
export { AutoDrainingQueue } from './auto-draining-queue';
export * from './redis/redis-queue';
export { RedisKeys } from './redis/keys';
export { classifyRedisError, outcomeUnknown } from './redis/redis-errors';
export type { RedisMemorySample } from './redis/redis-memory';
export { RedisQueueV3, RedisKeysV3, type RedisQueueV3Options } from './redis-v3';
export { DEFAULT_REDIS_LAYOUT, REDIS_LAYOUTS, type RedisLayout } from './redis-layout';
