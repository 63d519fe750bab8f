import type { Command } from 'commander';
import type { Stats } from '@outbound/client';
import { withApiOptions, withClient, type ApiFlags } from '../api-flags';

type Counts = Stats['total'];
const COLUMNS: Array<keyof Counts> = ['pending', 'inflight', 'delayed', 'waitingForDevice', 'dead'];

function table(stats: Stats, perShard: boolean): string {
  const rows = [['', ...COLUMNS], ['total', ...COLUMNS.map((c) => String(stats.total[c]))]];
  if (perShard) for (const s of stats.shards) rows.push([`shard ${s.shard}`, ...COLUMNS.map((c) => String(s[c]))]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padStart(widths[i]!)).join('  ')).join('\n');
}

/** `outbound stats [--shards]`: queue counts (admin key). */
export function register(program: Command): void {
  withApiOptions(
    program.command('stats').description('queue counts: pending, in flight, delayed, waiting for device, dead (admin key)').option('--shards', 'one row per shard', false),
  ).action(async (flags: ApiFlags & { shards: boolean }) => {
    await withClient(flags, (client) => client.stats(), (stats) => table(stats, flags.shards));
  });
}
