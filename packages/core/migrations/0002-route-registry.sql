-- 0002: the device route registry (which ingress replica holds which device).

-- Replica liveness: a route counts only while its replica's heartbeat has not lapsed,
-- judged on the database clock (now()), never a replica's own clock.
CREATE TABLE replicas (
  replica_id   text        PRIMARY KEY,
  address      text        NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);

-- One row per device ever connected. The row outlives the connection (replica_id NULL
-- when disconnected) so `epoch` keeps growing across reconnects and fences stale holders.
CREATE TABLE routes (
  phy_id       text        PRIMARY KEY,
  epoch        bigint      NOT NULL DEFAULT 0,
  replica_id   text,
  address      text,
  connected_at timestamptz,
  -- unique per connection: a register re-run after a lost answer finds its own row, not a rival
  token        text
);
CREATE INDEX routes_replica ON routes (replica_id) WHERE replica_id IS NOT NULL;
