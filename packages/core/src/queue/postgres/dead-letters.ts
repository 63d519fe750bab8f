import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import type { DeadFilter, DeadSelector, ListDeadOptions } from '../queue';
import { arrivals, MERGE_HEAD } from './device-head';
import { logEvents } from './event-log';
import { withPgRetry } from './retry';
import { isUuid, type QueueContext } from './queue-context';
import { COMMAND_COLUMNS, toStoredCommand, type CommandRow } from './rows';

/**
 * The conditions of a dead-letter filter on `commands` (alias `c`), with their parameters
 * numbered from `first`: phyId exact, reason a prefix of last_error, since/until on the time
 * it died (finished_at).
 */
function filterSql(filter: DeadFilter, first: number): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const conditions: string[] = [];
  const add = (condition: (at: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(condition(`$${first + params.length - 1}`));
  };
  if (filter.phyId !== undefined) add((p) => `c.phy_id = ${p}::text`, filter.phyId);
  if (filter.reason !== undefined) add((p) => `starts_with(coalesce(c.last_error, ''), ${p}::text)`, filter.reason);
  if (filter.since !== undefined) add((p) => `c.finished_at >= to_timestamp(${p}::float8 / 1000)`, filter.since);
  if (filter.until !== undefined) add((p) => `c.finished_at < to_timestamp(${p}::float8 / 1000)`, filter.until);
  return { sql: conditions.length === 0 ? 'true' : conditions.join(' AND '), params };
}

/** The rows a selector names, as conditions on `commands c` with parameters from `first`. */
function selectorSql(selector: DeadSelector, first: number): { sql: string; params: unknown[] } {
  if ('ids' in selector) return { sql: `c.id = ANY($${first}::uuid[])`, params: [selector.ids.filter(isUuid)] };
  if ('all' in selector) return { sql: 'true', params: [] };
  return filterSql(selector.filter, first);
}

/** Dead letters: list (paged by seq, filtered), replay (attempts reset, a fresh TTL), purge; each one statement. */
export function deadLetters(ctx: QueueContext) {
  return {
    async list(options: ListDeadOptions = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
      const limit = options.limit ?? 100;
      if (options.cursor !== undefined && !/^\d+$/.test(options.cursor)) {
        throw new OutboundError('VALIDATION_FAILED', 'cursor must be the nextCursor of an earlier page', { details: [{ path: 'cursor', message: 'unknown cursor' }] });
      }
      const where = filterSql(options.filter ?? {}, 3);
      const { rows } = await ctx.pool.query<CommandRow>(
        `SELECT ${COMMAND_COLUMNS} FROM ${ctx.commands} c LEFT JOIN ${ctx.devices} d USING (phy_id)
         WHERE c.status = 'dead' AND c.seq > $1::bigint AND ${where.sql} ORDER BY c.seq LIMIT $2`,
        [options.cursor ?? '0', limit + 1, ...where.params],
      );
      const page = rows.slice(0, limit);
      return { items: page.map(toStoredCommand), nextCursor: rows.length > limit ? page[page.length - 1]!.seq : null };
    },

    async replay(selector: DeadSelector): Promise<number> {
      const where = selectorSql(selector, 1);
      const { rows } = await withPgRetry(() =>
        ctx.pool.query<{ n: number }>(
          `WITH upd AS (
             UPDATE ${ctx.commands} c
             SET status = 'queued', attempts = 0, run_at = now(), wait_reason = NULL,
                 lease_token = NULL, lease_expires_at = NULL, finished_at = NULL,
                 expires_at = now() + make_interval(secs => ttl_ms / 1000.0), updated_at = now()
             WHERE c.status = 'dead' AND ${where.sql}
             RETURNING c.id, c.phy_id, c.priority, c.seq
           ), bumped AS (
             -- Every command's device row exists (enqueue made it and rows are never deleted).
             UPDATE ${ctx.devices} d SET queued = d.queued + n.c, ${MERGE_HEAD}, updated_at = now()
             FROM ${arrivals('upd')} n WHERE d.phy_id = n.phy_id
           )
           ${logEvents(ctx, [{ from: 'upd', type: `'command.queued'`, commandId: 'id', phyId: 'phy_id', priority: 'priority', order: 'seq' }])}
           SELECT count(*)::int AS n FROM upd`,
          where.params,
        ),
      );
      const n = rows[0]?.n ?? 0;
      if (n > 0) {
        ctx.workReady();
        ctx.eventsLogged();
      }
      return n;
    },

    async purge(selector: DeadSelector): Promise<number> {
      const where = selectorSql(selector, 1);
      const result = await withPgRetry(() => ctx.pool.query(`DELETE FROM ${ctx.commands} c WHERE c.status = 'dead' AND ${where.sql}`, where.params));
      return result.rowCount ?? 0;
    },
  };
}
