--[[
  Parks a device: none of its commands is claimed until device-online.
  KEYS[1]: the shard prefix (see includes/v3.lua)   ARGV[1] phyId
]]
-- @include v3

local d = readDev(ARGV[1])
if d.offline == 0 then logEvent({ 't', 'off', 'p', ARGV[1] }) end
d.offline = 1
writeDev(ARGV[1], d)
rcall('SADD', K.offline, ARGV[1])
rcall('ZREM', K.ready, ARGV[1])
return OK
