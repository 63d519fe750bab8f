--[[
  Parks a device: none of its commands is claimed (and none spends an attempt) until
  device-online. In-flight commands finish or come back through release/reclaim.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] phyId
  Returns 0 OK.
]]
-- @include shard

if redis.call('SADD', K.offline, ARGV[1]) == 1 then logEvent({ 't', 'off', 'p', ARGV[1] }) end
redis.call('ZREM', K.ready, ARGV[1])
return OK
