import { createHash, randomBytes } from 'node:crypto';
import { Client, Pool, escapeIdentifier } from 'pg';
import { loadMigrations, runMigrations } from '../packages/core/src/queue/postgres/migrate';
import { waitFor } from './wait-for';

export interface TestDatabase {
  /** Connection URL of the fresh database. */
  url: string;
  /** Drops the database (closing any connection still open to it). */
  drop(): Promise<void>;
}

function pgUrl(): string {
  return process.env.OUTBOUND_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A fresh database for one test file, cloned from a template that already holds every
 * migration of the `outbound` schema (CREATE DATABASE ... TEMPLATE is a file copy: ~100 ms
 * instead of running the migrations per file). The template is named after a hash of the
 * migration files, so editing a migration builds a new one; an advisory lock keeps parallel
 * jest workers from building it twice or cloning it while it is being built.
 */
export async function createTestDatabase(name: string): Promise<TestDatabase> {
  const base = pgUrl();
  const digest = createHash('sha1');
  for (const m of loadMigrations()) digest.update(m.name).update(m.sql);
  const template = `outbound_tpl_${digest.digest('hex').slice(0, 12)}`;
  const database = `t_${name.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 30)}_${randomBytes(4).toString('hex')}`;

  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query("SELECT pg_advisory_lock(hashtext('outbound:test-template'))");
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (exists.rowCount === 0) await buildTemplate(admin, base, template);
      await admin.query(`CREATE DATABASE ${escapeIdentifier(database)} TEMPLATE ${escapeIdentifier(template)}`);
    } finally {
      await admin.query("SELECT pg_advisory_unlock(hashtext('outbound:test-template'))");
    }
  } finally {
    await admin.end();
  }

  return {
    url: withDatabase(base, database),
    async drop() {
      const c = new Client({ connectionString: base });
      await c.connect();
      try {
        // pg-pool's end() resolves once it has asked its clients to end, not once their server processes are gone.
        // FORCE terminates those, and a terminated client emits 'error' through its pool: on a pool without an
        // error listener that fails the test file ("terminating connection due to administrator command", seen in
        // migrations.test.ts). So wait for them to leave; FORCE is for connections a failed test left open.
        const open = async () =>
          (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database])).rows[0]!.n;
        await waitFor(async () => (await open()) === 0, { timeoutMs: 5_000, intervalMs: 20, what: `connections to ${database} to close` }).catch(() => undefined);
        await c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(database)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

async function buildTemplate(admin: Client, base: string, template: string): Promise<void> {
  // Built under a temporary name and renamed at the end, so a crash half-way never leaves a
  // template that looks finished.
  const building = `${template}_building`;
  await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(building)} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${escapeIdentifier(building)}`);
  const pool = new Pool({ connectionString: withDatabase(base, building), max: 1 });
  try {
    await runMigrations(pool, { schema: 'outbound' });
  } finally {
    await pool.end();
  }
  await admin.query(`ALTER DATABASE ${escapeIdentifier(building)} RENAME TO ${escapeIdentifier(template)}`);
  // Templates of older migration sets are dead weight; nobody clones them (we hold the lock).
  const stale = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'outbound\\_tpl\\_%' AND datname NOT LIKE '%\\_building' AND datname <> $1",
    [template],
  );
  for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(datname)} WITH (FORCE)`);
}
