--[[
  Reads one command with its derived waitingFor (device parked, not yet due, retry pending).

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] id
  Returns the record as a flat field/value list ending with waitingFor, or {} when unknown.
]]
-- @include shard

return readRecord(ARGV[1], nowMs()) or {}
