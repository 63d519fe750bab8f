export { RedisQueueV3, type RedisQueueV3Options } from './redis-queue-v3';
export { RedisKeysV3 } from './keys-v3';
