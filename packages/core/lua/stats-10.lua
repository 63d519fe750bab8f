--[[
  Counts of one shard, from its indexes (cost grows with parked and backed-off devices, not
  with commands).

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV: none
  Returns {pending, inflight, delayed, waitingForDevice, dead}:
    inflight          commands under a lease
    waitingForDevice  queued in the line of a parked device
    delayed           scheduled and not yet due, plus queued in the line of a device whose
                      retry wait has not ended (the retried command heads that line)
    pending           every other queued command (claimable now or behind an in-flight one)
    dead              dead letters
]]
-- @include shard

local now = nowMs()
local size = tonumber(redis.call('HGET', K.meta, 'size')) or 0
local inflight = redis.call('ZCARD', K.leases)
local waitingForDevice = 0
for _, phyId in ipairs(redis.call('SMEMBERS', K.offline)) do
  waitingForDevice = waitingForDevice + redis.call('ZCARD', lineKey(phyId))
end
local delayed = redis.call('ZCARD', K.scheduled)
for _, phyId in ipairs(redis.call('ZRANGEBYSCORE', K.backoff, '(' .. now, '+inf')) do
  if redis.call('SISMEMBER', K.offline, phyId) == 0 then
    delayed = delayed + redis.call('ZCARD', lineKey(phyId))
  end
end
local dead = redis.call('ZCARD', K.dead)
return { size - inflight - delayed - waitingForDevice, inflight, delayed, waitingForDevice, dead }
