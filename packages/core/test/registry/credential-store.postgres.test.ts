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

describe('PostgresCredentialStore statements', () => {
  it('plans each statement once per connection: named, and on the generic plan from the sixth call on', async () => {
    // One connection, so every statement and the catalog read below share a session.
    const schema = uniquePrefix('cred-plan').replace(/-/g, '_');
    await runMigrations(admin, { schema });
    const pool = new Pool({ connectionString: db.url, max: 1 });
    const store = new PostgresCredentialStore({ pool, schema });
    try {
      for (let i = 0; i < 12; i++) {
        const phyId = `PLAN-${i}`;
        await store.setKey(phyId, Buffer.alloc(32, i));
        expect(await store.get(phyId)).toEqual({ key: Buffer.alloc(32, i), revoked: false });
        await store.revoke(phyId);
        expect(await store.unrevoke(phyId)).toBe(true);
        expect(await store.deleteKey(phyId)).toBe(true);
        expect(await store.get(phyId)).toEqual({ key: null, revoked: false });
      }
      const { rows } = await pool.query<{ name: string; custom_plans: string; generic_plans: string }>(
        `SELECT name, custom_plans, generic_plans FROM pg_prepared_statements WHERE name LIKE 'outbound\\_%'`,
      );
      const kind = (name: string): string => name.replace(/^outbound_/, '').replace(/_[0-9a-f]+$/, '');
      expect(rows.map((r) => kind(r.name)).sort()).toEqual(['credential_delete', 'credential_get', 'credential_revoke', 'credential_set', 'credential_unrevoke']);
      for (const r of rows) {
        // planned for their own arguments five times at most, then the generic plan, kept
        expect({ kind: kind(r.name), custom: Number(r.custom_plans) <= 5, generic: Number(r.generic_plans) >= 6 }).toEqual({ kind: kind(r.name), custom: true, generic: true });
      }
    } finally {
      await store.close();
      await pool.end();
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });
});
