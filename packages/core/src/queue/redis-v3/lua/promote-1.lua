--[[
  Makes due scheduled commands and ended retry waits claimable, and answers the shard's best
  ARGV[2] claimable scores (for a cross-shard claim plan).
  KEYS[1]: the shard prefix (see includes/v3.lua)   ARGV[1] maxInFlightPerDevice   ARGV[2] depth
]]
-- @include v3

local maxInFlight, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local meta = readMeta()
if promoteDue(nowMs(), maxInFlight, 1000, meta) then writeMeta(meta) end
return bestScores(maxInFlight, max)
