-- 0015: claim_commands() (0013) without the join back to the claim's candidates, and with
-- index paths only. Same arguments and result, so it is replaced in place.
--
-- The device update (`counted`) joined the claimed commands, grouped per device, back to the
-- candidate devices to read each one's room (in-flight limit minus in flight). Both sides are
-- CTEs the generic plan cannot size, so it joined them as a nested loop that rescans the
-- candidates for every device: batch x batch comparisons, a cost that grows with the square of
-- the batch. Measured (claims alternated on one table, 1,000 devices, loaded 2-core host): 82.8
-- against 73.5 us per command at a batch of 1,000; at 200 (40,000 comparisons, ~0.4 ms) it is
-- below the noise. The room now travels with each claimed command (picked -> claimed) and is
-- aggregated per device.
--
-- enable_seqscan = off for the function: its statement is planned once per connection from the
-- statistics of that moment, so a table that looked tiny then (just created, or just vacuumed
-- while idle) must not earn a sequential scan that stays in the plan as the table grows. Every
-- table the claim reads has an index for it, and no sequential scan was seen in its plans since
-- 0013 (built on empty, idle or full tables): this keeps it so as the statement changes.
--
-- Everything else, and why the claim has this shape, is as 0013 describes.
CREATE OR REPLACE FUNCTION claim_commands(p_max int, p_lease_ms int, p_max_in_flight int)
RETURNS TABLE (id uuid, phy_id text, payload bytea, priority smallint, attempts integer, max_attempts integer,
               ack_timeout_ms integer, lease_token uuid, expires_at float8, created_at float8, lease_expires_at float8,
               trace_context text, expired integer)
LANGUAGE plpgsql
-- The schema is bound when the migration runs (runMigrations sets search_path to it).
SET search_path FROM CURRENT
SET plan_cache_mode = force_generic_plan
-- index paths only (see above)
SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH candidates AS (
    SELECT d.phy_id, (SELECT p_max_in_flight) - f.inflight AS room
    FROM devices d
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS inflight FROM commands c
      WHERE c.phy_id = d.phy_id AND c.status = 'inflight'
    ) f
    -- something due (ready, or expired and to be expired below); scheduled-only devices wait.
    -- A LATERAL with LIMIT, not EXISTS: EXISTS lets the planner hash-join every device's
    -- commands first (seen with stale statistics: 5 ms instead of 0.6 ms per claim), a LATERAL
    -- keeps it an index probe per device visited.
    CROSS JOIN LATERAL (
      SELECT 1 FROM commands c
      WHERE c.phy_id = d.phy_id AND c.status = 'queued' AND c.run_at <= now()
      LIMIT 1
    ) due
    WHERE d.queued > 0 AND NOT d.offline AND (d.retry_at IS NULL OR d.retry_at <= now()) AND f.inflight < (SELECT p_max_in_flight)
    ORDER BY d.head_priority DESC, d.head_seq
    LIMIT (SELECT p_max)
    FOR UPDATE OF d SKIP LOCKED
  ),
  picked AS (
    SELECT l.tid, l.id, l.priority, l.seq, cd.room
    FROM candidates cd
    CROSS JOIN LATERAL (
      SELECT c.ctid AS tid, c.id, c.priority, c.seq FROM commands c
      WHERE c.phy_id = cd.phy_id AND c.status = 'queued' AND c.run_at <= now() AND c.expires_at > now()
      ORDER BY c.priority DESC, c.seq
      LIMIT cd.room
    ) l
    ORDER BY l.priority DESC, l.seq
    LIMIT (SELECT p_max)
  ),
  expired AS (
    UPDATE commands c
    SET status = 'expired', last_error = 'ttl passed before delivery', finished_at = now(), updated_at = now()
    FROM (
      SELECT x.tid FROM candidates cd
      CROSS JOIN LATERAL (
        -- now() through a scalar subquery: the planner cannot tell how few commands have expired,
        -- so it probes commands_device_expiry (phy_id, expires_at). With now() itself, a plan built
        -- while nothing had expired took commands_expiry (expires_at) and read every expired
        -- command of every device for each device claimed from (90 ms per claim of 64 with 5,000
        -- expired on parked devices, against ~6)
        SELECT e.ctid AS tid FROM commands e
        WHERE e.phy_id = cd.phy_id AND e.status = 'queued' AND e.expires_at <= (SELECT now())
        ORDER BY e.expires_at LIMIT 100
      ) x
    ) due
    WHERE c.ctid = due.tid AND c.status = 'queued'
    RETURNING c.id, c.phy_id, c.seq
  ),
  logged AS (
    -- the event log (event-log.ts logEvents(), inlined: this file is plain SQL)
    INSERT INTO events (type, command_id, phy_id, reason)
    SELECT CAST('command.expired' AS event_type), x.id, x.phy_id, 'ttl passed before delivery' FROM expired x ORDER BY x.seq
  ),
  claimed AS (
    UPDATE commands c
    SET status = 'inflight',
        attempts = c.attempts + 1,
        lease_token = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0),
        wait_reason = NULL,
        updated_at = now()
    FROM picked p
    WHERE c.ctid = p.tid AND c.status = 'queued'
    -- the device's room rides along, so `counted` needs no join back to the candidates
    RETURNING c.*, p.room
  ),
  counted AS (
    -- queued count and head hint (device-head.ts departures(), inlined: this file is plain SQL).
    -- A device this claim filled to its in-flight limit (room all taken) gets a fresh number of the
    -- command sequence as its head seq (one per claim): it then sorts behind every command
    -- enqueued so far and every device an earlier claim filled, so the walk above reaches the
    -- devices filled longest ago (the likeliest to be free again) first, instead of passing every
    -- busy device with an old line head (an in-flight count probe each) on every claim.
    UPDATE devices d
    SET queued = d.queued - n.c, head_priority = n.priority,
        head_seq = CASE WHEN n.full AND n.seq IS NOT NULL THEN greatest(n.seq, (SELECT nextval(CAST('commands_seq_seq' AS regclass)))) ELSE n.seq END,
        updated_at = now()
    FROM (
      -- room is NULL for a device the claim only expired commands of: never full
      SELECT g.phy_id, g.c, g.took >= g.room AS full, h.priority, h.seq
      FROM (SELECT phy_id, count(*)::int AS c, count(*) FILTER (WHERE took)::int AS took, max(room) AS room, array_agg(id) AS ids
            FROM (SELECT id, phy_id, true AS took, room FROM claimed UNION ALL SELECT id, phy_id, false, NULL::int FROM expired) gone
            GROUP BY phy_id) g
      LEFT JOIN LATERAL (
        SELECT x.priority, x.seq FROM commands x
        WHERE x.phy_id = g.phy_id AND x.status = 'queued' AND x.id <> ALL (g.ids)
        ORDER BY x.priority DESC, x.seq LIMIT 1
      ) h ON true
    ) n
    -- by key, not by ctid: a device row updated by a commit after this statement's snapshot is
    -- locked at its newest version, which a ctid from this snapshot cannot reach. The key list
    -- keeps it a primary-key probe per device: the generic plan otherwise scanned every device row.
    WHERE d.phy_id = n.phy_id AND d.phy_id = ANY (ARRAY(SELECT phy_id FROM candidates))
  )
  -- `expired` counts what the claim expired (the caller then wakes event readers): when it claimed
  -- nothing, one row of NULLs carries it
  SELECT c.id, c.phy_id, c.payload, c.priority, c.attempts, c.max_attempts, c.ack_timeout_ms, c.lease_token,
         floor(extract(epoch FROM c.expires_at) * 1000)::float8 AS expires_at,
         floor(extract(epoch FROM c.created_at) * 1000)::float8 AS created_at,
         floor(extract(epoch FROM c.lease_expires_at) * 1000)::float8 AS lease_expires_at, c.trace_context, x.n AS expired
  FROM (SELECT count(*)::int AS n FROM expired) x
  LEFT JOIN claimed c ON true
  WHERE c.id IS NOT NULL OR x.n > 0
  ORDER BY c.priority DESC, c.seq;
END
$fn$;
