import type { Command } from 'commander';
import { withApiOptions, withClient, type ApiFlags } from '../api-client';

interface Counts { pending: number; inflight: number; delayed: number; waitingForDevice: number; dead: number }
interface Stats { total: Counts; shards: Array<Counts & { shard: number }> }

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
    await withClient(flags, async (client) => (await client.call<Stats>('GET', '/v1/stats')).body, (stats) => table(stats, flags.shards));
  });
}
