import type { QueueContext } from './queue-context';

/** Devices looked at per priority band: the bound on the read, whatever the queue holds. */
const WALK = 100;

/**
 * Seconds since the oldest command that could be claimed now was enqueued (0: none), on the
 * database clock. Per priority band, the walk follows the claim's own index (devices_with_work:
 * head priority, then head seq, i.e. enqueue order) over at most WALK devices not parked, not
 * filled by their last claim (busy), not waiting out a retry and below their in-flight limit, and reads the first one's head command
 * by its full key: at most 10 x WALK index probes per scrape, never a scan of the commands.
 * A band whose first WALK devices are all busy reports nothing (the age reads low then, while
 * every dispatcher is delivering).
 */
export async function oldestReadyAgeSeconds(ctx: QueueContext): Promise<number> {
  const { rows } = await ctx.pool.query<{ age: number | null }>(
    `SELECT extract(epoch FROM now() - min(c.created_at))::float8 AS age
     FROM generate_series(0, 9) AS band(p)
     CROSS JOIN LATERAL (
       SELECT w.phy_id, w.head_seq FROM (
         SELECT d.phy_id, d.head_seq FROM ${ctx.devices} d
         WHERE d.queued > 0 AND NOT d.offline AND NOT d.busy AND d.head_priority = band.p AND (d.retry_at IS NULL OR d.retry_at <= now())
         ORDER BY d.head_priority DESC, d.head_seq
         LIMIT ${WALK}
       ) w
       WHERE (SELECT count(*) FROM ${ctx.commands} f WHERE f.phy_id = w.phy_id AND f.status = 'inflight') < $1::int
       ORDER BY w.head_seq
       LIMIT 1
     ) h
     JOIN ${ctx.commands} c ON c.phy_id = h.phy_id AND c.priority = band.p AND c.seq = h.head_seq AND c.status = 'queued' AND c.run_at <= now()`,
    [ctx.maxInFlightPerDevice],
  );
  return Math.max(0, rows[0]?.age ?? 0);
}
