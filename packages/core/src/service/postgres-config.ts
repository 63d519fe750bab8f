import type convict from 'convict';

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
