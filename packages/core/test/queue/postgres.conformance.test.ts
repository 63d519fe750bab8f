import { Pool } from 'pg';
import { PostgresQueue, runMigrations, ValidatedQueue, type QueueOptions } from '@outbound/core';
import { createTestDatabase, uniquePrefix, type TestDatabase } from '@outbound/test-support';
import { queueConformance } from './conformance';

// One database for this file (cloned from the migrated template); each test's queue gets a
// schema of its own in it, dropped afterwards.
let db: TestDatabase;
let admin: Pool;
beforeAll(async () => {
  db = await createTestDatabase('pg-conformance');
  admin = new Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await admin.end();
  await db.drop();
});

queueConformance('postgres', async (options: QueueOptions) => {
  const schema = uniquePrefix('q').replace(/-/g, '_');
  await runMigrations(admin, { schema });
  const pools: Pool[] = [];
  const queues: PostgresQueue[] = [];
  // Each instance has its own pool, as separate dispatcher processes would.
  const make = (): ValidatedQueue => {
    const pool = new Pool({ connectionString: db.url, max: 4 });
    pools.push(pool);
    const queue = new PostgresQueue(pool, { ...options, prefix: schema });
    queues.push(queue);
    return new ValidatedQueue(queue);
  };
  const queue = make();
  return {
    queue,
    sibling: async () => make(),
    async cleanup() {
      await Promise.all(queues.map((q) => q.close()));
      await Promise.all(pools.map((p) => p.end()));
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    },
  };
});
