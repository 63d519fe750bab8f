--[[
  {pending (ready now), inflight, delayed (schedule or backoff), waitingForDevice, dead}.
  KEYS[1]: the shard prefix (see includes/v3.lua)
]]
-- @include v3

local now = nowMs()
local m = readMeta()
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
return { m.size - m.inflight - delayed - waitingForDevice, m.inflight, delayed, waitingForDevice, dead }
