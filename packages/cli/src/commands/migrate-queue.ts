import type { Command } from 'commander';
import { createPgPool, createRedisClient, PostgresTransfer, RedisQueueV3, runMigrations, schemaVersion, loadMigrations, type RedisClient } from '@outbound/core';
import { migrateQueue, postgresSide, redisSide, type MigrateQueueReport, type TransferSide } from '../migrate/migrate-queue';
import { RedisTransfer } from '../migrate/redis-transfer';
import { UsageError } from '../api-flags';

interface MigrateQueueFlags {
  from: string;
  to: string;
  databaseUrl?: string;
  redisUrl?: string;
  prefix: string;
  schema?: string;
  shards: string;
  batchSize: string;
  dryRun: boolean;
  json: boolean;
}

function summary(r: MigrateQueueReport, dryRun: boolean): string {
  if (dryRun) return `${r.from} holds ${r.before.pending} pending and ${r.before.dead} dead commands; nothing moved (--dry-run)`;
  return [
    `moved ${r.from} -> ${r.to}: read ${r.read}, written ${r.written}, already in ${r.to} ${r.alreadyThere}, removed from ${r.from} ${r.removed}`,
    `${r.from} before: ${r.before.pending} pending, ${r.before.dead} dead; after: ${r.after.pending} pending, ${r.after.dead} dead`,
  ].join('\n');
}

/** `outbound migrate-queue --from postgres --to redis` (and back): moves pending and dead commands with ids and order intact. */
export function register(program: Command): void {
  program
    .command('migrate-queue')
    .description('move pending and dead-lettered commands between PostgreSQL and Redis (ids, priorities, attempts, order kept; rerun-safe). Stop dispatchers first.')
    .requiredOption('--from <backend>', 'postgres | redis')
    .requiredOption('--to <backend>', 'redis | postgres')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL)')
    .option('--redis-url <url>', 'Redis URL (default: $REDIS_URL)')
    .option('--prefix <prefix>', 'queue key prefix (Redis) and default schema (PostgreSQL)', 'outbound')
    .option('--schema <name>', 'PostgreSQL schema (default: the prefix)')
    .option('--shards <n>', 'Redis shard count of the queue', '16')
    .option('--batch-size <n>', 'commands per batch', '500')
    .option('--dry-run', 'count only', false)
    .option('--json', 'print the report as JSON', false)
    .action(async (flags: MigrateQueueFlags) => {
      for (const [name, value] of [['--from', flags.from], ['--to', flags.to]] as const) {
        if (value !== 'postgres' && value !== 'redis') throw new UsageError(`migrate-queue: ${name} must be postgres or redis, got "${value}"`);
      }
      if (flags.from === flags.to) throw new UsageError('migrate-queue: --from and --to must differ');
      const databaseUrl = flags.databaseUrl ?? process.env.DATABASE_URL;
      const redisUrl = flags.redisUrl ?? process.env.REDIS_URL;
      if (!databaseUrl) throw new UsageError('migrate-queue: give --database-url or set DATABASE_URL');
      if (!redisUrl) throw new UsageError('migrate-queue: give --redis-url or set REDIS_URL');
      const shards = Number(flags.shards);
      const batchSize = Number(flags.batchSize);
      if (!Number.isInteger(shards) || shards < 1) throw new UsageError(`migrate-queue: --shards must be a positive integer, got "${flags.shards}"`);
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`migrate-queue: --batch-size must be a positive integer, got "${flags.batchSize}"`);
      const schema = flags.schema ?? flags.prefix;

      const pool = createPgPool({ url: databaseUrl, max: 2, applicationName: 'outbound-migrate-queue' });
      const redis = createRedisClient({ url: redisUrl, connectionName: 'outbound-migrate-queue' });
      try {
        // The PostgreSQL side must have the schema; as a target it may be fresh.
        if (flags.to === 'postgres') await runMigrations(pool, { schema });
        else if ((await schemaVersion(pool, schema)) < loadMigrations().length) {
          throw new Error(`migrate-queue: schema "${schema}" is not migrated; run "outbound migrate --schema ${schema}" first`);
        }
        if (flags.from === 'redis') await refuseV3Commands(redis, flags.prefix, shards);
        const pg = postgresSide(new PostgresTransfer(pool, schema));
        const rd = redisSide(new RedisTransfer(redis, { prefix: flags.prefix, shards }));
        const [from, to]: [TransferSide, TransferSide] = flags.from === 'postgres' ? [pg, rd] : [rd, pg];
        const report = await migrateQueue(from, to, {
          batchSize,
          dryRun: flags.dryRun,
          onProgress: flags.json ? undefined : (r) => process.stderr.write(`\r${r.read} read, ${r.written} written, ${r.removed} removed`),
        });
        if (!flags.json && !flags.dryRun) process.stderr.write('\n');
        console.log(flags.json ? JSON.stringify(report) : summary(report, flags.dryRun));
      } finally {
        await pool.end();
        redis.disconnect();
      }
    });
}

/**
 * The Redis side moves the v2 layout's keys. Commands the v3 layout (the dispatchers' default)
 * holds would stay behind unseen, so a move from Redis stops first and says so.
 */
async function refuseV3Commands(redis: RedisClient, prefix: string, shards: number): Promise<void> {
  const v3 = new RedisQueueV3(redis, { prefix, shards, liveness: false });
  try {
    const { total } = await v3.stats();
    const held = total.pending + total.inflight + total.delayed + total.waitingForDevice + total.dead;
    if (held > 0) {
      throw new UsageError(`migrate-queue: the Redis v3 layout holds ${held} commands, which this tool does not move (it moves the v2 layout): let the dispatchers deliver them first (stop enqueueing until GET /v1/stats shows nothing pending or dead), then move what the v2 layout holds`);
    }
  } finally {
    await v3.close();
  }
}
