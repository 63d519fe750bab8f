--[[
  Cancels a command that is still queued (ready, scheduled, waiting for a retry or device).

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] id   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs
  Returns {code, status}: 0 OK (also when already cancelled: safe to run twice),
  -1 NOT_FOUND, -5 INVALID_STATE (status is the current one).
]]
-- @include shard

local id, maxInFlight, retentionMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = nowMs()
local f = redis.call('HMGET', cmdKey(id), 'status', 'phyId')
if not f[1] then return { NOT_FOUND, '' } end
if f[1] == 'cancelled' then return { OK, 'cancelled' } end
if f[1] ~= 'queued' then return { INVALID_STATE, f[1] } end
finish(id, f[2], 'cancelled', now, retentionMs, { 'lastError', 'cancelled by the caller' })
commandEvent('c', id, f[2])
refreshDevice(f[2], now, maxInFlight)
return { OK, 'cancelled' }
