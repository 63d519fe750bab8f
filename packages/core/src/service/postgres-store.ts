import type convict from 'convict';
import type { Pool } from 'pg';
import { loadMigrations, runMigrations, schemaVersion } from '../queue/postgres/migrate';
import { checkPgHealth, createPgPool } from '../queue/postgres/pool';
import type { DependencyCheck } from './health-routes';

/**
 * PostgreSQL settings shared by both services (QUEUE_BACKEND=postgres). The environment names
 * are the contract: ingress and dispatcher read the same ones, so one ConfigMap serves both.
 */
export interface PostgresConfig {
  url: string;
  poolMax: number;
  idleTimeoutMs: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  migrate: boolean;
}

export const postgresConfigSchema: convict.Schema<PostgresConfig> = {
  url: { doc: 'PostgreSQL URL, postgres://user:pass@host:5432/db (required with QUEUE_BACKEND=postgres)', format: String, default: '', env: 'DATABASE_URL', sensitive: true },
  poolMax: { doc: 'most pooled connections per process (LISTEN takes one more per queue/registry)', format: 'nat', default: 10, env: 'DATABASE_POOL_MAX' },
  idleTimeoutMs: { doc: 'idle pooled connections close after this long', format: 'nat', default: 30_000, env: 'DATABASE_IDLE_TIMEOUT_MS' },
  statementTimeoutMs: { doc: 'statement_timeout: a stuck statement cannot hold locks longer', format: 'nat', default: 30_000, env: 'DATABASE_STATEMENT_TIMEOUT_MS' },
  connectTimeoutMs: { doc: 'waiting for a pooled connection fails after this long', format: 'nat', default: 5_000, env: 'DATABASE_CONNECT_TIMEOUT_MS' },
  migrate: { doc: 'apply the schema migrations at start-up (false: run `outbound migrate` yourself)', format: Boolean, default: true, env: 'DATABASE_MIGRATE' },
};

/** Problems with the PostgreSQL settings when `backend` is postgres (one line each, for ConfigError). */
export function postgresConfigProblems(backend: string, config: PostgresConfig): string[] {
  if (backend !== 'postgres') return [];
  if (!config.url) return ['postgres.url: DATABASE_URL is required when QUEUE_BACKEND=postgres'];
  let protocol: string;
  try {
    protocol = new URL(config.url).protocol;
  } catch {
    return ['postgres.url: DATABASE_URL must be a URL like postgres://user:pass@host:5432/db'];
  }
  const problems: string[] = [];
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') problems.push(`postgres.url: DATABASE_URL must start with postgres:// or postgresql:// (got ${protocol}//)`);
  if (config.poolMax < 1) problems.push('postgres.poolMax: DATABASE_POOL_MAX must be at least 1');
  return problems;
}

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
