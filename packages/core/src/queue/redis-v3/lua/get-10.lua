--[[
  One command: {id, record, inflight (0|1), claimedAt or waitingFor}, or {} when unknown.
  KEYS[1..10]: the shard keys (see includes/v3.lua)   ARGV[1] id
]]
-- @include v3

local rec = redis.call('GET', cmdKey(ARGV[1]))
if not rec then return {} end
return view(ARGV[1], rec, nowMs())
