/**
 * Everything that runs on PostgreSQL (the queue store, the route registry, the pool and its
 * migrations). A subpath of its own, so a service on Redis never loads pg.
 */
export * from './queue/postgres';
export { PostgresRouteRegistry, type PostgresRouteRegistryOptions } from './registry/postgres-route-registry';
export { openPostgresStore, type PostgresStore } from './service/postgres-store';
export { PostgresCredentialStore, type PostgresCredentialStoreOptions } from './registry/postgres-credential-store';
