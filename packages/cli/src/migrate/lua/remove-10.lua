--[[
  Removes pending (queued or in-flight) and dead commands of one shard after
  outbound migrate-queue wrote them to the other backend. Finished commands are left alone.

  KEYS[1..10]: the shard keys (see packages/core/lua/includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] n   then n ids

  Returns the number removed (a rerun removes nothing twice: the records are gone).
]]
-- @include shard

local maxInFlight, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = nowMs()
local removed = 0
for i = 1, n do
  local id = ARGV[2 + i]
  local key = cmdKey(id)
  local f = redis.call('HMGET', key, 'status', 'phyId', 'idempotencyKey')
  if f[1] == 'queued' or f[1] == 'inflight' or f[1] == 'dead' then
    local phyId = f[2]
    if f[1] == 'dead' then
      redis.call('ZREM', K.dead, id)
    else
      finish(id, phyId, 'cancelled', now, 1, {})
    end
    redis.call('DEL', key)
    if f[3] and f[3] ~= '' then
      local ref = idempotencyKeyOf(phyId, f[3])
      if redis.call('GET', ref) == id then redis.call('DEL', ref) end
    end
    refreshDevice(phyId, now, maxInFlight)
    removed = removed + 1
  end
end
return removed
