--[[
  Makes due work claimable (scheduled commands whose deliverAt passed, devices whose retry
  wait ended) and answers the shard's best ready devices, so a cross-shard claim can take
  from each shard what the merged order says.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] how many ready devices to answer
  Returns {phyId, headScore, ...} best first.
]]
-- @include shard

local now = nowMs()
promoteDue(now, tonumber(ARGV[1]), 1000)
return redis.call('ZRANGE', K.ready, 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
