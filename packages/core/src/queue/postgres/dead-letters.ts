import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import { arrivals, MERGE_HEAD } from './device-head';
import { logEvents } from './event-log';
import { withPgRetry } from './retry';
import { isUuid, type QueueContext } from './queue-context';
import { COMMAND_COLUMNS, toStoredCommand, type CommandRow } from './rows';

type Selector = { ids: string[] } | { all: true };

/** Dead letters: list (paged by seq), replay (attempts reset, a fresh TTL), purge. */
export function deadLetters(ctx: QueueContext) {
  const idsOf = (selector: Selector): string[] | null => ('all' in selector && selector.all ? null : (selector as { ids: string[] }).ids.filter(isUuid));

  return {
    async list(options: { limit?: number; cursor?: string } = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
      const limit = options.limit ?? 100;
      if (options.cursor !== undefined && !/^\d+$/.test(options.cursor)) {
        throw new OutboundError('VALIDATION_FAILED', 'cursor must be the nextCursor of an earlier page', { details: [{ path: 'cursor', message: 'unknown cursor' }] });
      }
      const { rows } = await ctx.pool.query<CommandRow>(
        `SELECT ${COMMAND_COLUMNS} FROM ${ctx.commands} c LEFT JOIN ${ctx.devices} d USING (phy_id)
         WHERE c.status = 'dead' AND c.seq > $1::bigint ORDER BY c.seq LIMIT $2`,
        [options.cursor ?? '0', limit + 1],
      );
      const page = rows.slice(0, limit);
      return { items: page.map(toStoredCommand), nextCursor: rows.length > limit ? page[page.length - 1]!.seq : null };
    },

    async replay(selector: Selector): Promise<number> {
      const ids = idsOf(selector);
      if (ids !== null && ids.length === 0) return 0;
      const { rows } = await withPgRetry(() =>
        ctx.pool.query<{ n: number }>(
          `WITH upd AS (
             UPDATE ${ctx.commands}
             SET status = 'queued', attempts = 0, run_at = now(), wait_reason = NULL,
                 lease_token = NULL, lease_expires_at = NULL, finished_at = NULL,
                 expires_at = now() + make_interval(secs => ttl_ms / 1000.0), updated_at = now()
             WHERE status = 'dead' AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
             RETURNING id, phy_id, priority, seq
           ), bumped AS (
             -- Every command's device row exists (enqueue made it and rows are never deleted).
             UPDATE ${ctx.devices} d SET queued = d.queued + n.c, ${MERGE_HEAD}, updated_at = now()
             FROM ${arrivals('upd')} n WHERE d.phy_id = n.phy_id
           )
           ${logEvents(ctx, [{ from: 'upd', type: `'command.queued'`, commandId: 'id', phyId: 'phy_id', priority: 'priority', order: 'seq' }])}
           SELECT count(*)::int AS n FROM upd`,
          [ids],
        ),
      );
      const n = rows[0]?.n ?? 0;
      if (n > 0) {
        ctx.workReady();
        ctx.eventsLogged();
      }
      return n;
    },

    async purge(selector: Selector): Promise<number> {
      const ids = idsOf(selector);
      if (ids !== null && ids.length === 0) return 0;
      const result = await withPgRetry(() =>
        ctx.pool.query(`DELETE FROM ${ctx.commands} WHERE status = 'dead' AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))`, [ids]),
      );
      return result.rowCount ?? 0;
    },
  };
}
