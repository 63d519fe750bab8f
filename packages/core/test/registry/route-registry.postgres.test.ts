import { Pool } from 'pg';
import { PostgresRouteRegistry, runMigrations } from '@outbound/core';
import { createTestDatabase, uniquePrefix, type TestDatabase } from '@outbound/test-support';
import { planNodes } from '../queue/postgres-helpers';
import { routeRegistryConformance } from './conformance/route-registry';

let db: TestDatabase;
let pool: Pool;
beforeAll(async () => {
  db = await createTestDatabase('pg-registry');
  pool = new Pool({ connectionString: db.url, max: 6 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

routeRegistryConformance('postgres', async () => {
  const schema = uniquePrefix('reg').replace(/-/g, '_');
  await runMigrations(pool, { schema });
  const registry = new PostgresRouteRegistry({ pool, schema });
  return {
    registry,
    async cleanup() {
      await registry.close();
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    },
  };
});

describe('PostgresRouteRegistry statements', () => {
  it('plans each statement once per connection: named, and on the generic plan from the sixth call on, also when built on empty tables', async () => {
    // One connection, so every statement and the catalog reads below share a session. Unnamed,
    // each statement was parsed and planned on every call (four per device connection).
    const schema = uniquePrefix('reg-plan').replace(/-/g, '_');
    await runMigrations(pool, { schema });
    const client = new Pool({ connectionString: db.url, max: 1 });
    const registry = new PostgresRouteRegistry({ pool: client, schema });
    const replica = { replicaId: 'replica-plan', address: 'http://10.0.0.9:8081' };
    try {
      for (let i = 0; i < 12; i++) {
        await registry.heartbeat(replica, 10_000);
        await registry.dispatcherHeartbeat({ id: 'dispatcher-plan', startedAt: Date.now() }, 10_000);
        const first = await registry.register(`PLAN-${i}`, replica);
        const second = await registry.register(`PLAN-${i}`, replica);
        expect(second.previous).toMatchObject({ epoch: first.epoch });
        // one device, then many: a custom plan for a lookup of one looked cheaper
        const many = await registry.lookupMany(Array.from({ length: i + 1 }, (_, j) => `PLAN-${j}`));
        expect(many.size).toBe(Math.floor(i / 2) + 1); // this device and the odd ones before it
        const fenced = i % 2 === 1;
        expect(await registry.unregister(`PLAN-${i}`, replica.replicaId, fenced ? first.epoch : second.epoch)).toBe(!fenced);
        expect((await registry.listReplicas()).map((r) => r.replicaId)).toEqual([replica.replicaId]);
        expect((await registry.listDispatchers()).map((d) => d.id)).toEqual(['dispatcher-plan']);
        expect((await registry.countRoutes()).get(replica.replicaId) ?? 0).toBe(Math.floor((i + 1) / 2));
        await registry.removeDispatcher(`dispatcher-gone-${i}`);
        expect(await registry.removeReplica(`replica-gone-${i}`)).toBe(0);
      }

      const { rows } = await client.query<{ name: string; parameter_types: string[]; custom_plans: string; generic_plans: string }>(
        `SELECT name, parameter_types::text[] AS parameter_types, custom_plans, generic_plans FROM pg_prepared_statements WHERE name LIKE 'outbound\\_%'`,
      );
      const kind = (name: string): string => name.replace(/^outbound_/, '').replace(/_[0-9a-f]+$/, '');
      expect(rows.map((r) => kind(r.name)).sort()).toEqual([
        'dispatcher_delete',
        'dispatcher_heartbeat',
        'dispatcher_list',
        'dispatcher_prune',
        'replica_clear_routes',
        'replica_delete',
        'replica_heartbeat',
        'replica_list',
        'route_count',
        'route_create',
        'route_lock',
        'route_lookup',
        'route_notify',
        'route_set',
        'route_unregister',
      ]);
      for (const r of rows) {
        // planned for their own arguments five times at most, then the generic plan, kept
        expect({ kind: kind(r.name), custom: Number(r.custom_plans) <= 5, generic: Number(r.generic_plans) >= 6 }).toEqual({ kind: kind(r.name), custom: true, generic: true });
      }
      // Built on empty, never-analyzed tables, the generic plans still reach routes by key.
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const r of rows.filter((row) => /^route_(lock|set|unregister|lookup)$/.test(kind(row.name)))) {
        const args = r.parameter_types.map((type) => (type.endsWith('[]') ? `'{}'::${type}` : `NULL::${type}`));
        const nodes = await planNodes(client, `EXECUTE ${r.name}(${args.join(', ')})`);
        const seqScans = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'routes');
        const byKey = nodes.some((n) => n['Index Name'] === 'routes_pkey');
        expect({ kind: kind(r.name), seqScans, byKey }).toEqual({ kind: kind(r.name), seqScans: [], byKey: true });
      }
    } finally {
      await registry.close();
      await client.end();
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });
});
