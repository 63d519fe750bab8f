--[[
  Gives in-flight commands of one shard back to the head of their device's line without
  spending the attempt the claim counted. With deviceOffline the device is parked: none of
  its commands is claimed until device-online.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] wake channel   ARGV[3] n
  then 4 per item: id, leaseToken, deviceOffline ('1'|'0'), reason ('' none)

  Returns per item {code, status}: 0 OK (also for a re-run by the same token), -1 NOT_FOUND,
  -2 LEASE_LOST.
]]
-- @include shard

local maxInFlight, channel, n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local now = nowMs()
local out, wake = {}, false
for i = 1, n do
  local b = 3 + (i - 1) * 4
  local id, token, offline, reason = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local code, info = checkLease(id, token)
  if code == OK then
    local phyId = info
    local key = cmdKey(id)
    returnToLine(id, phyId, redis.call('HGET', key, 'score'))
    if redis.call('HINCRBY', key, 'attempts', -1) < 0 then redis.call('HSET', key, 'attempts', 0) end
    redis.call('HSET', key, 'status', 'queued', 'updatedAt', now, 'leaseExpiresAt', '',
      'leaseToken', '', 'doneToken', token)
    if reason ~= '' then redis.call('HSET', key, 'lastError', reason) end
    if offline == '1' and redis.call('SADD', K.offline, phyId) == 1 then
      logEvent({ 't', 'off', 'p', phyId })
    end
    if refreshDevice(phyId, now, maxInFlight) then wake = true end
    out[i] = { OK, 'queued' }
  elseif code == REPLAYED then
    out[i] = { OK, info }
  else
    out[i] = { code, info }
  end
end
if wake then publishWake(channel) end
return out
