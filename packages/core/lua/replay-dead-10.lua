--[[
  Requeues dead letters of one shard: attempts reset, a fresh TTL (its original ttlMs from
  now), a fresh place at the end of its priority in its device's line. Caps are not checked:
  replay is an operator's decision. lastError stays for the record.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] wake channel   ARGV[3] 'all' | 'ids'
  ARGV[4] limit (for 'all')   ARGV[5..] ids (for 'ids')
  Returns the number requeued (ids that are not dead letters are skipped: safe to run twice).
]]
-- @include shard

local maxInFlight, channel, mode, limit = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = nowMs()
local ids
if mode == 'all' then
  ids = redis.call('ZRANGE', K.dead, 0, limit - 1)
else
  ids = {}
  for i = 5, #ARGV do table.insert(ids, ARGV[i]) end
end
local count, wake = 0, false
for _, id in ipairs(ids) do
  local key = cmdKey(id)
  if redis.call('ZREM', K.dead, id) == 1 then
    local f = redis.call('HMGET', key, 'phyId', 'priority', 'ttlMs', 'status')
    if f[4] == 'dead' then
      local score = (9 - tonumber(f[2])) * PRIORITY_STEP + takeSeq(1)
      local expiresAt = now + tonumber(f[3])
      redis.call('HSET', key, 'status', 'queued', 'attempts', 0, 'score', score, 'expiresAt', expiresAt,
        'updatedAt', now, 'leaseToken', '', 'doneToken', '', 'leaseExpiresAt', '', 'retryAt', '')
      redis.call('PERSIST', key)
      commandEvent('q', id, f[1], nil, { 'o', f[2] })
      redis.call('HINCRBY', K.deviceCounts, f[1], 1)
      redis.call('HINCRBY', K.meta, 'size', 1)
      redis.call('ZADD', K.expiry, expiresAt, id)
      redis.call('ZADD', lineKey(f[1]), score, id)
      if refreshDevice(f[1], now, maxInFlight) then wake = true end
      count = count + 1
    end
  end
end
if wake then publishWake(channel) end
return count
