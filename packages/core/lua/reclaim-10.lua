--[[
  Returns commands whose lease expired to the head of their device's line. The attempt the
  claim counted stays spent; the old token is refused from now on (leaseToken cleared).
  After maxAttempts the command is dead; past its TTL it is expired. Atomic, so any number
  of reapers may run it at once.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] limit   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs   ARGV[4] wake channel
  Returns the number of commands taken back.
]]
-- @include shard

local limit, maxInFlight, retentionMs, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local now = nowMs()
local ids = redis.call('ZRANGEBYSCORE', K.leases, '-inf', now, 'LIMIT', 0, limit)
local count, wake = 0, false
for _, id in ipairs(ids) do
  local key = cmdKey(id)
  local f = redis.call('HMGET', key, 'status', 'phyId', 'attempts', 'maxAttempts', 'expiresAt', 'score')
  if f[1] ~= 'inflight' then
    redis.call('ZREM', K.leases, id) -- stale index entry
  else
    local phyId = f[2]
    local extra = { 'leaseToken', '', 'doneToken', '' }
    if now >= tonumber(f[5]) then
      table.insert(extra, 'lastError'); table.insert(extra, 'lease expired after the TTL passed')
      finish(id, phyId, 'expired', now, retentionMs, extra)
      commandEvent('e', id, phyId, f[3], { 'e', 'lease expired after the TTL passed' })
    elseif tonumber(f[3]) >= tonumber(f[4]) then
      table.insert(extra, 'lastError'); table.insert(extra, 'lease expired without an outcome (last attempt)')
      finish(id, phyId, 'dead', now, retentionMs, extra)
      commandEvent('x', id, phyId, f[3], { 'e', 'lease expired without an outcome (last attempt)' })
    else
      returnToLine(id, phyId, f[6])
      table.insert(extra, 'lastError'); table.insert(extra, 'lease expired without an outcome')
      redis.call('HSET', key, 'status', 'queued', 'updatedAt', now, 'leaseExpiresAt', '', unpack(extra))
      commandEvent('r', id, phyId, f[3], { 'e', 'lease expired without an outcome', 'w', int(now) })
    end
    if refreshDevice(phyId, now, maxInFlight) then wake = true end
    count = count + 1
  end
end
if wake then publishWake(channel) end
return count
