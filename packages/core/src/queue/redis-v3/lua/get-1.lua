--[[
  One command: {id, record, inflight (0|1), claimedAt or waitingFor}, or {} when unknown.
  KEYS[1]: the shard prefix (see includes/v3.lua)   ARGV[1] id   ARGV[2] retentionMs (an older finished record is not answered)
]]
-- @include v3

local now = nowMs()
local rec = findRecord(ARGV[1], now, tonumber(ARGV[2]))
if not rec then return {} end
return view(ARGV[1], rec, now)
