import Redis, { type Command } from 'ioredis';
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

describe('RedisRouteRegistry lookupMany', () => {
  it('sends every read (routes of each shard, replica liveness) before any answer comes back: one round trip', async () => {
    const client = new Redis(testRedisUrl());
    const registry = new RedisRouteRegistry({ client, prefix: uniquePrefix('registry'), shards: 4, ownsClient: true });
    try {
      const replica = { replicaId: 'replica-rt', address: 'http://10.0.0.9:8081' };
      await registry.heartbeat(replica, 10_000);
      const phyIds = Array.from({ length: 8 }, (_, i) => `DEV-RT-${i}`);
      for (const phyId of phyIds) await registry.register(phyId, replica);
      await registry.lookupMany(phyIds); // the scripts are loaded from here on
      const events: string[] = [];
      const send = client.sendCommand.bind(client);
      client.sendCommand = (command: Command, ...rest: unknown[]) => {
        events.push('sent');
        command.promise.then(() => events.push('answered'), () => events.push('answered'));
        return (send as (...args: unknown[]) => unknown)(command, ...rest);
      };
      const routes = await registry.lookupMany(phyIds);
      client.sendCommand = send;
      expect([...routes.keys()].sort()).toEqual([...phyIds].sort());
      expect(events.filter((e) => e === 'sent').length).toBeGreaterThanOrEqual(2);
      expect(events.lastIndexOf('sent')).toBeLessThan(events.indexOf('answered'));
    } finally {
      await registry.close();
    }
  });
});
