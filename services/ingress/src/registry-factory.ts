import {
  checkRedisHealth, createRedisClient, RedisRouteRegistry, toRedisConnectionOptions,
  type DependencyCheck, type RouteRegistry,
} from '@outbound/core';
import type { IngressConfig } from './config';

/** The route registry and the health checks of the store behind it. */
export interface RegistryBundle {
  registry: RouteRegistry;
  checks: Record<string, () => Promise<DependencyCheck>>;
  /** Closes the registry and every connection it opened. */
  close(): Promise<void>;
}

/**
 * Makes the route registry `registry.backend` names. The one place that knows the backends:
 * PostgreSQL (PostgresRouteRegistry) is one more branch here.
 */
export function createRouteRegistry(config: IngressConfig): RegistryBundle {
  switch (config.registry.backend) {
    case 'redis': {
      const client = createRedisClient(toRedisConnectionOptions(config.redis, `outbound-ingress:${config.replicaId}`));
      // ioredis reconnects by itself; errors surface through commands and /health.
      client.on('error', () => undefined);
      const registry = new RedisRouteRegistry({ client, prefix: config.registry.prefix, shards: config.registry.shards, ownsClient: true });
      return {
        registry,
        checks: { redis: async () => ({ ...(await checkRedisHealth(client)) }) },
        close: () => registry.close(),
      };
    }
    default:
      throw new Error(`unsupported registry backend ${String(config.registry.backend)}`);
  }
}
