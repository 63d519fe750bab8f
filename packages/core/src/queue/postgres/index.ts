export { PostgresQueue } from './postgres-queue';
export { runMigrations, schemaVersion, loadMigrations, MIGRATIONS_DIR, type MigrationReport, type Migration } from './migrate';
export { createPgPool, checkPgHealth, inTransaction, type PgPoolOptions, type PgHealth } from './pool';
export { withPgRetry, isRetryablePgError, RETRYABLE_SQLSTATES, type RetryOptions } from './retry';
export { PgListener } from './pg-listener';
export { PostgresTransfer, type TransferRecord, type ImportReport } from './transfer';
export { classifyPostgresError, isCommitUnknown, type PgWrite } from './classify-error';
