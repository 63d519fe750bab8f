-- 0013: the claim as a function, claim_commands(), planned once per connection.
--
-- The claim was a prepared statement: PostgreSQL plans such a statement's first five calls for
-- their own arguments, then keeps the generic plan only while the custom plans do not look
-- cheaper. Under the dispatcher's varying batch sizes they often did, and the claim was planned
-- anew on 12-34 % of calls in end-to-end runs (pg_stat_statements: 110-315 plans for 940-1,410
-- claims, planning 19-23 % of the claim's time), each plan costing more than a claim of a few
-- commands. A PL/pgSQL function with plan_cache_mode = force_generic_plan plans its statement
-- once per connection (and again only when ANALYZE or a schema change invalidates the plan), as
-- enqueue_commands() does since 0006.
--
-- Arguments: p_max (batch size), p_lease_ms (lease length), p_max_in_flight
-- (maxInFlightPerDevice). One row per claimed command, priority then FIFO; when the claim only
-- expired commands, one row of NULLs carrying `expired` (the count it expired; the caller then
-- wakes event readers).
--
-- Why this shape: SKIP LOCKED on the *device* row, not the command row. Locking commands lets
-- two claimers take two commands of one device at once (each sees the other's command as
-- merely locked), which breaks per-device serialization. Locking the device row serializes a
-- device's claims while claimers still never wait for each other.
-- The walk goes over devices in the order of their head hint (priority and seq of the best
-- queued command, kept by every transition: device-head.ts) through the partial index
-- devices_with_work, and stops once it has p_max devices, so its cost follows the batch, not the
-- number of devices or commands: a device with 100,000 queued commands costs one index probe
-- and yields at most (p_max_in_flight - in flight) commands per claim, so it cannot starve its neighbours.
-- A device whose retry wait has not ended (retry_at) yields nothing, which keeps the retried
-- command at the head of its line.
-- Commands of a locked device whose TTL passed are expired here rather than sent (up to 100 per
-- device per claim, via commands_device_expiry), so a claim never delivers an expired command.
-- The statement's snapshot may be older than the device lock; the UPDATE re-checks
-- status = 'queued' on the newest row version, so a command claimed meanwhile by another
-- claimer is skipped, never claimed twice.
-- The command UPDATEs reach their rows by ctid (a TID scan per row), not by joining on id: the statement's
-- generic plan is built from the
-- statistics of that moment; built on empty tables, the id join became a scan of every queued
-- command per claimed row (~5 s per claim of 200 at 10,000 queued). A command's ctid read in this snapshot
-- that no longer names a queued row (the row changed since) matches nothing: skipped, not claimed.
-- The arguments are read through scalar subqueries, `(SELECT p_max)`, as in the prepared
-- statement this replaces, so the plan's estimates do not depend on their values.
-- Measured (1,000 devices, 1 claimer, 2 shared cores, PostgreSQL 15): reading every device's
-- line head per claim cost ~12 ms per claim (batch 1: 52 claims+acks/s); walking the hint
-- index brings batch 1 to the numbers in docs/postgres.md "Throughput".
CREATE FUNCTION claim_commands(p_max int, p_lease_ms int, p_max_in_flight int)
RETURNS TABLE (id uuid, phy_id text, payload bytea, priority smallint, attempts integer, max_attempts integer,
               ack_timeout_ms integer, lease_token uuid, expires_at float8, created_at float8, lease_expires_at float8,
               trace_context text, expired integer)
LANGUAGE plpgsql
-- The schema is bound when the migration runs (runMigrations sets search_path to it).
SET search_path FROM CURRENT
SET plan_cache_mode = force_generic_plan
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
    SELECT l.tid, l.id, l.priority, l.seq
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
    RETURNING c.*
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
      SELECT g.phy_id, g.c, g.took >= cd.room AS full, h.priority, h.seq
      FROM (SELECT phy_id, count(*)::int AS c, count(*) FILTER (WHERE took)::int AS took, array_agg(id) AS ids
            FROM (SELECT id, phy_id, true AS took FROM claimed UNION ALL SELECT id, phy_id, false FROM expired) gone GROUP BY phy_id) g
      JOIN candidates cd ON cd.phy_id = g.phy_id
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
