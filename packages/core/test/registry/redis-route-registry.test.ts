import Redis from 'ioredis';
import { RedisRouteRegistry } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';

describe('RedisRouteRegistry', () => {
  let client: Redis;
  let registry: RedisRouteRegistry;
  const A = { replicaId: 'replica-a', address: 'http://10.0.0.1:8081' };
  const B = { replicaId: 'replica-b', address: 'http://10.0.0.2:8081' };

  beforeEach(async () => {
    client = new Redis(testRedisUrl());
    registry = new RedisRouteRegistry({ client, prefix: uniquePrefix('registry'), shards: 4 });
    await registry.heartbeat(A, 10_000);
    await registry.heartbeat(B, 10_000);
  });

  afterEach(async () => {
    await registry.close();
    await client.quit();
  });

  it('records a route with a growing epoch and answers the route it replaced', async () => {
    const first = await registry.register('DEV-1', A);
    expect(first.previous).toBeNull();
    const second = await registry.register('DEV-1', B);
    expect(second.epoch).toBe(first.epoch + 1);
    expect(second.previous).toMatchObject({ phyId: 'DEV-1', replicaId: 'replica-a', epoch: first.epoch, address: A.address });
    const route = await registry.lookup('DEV-1');
    expect(route).toMatchObject({ phyId: 'DEV-1', replicaId: 'replica-b', epoch: second.epoch, address: B.address });
    expect(route!.connectedAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it('fences unregister: an older connection cannot remove a newer route', async () => {
    const old = await registry.register('DEV-2', A);
    const current = await registry.register('DEV-2', B);
    expect(await registry.unregister('DEV-2', 'replica-a', old.epoch)).toBe(false);
    expect(await registry.lookup('DEV-2')).toMatchObject({ replicaId: 'replica-b', epoch: current.epoch });
    // Same replica, older epoch: still fenced.
    const newest = await registry.register('DEV-2', B);
    expect(await registry.unregister('DEV-2', 'replica-b', current.epoch)).toBe(false);
    expect(await registry.unregister('DEV-2', 'replica-b', newest.epoch)).toBe(true);
    expect(await registry.lookup('DEV-2')).toBeNull();
    // The epoch keeps growing after the route is gone, so a late delivery stays stale.
    expect((await registry.register('DEV-2', A)).epoch).toBe(newest.epoch + 1);
  });

  it('reads routes of a replica whose heartbeat lapsed as offline', async () => {
    await registry.heartbeat({ replicaId: 'replica-c', address: 'http://10.0.0.3:8081' }, 150);
    await registry.register('DEV-3', { replicaId: 'replica-c', address: 'http://10.0.0.3:8081' });
    await registry.register('DEV-4', A);
    expect(await registry.lookup('DEV-3')).toMatchObject({ replicaId: 'replica-c' });
    expect((await registry.listReplicas()).map((r) => r.replicaId)).toEqual(['replica-a', 'replica-b', 'replica-c']);
    await waitFor(async () => (await registry.lookup('DEV-3')) === null, { what: 'the lapsed replica to read offline' });
    const many = await registry.lookupMany(['DEV-3', 'DEV-4', 'DEV-unknown']);
    expect([...many.keys()]).toEqual(['DEV-4']);
    expect((await registry.listReplicas()).map((r) => r.replicaId)).toEqual(['replica-a', 'replica-b']);
  });

  it('removes every route of a replica, and only those', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `DEV-R${i}`);
    for (const id of ids) await registry.register(id, A);
    await registry.register('DEV-R0', B); // moved away: no longer A's to remove
    await registry.register('DEV-OTHER', B);
    expect(await registry.removeReplica('replica-a')).toBe(19);
    const left = await registry.lookupMany([...ids, 'DEV-OTHER']);
    expect([...left.keys()].sort()).toEqual(['DEV-OTHER', 'DEV-R0']);
    expect((await registry.listReplicas()).map((r) => r.replicaId)).toEqual(['replica-b']);
  });

  it('publishes device online, and superseded to the previous replica only', async () => {
    const online: string[] = [];
    const supersededA: Array<[string, number]> = [];
    const supersededB: Array<[string, number]> = [];
    const offOnline = await registry.onDeviceOnline((phyId) => online.push(phyId));
    await registry.onSuperseded('replica-a', (phyId, epoch) => supersededA.push([phyId, epoch]));
    await registry.onSuperseded('replica-b', (phyId, epoch) => supersededB.push([phyId, epoch]));
    const first = await registry.register('DEV:5', A);
    await registry.register('DEV:5', B);
    await waitFor(() => online.length === 2 && supersededA.length === 1, { what: 'online and superseded signals' });
    expect(online).toEqual(['DEV:5', 'DEV:5']);
    expect(supersededA).toEqual([['DEV:5', first.epoch]]);
    expect(supersededB).toEqual([]);
    await offOnline();
    const third = await registry.register('DEV:5', A);
    await waitFor(() => supersededB.length === 1, { what: 'superseded on replica-b' });
    expect(supersededB).toEqual([['DEV:5', third.epoch - 1]]);
    expect(online).toEqual(['DEV:5', 'DEV:5']);
  });

  it('keeps every key a script touches for one device under one hash tag', () => {
    const keys = registry.keys;
    const shard = keys.shardOf('DEV-7');
    const tags = [keys.routes(shard), keys.epochs(shard), keys.replicaRoutes(shard, 'replica-a')].map(hashTag);
    expect(new Set(tags).size).toBe(1);
    expect(tags[0]).toMatch(/^\{reg-\d+\}$/);
  });
});

function hashTag(key: string): string {
  return key.slice(key.indexOf('{'), key.indexOf('}') + 1);
}
