import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { OutboundError } from '../../errors';
import { schemaName } from './schema-name';

/** `packages/core/migrations`: src/queue/postgres and dist/queue/postgres sit at the same depth. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../../migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads `NNNN-name.sql` files in version order; a gap or a duplicate number is a packaging error. */
export function loadMigrations(directory: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(directory).filter((f) => /^\d{4}-[a-z0-9-]+\.sql$/.test(f)).sort();
  const migrations = files.map((file) => ({
    version: Number(file.slice(0, 4)),
    name: file.replace(/\.sql$/, ''),
    sql: readFileSync(path.join(directory, file), 'utf8'),
  }));
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new OutboundError('INTERNAL', `migration ${m.name}: expected version ${i + 1} (numbers must be 1, 2, 3 ... without gaps)`);
  });
  return migrations;
}

export interface MigrationReport {
  schema: string;
  /** Names applied by this call (empty when the schema was up to date or another replica did it). */
  applied: string[];
  /** Highest version recorded in the database after this call. */
  version: number;
}

/**
 * Brings `schema` up to the newest migration. Each migration runs in its own transaction that
 * first takes a transaction-scoped advisory lock for this schema, then records its version,
 * then runs the SQL: replicas starting together queue up on the lock, and the second one finds
 * the version recorded and skips it. Forward-only: there are no down migrations.
 */
export async function runMigrations(pool: Pool, options: { schema?: string; directory?: string } = {}): Promise<MigrationReport> {
  const schema = schemaName(options.schema ?? 'outbound');
  const migrations = loadMigrations(options.directory);
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await locked(client, schema.name, async () => {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema.quoted}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema.quoted}.schema_migrations (
           version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
    });
    for (const migration of migrations) {
      await locked(client, schema.name, async () => {
        const recorded = await client.query(
          `INSERT INTO ${schema.quoted}.schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING`,
          [migration.version, migration.name],
        );
        if (recorded.rowCount === 0) return;
        await client.query(`SET LOCAL search_path TO ${schema.quoted}, public`);
        try {
          await client.query(migration.sql);
        } catch (error) {
          throw new OutboundError('INTERNAL', `migration ${migration.name} failed in schema ${schema.name}: ${(error as Error).message}`, { cause: error });
        }
        applied.push(migration.name);
      });
    }
    const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${schema.quoted}.schema_migrations`);
    return { schema: schema.name, applied, version: rows[0]?.version ?? 0 };
  } finally {
    client.release();
  }
}

/** The highest applied version, or 0 when the schema was never migrated. */
export async function schemaVersion(pool: Pool, schema = 'outbound'): Promise<number> {
  const s = schemaName(schema);
  const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${s.quoted}.schema_migrations`]);
  if (!rows[0]?.t) return 0;
  const version = await pool.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s.quoted}.schema_migrations`);
  return version.rows[0]?.v ?? 0;
}

async function locked(client: PoolClient, schema: string, fn: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('outbound:migrate:' || $1))", [schema]);
    await fn();
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
