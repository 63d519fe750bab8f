-- claim: hands out up to $1 ready commands with leases of $2 ms, at most $3 in flight per device.
-- $1 int batch size, $2 int lease ms, $3 int maxInFlightPerDevice. Returns the claimed rows,
-- priority then FIFO. `:schema` is replaced by the quoted schema name when the file loads.
--
-- Why this shape: SKIP LOCKED on the *device* row, not the command row. Locking commands lets
-- two claimers take two commands of one device at once (each sees the other's command as
-- merely locked), which breaks per-device serialization. Locking the device row serializes a
-- device's claims while claimers still never wait for each other. The walk visits only devices
-- that have queued work and are online and not waiting for a retry (partial index
-- devices_with_work, retry_at), and reads each one's line head with one index probe
-- (commands_line), so a device with 100,000 queued commands costs the same as one with a
-- single command and cannot starve its neighbours: each device yields at most
-- ($3 - in flight) commands per claim. A device whose retry wait has not ended (retry_at)
-- yields nothing, which keeps the retried command at the head of its line.
-- Commands of a locked device whose TTL passed are expired here rather than sent (up to 100 per
-- device per claim, via commands_device_expiry), so a claim never delivers an expired command.
-- The statement's snapshot may be older than the device lock; the UPDATE re-checks
-- status = 'queued' on the newest row version, so a command claimed meanwhile by another
-- claimer is skipped, never claimed twice.
-- Measured: see docs/postgres.md "Throughput" (packages/cli/src/bench/queue-core-postgres.ts).
WITH candidates AS (
  SELECT d.phy_id, $3::int - f.inflight AS room
  FROM :schema.devices d
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS inflight FROM :schema.commands c
    WHERE c.phy_id = d.phy_id AND c.status = 'inflight'
  ) f
  CROSS JOIN LATERAL (
    SELECT c.priority, c.seq FROM :schema.commands c
    WHERE c.phy_id = d.phy_id AND c.status = 'queued' AND c.run_at <= now()
    ORDER BY c.priority DESC, c.seq
    LIMIT 1
  ) h
  WHERE d.queued > 0 AND NOT d.offline AND (d.retry_at IS NULL OR d.retry_at <= now()) AND f.inflight < $3::int
  ORDER BY h.priority DESC, h.seq
  LIMIT $1::int
  FOR UPDATE OF d SKIP LOCKED
),
picked AS (
  SELECT l.id, l.priority, l.seq
  FROM candidates cd
  CROSS JOIN LATERAL (
    SELECT c.id, c.priority, c.seq FROM :schema.commands c
    WHERE c.phy_id = cd.phy_id AND c.status = 'queued' AND c.run_at <= now() AND c.expires_at > now()
    ORDER BY c.priority DESC, c.seq
    LIMIT cd.room
  ) l
  ORDER BY l.priority DESC, l.seq
  LIMIT $1::int
),
expired AS (
  UPDATE :schema.commands c
  SET status = 'expired', last_error = 'ttl passed before delivery', finished_at = now(), updated_at = now()
  FROM (
    SELECT x.id FROM candidates cd
    CROSS JOIN LATERAL (
      SELECT e.id FROM :schema.commands e
      WHERE e.phy_id = cd.phy_id AND e.status = 'queued' AND e.expires_at <= now()
      ORDER BY e.expires_at LIMIT 100
    ) x
  ) due
  WHERE c.id = due.id AND c.status = 'queued'
  RETURNING c.phy_id
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
  WHERE c.id = p.id AND c.status = 'queued'
  RETURNING c.*
),
counted AS (
  UPDATE :schema.devices d
  SET queued = d.queued - n.claimed, updated_at = now()
  FROM (SELECT phy_id, count(*)::int AS claimed
        FROM (SELECT phy_id FROM claimed UNION ALL SELECT phy_id FROM expired) gone GROUP BY phy_id) n
  WHERE d.phy_id = n.phy_id
)
SELECT id, phy_id, payload, priority, attempts, max_attempts, ack_timeout_ms, lease_token,
       floor(extract(epoch FROM expires_at) * 1000)::float8 AS expires_at,
       floor(extract(epoch FROM created_at) * 1000)::float8 AS created_at,
       floor(extract(epoch FROM lease_expires_at) * 1000)::float8 AS lease_expires_at
FROM claimed
ORDER BY priority DESC, seq;
