-- 0008: the command history (GET /v1/commands, newest enqueue first, cursor-paged by seq).
-- A device's history walks its own commands newest first; a status filter without a device
-- walks that status' commands newest first. Without either, the history walks the seq index
-- (UNIQUE, from 0001) backwards.
CREATE INDEX commands_device_history ON commands (phy_id, seq DESC);
CREATE INDEX commands_status_history ON commands (status, seq DESC);
