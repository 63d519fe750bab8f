import type { Pool } from 'pg';
import { loadMigrations, runMigrations, schemaVersion } from '../queue/postgres/migrate';
import { checkPgHealth, createPgPool } from '../queue/postgres/pool';
import type { DependencyCheck } from './health-routes';
import type { PostgresConfig } from './postgres-config';

export { postgresConfigSchema, postgresConfigProblems, type PostgresConfig } from './postgres-config';

/** An open pool whose schemas are migrated (or checked), and its /health check. */
export interface PostgresStore {
  pool: Pool;
  /** Pool health for /health: total, idle and waiting connections and the latency of a query through the pool. */
  check(): Promise<DependencyCheck>;
  close(): Promise<void>;
}

/**
 * Opens the pool and brings each schema up to date (DATABASE_MIGRATE, the default; concurrent
 * replicas are safe, see runMigrations). With migrations off it refuses to start on a schema
 * older than this release, instead of failing later on the first query.
 */
export async function openPostgresStore(config: PostgresConfig, options: { applicationName: string; schemas: Iterable<string> }): Promise<PostgresStore> {
  const pool = createPgPool({
    url: config.url,
    max: config.poolMax,
    idleTimeoutMs: config.idleTimeoutMs,
    statementTimeoutMs: config.statementTimeoutMs,
    connectionTimeoutMs: config.connectTimeoutMs,
    applicationName: options.applicationName,
  });
  try {
    const latest = loadMigrations().length;
    for (const schema of new Set(options.schemas)) {
      if (config.migrate) {
        await runMigrations(pool, { schema });
        continue;
      }
      const version = await schemaVersion(pool, schema);
      if (version < latest) {
        throw new Error(`schema "${schema}" is at migration ${version}, this release needs ${latest}: run \`outbound migrate --schema ${schema}\` or set DATABASE_MIGRATE=true`);
      }
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return {
    pool,
    async check() {
      const health = await checkPgHealth(pool);
      return { ...health, status: health.ok ? 'ok' : 'down' };
    },
    close: () => pool.end(),
  };
}
