import Redis from 'ioredis';
import { RedisRouteRegistry } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { routeRegistryConformance } from './conformance/route-registry';

routeRegistryConformance('redis', async () => {
  const registry = new RedisRouteRegistry({ client: new Redis(testRedisUrl()), prefix: uniquePrefix('registry'), shards: 4, ownsClient: true });
  return { registry, cleanup: () => registry.close() };
});

describe('RedisRouteRegistry keys', () => {
  it('keeps every key a script touches for one device under one hash tag', async () => {
    const registry = new RedisRouteRegistry({ client: new Redis(testRedisUrl()), prefix: uniquePrefix('registry'), shards: 4, ownsClient: true });
    try {
      const keys = registry.keys;
      const shard = keys.shardOf('DEV-7');
      const tags = [keys.routes(shard), keys.epochs(shard), keys.replicaRoutes(shard, 'replica-a')].map((k) => k.slice(k.indexOf('{'), k.indexOf('}') + 1));
      expect(new Set(tags).size).toBe(1);
      expect(tags[0]).toMatch(/^\{reg-\d+\}$/);
    } finally {
      await registry.close();
    }
  });
});
