export * from './queue';
export * from './store-errors';
export { ValidatedQueue } from './validated-queue';
export * from './redis/redis-queue';
export { RedisKeys } from './redis/keys';
export * from './postgres';
