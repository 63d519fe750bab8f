--[[
  {pending (ready now), inflight, delayed (schedule or backoff), waitingForDevice, dead}.
  KEYS[1]: the shard prefix (see includes/v3.lua)
]]
-- @include v3

local now = nowMs()
local m = readMeta()
local waitingForDevice = 0
for _, phyId in ipairs(rcall('SMEMBERS', K.offline)) do
  waitingForDevice = waitingForDevice + rcall('ZCARD', lineKey(phyId))
end
local delayed = rcall('ZCARD', K.scheduled)
for _, phyId in ipairs(rcall('ZRANGEBYSCORE', K.backoff, '(' .. now, '+inf')) do
  if rcall('SISMEMBER', K.offline, phyId) == 0 then
    delayed = delayed + rcall('ZCARD', lineKey(phyId))
  end
end
local dead = rcall('ZCARD', K.dead)
return { m.size - m.inflight - delayed - waitingForDevice, m.inflight, delayed, waitingForDevice, dead }
