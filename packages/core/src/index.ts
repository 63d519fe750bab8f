export * from './errors';
export * from './command';
export * from './queue/queue';
export * from './registry/route-registry';
export * from './registry/redis-route-registry';
export * from './redis/connection';
export * from './service';
export * from './protocol';
