import { checkRedisHealth, createRedisClient, RedisRouteRegistry, type RouteRegistry } from '@outbound/core/registry';
import { toRedisConnectionOptions, type DependencyCheck } from '@outbound/core/service';
import type { IngressConfig } from './config';

/** The route registry and the health checks of the store behind it. */
export interface RegistryBundle {
  registry: RouteRegistry;
  checks: Record<string, () => Promise<DependencyCheck>>;
  /** Closes the registry and every connection it opened. */
  close(): Promise<void>;
}

/**
 * Makes the route registry `registry.backend` (QUEUE_BACKEND) names: the one place that knows
 * the backends. PostgreSQL applies the migrations first unless DATABASE_MIGRATE=false (the
 * registry's tables are migration 0002 of the same schema the dispatchers use).
 */
export async function createRouteRegistry(config: IngressConfig): Promise<RegistryBundle> {
  const name = `outbound-ingress:${config.replicaId}`;
  switch (config.registry.backend) {
    case 'redis': {
      const client = createRedisClient(toRedisConnectionOptions(config.redis, name));
      // ioredis reconnects by itself; errors surface through commands and /health.
      client.on('error', () => undefined);
      const registry = new RedisRouteRegistry({ client, prefix: config.registry.prefix, shards: config.registry.shards, ownsClient: true });
      return {
        registry,
        checks: { redis: async () => ({ ...(await checkRedisHealth(client)) }) },
        close: () => registry.close(),
      };
    }
    case 'postgres': {
      // Loaded only here: an ingress on Redis never loads pg.
      const { openPostgresStore, PostgresRouteRegistry } = await import('@outbound/core/postgres');
      const store = await openPostgresStore(config.postgres, { applicationName: name, schemas: [config.registry.prefix] });
      const registry = new PostgresRouteRegistry({ pool: store.pool, schema: config.registry.prefix });
      return {
        registry,
        checks: { postgres: () => store.check() },
        async close() {
          await registry.close().catch(() => undefined);
          await store.close().catch(() => undefined);
        },
      };
    }
    default:
      throw new Error(`unsupported registry backend ${String(config.registry.backend)}`);
  }
}
