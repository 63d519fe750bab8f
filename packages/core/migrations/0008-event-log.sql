-- 0008: the event log. One row per transition, written by the statement that makes the
-- transition (same transaction), so an event exists exactly when its transition happened.
--
-- Order: `id` alone cannot be resumed from safely, because a transaction that took a lower id
-- can commit after a reader has already seen a higher one. Each row therefore carries the id of
-- the transaction that wrote it (`xid`, pg_current_xact_id()), and readers take only rows of
-- transactions below the oldest transaction still running (pg_snapshot_xmin of their snapshot):
-- every such transaction has ended, so no row can appear later below a position already read.
-- Log order is (xid, id), and a reader's position (its cursor) is such a pair
-- (src/queue/postgres/event-log.ts).
CREATE TYPE event_type AS ENUM (
  'command.queued', 'command.delivered', 'command.retrying', 'command.acked', 'command.rejected',
  'command.dead', 'command.expired', 'command.cancelled', 'device.online', 'device.offline');

-- Columns in alignment order (8-byte, then uuid, then 4/2-byte, then text) so rows pack tight.
CREATE TABLE events (
  xid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
  id         bigserial   NOT NULL,
  -- the store clock: the writing transaction's now(), like the commands' timestamps
  at         timestamptz NOT NULL DEFAULT now(),
  -- command.retrying: when the next attempt may go
  retry_at   timestamptz,
  -- NULL on device events
  command_id uuid,
  type       event_type  NOT NULL,
  attempt    integer,
  -- command.queued
  priority   smallint,
  phy_id     text        NOT NULL,
  -- command.retrying, command.dead, command.rejected, command.expired: the device's error text or ours
  reason     text,
  -- command.delivered: the ingress replica that wrote the command to the device
  replica    text,
  PRIMARY KEY (xid, id)
);
-- One command's timeline (commandEvents); its few rows are sorted by (xid, id) after the probe.
CREATE INDEX events_command ON events (command_id) WHERE command_id IS NOT NULL;

-- device.offline / device.online exactly when the parked flag changes, whichever statement
-- changes it (markDeviceOffline/Online, a release that parks the device): a trigger sees the
-- row's previous version, which a statement's RETURNING cannot show.
CREATE FUNCTION log_device_parked() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
  INSERT INTO events (type, phy_id)
  VALUES (CASE WHEN NEW.offline THEN 'device.offline' ELSE 'device.online' END::event_type, NEW.phy_id);
  RETURN NULL;
END
$fn$;
CREATE TRIGGER devices_parked AFTER UPDATE OF offline ON devices
  FOR EACH ROW WHEN (OLD.offline IS DISTINCT FROM NEW.offline) EXECUTE FUNCTION log_device_parked();
CREATE TRIGGER devices_parked_new AFTER INSERT ON devices
  FOR EACH ROW WHEN (NEW.offline) EXECUTE FUNCTION log_device_parked();

-- enqueue_commands() (0007) logs command.queued in its own statement; otherwise unchanged (same
-- arguments, so it is replaced in place).
CREATE OR REPLACE FUNCTION enqueue_commands(
  p_ids uuid[], p_phy_ids text[], p_payloads bytea[], p_priorities int[], p_max_attempts int[],
  p_ack_timeout_ms int[], p_ttl_ms bigint[], p_idempotency_keys text[], p_deliver_ms float8[],
  p_fingerprints text[], p_trace_contexts text[], p_per_device_cap int, p_global_cap float8, p_pending_known float8)
RETURNS TABLE (ord bigint, outcome text, id uuid, status text, ready boolean, pending float8)
LANGUAGE plpgsql
-- The schema is bound when the migration runs (runMigrations sets search_path to it), so the
-- function finds its own tables whatever the caller's search_path is.
SET search_path FROM CURRENT
-- Planned once per connection (PL/pgSQL keeps its statements' plans for the session), never per
-- call: planning for each call's arrays cost more than running the batch (server CPU, loaded
-- 2-core host: 105 against 60 us per command in batches of 500, 3.2 against 1.6 ms per call of
-- one). So the plan must not depend on the statistics it was built with: every lookup below is
-- a LATERAL ... LIMIT 1 or a scalar subquery (an index probe per command), never a join the
-- planner could turn into a scan (seen: devices joined in a nested loop over the whole batch).
SET plan_cache_mode = force_generic_plan
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
                           p_idempotency_keys, p_deliver_ms, p_fingerprints, p_trace_contexts)
      WITH ORDINALITY AS t(id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idem, deliver_ms, fingerprint, trace_context, ord)
  ), looked AS (
    -- What is stored already: this id (an earlier try of this very call committed), else a
    -- command of this device with this idempotency key. One index probe each (primary key,
    -- commands_idempotency), never a join the planner could turn into a scan of every command.
    -- Every step below keeps one row per command in batch order and decides with window
    -- functions: joins between steps were planned as nested loops (seen: 2.3x the old cost at 500).
    SELECT i.*, m.id AS mine_id, m.status AS mine_status, e.id AS earlier_id, e.status AS earlier_status,
           e.idempotency_fingerprint AS earlier_fp, (m.id IS NULL AND e.id IS NULL) AS fresh
    FROM item i
    LEFT JOIN LATERAL (SELECT c.id, c.status FROM commands c WHERE c.id = i.id LIMIT 1) m ON true
    LEFT JOIN LATERAL (SELECT c.id, c.status, c.idempotency_fingerprint FROM commands c
                       WHERE i.idem IS NOT NULL AND c.phy_id = i.phy_id AND c.idempotency_key = i.idem LIMIT 1) e ON true
  ), led AS (
    -- Of several fresh commands with one key, the first is decided (the leader); the others
    -- answer as its repeats.
    -- n: the device's queued + in flight before this batch (subqueries, so index probes)
    SELECT l.*, l.fresh AND (l.idem IS NULL OR l.ord = min(l.ord) OVER (PARTITION BY l.phy_id, l.idem, l.fresh)) AS leader,
           coalesce((SELECT dv.queued FROM devices dv WHERE dv.phy_id = l.phy_id), 0)
             + (SELECT count(*) FROM commands c WHERE c.phy_id = l.phy_id AND c.status = 'inflight')::int AS n
    FROM looked l
  ), ranked AS (
    -- the device's count plus the leaders of this batch before this one
    SELECT d.*, d.leader AND d.n + count(*) FILTER (WHERE d.leader) OVER (PARTITION BY d.phy_id ORDER BY d.ord) <= p_per_device_cap AS device_ok
    FROM led d
  ), judged AS (
    -- in batch order, as if decided one by one: once the global cap is reached nothing more is taken
    SELECT r.*, r.device_ok AND v_pending + count(*) FILTER (WHERE r.device_ok) OVER (ORDER BY r.ord) <= p_global_cap AS ok
    FROM ranked r
  ), decided AS (
    -- a refused command names the cap it met at its turn: the device's, counting what this batch
    -- took for the device before it, else the global one
    SELECT j.*, CASE WHEN NOT j.leader THEN NULL WHEN j.ok THEN 'accept'
                     WHEN j.n + count(*) FILTER (WHERE j.ok) OVER (PARTITION BY j.phy_id ORDER BY j.ord) >= p_per_device_cap THEN 'device_full'
                     ELSE 'global_full' END AS verdict
    FROM judged j
  ), resolved AS (
    SELECT d.*, first_value(d.verdict) OVER w AS lead_verdict, first_value(d.id) OVER w AS lead_id, first_value(d.fingerprint) OVER w AS lead_fp
    FROM decided d
    WINDOW w AS (PARTITION BY d.phy_id, d.idem, d.fresh ORDER BY d.ord)
  ), ins AS (
    INSERT INTO commands (id, phy_id, payload, priority, max_attempts, ack_timeout_ms, ttl_ms, idempotency_key,
                          idempotency_fingerprint, status, run_at, wait_reason, expires_at, deliver_at, trace_context)
    SELECT r.id, r.phy_id, r.payload, r.priority, r.max_attempts, r.ack_timeout_ms, r.ttl_ms, r.idem,
           CASE WHEN r.idem IS NOT NULL THEN r.fingerprint END,
           'queued', greatest(now(), coalesce(to_timestamp(r.deliver_ms / 1000.0), now())),
           CASE WHEN to_timestamp(r.deliver_ms / 1000.0) > now() THEN 'schedule' END,
           now() + make_interval(secs => r.ttl_ms / 1000.0), to_timestamp(r.deliver_ms / 1000.0), r.trace_context
    FROM resolved r WHERE r.verdict = 'accept'
    ORDER BY r.ord
    ON CONFLICT DO NOTHING
    RETURNING id, phy_id, priority, seq
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
  ), logged AS (
    -- the event log: command.queued for each command stored now, in batch order
    INSERT INTO events (type, command_id, phy_id, priority)
    SELECT 'command.queued'::event_type, s.id, s.phy_id, s.priority FROM ins s ORDER BY s.seq
  )
  SELECT r.ord,
         CASE WHEN r.mine_id IS NOT NULL THEN 'stored'
              WHEN r.earlier_id IS NOT NULL THEN (CASE WHEN r.earlier_fp IS NULL OR r.earlier_fp = r.fingerprint THEN 'duplicate' ELSE 'conflict' END)
              WHEN r.leader THEN (CASE WHEN r.verdict <> 'accept' THEN r.verdict WHEN s.id IS NULL THEN 'lost' ELSE 'queued' END)
              WHEN r.lead_verdict <> 'accept' THEN r.lead_verdict
              WHEN r.lead_fp IS NOT DISTINCT FROM r.fingerprint THEN 'duplicate'
              ELSE 'conflict' END,
         coalesce(r.mine_id, r.earlier_id, CASE WHEN r.leader THEN r.id ELSE r.lead_id END),
         coalesce(r.mine_status, r.earlier_status, 'queued'),
         s.id IS NOT NULL AND (r.deliver_ms IS NULL OR to_timestamp(r.deliver_ms / 1000.0) <= now()),
         CASE WHEN p_pending_known IS NULL THEN v_pending END
  FROM resolved r LEFT JOIN ins s ON s.id = r.id
  ORDER BY r.ord;
END
$fn$;
