-- 0012: the index of queued commands by run_at holds only those that wait (a retry's backoff,
-- a schedule). Its one reader is the next wake-up (the earliest run_at still ahead), and only a
-- waiting command has a run_at ahead: enqueue, release, reclaim and replay set run_at to now()
-- with no wait_reason. Every other queued command wrote an entry here for nothing, one index
-- insert per enqueue and per return to the line.
CREATE INDEX commands_waiting ON commands (run_at) WHERE status = 'queued' AND wait_reason IS NOT NULL;
DROP INDEX commands_run_at;
