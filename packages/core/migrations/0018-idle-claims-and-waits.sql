-- 0018: what an idle claimer asks costs less: when the next retry or scheduled command comes due,
-- as a function planned once per connection (next_due_ms()), and a claim with nothing to walk
-- answered without its statement (claim_commands(), below).
--
-- Every wait for work (waitForWork) reads this to arm a timer for the earliest command whose
-- run_at lies ahead, while it waits for a NOTIFY. As a plain statement it was parsed and planned
-- on each wait: ~150-200 µs of server CPU per call against ~27 µs for the same statement with a
-- cached plan (measured on one connection, 2,000 calls each, three rounds alternated). A claimer
-- waits after every claim that came back empty, about once per command at low rates.
--
-- Why a function and not a named statement: a cached plan is built from the statistics of its
-- moment, and one built on an empty, analyzed `commands` (0 pages) is a sequential scan and a
-- sort, kept until the next ANALYZE, whatever the table has grown to meanwhile (a bulk import, a
-- backlog). enable_seqscan = off here leaves the partial index commands_waiting (0012), which
-- holds only queued commands that wait, read in run_at order and stopped at the first entry.
--
-- Result: milliseconds from now (the database clock) to the earliest such run_at, or NULL when no
-- command waits. Reads only; a dispatcher of an earlier version does not call it.
CREATE FUNCTION next_due_ms()
RETURNS float8
LANGUAGE plpgsql STABLE
-- The schema is bound when the migration runs (runMigrations sets search_path to it).
SET search_path FROM CURRENT
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $fn$
BEGIN
  RETURN (
    SELECT ceil(extract(epoch FROM w.run_at - now()) * 1000)::float8
    FROM (
      SELECT c.run_at FROM commands c
      WHERE c.status = 'queued' AND c.wait_reason IS NOT NULL AND c.run_at > now()
      ORDER BY c.run_at
      LIMIT 1
    ) w
  );
END
$fn$;

-- claim_commands() (0017) with one step first: when no device could be walked (none with queued
-- commands that is not parked, not busy and not waiting for a retry), it returns no rows at once,
-- without starting its statement. Same arguments and result, so it is replaced in place, and a
-- dispatcher of any earlier version, which calls this function too, gets the same.
--
-- Why: a claim that finds nothing is frequent (a claimer claims until a claim comes back empty,
-- then waits; at low rates that is about one empty claim per command), and the statement's start
-- (its plan's many nodes initialised, the written tables' indexes opened) and end cost ~110 µs of
-- server CPU even when it walks nothing, against ~25 µs for the check. The check reads the
-- partial index devices_with_work, as the walk does, and is weaker than the walk's own condition
-- (which also wants a due command and room under the in-flight limit), so whenever the walk could
-- claim or expire anything, the statement runs as before. Its snapshot is a little older than the
-- statement's would be: work committed in between is missed as by a claim that ran a moment
-- earlier, and its NOTIFY, sent after that commit, wakes the claimer.
CREATE OR REPLACE FUNCTION claim_commands(p_max int, p_lease_ms int, p_max_in_flight int)
RETURNS TABLE (id uuid, phy_id text, payload bytea, priority smallint, attempts integer, max_attempts integer,
               ack_timeout_ms integer, lease_token uuid, expires_at float8, created_at float8, lease_expires_at float8,
               trace_context text, expired integer)
LANGUAGE plpgsql
-- The schema is bound when the migration runs (runMigrations sets search_path to it).
SET search_path FROM CURRENT
SET plan_cache_mode = force_generic_plan
-- index paths only (0015 says why)
SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
BEGIN
  -- Nothing to walk (the walk below would find no device): answer no rows without the statement.
  -- A necessary condition of every candidate, read through the same partial index.
  IF NOT EXISTS (
    SELECT 1 FROM devices d
    WHERE d.queued > 0 AND NOT d.offline AND NOT d.busy AND (d.retry_at IS NULL OR d.retry_at <= now())
  ) THEN
    RETURN;
  END IF;
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
    WHERE d.queued > 0 AND NOT d.offline AND NOT d.busy AND (d.retry_at IS NULL OR d.retry_at <= now()) AND f.inflight < (SELECT p_max_in_flight)
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
  turns AS (
    -- what each device the claim took from has left: queued count and head hint (device-head.ts
    -- departures(), inlined: this file is plain SQL). A device this claim filled to its in-flight
    -- limit (room all taken) is marked busy, which takes it out of the walk until a command of it
    -- ends its flight, and gets a fresh number of the command sequence as its head seq (its turn):
    -- back in the walk, it sorts behind every command enqueued before this claim, so devices take
    -- turns instead of a backlog's next command going first every time its previous one ends. The
    -- turns are drawn in the order of the devices' next commands, one each, so the devices one
    -- claim filled come back in that order (one number for all left their order to the index's
    -- tie-break). A CTE with a volatile call is evaluated once, rows in the order below.
    SELECT t.*, CASE WHEN t.full AND t.seq IS NOT NULL THEN nextval(CAST('commands_seq_seq' AS regclass)) END AS turn
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
      ORDER BY h.priority DESC, h.seq
    ) t
  ),
  counted AS (
    UPDATE devices d
    SET queued = d.queued - n.c, head_priority = n.priority, head_seq = coalesce(n.turn, n.seq),
        -- busy: filled to its limit by this claim (devices it only expired commands of keep theirs)
        busy = coalesce(n.full, d.busy),
        updated_at = now()
    FROM turns n
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
  -- The commit does not wait for its WAL flush (see above) unless the claim logged events (it
  -- expired commands): a reader may pass those at once, so they must not be undone by a crash.
  -- pg_current_xact_id_if_assigned(): NULL when the claim wrote nothing (no commit record).
  IF NOT EXISTS (SELECT 1 FROM events e WHERE e.xid = pg_current_xact_id_if_assigned()) THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
END
$fn$;
