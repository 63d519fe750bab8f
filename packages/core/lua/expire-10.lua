--[[
  Moves queued commands whose TTL passed to `expired` (kept for retentionMs, then Redis
  removes the record by its PEXPIRE), and trims the shard's event log to retentionMs. In-flight commands are left to their holder: ack
  still counts, fail and reclaim expire them.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] limit   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs
  Returns the number of commands expired.
]]
-- @include shard

local limit, maxInFlight, retentionMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = nowMs()
trimEvents(now, retentionMs)
-- Scan past in-flight entries (they stay indexed) so they cannot hide queued ones.
local ids = redis.call('ZRANGEBYSCORE', K.expiry, '-inf', now, 'LIMIT', 0, limit * 4)
local count = 0
for _, id in ipairs(ids) do
  if count >= limit then break end
  local f = redis.call('HMGET', cmdKey(id), 'status', 'phyId')
  if f[1] == 'queued' then
    finish(id, f[2], 'expired', now, retentionMs, { 'lastError', 'ttl passed before delivery' })
    commandEvent('e', id, f[2], nil, { 'e', 'ttl passed before delivery' })
    refreshDevice(f[2], now, maxInFlight)
    count = count + 1
  elseif f[1] ~= 'inflight' then
    redis.call('ZREM', K.expiry, id) -- stale index entry
  end
end
return count
