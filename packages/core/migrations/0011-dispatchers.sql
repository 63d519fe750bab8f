-- 0011: dispatcher liveness (GET /v1/cluster). Each running dispatcher refreshes its row on a
-- timer and deletes it on a clean stop; a row whose expires_at has passed (database clock) is a
-- dispatcher that stopped beating, and the next heartbeat of any dispatcher deletes it.
CREATE TABLE dispatchers (
  dispatcher_id text        PRIMARY KEY,
  started_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL
);
