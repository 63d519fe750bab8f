-- 0006: enqueue in one round trip. enqueue_commands() does what src/queue/postgres/enqueue.ts
-- did in five statements (BEGIN, lock, read, insert, COMMIT): the caller's locks are held for the
-- function's own run, never across network round trips, and a device row is written once per
-- batch instead of twice (it is locked without a new row version, then counted once).
--
-- Arguments: one array per command column, all of the same length, in batch order (ids are
-- minted by the caller, so a retry after a lost answer finds its own rows), then the caps and the
-- global count the caller already knows (NULL: count it now, which sums every device row).
-- A new command column is one more array argument and one more column in `item` and in the INSERT.
--
-- One row per command, in batch order:
--   outcome  'queued'      stored now (id = its id; ready: claimable now)
--            'stored'      this id was stored by an earlier try (status = its status)
--            'duplicate'   the idempotency key names an earlier command with the same fingerprint
--            'conflict'    the key names an earlier command with another fingerprint
--            'device_full' / 'global_full'  the per-device or the global cap refused it
--            'lost'        the insert did nothing (a unique conflict the lock should have ruled out)
--   id       the command answered (the earlier command for duplicate and conflict)
--   pending  the global count (queued + in flight) before this batch, when it was counted here
CREATE FUNCTION enqueue_commands(
  p_ids uuid[], p_phy_ids text[], p_payloads bytea[], p_priorities int[], p_max_attempts int[],
  p_ack_timeout_ms int[], p_ttl_ms bigint[], p_idempotency_keys text[], p_deliver_ms float8[],
  p_fingerprints text[], p_per_device_cap int, p_global_cap float8, p_pending_known float8)
RETURNS TABLE (ord bigint, outcome text, id uuid, status text, ready boolean, pending float8)
LANGUAGE plpgsql
-- The schema is bound when the migration runs (runMigrations sets search_path to it), so the
-- function finds its own tables whatever the caller's search_path is.
SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_column
DECLARE
  v_pending float8 := p_pending_known;
BEGIN
  -- Create missing device rows and lock all of them, in phy_id order so two batches never
  -- deadlock. DO UPDATE ... WHERE false locks an existing row without writing a new version.
  INSERT INTO devices AS d (phy_id)
  SELECT DISTINCT p FROM unnest(p_phy_ids) AS p ORDER BY 1
  ON CONFLICT (phy_id) DO UPDATE SET updated_at = d.updated_at WHERE false;

  IF v_pending IS NULL THEN
    SELECT ((SELECT coalesce(sum(queued), 0) FROM devices) + (SELECT count(*) FROM commands WHERE status = 'inflight'))::float8
      INTO v_pending;
  END IF;

  -- A statement of its own, so its snapshot is taken after the locks: the counts it reads are
  -- exact (every earlier holder of these device rows has committed).
  RETURN QUERY
  WITH item AS (
    SELECT t.* FROM unnest(p_ids, p_phy_ids, p_payloads, p_priorities, p_max_attempts, p_ack_timeout_ms, p_ttl_ms,
                           p_idempotency_keys, p_deliver_ms, p_fingerprints)
      WITH ORDINALITY AS t(id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idem, deliver_ms, fingerprint, ord)
  ), base AS (
    -- per device: queued + in flight before this batch
    SELECT d.phy_id, d.queued + (SELECT count(*) FROM commands c WHERE c.phy_id = d.phy_id AND c.status = 'inflight')::int AS n
    FROM devices d WHERE d.phy_id = ANY (p_phy_ids)
  ), mine AS (
    -- this id is already stored: an earlier try of this very call committed
    SELECT i.ord, c.id, c.status FROM item i JOIN commands c ON c.id = i.id
  ), earlier AS (
    -- two index probes (primary key above, commands_idempotency here), never one WHERE ... OR ...,
    -- which scanned every command, retained ones too
    SELECT i.ord, c.id, c.status,
           CASE WHEN c.idempotency_fingerprint IS NULL OR c.idempotency_fingerprint = i.fingerprint THEN 'duplicate' ELSE 'conflict' END AS outcome
    FROM item i JOIN commands c ON c.phy_id = i.phy_id AND c.idempotency_key = i.idem
    WHERE i.idem IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mine m WHERE m.ord = i.ord)
  ), fresh AS (
    -- Neither stored nor keyed to a stored command. Of several fresh commands with one key, the
    -- first is decided (`leader`); the others answer as its repeats.
    SELECT i.*, i.idem IS NULL OR i.ord = min(i.ord) OVER (PARTITION BY i.phy_id, i.idem) AS leader,
           min(i.ord) OVER (PARTITION BY i.phy_id, i.idem) AS leader_ord
    FROM item i
    WHERE NOT EXISTS (SELECT 1 FROM mine m WHERE m.ord = i.ord) AND NOT EXISTS (SELECT 1 FROM earlier e WHERE e.ord = i.ord)
  ), device_room AS (
    SELECT f.ord, f.phy_id, coalesce(b.n, 0) AS n,
           coalesce(b.n, 0) + row_number() OVER (PARTITION BY f.phy_id ORDER BY f.ord) <= p_per_device_cap AS device_ok
    FROM fresh f LEFT JOIN base b USING (phy_id) WHERE f.leader
  ), global_room AS (
    -- in batch order, as if decided one by one: once the global cap is reached nothing more is taken
    SELECT r.*, r.device_ok AND v_pending + count(*) FILTER (WHERE r.device_ok) OVER (ORDER BY r.ord) <= p_global_cap AS ok
    FROM device_room r
  ), decided AS (
    -- a refused command names the cap it met at its turn: the device's, counting what this batch
    -- took for the device before it, else the global one
    SELECT g.ord, CASE WHEN g.ok THEN 'accept'
                       WHEN g.n + count(*) FILTER (WHERE g.ok) OVER (PARTITION BY g.phy_id ORDER BY g.ord) >= p_per_device_cap THEN 'device_full'
                       ELSE 'global_full' END AS verdict
    FROM global_room g
  ), ins AS (
    INSERT INTO commands (id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idempotency_key,
                          idempotency_fingerprint, status, run_at, wait_reason, expires_at, deliver_at)
    SELECT i.id, i.phy_id, i.payload, i.priority, i.max_attempts, i.ack_timeout_ms, i.ttl_ms, i.idem,
           CASE WHEN i.idem IS NOT NULL THEN i.fingerprint END,
           'queued', greatest(now(), coalesce(to_timestamp(i.deliver_ms / 1000.0), now())),
           CASE WHEN to_timestamp(i.deliver_ms / 1000.0) > now() THEN 'schedule' END,
           now() + make_interval(secs => i.ttl_ms / 1000.0), to_timestamp(i.deliver_ms / 1000.0)
    FROM item i JOIN decided dc ON dc.ord = i.ord AND dc.verdict = 'accept'
    ORDER BY i.ord
    ON CONFLICT DO NOTHING
    RETURNING id, phy_id, priority, seq, run_at <= now() AS ready
  ), bumped AS (
    -- the device row's one write for this batch: its queued count and head hint
    UPDATE devices d
    SET queued = d.queued + n.c,
        head_priority = CASE WHEN d.queued = 0 OR d.head_seq IS NULL OR n.priority > d.head_priority
                                  OR (n.priority = d.head_priority AND n.seq < d.head_seq) THEN n.priority ELSE d.head_priority END,
        head_seq = CASE WHEN d.queued = 0 OR d.head_seq IS NULL OR n.priority > d.head_priority
                             OR (n.priority = d.head_priority AND n.seq < d.head_seq) THEN n.seq ELSE d.head_seq END,
        updated_at = now()
    FROM (SELECT DISTINCT ON (phy_id) phy_id, priority, seq, count(*) OVER (PARTITION BY phy_id)::int AS c
          FROM ins ORDER BY phy_id, priority DESC, seq) n
    WHERE d.phy_id = n.phy_id
  ), answer AS (
    SELECT m.ord, 'stored' AS outcome, m.id, m.status, false AS ready FROM mine m
    UNION ALL
    SELECT e.ord, e.outcome, e.id, e.status, false FROM earlier e
    UNION ALL
    SELECT f.ord,
           CASE WHEN f.leader THEN (CASE WHEN dc.verdict <> 'accept' THEN dc.verdict WHEN s.id IS NULL THEN 'lost' ELSE 'queued' END)
                WHEN ld.verdict <> 'accept' THEN ld.verdict
                WHEN lf.fingerprint IS NOT DISTINCT FROM f.fingerprint THEN 'duplicate' ELSE 'conflict' END,
           CASE WHEN f.leader THEN f.id ELSE lf.id END,
           'queued', coalesce(s.ready, false)
    FROM fresh f
    LEFT JOIN decided dc ON dc.ord = f.ord
    LEFT JOIN ins s ON s.id = f.id
    LEFT JOIN fresh lf ON NOT f.leader AND lf.ord = f.leader_ord
    LEFT JOIN decided ld ON NOT f.leader AND ld.ord = f.leader_ord
  )
  SELECT a.ord, a.outcome, a.id, a.status, a.ready, CASE WHEN p_pending_known IS NULL THEN v_pending END
  FROM answer a ORDER BY a.ord;
END
$fn$;
