--[[
  Unparks a device so its queued commands are claimable at once; wakes claimers if so.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] phyId   ARGV[2] maxInFlightPerDevice   ARGV[3] wake channel
  Returns 1 when the device has work ready now, else 0.
]]
-- @include shard

if redis.call('SREM', K.offline, ARGV[1]) == 1 then logEvent({ 't', 'on', 'p', ARGV[1] }) end
if refreshDevice(ARGV[1], nowMs(), tonumber(ARGV[2])) then
  publishWake(ARGV[3])
  return 1
end
return 0
