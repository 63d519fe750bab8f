-- 0001: the command queue.
-- Runs with search_path set to the target schema (runMigrations does SET LOCAL), so names
-- here are unqualified and one database can hold several isolated queues.

-- One row per command. `seq` orders commands FIFO within a priority: a sequence, not a
-- timestamp, so two commands enqueued in the same millisecond keep their order.
CREATE TABLE commands (
  seq              bigserial   NOT NULL UNIQUE,
  id               uuid        PRIMARY KEY,
  phy_id           text        NOT NULL,
  payload          bytea       NOT NULL,
  priority         smallint    NOT NULL CHECK (priority BETWEEN 0 AND 9),
  attempts         integer     NOT NULL DEFAULT 0,
  max_attempts     integer     NOT NULL CHECK (max_attempts > 0),
  ack_timeout_ms   integer     NOT NULL,
  ttl_ms           bigint      NOT NULL,
  idempotency_key  text,
  status           text        NOT NULL CHECK (status IN ('queued', 'inflight', 'acked', 'rejected', 'dead', 'expired', 'cancelled')),
  -- queued only: when it may be claimed (now, a retry's backoff end, or deliverAt) and why it waits.
  run_at           timestamptz NOT NULL,
  wait_reason      text        CHECK (wait_reason IN ('backoff', 'schedule')),
  lease_token      uuid,
  lease_expires_at timestamptz,
  last_error       text,
  result           bytea,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  deliver_at       timestamptz,
  finished_at      timestamptz
);

-- A device's line, in delivery order (the claim reads the head of each line from here). A
-- command that comes back (retry, release, reclaim) keeps its priority and seq, so it keeps
-- its place at the head.
CREATE INDEX commands_line ON commands (phy_id, priority DESC, seq) WHERE status = 'queued';
-- In-flight count per device (per-device serialization) and the lease reaper.
CREATE INDEX commands_inflight ON commands (phy_id) WHERE status = 'inflight';
CREATE INDEX commands_lease ON commands (lease_expires_at) WHERE status = 'inflight';
-- TTL expiry, next wake-up for a retry or a schedule, retention clean-up, dead letters.
CREATE INDEX commands_expiry ON commands (expires_at) WHERE status = 'queued';
CREATE INDEX commands_device_expiry ON commands (phy_id, expires_at) WHERE status = 'queued';
CREATE INDEX commands_run_at ON commands (run_at) WHERE status = 'queued';
CREATE INDEX commands_finished ON commands (finished_at) WHERE status IN ('acked', 'rejected', 'expired', 'cancelled');
CREATE INDEX commands_dead ON commands (seq) WHERE status = 'dead';
-- Idempotency keys are scoped to a device (as on Redis) and hold while the first command exists.
CREATE UNIQUE INDEX commands_idempotency ON commands (phy_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One row per device that ever had a command. The row is the lock that serializes a
-- device's claims and enqueues (claim locks it FOR UPDATE SKIP LOCKED), carries the
-- offline flag and the end of a pending retry wait (the whole device waits: head-of-line),
-- and counts queued commands so the claim visits only devices with work.
CREATE TABLE devices (
  phy_id     text        PRIMARY KEY,
  offline    boolean     NOT NULL DEFAULT false,
  retry_at   timestamptz,
  queued     integer     NOT NULL DEFAULT 0 CHECK (queued >= 0),
  -- priority and seq of the best queued command: a hint that orders the claim's walk over
  -- devices (src/queue/postgres/device-head.ts keeps it)
  head_priority smallint,
  head_seq      bigint,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_with_work ON devices (head_priority DESC, head_seq) WHERE queued > 0 AND NOT offline;
