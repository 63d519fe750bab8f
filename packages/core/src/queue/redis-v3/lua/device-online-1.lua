--[[
  Unparks a device; publishes a wake-up when it has work ready.
  KEYS[1]: the shard prefix (see includes/v3.lua)   ARGV[1] phyId   ARGV[2] maxInFlightPerDevice
  ARGV[3] wake channel. Returns 1 when the device became ready, else 0.
]]
-- @include v3

rcall('SREM', K.offline, ARGV[1])
local d = readDev(ARGV[1])
if d.offline == 1 then logEvent({ 't', 'on', 'p', ARGV[1] }) end
d.offline = 0
writeDev(ARGV[1], d)
if refresh(ARGV[1], d, nowMs(), tonumber(ARGV[2])) then
  publishWake(ARGV[3])
  return 1
end
return 0
