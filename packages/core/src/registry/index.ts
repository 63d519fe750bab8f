/** The route registry contract, the credential store contract and the Redis registry. PostgreSQL: `@outbound/core/postgres`. */
export * from './route-registry';
export * from './credential-store';
export * from './credential-key';
export * from './redis-credential-store';
export * from './redis-route-registry';
export * from '../redis/connection';
export * from '../redis/one-write';
export * from '../redis/resp';
