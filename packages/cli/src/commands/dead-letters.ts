import type { Command } from 'commander';
import { UsageError, withApiOptions, withClient, type ApiFlags } from '../api-flags';
import { integer } from './enqueue';

function selector(ids: string[], all: boolean): { ids: string[] } | { all: true } {
  if (all && ids.length > 0) throw new UsageError('give ids or --all, not both');
  if (!all && ids.length === 0) throw new UsageError('give at least one id, or --all');
  return all ? { all: true } : { ids };
}

/** `outbound dead-letters list|replay|purge` (admin key). */
export function register(program: Command): void {
  const group = program.command('dead-letters').description('list, replay or purge dead letters (admin key)');

  withApiOptions(
    group.command('list').description('list dead letters').option('--limit <n>', 'page size', integer(1, 1000), 100).option('--cursor <cursor>', 'continue from a previous page'),
  ).action(async (flags: ApiFlags & { limit: number; cursor?: string }) => {
    await withClient(flags, (client) => client.deadLetters({ limit: flags.limit, cursor: flags.cursor }), (page) => {
      const lines = page.items.map((c) => `${c.id}  ${c.phyId}  attempts ${c.attempts}/${c.maxAttempts}  ${c.lastError ?? ''}`);
      if (lines.length === 0) lines.push('no dead letters');
      if (page.nextCursor) lines.push(`more: --cursor ${page.nextCursor}`);
      return lines.join('\n');
    });
  });

  withApiOptions(group.command('replay').description('requeue dead letters with attempts reset').argument('[ids...]', 'command ids').option('--all', 'every dead letter', false)).action(
    async (ids: string[], flags: ApiFlags & { all: boolean }) => {
      const sel = selector(ids, flags.all);
      await withClient(flags, async (client) => ({ replayed: await client.replayDeadLetters(sel) }), (r) => `replayed ${r.replayed}`);
    },
  );

  withApiOptions(group.command('purge').description('delete dead letters').argument('[ids...]', 'command ids').option('--all', 'every dead letter', false)).action(
    async (ids: string[], flags: ApiFlags & { all: boolean }) => {
      const sel = selector(ids, flags.all);
      await withClient(flags, async (client) => ({ deleted: await client.purgeDeadLetters(sel) }), (r) => `deleted ${r.deleted}`);
    },
  );
}
