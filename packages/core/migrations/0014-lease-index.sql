-- 0014: the lease reaper's index holds the rows that carry a lease end, not "every in-flight
-- command". Every transition out of flight clears lease_expires_at (ack, fail, release, reclaim,
-- replay), so the index holds the same rows as before and the reaper's
-- `status = 'inflight' AND lease_expires_at <= now()` still reads it (a comparison with
-- lease_expires_at implies it is not NULL).
--
-- Why: commands_lease (0001) had the predicate `status = 'inflight'`, the same as
-- commands_inflight (phy_id). The per-device in-flight count in claim_commands() and
-- enqueue_commands(), `phy_id = $1 AND status = 'inflight'`, could then be answered by either
-- index, and with statistics gathered while few commands were in flight both looked like one
-- row. The cached generic plan sometimes took commands_lease and read every lease in the queue
-- for each device a claim or an enqueue visited. Measured (store bench, bench/README.md: 5,000
-- leases held, batch 200): 42,345 shared buffers and 833 us per claimed command with that plan,
-- 10,836 and 78 us with the count on commands_inflight. With this predicate the count can no
-- longer use the lease index (`status = 'inflight'` does not imply a lease end).
CREATE INDEX commands_lease_due ON commands (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
DROP INDEX commands_lease;
