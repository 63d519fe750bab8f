import { Pool } from 'pg';
import { PostgresRouteRegistry, runMigrations } from '@outbound/core';
import { createTestDatabase, uniquePrefix, type TestDatabase } from '@outbound/test-support';
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
