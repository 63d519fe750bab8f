/**
 * The head hint on a device row (head_priority, head_seq): the priority and seq of its best
 * queued command. The claim walks devices in hint order through an index and stops after a
 * batch, instead of reading every device's line head on every claim (measured: 1,000 devices,
 * batch 1: ~12 ms per claim before, see docs/postgres.md for after). The hint only orders
 * devices; which commands a device yields is always read from the commands themselves, so a
 * stale hint can delay a device's turn, never break its order or serialization.
 *
 * One exception: a claim that fills a device to its in-flight limit sets head_seq to a fresh
 * number of the command sequence, so once a command of it ends (the device leaves the walk while
 * it is busy, migrations/0016-busy-devices.sql) it sorts behind every device with work enqueued
 * before that claim and devices take turns; the next arrival or departure puts the real head back.
 *
 * Every statement that changes a device's queued line keeps the hint: arrivals (enqueue, retry,
 * release, reclaim, replay, import) merge theirs in; departures (claim, expire, cancel, removal)
 * recompute it from the line without the departed rows. Two copies live in plain SQL and must
 * change with these: the merge in enqueue_commands() (migrations/0008-event-log.sql, the function's latest version) and
 * the recompute in claim_commands() (migrations/0018-idle-claims-and-waits.sql, the function's latest version).
 */

/** True when the arriving best `n` beats the device's hint `d` (or the hint is meaningless). */
const BETTER = `(d.queued = 0 OR d.head_seq IS NULL OR n.priority > d.head_priority OR (n.priority = d.head_priority AND n.seq < d.head_seq))`;

/** SET fragment for `UPDATE devices d ... FROM ${arrivals(...)} n`. */
export const MERGE_HEAD = `head_priority = CASE WHEN ${BETTER} THEN n.priority ELSE d.head_priority END,
  head_seq = CASE WHEN ${BETTER} THEN n.seq ELSE d.head_seq END`;

/** Per device: how many rows of `source` (phy_id, priority, seq) arrive and the best of them. */
export function arrivals(source: string, where = 'true'): string {
  return `(SELECT DISTINCT ON (phy_id) phy_id, priority, seq, count(*) OVER (PARTITION BY phy_id)::int AS c
           FROM ${source} WHERE ${where} ORDER BY phy_id, priority DESC, seq)`;
}

/**
 * Per device: how many rows of `source` (phy_id, id) left the line and the line's new best,
 * read from the statement's snapshot with the departed ids excluded.
 */
export function departures(source: string, commands: string): string {
  return `(SELECT g.phy_id, g.c, h.priority, h.seq
           FROM (SELECT phy_id, count(*)::int AS c, array_agg(id) AS ids FROM ${source} GROUP BY phy_id) g
           LEFT JOIN LATERAL (
             SELECT x.priority, x.seq FROM ${commands} x
             WHERE x.phy_id = g.phy_id AND x.status = 'queued' AND x.id <> ALL (g.ids)
             ORDER BY x.priority DESC, x.seq LIMIT 1
           ) h ON true)`;
}

/** SET fragment for `UPDATE devices d ... FROM ${departures(...)} n`. */
export const RECOMPUTE_HEAD = `head_priority = n.priority, head_seq = n.seq`;

