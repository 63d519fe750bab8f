import { checkRedisHealth, createRedisClient, RedisCredentialStore, RedisRouteRegistry, type CredentialStore, type RouteRegistry } from '@outbound/core/registry';
import { toRedisConnectionOptions, type DependencyCheck } from '@outbound/core/service';
import type { IngressConfig } from './config';
import type { LimiterStore } from './handshake-limits';

/** The route registry, the device credentials, and the health checks of the store behind them. */
export interface RegistryBundle {
  registry: RouteRegistry;
  credentials: CredentialStore;
  /** Where the handshake rate limits keep their counters. */
  limiterStore: LimiterStore;
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
      const credentials = new RedisCredentialStore({ client, prefix: config.registry.prefix, shards: config.registry.shards });
      const registry = new RedisRouteRegistry({ client, prefix: config.registry.prefix, shards: config.registry.shards, ownsClient: true });
      return {
        registry,
        credentials,
        limiterStore: { kind: 'redis', client, prefix: config.registry.prefix },
        checks: { redis: async () => ({ ...(await checkRedisHealth(client)) }) },
        async close() {
          await credentials.close().catch(() => undefined);
          await registry.close();
        },
      };
    }
    case 'postgres': {
      // Loaded only here: an ingress on Redis never loads pg.
      const { openPostgresStore, PostgresCredentialStore, PostgresRouteRegistry } = await import('@outbound/core/postgres');
      const store = await openPostgresStore(config.postgres, { applicationName: name, schemas: [config.registry.prefix] });
      const registry = new PostgresRouteRegistry({ pool: store.pool, schema: config.registry.prefix });
      const credentials = new PostgresCredentialStore({ pool: store.pool, schema: config.registry.prefix });
      return {
        registry,
        credentials,
        limiterStore: { kind: 'postgres', pool: store.pool, schema: config.registry.prefix },
        checks: { postgres: () => store.check() },
        async close() {
          await credentials.close().catch(() => undefined);
          await registry.close().catch(() => undefined);
          await store.close().catch(() => undefined);
        },
      };
    }
    default:
      throw new Error(`unsupported registry backend ${String(config.registry.backend)}`);
  }
}
