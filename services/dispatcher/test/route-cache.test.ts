import Redis from 'ioredis';
import { RedisRouteRegistry } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { RouteCache } from '../src/route-cache';

describe('RouteCache over the Redis route registry', () => {
  let client: Redis;
  let registry: RedisRouteRegistry;
  /** Devices the cache asked the registry for, per call. */
  let asked: string[][];
  /** Reads of the live replicas. */
  let replicaReads: number;
  let cache: RouteCache;
  const A = { replicaId: 'replica-a', address: 'http://10.0.0.1:8081' };
  const B = { replicaId: 'replica-b', address: 'http://10.0.0.2:8081' };

  const open = (ttlMs: number, maxEntries = 100, maxAgeMs?: number): RouteCache =>
    new RouteCache(
      {
        lookupMany: (phyIds: string[]) => (asked.push([...phyIds]), registry.lookupMany(phyIds)),
        onDeviceOnline: (listener: (phyId: string) => void) => registry.onDeviceOnline(listener),
        listReplicas: () => (replicaReads += 1, registry.listReplicas()),
      },
      { ttlMs, maxEntries, ...(maxAgeMs === undefined ? {} : { maxAgeMs }) },
    );
  /** Waits until `ms` have passed since `from` (a cached entry's age). */
  const aged = (from: number, ms: number) => waitFor(() => Date.now() - from > ms, { what: `${ms} ms to pass` });

  beforeEach(async () => {
    client = new Redis(testRedisUrl());
    registry = new RedisRouteRegistry({ client, prefix: uniquePrefix('route-cache'), shards: 4 });
    await registry.heartbeat(A, 10_000);
    await registry.heartbeat(B, 10_000);
    asked = [];
    replicaReads = 0;
    cache = open(60_000);
    await cache.start();
  });
  afterEach(async () => {
    await cache.stop();
    await registry.close();
    await client.quit();
  });

  it('asks the registry only for devices it has not seen, and never caches an absent route', async () => {
    await registry.register('DEV-1', A);
    const first = await cache.lookupMany(['DEV-1', 'DEV-OFF']);
    expect([...first.keys()]).toEqual(['DEV-1']);
    const second = await cache.lookupMany(['DEV-1', 'DEV-OFF']);
    expect(second.get('DEV-1')).toEqual(first.get('DEV-1'));
    expect(asked).toEqual([['DEV-1', 'DEV-OFF'], ['DEV-OFF']]);
  });

  it('prefetches routes a lookup then waits for instead of asking again', async () => {
    await registry.register('DEV-P1', A);
    await registry.register('DEV-P2', B);
    cache.prefetch(['DEV-P1', 'DEV-P2']);
    cache.prefetch(['DEV-P1']); // already on its way: not asked twice
    const found = await cache.lookupMany(['DEV-P1', 'DEV-P2']);
    expect([...found].map(([phyId, route]) => [phyId, route.replicaId])).toEqual([['DEV-P1', 'replica-a'], ['DEV-P2', 'replica-b']]);
    expect(asked).toEqual([['DEV-P1', 'DEV-P2']]);
    cache.prefetch(['DEV-P1', 'DEV-P3']); // cached ones are not asked; an absent one is
    expect((await cache.lookupMany(['DEV-P3'])).size).toBe(0);
    expect(asked).toEqual([['DEV-P1', 'DEV-P2'], ['DEV-P3']]);
  });

  it('drops a device when it comes online again, so the new route is read', async () => {
    const old = await registry.register('DEV-2', A);
    expect((await cache.lookupMany(['DEV-2'])).get('DEV-2')?.epoch).toBe(old.epoch);
    const moved = await registry.register('DEV-2', B); // the handshake's online signal
    await waitFor(() => cache.size === 0, { what: 'the online signal to drop the cached route' });
    const route = (await cache.lookupMany(['DEV-2'])).get('DEV-2');
    expect(route).toMatchObject({ replicaId: 'replica-b', epoch: moved.epoch });
  });

  it('forgets one device or every device of an address on demand', async () => {
    await registry.register('DEV-3', A);
    await registry.register('DEV-4', A);
    await registry.register('DEV-5', B);
    await cache.lookupMany(['DEV-3', 'DEV-4', 'DEV-5']);
    cache.forget('DEV-5');
    expect(cache.size).toBe(2);
    cache.forgetAddress(A.address);
    expect(cache.size).toBe(0);
    await cache.lookupMany(['DEV-3', 'DEV-4', 'DEV-5']);
    expect(asked).toHaveLength(2);
  });

  it('reads again after the entry lived ttlMs, and keeps at most maxEntries', async () => {
    const short = open(30, 2);
    await registry.register('DEV-6', A);
    await registry.register('DEV-7', A);
    await registry.register('DEV-8', A);
    await short.lookupMany(['DEV-6', 'DEV-7', 'DEV-8']);
    expect(short.size).toBe(2);
    const readAt = Date.now();
    await waitFor(() => Date.now() - readAt > 40, { what: 'the entries to age past ttlMs' });
    await short.lookupMany(['DEV-7']);
    expect(asked.at(-1)).toEqual(['DEV-7']);
    expect(replicaReads).toBe(0);
    await short.stop();
  });

  it('keeps a route past ttlMs up to maxAgeMs while one read of the live replicas judges its replica live', async () => {
    const long = open(200, 100, 60_000);
    await registry.register('DEV-9', A);
    await registry.register('DEV-10', B);
    const readAt = Date.now();
    const first = await long.lookupMany(['DEV-9', 'DEV-10']);
    expect(replicaReads).toBe(0);
    await aged(readAt, 220);
    // Past ttlMs: both routes come from the cache after a read of the replicas, not a lookup each.
    const again = await long.lookupMany(['DEV-9', 'DEV-10']);
    expect(again).toEqual(first);
    expect(asked).toEqual([['DEV-9', 'DEV-10']]);
    expect(replicaReads).toBeGreaterThanOrEqual(1);
    // A prefetch of an aged device starts that read, and the lookup after it waits for it.
    const reads = replicaReads;
    await aged(Date.now(), 220);
    long.prefetch(['DEV-9']);
    expect(replicaReads).toBe(reads + 1);
    expect((await long.lookupMany(['DEV-9'])).get('DEV-9')).toEqual(first.get('DEV-9'));
    expect(asked).toHaveLength(1);
    await long.stop();
  });

  it('looks an aged route up again once its replica is no longer live, and never past maxAgeMs', async () => {
    const long = open(100, 100, 400);
    await registry.register('DEV-11', A);
    await registry.register('DEV-12', B);
    const readAt = Date.now();
    await long.lookupMany(['DEV-11', 'DEV-12']);
    await registry.heartbeat(B, 1); // replica B hangs: its liveness lapses
    await aged(readAt, 120);
    const found = await long.lookupMany(['DEV-11', 'DEV-12']);
    // DEV-12's replica is not live: its route is read again, and the registry answers none.
    expect([...found.keys()]).toEqual(['DEV-11']);
    expect(asked).toEqual([['DEV-11', 'DEV-12'], ['DEV-12']]);
    expect(long.size).toBe(1);
    await aged(readAt, 420);
    await long.lookupMany(['DEV-11']);
    expect(asked.at(-1)).toEqual(['DEV-11']);
    await long.stop();
  });
});
