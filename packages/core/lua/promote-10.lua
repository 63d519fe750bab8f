--[[
  Makes due work claimable (scheduled commands whose deliverAt passed, devices whose retry
  wait ended) and answers the scores of the commands a claim of `max` would take from this
  shard (the best ready devices' heads, and with maxInFlightPerDevice > 1 the next commands of
  a device while it has free slots), so a cross-shard claim can take from each shard what the
  merged order says.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] max
  Returns up to `max` scores (strings), best first.
]]
-- @include shard

local maxInFlight, max = tonumber(ARGV[1]), tonumber(ARGV[2])
promoteDue(nowMs(), maxInFlight, 1000)
local devices = redis.call('ZRANGE', K.ready, 0, max - 1)
if maxInFlight == 1 then
  local out = {}
  for i, phyId in ipairs(devices) do out[i] = redis.call('ZSCORE', K.ready, phyId) end
  return out
end
local scores = {}
for _, phyId in ipairs(devices) do
  local free = maxInFlight - redis.call('SCARD', inflightKey(phyId))
  local line = redis.call('ZRANGE', lineKey(phyId), 0, math.min(free, max) - 1, 'WITHSCORES')
  for i = 2, #line, 2 do table.insert(scores, tonumber(line[i])) end
end
table.sort(scores)
local out = {}
for i = 1, math.min(max, #scores) do out[i] = string.format('%.0f', scores[i]) end
return out
