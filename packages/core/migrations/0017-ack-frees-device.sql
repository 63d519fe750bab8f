-- 0017: an ack frees its busy devices itself, in one write per batch, instead of a trigger call
-- per command.
--
-- The row triggers of 0016 clear devices.busy when a command leaves flight: a PL/pgSQL call and an
-- UPDATE of its own (planned, started and ended) for every command. On the ack, the one transition
-- every command makes, they were ~13 % of the server's CPU (claim batch 16, 1,000 devices, most of
-- them busy). The ack now clears the flag of its devices in its own statement (transitions.ts,
-- ackMany) and says so for the rest of its transaction with the setting outbound.frees_devices;
-- the triggers leave rows alone while it is 'on'. Every other statement that takes a command out
-- of flight (fail, release, the lease reaper, removal) and the ack of a release from before this
-- migration (during a rolling upgrade) do not set it, and the triggers free their devices as
-- before.
--
-- A trigger's WHEN is checked as each row is updated, so the ack sets the setting before it
-- updates its first command (its input rows pass through set_config()). The setting is local to
-- the transaction (set_config(..., true)); the ack is a transaction of its own.
DROP TRIGGER commands_left_flight ON commands;
DROP TRIGGER commands_removed_in_flight ON commands;
CREATE TRIGGER commands_left_flight AFTER UPDATE OF status ON commands
  FOR EACH ROW WHEN (OLD.status = 'inflight' AND NEW.status <> 'inflight'
                     AND current_setting('outbound.frees_devices', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION free_busy_device();
CREATE TRIGGER commands_removed_in_flight AFTER DELETE ON commands
  FOR EACH ROW WHEN (OLD.status = 'inflight' AND current_setting('outbound.frees_devices', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION free_busy_device();
