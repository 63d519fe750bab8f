import type { RouteRegistry } from '@outbound/core';
import { waitFor } from '@outbound/test-support';

/** Makes a fresh, empty route registry for one test; cleanup() closes it and drops its data. */
export type MakeRouteRegistry = () => Promise<{ registry: RouteRegistry; cleanup(): Promise<void> }>;

const A = { replicaId: 'replica-a', address: 'http://10.0.0.1:8081' };
const B = { replicaId: 'replica-b', address: 'http://10.0.0.2:8081' };
const C = { replicaId: 'replica-c', address: 'http://10.0.0.3:8081' };

/** The behaviour every RouteRegistry backend must show, written against the interface only. */
export function routeRegistryConformance(name: string, make: MakeRouteRegistry): void {
  describe(`RouteRegistry conformance: ${name}`, () => {
    let registry: RouteRegistry;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ registry, cleanup } = await make());
      await registry.heartbeat(A, 10_000);
      await registry.heartbeat(B, 10_000);
    });
    afterEach(() => cleanup());

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

    it('gives concurrent registers of one device distinct epochs, each seeing the one before', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => registry.register('DEV-RACE', i % 2 ? A : B)));
      expect(results.map((r) => r.epoch).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      // Every register but the first replaced exactly the route of the epoch before it.
      for (const r of results) expect(r.previous?.epoch ?? 0).toBe(r.epoch - 1);
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

    it('finds live routes by phyId prefix, sorted and bounded, leaving out offline devices', async () => {
      await registry.heartbeat(C, 10_000);
      for (const phyId of ['FIND-b2', 'FIND-a1', 'FIND-a3', 'FIND-a2', 'OTHER-a1', 'FIND-*x']) await registry.register(phyId, A);
      const gone = await registry.register('FIND-a0', C);
      await registry.unregister('FIND-a0', 'replica-c', gone.epoch);
      const onRemoved = await registry.register('FIND-a4', C);
      expect(onRemoved.epoch).toBe(1);
      await registry.removeReplica('replica-c');
      expect((await registry.findRoutes('FIND-a', 10)).map((r) => r.phyId)).toEqual(['FIND-a1', 'FIND-a2', 'FIND-a3']);
      expect(await registry.findRoutes('FIND-a1', 10)).toEqual([expect.objectContaining({ phyId: 'FIND-a1', replicaId: 'replica-a', address: A.address })]);
      // A glob character in the prefix is matched literally.
      expect((await registry.findRoutes('FIND-*', 10)).map((r) => r.phyId)).toEqual(['FIND-*x']);
      const two = await registry.findRoutes('FIND-', 2);
      expect(two).toHaveLength(2);
      expect(two.every((r) => r.phyId.startsWith('FIND-'))).toBe(true);
      expect(await registry.findRoutes('NOPE', 10)).toEqual([]);
    });

    it('counts the devices each live replica holds', async () => {
      expect(await registry.countRoutes()).toEqual(new Map());
      await registry.register('COUNT-1', A);
      await registry.register('COUNT-2', A);
      const b = await registry.register('COUNT-3', B);
      await registry.heartbeat(C, 10_000);
      await registry.register('COUNT-4', C);
      await registry.removeReplica('replica-c');
      expect(await registry.countRoutes()).toEqual(new Map([['replica-a', 2], ['replica-b', 1]]));
      await registry.unregister('COUNT-3', 'replica-b', b.epoch);
      expect(await registry.countRoutes()).toEqual(new Map([['replica-a', 2]]));
    });

    it('reads routes of a replica whose heartbeat lapsed (store clock) as offline', async () => {
      await registry.heartbeat(C, 1_000);
      await registry.register('DEV-3', C);
      await registry.register('DEV-4', A);
      expect(await registry.lookup('DEV-3')).toMatchObject({ replicaId: 'replica-c' });
      expect((await registry.listReplicas()).map((r) => r.replicaId)).toEqual(['replica-a', 'replica-b', 'replica-c']);
      await waitFor(async () => (await registry.lookup('DEV-3')) === null, { what: 'the lapsed replica to read offline' });
      expect([...(await registry.lookupMany(['DEV-3', 'DEV-4', 'DEV-unknown'])).keys()]).toEqual(['DEV-4']);
      expect((await registry.listReplicas()).map((r) => r.replicaId)).toEqual(['replica-a', 'replica-b']);
    });

    it('lists the dispatchers whose heartbeat has not lapsed (store clock), by id', async () => {
      const startedAt = Date.now() - 60_000;
      await registry.dispatcherHeartbeat({ id: 'dispatcher-c', startedAt }, 10_000);
      await registry.dispatcherHeartbeat({ id: 'dispatcher-a', startedAt }, 10_000);
      await registry.dispatcherHeartbeat({ id: 'dispatcher-b', startedAt }, 1_000);
      const listed = await registry.listDispatchers();
      expect(listed.map((d) => d.id)).toEqual(['dispatcher-a', 'dispatcher-b', 'dispatcher-c']);
      for (const d of listed) {
        expect(d.startedAt).toBe(startedAt);
        expect(Math.abs(d.lastSeenAt - Date.now())).toBeLessThan(5_000);
      }
      // A stopped one leaves at once; a killed one once its TTL has passed.
      await registry.removeDispatcher('dispatcher-c');
      expect((await registry.listDispatchers()).map((d) => d.id)).toEqual(['dispatcher-a', 'dispatcher-b']);
      await waitFor(async () => (await registry.listDispatchers()).length === 1, { what: 'the lapsed dispatcher to leave the list' });
      // Other dispatchers' heartbeats clear a lapsed record; one that comes back is alive again.
      await registry.dispatcherHeartbeat({ id: 'dispatcher-a', startedAt }, 10_000);
      expect((await registry.listDispatchers()).map((d) => d.id)).toEqual(['dispatcher-a']);
      await registry.dispatcherHeartbeat({ id: 'dispatcher-b', startedAt: startedAt + 1 }, 10_000);
      expect(await registry.listDispatchers()).toEqual([
        expect.objectContaining({ id: 'dispatcher-a', startedAt }),
        expect.objectContaining({ id: 'dispatcher-b', startedAt: startedAt + 1 }),
      ]);
      expect(await registry.listReplicas()).toHaveLength(2); // replicas and dispatchers are apart
    });

    it('removes every route of a replica, and only those', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `DEV-R${i}`);
      for (const id of ids) await registry.register(id, A);
      await registry.register('DEV-R0', B); // moved away: no longer A's to remove
      await registry.register('DEV-OTHER', B);
      expect(await registry.removeReplica('replica-a')).toBe(19);
      expect([...(await registry.lookupMany([...ids, 'DEV-OTHER'])).keys()].sort()).toEqual(['DEV-OTHER', 'DEV-R0']);
      expect((await registry.listReplicas()).map((r) => r.replicaId)).toEqual(['replica-b']);
    });

    it('signals device online, and superseded to the previous replica only', async () => {
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
  });
}
