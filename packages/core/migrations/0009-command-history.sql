-- 0009: the command history (GET /v1/commands, newest enqueue first, cursor-paged by seq).
-- A device's history walks its own commands newest first through this index; the history of
-- every device walks the seq index (UNIQUE, from 0001) backwards. Filters by status and time
-- are checked on the rows walked (a page walks a bounded number of them), so they need no index
-- of their own: each index costs a write on every row version a command makes.
CREATE INDEX commands_device_history ON commands (phy_id, seq DESC);
