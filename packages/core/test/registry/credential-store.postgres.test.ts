import { Pool } from 'pg';
import { PostgresCredentialStore, runMigrations, type CredentialStore } from '@outbound/core';
import { createTestDatabase, uniquePrefix, type TestDatabase } from '@outbound/test-support';
import { credentialStoreConformance } from './conformance/credential-store';

let db: TestDatabase;
let admin: Pool;
beforeAll(async () => {
  db = await createTestDatabase('pg-credentials');
  admin = new Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await admin.end();
  await db.drop();
});

credentialStoreConformance('postgres', async () => {
  const schema = uniquePrefix('cred').replace(/-/g, '_');
  await runMigrations(admin, { schema });
  const pools: Pool[] = [];
  const stores: CredentialStore[] = [];
  // Each instance has its own pool, as separate processes would.
  const make = (): PostgresCredentialStore => {
    const pool = new Pool({ connectionString: db.url, max: 2 });
    pools.push(pool);
    const store = new PostgresCredentialStore({ pool, schema });
    stores.push(store);
    return store;
  };
  return {
    store: make(),
    sibling: async () => make(),
    async cleanup() {
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all(pools.map((p) => p.end()));
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    },
  };
});
