--[[
  Cancels a device's queued commands (its line and its scheduled ones; not those in flight),
  at most `limit` per call: the caller calls again while a call answers `limit`.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] phyId   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs   ARGV[4] limit
  Logs command.cancelled for each. Returns the number cancelled.
]]
-- @include shard

local phyId, maxInFlight, retentionMs, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = nowMs()
local count = 0
for _, key in ipairs({ lineKey(phyId), deviceScheduledKey(phyId) }) do
  if count < limit then
    for _, id in ipairs(redis.call('ZRANGE', key, 0, limit - count - 1)) do
      if redis.call('HGET', cmdKey(id), 'status') == 'queued' then
        finish(id, phyId, 'cancelled', now, retentionMs, { 'lastError', 'cancelled by the caller' })
        commandEvent('c', id, phyId)
        count = count + 1
      else
        redis.call('ZREM', key, id)
      end
    end
  end
end
if count > 0 then refreshDevice(phyId, now, maxInFlight) end
return count
