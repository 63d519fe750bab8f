/** The Redis record layouts a dispatcher can run (QUEUE_REDIS_LAYOUT, docs/redis-keys.md). */
export const REDIS_LAYOUTS = ['v2', 'v3'] as const;

export type RedisLayout = (typeof REDIS_LAYOUTS)[number];

/**
 * What a dispatcher runs when QUEUE_REDIS_LAYOUT is not set, and what the benchmark measures
 * unless told otherwise. A dispatcher on v3 still delivers what an earlier release left in v2
 * (QUEUE_REDIS_UPGRADE_FROM=auto).
 */
export const DEFAULT_REDIS_LAYOUT: RedisLayout = 'v3';
