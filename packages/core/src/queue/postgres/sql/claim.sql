-- claim: hands out up to $1 ready commands with leases of $2 ms, at most $3 in flight per device.
-- $1 int batch size, $2 int lease ms, $3 int maxInFlightPerDevice. Returns the claimed rows,
-- priority then FIFO. `:schema` is replaced by the quoted schema name when the file loads.
--
-- Why this shape: SKIP LOCKED on the *device* row, not the command row. Locking commands lets
-- two claimers take two commands of one device at once (each sees the other's command as
-- merely locked), which breaks per-device serialization. Locking the device row serializes a
-- device's claims while claimers still never wait for each other.
-- The walk goes over devices in the order of their head hint (priority and seq of the best
-- queued command, kept by every transition: device-head.ts) through the partial index
-- devices_with_work, and stops once it has $1 devices, so its cost follows the batch, not the
-- number of devices or commands: a device with 100,000 queued commands costs one index probe
-- and yields at most ($3 - in flight) commands per claim, so it cannot starve its neighbours.
-- A device whose retry wait has not ended (retry_at) yields nothing, which keeps the retried
-- command at the head of its line.
-- Commands of a locked device whose TTL passed are expired here rather than sent (up to 100 per
-- device per claim, via commands_device_expiry), so a claim never delivers an expired command.
-- The statement's snapshot may be older than the device lock; the UPDATE re-checks
-- status = 'queued' on the newest row version, so a command claimed meanwhile by another
-- claimer is skipped, never claimed twice.
-- The command UPDATEs reach their rows by ctid (a TID scan per row), not by joining on id: the statement
-- is prepared once per connection (postgres-queue.ts) and its generic plan is built from the
-- statistics of that moment; built on empty tables, the id join became a scan of every queued
-- command per claimed row (~5 s per claim of 200 at 10,000 queued). A command's ctid read in this snapshot
-- that no longer names a queued row (the row changed since) matches nothing: skipped, not claimed.
-- The arguments are read through scalar subqueries, `(SELECT $1::int)`: the planner then
-- estimates the same plan whatever the values, so after its first five calls PostgreSQL keeps
-- the generic plan (planned once per connection). Given the values directly, a claim of one
-- looked cheaper planned for its own LIMIT, and each call was planned anew (~1.9 ms of server
-- CPU per claim, more than running it).
-- Measured (1,000 devices, 1 claimer, 2 shared cores, PostgreSQL 15): reading every device's
-- line head per claim cost ~12 ms per claim (batch 1: 52 claims+acks/s); walking the hint
-- index brings batch 1 to the numbers in docs/postgres.md "Throughput".
WITH candidates AS (
  SELECT d.phy_id, (SELECT $3::int) - f.inflight AS room
  FROM :schema.devices d
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS inflight FROM :schema.commands c
    WHERE c.phy_id = d.phy_id AND c.status = 'inflight'
  ) f
  -- something due (ready, or expired and to be expired below); scheduled-only devices wait.
  -- A LATERAL with LIMIT, not EXISTS: EXISTS lets the planner hash-join every device's
  -- commands first (seen with stale statistics: 5 ms instead of 0.6 ms per claim), a LATERAL
  -- keeps it an index probe per device visited.
  CROSS JOIN LATERAL (
    SELECT 1 FROM :schema.commands c
    WHERE c.phy_id = d.phy_id AND c.status = 'queued' AND c.run_at <= now()
    LIMIT 1
  ) due
  WHERE d.queued > 0 AND NOT d.offline AND (d.retry_at IS NULL OR d.retry_at <= now()) AND f.inflight < (SELECT $3::int)
  ORDER BY d.head_priority DESC, d.head_seq
  LIMIT (SELECT $1::int)
  FOR UPDATE OF d SKIP LOCKED
),
picked AS (
  SELECT l.tid, l.id, l.priority, l.seq
  FROM candidates cd
  CROSS JOIN LATERAL (
    SELECT c.ctid AS tid, c.id, c.priority, c.seq FROM :schema.commands c
    WHERE c.phy_id = cd.phy_id AND c.status = 'queued' AND c.run_at <= now() AND c.expires_at > now()
    ORDER BY c.priority DESC, c.seq
    LIMIT cd.room
  ) l
  ORDER BY l.priority DESC, l.seq
  LIMIT (SELECT $1::int)
),
expired AS (
  UPDATE :schema.commands c
  SET status = 'expired', last_error = 'ttl passed before delivery', finished_at = now(), updated_at = now()
  FROM (
    SELECT x.tid FROM candidates cd
    CROSS JOIN LATERAL (
      -- now() through a scalar subquery: the planner cannot tell how few commands have expired,
      -- so it probes commands_device_expiry (phy_id, expires_at). With now() itself, a plan built
      -- while nothing had expired took commands_expiry (expires_at) and read every expired
      -- command of every device for each device claimed from (90 ms per claim of 64 with 5,000
      -- expired on parked devices, against ~6)
      SELECT e.ctid AS tid FROM :schema.commands e
      WHERE e.phy_id = cd.phy_id AND e.status = 'queued' AND e.expires_at <= (SELECT now())
      ORDER BY e.expires_at LIMIT 100
    ) x
  ) due
  WHERE c.ctid = due.tid AND c.status = 'queued'
  RETURNING c.id, c.phy_id, c.seq
),
logged AS (
  -- the event log (event-log.ts logEvents(), inlined: this file is plain SQL)
  INSERT INTO :schema.events (type, command_id, phy_id, reason)
  SELECT CAST('command.expired' AS :schema.event_type), x.id, x.phy_id, 'ttl passed before delivery' FROM expired x ORDER BY x.seq
),
claimed AS (
  UPDATE :schema.commands c
  SET status = 'inflight',
      attempts = c.attempts + 1,
      lease_token = gen_random_uuid(),
      lease_expires_at = now() + make_interval(secs => $2::int / 1000.0),
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
  UPDATE :schema.devices d
  SET queued = d.queued - n.c, head_priority = n.priority,
      head_seq = CASE WHEN n.full AND n.seq IS NOT NULL THEN greatest(n.seq, (SELECT nextval(CAST(':schema.commands_seq_seq' AS regclass)))) ELSE n.seq END,
      updated_at = now()
  FROM (
    SELECT g.phy_id, g.c, g.took >= cd.room AS full, h.priority, h.seq
    FROM (SELECT phy_id, count(*)::int AS c, count(*) FILTER (WHERE took)::int AS took, array_agg(id) AS ids
          FROM (SELECT id, phy_id, true AS took FROM claimed UNION ALL SELECT id, phy_id, false FROM expired) gone GROUP BY phy_id) g
    JOIN candidates cd ON cd.phy_id = g.phy_id
    LEFT JOIN LATERAL (
      SELECT x.priority, x.seq FROM :schema.commands x
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
