import type { Command } from 'commander';
import { createPgPool, runMigrations } from '@outbound/core';
import { UsageError } from '../api-flags';

interface MigrateFlags {
  databaseUrl?: string;
  schema: string;
  json: boolean;
}

/** `outbound migrate`: applies the PostgreSQL migrations (what services do at start-up unless turned off). */
export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply the PostgreSQL schema migrations (safe while replicas start: one advisory lock per schema)')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL)')
    .option('--schema <name>', 'schema to migrate (the queue prefix)', process.env.OUTBOUND_PG_SCHEMA ?? 'outbound')
    .option('--json', 'print the report as JSON', false)
    .action(async (flags: MigrateFlags) => {
      const url = flags.databaseUrl ?? process.env.DATABASE_URL;
      if (!url) throw new UsageError('migrate: give --database-url or set DATABASE_URL');
      const pool = createPgPool({ url, max: 1, applicationName: 'outbound-migrate' });
      try {
        const report = await runMigrations(pool, { schema: flags.schema });
        if (flags.json) console.log(JSON.stringify(report));
        else if (report.applied.length === 0) console.log(`schema ${report.schema} is up to date (version ${report.version})`);
        else console.log(`schema ${report.schema}: applied ${report.applied.join(', ')} (now version ${report.version})`);
      } finally {
        await pool.end();
      }
    });
}
